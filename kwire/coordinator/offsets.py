"""Committed offsets, stored as records in `__consumer_offsets` in Kafka's
own key/value formats and rebuilt from it at start-up.

Key v1: int16 version, string group, string topic, int32 partition.
Value v3: int16 version, int64 offset, int32 leader epoch, string metadata,
int64 commit timestamp. Group key v2: int16 version, string group (a
tombstone of it marks a deleted group). A null value deletes.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from typing import Any

import attrs

from kwire.log.keyed_records import append_keyed_records, iter_batches
from kwire.log.partition_log import PartitionLog
from kwire.protocol.control_batches import ABORT, COMMIT, marker_type_of_key
from kwire.protocol.records import BatchHeader

OFFSETS_TOPIC = "__consumer_offsets"
_logger = logging.getLogger("kwire.groups")
_OFFSET_KEY_VERSION = 1
_GROUP_KEY_VERSION = 2
_VALUE_VERSION = 3
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_VALUE_HEAD = struct.Struct(">hqi")  # version, offset, leader epoch
_I64 = struct.Struct(">q")
KeyedRecord = tuple[bytes, bytes | None]  # a null value deletes the key
OtherRecord = Callable[[bytes, bytes | None], None]  # told of the records that are not offsets or classic groups


@attrs.frozen
class CommittedOffset:
    offset: int
    leader_epoch: int
    metadata: str
    commit_timestamp_ms: int


def java_string_hash(text: str) -> int:
    """Java's String.hashCode, which Kafka uses to place a group."""
    h = 0
    for unit in struct.unpack(f">{len(text.encode('utf-16-be')) // 2}H", text.encode("utf-16-be")):
        h = (31 * h + unit) & 0xFFFFFFFF
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for(group_id: str, partitions: int) -> int:
    return (java_string_hash(group_id) & 0x7FFFFFFF) % partitions


def _string(text: str) -> bytes:
    data = text.encode()
    return _I16.pack(len(data)) + data


def offset_key(group_id: str, topic: str, partition: int) -> bytes:
    return _I16.pack(_OFFSET_KEY_VERSION) + _string(group_id) + _string(topic) + _I32.pack(partition)


def group_key(group_id: str) -> bytes:
    return _I16.pack(_GROUP_KEY_VERSION) + _string(group_id)


def offset_value(committed: CommittedOffset) -> bytes:
    return (
        _VALUE_HEAD.pack(_VALUE_VERSION, committed.offset, committed.leader_epoch)
        + _string(committed.metadata)
        + _I64.pack(committed.commit_timestamp_ms)
    )


def _read_string(buf: bytes, pos: int) -> tuple[str, int]:
    (length,) = _I16.unpack_from(buf, pos)
    pos += 2
    return buf[pos : pos + length].decode(), pos + length


def parse_offset_value(value: bytes) -> CommittedOffset:
    version, offset, leader_epoch = _VALUE_HEAD.unpack_from(value, 0)
    metadata, pos = _read_string(value, _VALUE_HEAD.size)
    (timestamp,) = _I64.unpack_from(value, pos)
    return CommittedOffset(offset, leader_epoch if version >= 3 else -1, metadata, timestamp)


class OffsetStore:
    """Offsets in memory, every change appended to the group's partition of
    `__consumer_offsets` (obtained through `partition_log(index)`)."""

    def __init__(self, partitions: int, partition_log: Callable[[int], PartitionLog]) -> None:
        self.partitions = partitions
        self._partition_log = partition_log
        self.offsets: dict[str, dict[tuple[str, int], CommittedOffset]] = {}
        # producer id -> group -> offsets committed in its open transaction
        self.pending: dict[int, dict[str, dict[tuple[str, int], CommittedOffset]]] = {}

    def committed(self, group_id: str) -> dict[tuple[str, int], CommittedOffset]:
        return self.offsets.get(group_id, {})

    def commit(self, group_id: str, entries: dict[tuple[str, int], CommittedOffset]) -> None:
        records: list[KeyedRecord] = [
            (offset_key(group_id, topic, partition), offset_value(value))
            for (topic, partition), value in entries.items()
        ]
        self._append(group_id, records)
        self.offsets.setdefault(group_id, {}).update(entries)

    def delete(self, group_id: str, keys: list[tuple[str, int]]) -> None:
        present = [key for key in keys if key in self.committed(group_id)]
        if not present:
            return
        self._append(group_id, [(offset_key(group_id, topic, partition), None) for topic, partition in present])
        group = self.offsets[group_id]
        for key in present:
            del group[key]
        if not group:
            del self.offsets[group_id]

    def delete_topics(self, topics: set[str]) -> int:
        """The topics were deleted: every group's offsets for them go, a
        tombstone each (as Kafka's onPartitionsDeleted), and so do those
        waiting in open transactions. Returns how many committed offsets
        went; raises StorageError at the first group whose tombstones the
        offsets log refuses (the groups before it are done)."""
        removed = 0
        for group_id in list(self.offsets):
            doomed = [key for key in self.offsets[group_id] if key[0] in topics]
            if doomed:
                self.delete(group_id, doomed)
                removed += len(doomed)
        for groups in self.pending.values():
            for entries in groups.values():
                for key in [key for key in entries if key[0] in topics]:
                    del entries[key]
        return removed

    def delete_group(self, group_id: str) -> None:
        self.delete(group_id, list(self.committed(group_id)))
        self._append(group_id, [(group_key(group_id), None)])

    def store_group(self, group_id: str, value: bytes | None) -> None:
        """The group's metadata record (None: its tombstone)."""
        self._append(group_id, [(group_key(group_id), value)])

    def append_records(self, group_id: str, records: list[KeyedRecord]) -> None:
        """Other records of the group (its KIP-848 state), as one batch;
        raises StorageError (nothing written) if the log refuses."""
        self._append(group_id, records)

    def _append(self, group_id: str, records: list[KeyedRecord], **transactional: Any) -> None:
        if records:
            append_keyed_records(self._partition_log(self.partition_of(group_id)), records, **transactional)

    def partition_of(self, group_id: str) -> int:
        return partition_for(group_id, self.partitions)

    # --- transactional commits (TxnOffsetCommit) ----------------------------

    def commit_transactional(
        self, group_id: str, entries: dict[tuple[str, int], CommittedOffset], producer_id: int, producer_epoch: int
    ) -> None:
        """Written now as a transactional batch; visible once the commit marker lands."""
        records: list[KeyedRecord] = [
            (offset_key(group_id, topic, partition), offset_value(value))
            for (topic, partition), value in entries.items()
        ]
        self._append(group_id, records, producer_id=producer_id, producer_epoch=producer_epoch, transactional=True)
        self.pending.setdefault(producer_id, {}).setdefault(group_id, {}).update(entries)

    def complete_transaction(self, producer_id: int, commit: bool, partition: int | None = None) -> None:
        """The producer's marker landed in `partition` (None: in every one):
        its offsets for the groups there count (commit) or go (abort)."""
        groups = self.pending.get(producer_id, {})
        for group_id in [g for g in groups if partition is None or self.partition_of(g) == partition]:
            entries = groups.pop(group_id)
            if commit:
                self.offsets.setdefault(group_id, {}).update(entries)
        if not groups:
            self.pending.pop(producer_id, None)

    def pending_partitions(self, group_id: str) -> set[tuple[str, int]]:
        pending: set[tuple[str, int]] = set()
        for groups in self.pending.values():
            pending |= set(groups.get(group_id, {}))
        return pending

    # --- loading and unloading a partition ----------------------------------

    def replay(self, logs: list[PartitionLog], on_record: OtherRecord | None = None) -> dict[str, bytes | None]:
        """Rebuild the offsets from every partition of `__consumer_offsets`
        (see `replay_partition`). The topic as found decides how groups are
        placed from now on, even if offsets.topic.num.partitions has changed
        since it was created."""
        self.partitions = len(logs)
        groups: dict[str, bytes | None] = {}
        for index, log in enumerate(logs):
            groups.update(self.replay_partition(index, log, on_record))
        return groups

    def replay_partition(
        self, index: int, log: PartitionLog, on_record: OtherRecord | None = None
    ) -> dict[str, bytes | None]:
        """Rebuild the offsets of the groups in partition `index` from its log:
        plain commits apply at once, transactional ones at their commit
        marker. Returns the last group metadata value of each group that
        has one (None: the group was deleted). Records of other kinds (key
        version 3 and up, outside transactions) go to `on_record` in order."""
        groups: dict[str, bytes | None] = {}
        for header, records in iter_batches(log):
            if header.is_control:
                key = records[0].key if records else None
                kind = marker_type_of_key(key) if key is not None else ABORT
                self.complete_transaction(header.producer_id, kind == COMMIT, index)
                continue
            for record in records:
                if record.key is None:
                    continue
                try:
                    self._replay_record(header, record.key, record.value, groups, on_record)
                except (struct.error, UnicodeDecodeError) as exc:  # bytes no kwire or Kafka wrote
                    _logger.warning("Skipped a malformed record of %s: %s", log.name, exc)
        return groups

    def _replay_record(
        self,
        header: BatchHeader,
        key: bytes,
        value: bytes | None,
        groups: dict[str, bytes | None],
        on_record: OtherRecord | None,
    ) -> None:
        (version,) = _I16.unpack_from(key, 0)
        if version == _GROUP_KEY_VERSION:
            groups[_read_string(key, 2)[0]] = value
        elif version > _GROUP_KEY_VERSION and on_record is not None and not header.is_transactional:
            on_record(key, value)
        if version not in (0, 1):
            return
        group_id, pos = _read_string(key, 2)
        topic, pos = _read_string(key, pos)
        (partition,) = _I32.unpack_from(key, pos)
        if header.is_transactional:
            if value is not None:
                target = self.pending.setdefault(header.producer_id, {}).setdefault(group_id, {})
                target[(topic, partition)] = parse_offset_value(value)
        elif value is None:
            group = self.offsets.get(group_id, {})
            group.pop((topic, partition), None)
            if not group:
                self.offsets.pop(group_id, None)
        else:
            self.offsets.setdefault(group_id, {})[(topic, partition)] = parse_offset_value(value)

    def unload_partition(self, index: int) -> None:
        """Forget the offsets (committed and pending) of partition `index`'s groups."""
        for group_id in [g for g in self.offsets if self.partition_of(g) == index]:
            del self.offsets[group_id]
        for groups in self.pending.values():
            for group_id in [g for g in groups if self.partition_of(g) == index]:
                del groups[group_id]
