"""Transaction state (see transaction_state.py) as records in
`__transaction_state`, in Kafka's formats: key v0 = int16 version 0,
string transactional id; value v0 = int16 version 0, int64 producer id,
int16 producer epoch, int32 timeout ms, int8 status, [string topic,
[int32 partition]], int64 last update ms, int64 start ms. A null value
removes the transactional id."""

from __future__ import annotations

import struct

# Also re-exported: the handlers and the service import them from here.
from kwire.coordinator.transaction_state import TxnMetadata as TxnMetadata
from kwire.coordinator.transaction_state import TxnState as TxnState

TRANSACTION_TOPIC = "__transaction_state"

_HEAD = struct.Struct(">hqhib")
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")


def _string(text: str) -> bytes:
    data = text.encode()
    return _I16.pack(len(data)) + data


def _read_string(buf: bytes, pos: int) -> tuple[str, int]:
    (length,) = _I16.unpack_from(buf, pos)
    return buf[pos + 2 : pos + 2 + length].decode(), pos + 2 + length


def txn_key(transactional_id: str) -> bytes:
    return _I16.pack(0) + _string(transactional_id)


def parse_txn_key(key: bytes) -> str | None:
    (version,) = _I16.unpack_from(key, 0)
    return _read_string(key, 2)[0] if version == 0 else None


def txn_value(meta: TxnMetadata) -> bytes:
    by_topic: dict[str, list[int]] = {}
    for topic, partition in sorted(meta.partitions):
        by_topic.setdefault(topic, []).append(partition)
    out = bytearray(_HEAD.pack(0, meta.producer_id, meta.producer_epoch, meta.timeout_ms, int(meta.state)))
    out += _I32.pack(len(by_topic))
    for topic, partitions in by_topic.items():
        out += _string(topic) + _I32.pack(len(partitions)) + b"".join(_I32.pack(p) for p in partitions)
    out += _I64.pack(meta.last_update_ms) + _I64.pack(meta.start_ms)
    return bytes(out)


def parse_txn_value(transactional_id: str, value: bytes) -> TxnMetadata:
    _version, producer_id, epoch, timeout_ms, status = _HEAD.unpack_from(value, 0)
    pos = _HEAD.size
    (topics,) = _I32.unpack_from(value, pos)
    pos += 4
    partitions = set()
    for _ in range(max(topics, 0)):
        topic, pos = _read_string(value, pos)
        (count,) = _I32.unpack_from(value, pos)
        pos += 4
        for _ in range(count):
            partitions.add((topic, _I32.unpack_from(value, pos)[0]))
            pos += 4
    (last_update,) = _I64.unpack_from(value, pos)
    (start,) = _I64.unpack_from(value, pos + 8)
    return TxnMetadata(
        transactional_id, producer_id, epoch, timeout_ms, TxnState(status), partitions, start, last_update
    )
