"""ListOffsets: earliest, latest, max timestamp, and by timestamp."""

from __future__ import annotations

from typing import Any

import attrs

from kwire.handlers.authorization import refused_names
from kwire.handlers.base import RequestContext, respond
from kwire.log import CorruptSegment, PartitionLog
from kwire.log.storage_errors import StorageError
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode
from kwire.protocol.record_codec import RecordDecodeError
from kwire.protocol.registry import api
from kwire.security.resources import AclOperation, ResourceType

LATEST = -1
EARLIEST = -2
MAX_TIMESTAMP = -3  # KIP-734
EARLIEST_LOCAL = -4  # KIP-405: no tiered storage here, so the log start
LATEST_TIERED = -5  # KIP-1005: nothing is tiered
EARLIEST_PENDING_UPLOAD = -6


@attrs.frozen
class PartitionWanted:
    partition_index: int
    timestamp: int
    current_leader_epoch: int  # -1: not given (before v4)


@attrs.frozen
class TopicWanted:
    name: str
    partitions: list[PartitionWanted]


@attrs.frozen
class ListOffsetsRequest:
    """A ListOffsets request of any served version."""

    isolation_level: int  # 0 (read uncommitted) before v2
    topics: list[TopicWanted]

    @classmethod
    def from_wire(cls, request: Any, version: int) -> ListOffsetsRequest:
        return cls(
            isolation_level=request.isolation_level if version >= 2 else 0,
            topics=[
                TopicWanted(
                    t.name,
                    [
                        PartitionWanted(p.partition_index, p.timestamp, p.current_leader_epoch if version >= 4 else -1)
                        for p in t.partitions
                    ],
                )
                for t in request.topics
            ],
        )


@api(ApiKey.LIST_OFFSETS, 1, 11)
def handle_list_offsets(ctx: RequestContext, wire_request: Any) -> Any:
    cluster = ctx.state.cluster
    request = ListOffsetsRequest.from_wire(wire_request, ctx.api_version)
    read_committed = request.isolation_level == 1
    refused = refused_names(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, (t.name for t in request.topics))
    topics = []
    for list_topic in request.topics:
        topic = cluster.get(list_topic.name)
        partitions = []
        for entry in list_topic.partitions:
            index = entry.partition_index
            if refused and list_topic.name in refused:
                partitions.append(_result(index, ErrorCode.topic_authorization_failed))
                continue
            if topic is None or not 0 <= index < len(topic.partitions):
                partitions.append(_result(index, ErrorCode.unknown_topic_or_partition))
                continue
            if not cluster.leads(topic.name, index):
                partitions.append(_result(index, ErrorCode.not_leader_or_follower))
                continue
            partition = topic.partitions[index]
            epoch_error = partition.leader_epoch_error(entry.current_leader_epoch)
            if epoch_error is not None:
                partitions.append(_result(index, epoch_error))
                continue
            if partition.log.offline_reason is not None:
                partitions.append(_result(index, ErrorCode.kafka_storage_error))
                continue
            try:
                offset, timestamp = _lookup(partition.log, entry.timestamp, read_committed)
            except StorageError:
                partitions.append(_result(index, ErrorCode.kafka_storage_error))
                continue
            except (CorruptSegment, RecordDecodeError):
                # Kafka answers a batch it cannot read with CORRUPT_MESSAGE.
                partitions.append(_result(index, ErrorCode.corrupt_message))
                continue
            partitions.append(
                _result(index, ErrorCode.none, offset, timestamp, partition.leader_epoch if offset >= 0 else -1)
            )
        topics.append(dict(name=list_topic.name, partitions=partitions))
    return respond(ctx, dict(topics=topics))


def _lookup(log: PartitionLog, timestamp: int, read_committed: bool = False) -> tuple[int, int]:
    """(offset, timestamp) answered for one partition; (-1, -1) if none.
    As Kafka: the end a consumer may fetch to is the high watermark (the last
    stable offset for read_committed), and a timestamp lookup never answers
    an offset at or past it."""
    fetchable = log.last_stable_offset if read_committed else log.high_watermark
    if timestamp == LATEST:
        return fetchable, -1
    if timestamp in (EARLIEST, EARLIEST_LOCAL):
        return log.log_start_offset, -1
    if timestamp in (LATEST_TIERED, EARLIEST_PENDING_UPLOAD) or (timestamp < 0 and timestamp != MAX_TIMESTAMP):
        return -1, -1
    offset, found_timestamp = _by_timestamp(log, timestamp)
    return (offset, found_timestamp) if offset < fetchable else (-1, -1)


def _by_timestamp(log: PartitionLog, timestamp: int) -> tuple[int, int]:
    """The first record stamped `timestamp` or later (MAX_TIMESTAMP: the
    record with the largest timestamp); (-1, -1) if none."""
    if timestamp == MAX_TIMESTAMP:
        max_timestamp, batch_offset = log.max_timestamp_and_offset
        if batch_offset < 0:
            return -1, -1
        return log.first_record_at_or_after(batch_offset, max_timestamp)
    found = log.offset_for_timestamp(timestamp)
    if found is None:
        return -1, -1
    return log.first_record_at_or_after(found, timestamp)


def _result(
    index: int, error: ErrorCode, offset: int = -1, timestamp: int = -1, leader_epoch: int = -1
) -> dict[str, Any]:
    return dict(
        partition_index=index,
        error_code=error,
        timestamp=timestamp,
        offset=offset,
        leader_epoch=leader_epoch,
        old_style_offsets=[],
    )
