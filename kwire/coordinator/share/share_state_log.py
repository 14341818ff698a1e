"""Share-partition state as records in `__share_group_state`, in Kafka's
ShareSnapshot key/value layout, and rebuilt from it at start-up.

Key (type 0, ShareSnapshot): int16 0, string group id, uuid topic id,
int32 partition. Value v0 (flexible): uint16 snapshot epoch, int32 state
epoch, int32 leader epoch, int64 start offset, compact array of state
batches (int64 first offset, int64 last offset, int8 delivery state, int16
delivery count), empty tagged fields. Each write is a whole snapshot, so
the compacted topic keeps the latest per share-partition; a null value
deletes it. A record whose key or value does not parse is passed over."""

from __future__ import annotations

import logging
import struct
import uuid
from collections.abc import Callable, Iterable

import attrs

from kwire.coordinator.offsets import partition_for
from kwire.log.keyed_records import append_keyed_records, iter_keyed_records
from kwire.log.partition_log import PartitionLog
from kwire.protocol.fast_responses import uvarint
from kwire.protocol.headers import HeaderError, read_uvarint

SHARE_STATE_TOPIC = "__share_group_state"
SNAPSHOT_RECORD_TYPE = 0
_KEY_TAIL = struct.Struct(">16si")
_VALUE_HEAD = struct.Struct(">hHiiq")  # version, snapshot epoch, state epoch, leader epoch, start offset
_BATCH = struct.Struct(">qqbh")
log = logging.getLogger("kwire.groups")

# (first offset, last offset, delivery state, delivery count)
StateBatch = tuple[int, int, int, int]


@attrs.frozen
class ShareSnapshot:
    state_epoch: int
    start_offset: int
    batches: tuple[StateBatch, ...]


def snapshot_key(group_id: str, topic_id: uuid.UUID, partition: int) -> bytes:
    group = group_id.encode()
    return struct.pack(">hh", SNAPSHOT_RECORD_TYPE, len(group)) + group + _KEY_TAIL.pack(topic_id.bytes, partition)


def parse_snapshot_key(key: bytes) -> tuple[str, uuid.UUID, int] | None:
    try:
        kind, length = struct.unpack_from(">hh", key, 0)
        if kind != SNAPSHOT_RECORD_TYPE or length < 0:
            return None
        group = key[4 : 4 + length].decode()
        topic_id, partition = _KEY_TAIL.unpack_from(key, 4 + length)
    except (struct.error, UnicodeDecodeError):
        return None
    return group, uuid.UUID(bytes=topic_id), partition


def snapshot_value(snapshot: ShareSnapshot, snapshot_epoch: int = 0, leader_epoch: int = 0) -> bytes:
    parts = [
        _VALUE_HEAD.pack(0, snapshot_epoch & 0xFFFF, snapshot.state_epoch, leader_epoch, snapshot.start_offset),
        uvarint(len(snapshot.batches) + 1),
    ]
    for batch in snapshot.batches:
        parts.append(_BATCH.pack(*batch) + b"\x00")
    parts.append(b"\x00")
    return b"".join(parts)


def parse_snapshot_value(value: bytes) -> ShareSnapshot | None:
    try:
        version, _snapshot_epoch, state_epoch, _leader_epoch, start = _VALUE_HEAD.unpack_from(value, 0)
        if version != 0:
            return None
        count, pos = read_uvarint(value, _VALUE_HEAD.size)
        batches = []
        for _ in range(count - 1):
            batches.append(_BATCH.unpack_from(value, pos))
            pos += _BATCH.size + 1  # (no tagged fields written)
    except (struct.error, IndexError, ValueError, HeaderError):
        return None
    return ShareSnapshot(state_epoch, start, tuple(batches))


class ShareStateLog:
    """Writes and replays the snapshots; `partition_log(i)` gives partition
    i of the topic (created on first use; on a node of a cluster, the log at
    the partition's leader), `partitions` how many it has, `written(i)` is
    told after each append to partition i (a cluster's leader then moves its
    high watermark and its followers copy)."""

    def __init__(
        self,
        partitions: int,
        partition_log: Callable[[int], PartitionLog],
        written: Callable[[int], None] | None = None,
    ) -> None:
        self.partitions = partitions
        self._partition_log = partition_log
        self._written = written

    def partition_of(self, group_id: str, topic_id: uuid.UUID, partition: int) -> int:
        return partition_for(f"{group_id}:{topic_id}:{partition}", self.partitions)

    def write(self, entries: Iterable[tuple[str, uuid.UUID, int, ShareSnapshot | None]]) -> None:
        """Raises StorageError if the log refuses (nothing more is written)."""
        by_partition: dict[int, list[tuple[bytes, bytes | None]]] = {}
        for group_id, topic_id, partition, snapshot in entries:
            record = (
                snapshot_key(group_id, topic_id, partition),
                snapshot_value(snapshot) if snapshot is not None else None,
            )
            by_partition.setdefault(self.partition_of(group_id, topic_id, partition), []).append(record)
        for index, records in by_partition.items():
            append_keyed_records(self._partition_log(index), records)
            if self._written is not None:
                self._written(index)

    def read(self, index: int) -> dict[tuple[str, uuid.UUID, int], ShareSnapshot]:
        """The latest snapshots in partition `index` (raises StorageError or
        KafkaError where it cannot be read)."""
        return self.replay([self._partition_log(index)])

    @staticmethod
    def replay(logs: Iterable[PartitionLog]) -> dict[tuple[str, uuid.UUID, int], ShareSnapshot]:
        """The latest snapshot of every share-partition in the topic's logs."""
        found: dict[tuple[str, uuid.UUID, int], ShareSnapshot] = {}
        for partition_log in logs:
            for key, value in iter_keyed_records(partition_log):
                parsed = parse_snapshot_key(key)
                if parsed is None:
                    continue
                snapshot = parse_snapshot_value(value) if value is not None else None
                if snapshot is None:
                    found.pop(parsed, None)
                else:
                    found[parsed] = snapshot
        return found
