"""Hand-written encoders for the hot responses, Produce and Fetch.

kio encodes in pure Python field by field; these pack each fixed run of
fields with one precompiled struct and never copy record bytes: a fetch
response is a list of buffers whose record chunks are the log's own.
Tests check every version byte-for-byte against kio.
"""

from __future__ import annotations

import dataclasses
import struct
import uuid
from typing import NamedTuple, TypeAlias

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_PRODUCE_PARTITION = struct.Struct(">ihq")  # index, error_code, base_offset
_I64 = struct.Struct(">q")
_I64_PAIR = struct.Struct(">qq")
_I32_PAIR = struct.Struct(">ii")
_UNKNOWN_LEADER = (-1, -1)  # CurrentLeader's default: left out, as Kafka's writer leaves it
_FETCH_PARTITION_V4 = struct.Struct(">ihqq")  # index, error, high watermark, last stable offset
_FETCH_PARTITION_V5 = struct.Struct(">ihqqq")  # ... + log start offset
_FETCH_TOP_V7 = struct.Struct(">ihi")  # throttle, error_code, session_id
_EMPTY_TAGS = b"\x00"
# v8+ fields of an error-free partition: no record_errors, a null error_message.
_NO_RECORD_ERRORS_OR_MESSAGE = (b"\x00\x00\x00\x00\xff\xff", b"\x01\x00")  # by flexible

# A piece of a fetch response: record chunks are the log's own buffers.
Chunk: TypeAlias = bytes | bytearray | memoryview

PRODUCE_FLEXIBLE_FROM = 9
PRODUCE_TOPIC_ID_FROM = 13
PRODUCE_CURRENT_LEADER_FROM = 10  # KIP-951's tagged CurrentLeader and NodeEndpoints
FETCH_FLEXIBLE_FROM = 12
FETCH_TOPIC_ID_FROM = 13
FETCH_NODE_ENDPOINTS_FROM = 16  # KIP-951's tagged NodeEndpoints (CurrentLeader from v12)


# A frozen dataclass, not a NamedTuple: Kafka names the first field `index`,
# which would shadow tuple.index.
@dataclasses.dataclass(frozen=True, slots=True)
class ProducePartitionResult:
    index: int
    error_code: int
    base_offset: int
    log_append_time_ms: int = -1
    log_start_offset: int = -1
    error_message: str | None = None
    # KIP-467 (v8+): (batch_index, batch_index_error_message) of each record
    # that made the batch fail.
    record_errors: tuple[tuple[int, str | None], ...] = ()
    # KIP-951 (v10+, tagged): (leader id, leader epoch) with NOT_LEADER_OR_FOLLOWER.
    current_leader: tuple[int, int] | None = None


class NodeEndpoint(NamedTuple):
    """KIP-951's NodeEndpoints entry: where a current leader named in a response listens."""

    node_id: int
    host: str
    port: int
    rack: str | None = None


class ProduceTopicResult(NamedTuple):
    name: str
    topic_id: uuid.UUID | None
    partitions: list[ProducePartitionResult]


class FetchPartitionResult(NamedTuple):
    partition_index: int
    error_code: int
    high_watermark: int
    last_stable_offset: int
    log_start_offset: int
    aborted_transactions: list[tuple[int, int]] | None
    records: list[Chunk]
    preferred_read_replica: int = -1
    # KIP-951 (v12+, tagged): (leader id, leader epoch) with NOT_LEADER_OR_FOLLOWER.
    current_leader: tuple[int, int] | None = None


class FetchTopicResult(NamedTuple):
    name: str | None
    topic_id: uuid.UUID | None
    partitions: list[FetchPartitionResult]


# --- primitives ----------------------------------------------------------------


def uvarint(value: int) -> bytes:
    out = bytearray()
    while value & ~0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _array_length(count: int, flexible: bool) -> bytes:
    return uvarint(count + 1) if flexible else _I32.pack(count)


def _string(value: str, flexible: bool) -> bytes:
    data = value.encode()
    return (uvarint(len(data) + 1) if flexible else _I16.pack(len(data))) + data


def _nullable_string(value: str | None, flexible: bool) -> bytes:
    if value is None:
        return b"\x00" if flexible else b"\xff\xff"
    return _string(value, flexible)


def _uuid(value: uuid.UUID | None) -> bytes:
    return value.bytes if value is not None else bytes(16)


# --- Produce -------------------------------------------------------------------


def encode_produce_response(
    version: int,
    topics: list[ProduceTopicResult],
    throttle_time_ms: int = 0,
    node_endpoints: tuple[NodeEndpoint, ...] = (),
) -> bytes:
    flexible = version >= PRODUCE_FLEXIBLE_FROM
    leaders_too = version >= PRODUCE_CURRENT_LEADER_FROM
    out = [_array_length(len(topics), flexible)]
    append = out.append
    for topic in topics:
        append(_uuid(topic.topic_id) if version >= PRODUCE_TOPIC_ID_FROM else _string(topic.name, flexible))
        append(_array_length(len(topic.partitions), flexible))
        for partition in topic.partitions:
            append(_PRODUCE_PARTITION.pack(partition.index, partition.error_code, partition.base_offset))
            if version >= 2:
                append(_I64.pack(partition.log_append_time_ms))
            if version >= 5:
                append(_I64.pack(partition.log_start_offset))
            if version >= 8:
                if partition.record_errors or partition.error_message is not None:
                    append(_record_errors_and_message(partition, flexible))
                else:
                    append(_NO_RECORD_ERRORS_OR_MESSAGE[flexible])
            if leaders_too and partition.current_leader not in (None, _UNKNOWN_LEADER):
                # One tagged field, tag 0: LeaderIdAndEpoch (two int32 and its own empty tags).
                append(b"\x01\x00\x09" + _I32_PAIR.pack(*partition.current_leader) + _EMPTY_TAGS)
            elif flexible:
                append(_EMPTY_TAGS)
        if flexible:
            append(_EMPTY_TAGS)
    if version >= 1:
        append(_I32.pack(throttle_time_ms))
    if leaders_too and node_endpoints:
        body = _node_endpoints(node_endpoints)
        append(b"\x01\x00" + uvarint(len(body)) + body)  # one tagged field, tag 0
    elif flexible:
        append(_EMPTY_TAGS)
    return b"".join(out)


def _node_endpoints(endpoints: tuple[NodeEndpoint, ...]) -> bytes:
    out = [_array_length(len(endpoints), True)]
    for endpoint in endpoints:
        out.append(_I32.pack(endpoint.node_id))
        out.append(_string(endpoint.host, True))
        out.append(_I32.pack(endpoint.port))
        out.append(_nullable_string(endpoint.rack, True))
        out.append(_EMPTY_TAGS)
    return b"".join(out)


def _record_errors_and_message(partition: ProducePartitionResult, flexible: bool) -> bytes:
    out = [_array_length(len(partition.record_errors), flexible)]
    for batch_index, message in partition.record_errors:
        out.append(_I32.pack(batch_index))
        out.append(_nullable_string(message, flexible))
        if flexible:
            out.append(_EMPTY_TAGS)
    out.append(_nullable_string(partition.error_message, flexible))
    return b"".join(out)


# --- Fetch ---------------------------------------------------------------------


def encode_fetch_response(
    version: int,
    topics: list[FetchTopicResult],
    *,
    throttle_time_ms: int = 0,
    error_code: int = 0,
    session_id: int = 0,
    node_endpoints: tuple[NodeEndpoint, ...] = (),
) -> list[Chunk]:
    """The body as a list of buffers; record chunks are passed through."""
    flexible = version >= FETCH_FLEXIBLE_FROM
    parts: list[Chunk] = []
    head = bytearray()
    if version >= 7:
        head += _FETCH_TOP_V7.pack(throttle_time_ms, error_code, session_id)
    else:
        head += _I32.pack(throttle_time_ms)
    head += _array_length(len(topics), flexible)
    for topic in topics:
        head += _uuid(topic.topic_id) if version >= FETCH_TOPIC_ID_FROM else _string(topic.name or "", flexible)
        head += _array_length(len(topic.partitions), flexible)
        for partition in topic.partitions:
            if version >= 5:
                head += _FETCH_PARTITION_V5.pack(
                    partition.partition_index,
                    partition.error_code,
                    partition.high_watermark,
                    partition.last_stable_offset,
                    partition.log_start_offset,
                )
            else:
                head += _FETCH_PARTITION_V4.pack(
                    partition.partition_index,
                    partition.error_code,
                    partition.high_watermark,
                    partition.last_stable_offset,
                )
            aborted = partition.aborted_transactions
            if aborted is None:
                head += b"\x00" if flexible else b"\xff\xff\xff\xff"
            else:
                head += _array_length(len(aborted), flexible)
                for producer_id, first_offset in aborted:
                    head += _I64_PAIR.pack(producer_id, first_offset)
                    if flexible:
                        head += _EMPTY_TAGS
            if version >= 11:
                head += _I32.pack(partition.preferred_read_replica)
            size = 0
            for chunk in partition.records:
                size += len(chunk)
            head += uvarint(size + 1) if flexible else _I32.pack(size)
            if size:
                parts.append(bytes(head))
                parts.extend(partition.records)
                head = bytearray()
            if flexible and partition.current_leader not in (None, _UNKNOWN_LEADER):
                # One tagged field, tag 1 (CurrentLeader, from v12): two int32 and empty tags.
                head += b"\x01\x01\x09" + _I32_PAIR.pack(*partition.current_leader) + _EMPTY_TAGS
            elif flexible:
                head += _EMPTY_TAGS
        if flexible:
            head += _EMPTY_TAGS
    if version >= FETCH_NODE_ENDPOINTS_FROM and node_endpoints:
        body = _node_endpoints(node_endpoints)
        head += b"\x01\x00" + uvarint(len(body)) + body  # one tagged field, tag 0
    elif flexible:
        head += _EMPTY_TAGS
    parts.append(bytes(head))
    return parts
