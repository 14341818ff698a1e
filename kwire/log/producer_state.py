"""Idempotent producers' state in one partition: per producer id the epoch,
the last sequence and the last five batches, so a retried batch is
answered with its original offset instead of being written twice.

Kafka's rules (ProducerAppendInfo): an older epoch is refused
(INVALID_PRODUCER_EPOCH); a newer epoch must start at sequence 0; within an
epoch a batch must continue the sequence (OUT_OF_ORDER_SEQUENCE_NUMBER
otherwise) unless it repeats one of the last five (a duplicate); a producer
the partition knows nothing about (say, its records went by retention) may
start anywhere. Only batch headers are read.

Persisted as Kafka's `<offset>.snapshot` files (format v1) beside the
segments; what follows the newest snapshot is rebuilt from batch headers.
"""

from __future__ import annotations

import struct
from collections.abc import Container
from pathlib import Path

import attrs

from kwire.log.durable_files import write_atomically
from kwire.log.files import SNAPSHOT_SUFFIX, file_path, files_in
from kwire.protocol import records
from kwire.protocol.errors import ErrorCode
from kwire.protocol.records import BatchHeader

CACHED_BATCHES = 5  # Kafka's max.in.flight per idempotent producer
_INT32_MAX = 2**31 - 1
NO_SEQUENCE = -1


class ProducerStateError(Exception):
    def __init__(self, error_code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message


@attrs.frozen
class BatchMetadata:
    first_seq: int
    last_seq: int
    base_offset: int
    last_offset: int
    max_timestamp: int


@attrs.define
class ProducerEntry:
    producer_id: int
    epoch: int
    # The last CACHED_BATCHES batches, oldest first (a list: a deque costs
    # ~600 bytes more, and a partition may know thousands of producers).
    batches: list[BatchMetadata] = attrs.field(factory=list)
    coordinator_epoch: int = -1
    current_txn_first_offset: int = -1  # set while a transaction of this producer is open here

    @property
    def last_seq(self) -> int:
        return self.batches[-1].last_seq if self.batches else NO_SEQUENCE

    @property
    def last_offset(self) -> int:
        return self.batches[-1].last_offset if self.batches else -1

    def remember(self, batch: BatchMetadata) -> None:
        self.batches.append(batch)
        if len(self.batches) > CACHED_BATCHES:
            del self.batches[0]

    def find_duplicate(self, first_seq: int, last_seq: int) -> BatchMetadata | None:
        for cached in self.batches:
            if cached.first_seq == first_seq and cached.last_seq == last_seq:
                return cached
        return None


def _last_seq(header: BatchHeader) -> int:
    """The sequence of the batch's last record (sequences wrap at 2^31-1)."""
    if header.base_sequence == NO_SEQUENCE:
        return NO_SEQUENCE
    return (header.base_sequence + header.last_offset_delta) % (_INT32_MAX + 1)


def _in_sequence(last_seq: int, next_seq: int) -> bool:
    return next_seq == last_seq + 1 or (next_seq == 0 and last_seq == _INT32_MAX)


class ProducerStateManager:
    def __init__(self) -> None:
        self.entries: dict[int, ProducerEntry] = {}

    # --- the produce path ------------------------------------------------

    def check(self, header: BatchHeader) -> BatchMetadata | None:
        """Before an append: the cached batch this one duplicates (answer
        with its offset, write nothing), None to append, or raise."""
        if header.producer_id < 0:
            return None
        entry = self.entries.get(header.producer_id)
        if entry is None:
            return None  # nothing known about this producer: any sequence goes
        epoch, first_seq = header.producer_epoch, header.base_sequence
        if epoch < entry.epoch:
            raise ProducerStateError(
                ErrorCode.invalid_producer_epoch,
                f"Epoch of producer {header.producer_id} is {epoch}, smaller than the last seen epoch {entry.epoch}",
            )
        if epoch > entry.epoch:
            if first_seq != 0 and first_seq != NO_SEQUENCE:
                raise ProducerStateError(
                    ErrorCode.out_of_order_sequence_number,
                    f"Invalid sequence number for new epoch of producer {header.producer_id}: {epoch} (request epoch), "
                    f"{first_seq} (seq. number), {entry.epoch} (current producer epoch)",
                )
            return None
        duplicate = entry.find_duplicate(first_seq, _last_seq(header))
        if duplicate is not None:
            return duplicate
        if first_seq != NO_SEQUENCE and entry.last_seq != NO_SEQUENCE and not _in_sequence(entry.last_seq, first_seq):
            raise ProducerStateError(
                ErrorCode.out_of_order_sequence_number,
                f"Out of order sequence number for producer {header.producer_id}: {first_seq} "
                f"(incoming seq. number), {entry.last_seq} (current end sequence number)",
            )
        return None

    def update(self, header: BatchHeader) -> None:
        """After an append (header.base_offset is the assigned offset), or
        while rebuilding from the log."""
        if header.producer_id < 0 or header.is_control:
            return
        entry = self.entries.get(header.producer_id)
        if entry is None or header.producer_epoch != entry.epoch:
            entry = ProducerEntry(header.producer_id, header.producer_epoch)
            self.entries[header.producer_id] = entry
        entry.remember(
            BatchMetadata(
                header.base_sequence,
                _last_seq(header),
                header.base_offset,
                header.base_offset + header.last_offset_delta,
                header.max_timestamp,
            )
        )

    def on_marker(self, header: BatchHeader) -> None:
        """A transaction marker carries the producer's (possibly bumped)
        epoch: from a new epoch the producer starts its sequence afresh."""
        entry = self.entries.get(header.producer_id)
        if entry is None:
            self.entries[header.producer_id] = ProducerEntry(header.producer_id, header.producer_epoch)
        elif header.producer_epoch > entry.epoch:
            entry.epoch = header.producer_epoch
            entry.batches.clear()

    def remove_expired(self, now_ms: int, expiration_ms: int, open_transactions: Container[int]) -> int:
        """producer.id.expiration.ms: forget producers whose last batch is
        that old, unless they have a transaction open here. Returns how many."""
        expired = [
            pid
            for pid, entry in self.entries.items()
            if pid not in open_transactions
            and now_ms - (entry.batches[-1].max_timestamp if entry.batches else -1) >= expiration_ms
        ]
        for pid in expired:
            del self.entries[pid]
        return len(expired)

    # --- snapshots (Kafka's v1 format) ---------------------------------------

    _HEAD = struct.Struct(">hI")  # version, crc
    _ENTRY = struct.Struct(">qhiqiqiq")

    def snapshot_bytes(self) -> bytes:
        body = bytearray(struct.pack(">i", len(self.entries)))
        for entry in self.entries.values():
            last = entry.batches[-1] if entry.batches else None
            body += self._ENTRY.pack(
                entry.producer_id,
                entry.epoch,
                last.last_seq if last else NO_SEQUENCE,
                last.last_offset if last else -1,
                (last.last_offset - last.base_offset) if last else 0,
                last.max_timestamp if last else -1,
                entry.coordinator_epoch,
                entry.current_txn_first_offset,
            )
        return self._HEAD.pack(1, records.crc32c(bytes(body))) + bytes(body)

    @classmethod
    def from_snapshot(cls, data: bytes) -> ProducerStateManager:
        version, crc = cls._HEAD.unpack_from(data, 0)
        body = data[cls._HEAD.size :]
        if version != 1 or records.crc32c(body) != crc:
            raise ValueError("corrupt producer state snapshot")
        manager = cls()
        (count,) = struct.unpack_from(">i", body, 0)
        for i in range(count):
            pid, epoch, last_seq, last_offset, delta, timestamp, coordinator_epoch, txn_first = cls._ENTRY.unpack_from(
                body, 4 + i * cls._ENTRY.size
            )
            entry = ProducerEntry(pid, epoch, coordinator_epoch=coordinator_epoch, current_txn_first_offset=txn_first)
            if last_seq != NO_SEQUENCE or last_offset >= 0:
                first_seq = (last_seq - delta) % (_INT32_MAX + 1) if last_seq != NO_SEQUENCE else NO_SEQUENCE
                entry.remember(BatchMetadata(first_seq, last_seq, last_offset - delta, last_offset, timestamp))
            manager.entries[pid] = entry
        return manager


def snapshot_path(directory: Path, offset: int) -> Path:
    return Path(file_path(directory, offset, SNAPSHOT_SUFFIX))


def write_snapshot(directory: Path, offset: int, manager: ProducerStateManager, durable: bool = True) -> None:
    """Write `<offset>.snapshot` (atomically: fsynced, renamed) and drop
    older ones; raises OSError with the older snapshots untouched."""
    path = snapshot_path(directory, offset)
    write_atomically(path, manager.snapshot_bytes(), durable)
    for older in Path(directory).glob("*" + SNAPSHOT_SUFFIX):
        if older != path:
            older.unlink()


def latest_snapshot(directory: Path, at_most: int) -> tuple[int, ProducerStateManager] | None:
    """The newest readable snapshot at or below `at_most` (the log end)."""
    for offset, path in reversed(files_in(directory, SNAPSHOT_SUFFIX)):
        if offset > at_most:
            continue
        try:
            return offset, ProducerStateManager.from_snapshot(path.read_bytes())
        except (ValueError, struct.error, OSError):
            continue
    return None


def delete_snapshots_after(directory: Path, log_end: int) -> None:
    """Recovery cut the log: snapshots of state past its new end describe
    batches that are gone, and must never be loaded once it grows again."""
    for offset, path in files_in(directory, SNAPSHOT_SUFFIX):
        if offset > log_end:
            path.unlink()
