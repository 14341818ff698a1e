"""A partition's log: an ordered list of segments, the last one active."""

from __future__ import annotations

import bisect
import time
from pathlib import Path

from kwire.log.config import LogConfig
from kwire.log.log_loader import LoadReport, load_segments
from kwire.log.producer_state import ProducerStateManager, delete_snapshots_after, latest_snapshot, write_snapshot
from kwire.log.segment import MAX_RELATIVE_OFFSET, CorruptSegment, Segment
from kwire.log.transaction_index import (
    PartitionTransactions, append_txn_index, control_type, read_txn_index, txn_index_path, write_txn_index,
)
from kwire.protocol.records import BatchHeader, patch_offsets


class OffsetOutOfRange(Exception):
    pass


def _wall_clock_ms() -> int:
    return int(time.time() * 1000)


class PartitionLog:
    def __init__(self, directory: Path | None, config: LogConfig, segments: list[Segment]) -> None:
        self.directory = directory
        self.config = config
        self.segments = segments
        self._base_offsets = [segment.base_offset for segment in segments]
        self.log_start_offset = segments[0].base_offset
        self.log_end_offset = segments[-1].next_offset
        self._max_timestamp = -1
        self._offset_of_max_timestamp = -1
        self.clock_ms = _wall_clock_ms  # tests put a fake clock here
        # Compaction: offsets below this have been cleaned (kept in memory only).
        self.first_dirty_offset = 0
        # While the cleaner's thread reads segments, deleted ones keep their
        # files open until it is done.
        self.cleaning = False
        self._deferred_deletes: list[Segment] = []
        self.producer_state = ProducerStateManager()
        self.transactions = PartitionTransactions()
        # Offsets below this are known flushed to disk (persisted in the data
        # directory's recovery-point-offset-checkpoint); recovery after a
        # crash starts from the segment holding it.
        self.recovery_point = 0
        self.load_report = LoadReport()
        for segment in segments:
            index = segment.time_index
            if index.timestamps and index.timestamps[-1] > self._max_timestamp:
                self._max_timestamp = index.timestamps[-1]
                self._offset_of_max_timestamp = segment.base_offset + index.relative_offsets[-1]

    @property
    def name(self) -> str:
        """The partition, as its directory is named (e.g. `orders-0`)."""
        return self.directory.name if self.directory is not None else "in-memory log"

    # --- opening ---------------------------------------------------------

    @classmethod
    def in_memory(cls, config: LogConfig) -> "PartitionLog":
        return cls(None, config, [Segment.in_memory(0)])

    @classmethod
    def open(cls, directory: Path, config: LogConfig, recovery_point: int = 0,
             clean_shutdown: bool = False) -> "PartitionLog":
        """Open (or create) the log in `directory`. After an unclean shutdown
        every segment from the one holding `recovery_point` on is validated
        batch by batch and cut at the first invalid one; see log_loader."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        segments, report = load_segments(directory, config, recovery_point, clean_shutdown)
        log = cls(directory, config, segments)
        log.load_report = report
        # Below the recovery point everything is known flushed.
        log.recovery_point = log.log_end_offset if clean_shutdown else min(recovery_point, log.log_end_offset)
        if report.truncated:
            delete_snapshots_after(directory, log.log_end_offset)
        log._load_producer_state()
        if report.truncated:
            log.rewrite_txn_indexes()
        return log

    def _load_producer_state(self) -> None:
        """The aborted-transaction index files; the newest producer-state
        snapshot; then every batch header after it."""
        for segment in self.segments:
            path = getattr(segment.store, "path", None)
            for entry in read_txn_index(txn_index_path(path)) if path else ():
                if entry.last_offset < self.log_end_offset:  # not cut off by recovery
                    self.transactions.add_aborted(entry)
        found = latest_snapshot(self.directory, self.log_end_offset)
        start = 0
        if found is not None:
            start, self.producer_state = found
            for entry in self.producer_state.entries.values():
                if entry.current_txn_first_offset >= 0:
                    self.transactions.ongoing[entry.producer_id] = entry.current_txn_first_offset
        for segment in self.segments:
            if segment.next_offset <= start:
                continue
            for position, header in segment.walk():
                if header.base_offset >= start and header.producer_id >= 0:
                    control = segment.store.read_bytes(position, header.size) if header.is_control else None
                    self._track_producer(header, control, write_index=False)

    # --- writing ---------------------------------------------------------

    def append(self, batch: bytearray, header: BatchHeader, leader_epoch: int = 0) -> int:
        """Store one validated batch at the log end; returns its base offset."""
        base_offset = self.log_end_offset
        patch_offsets(batch, base_offset, leader_epoch)
        header = header._replace(base_offset=base_offset)
        active = self.segments[-1]
        if active.size and (
            active.size + len(batch) > self.config.segment_bytes
            or active.time_waited_for_roll(header.max_timestamp, self.clock_ms()) > self.config.segment_ms
            or active.indexes_full(self.config.segment_index_bytes)
            or header.last_offset - active.base_offset > MAX_RELATIVE_OFFSET
        ):
            active = self._roll(base_offset)
        active.append(batch, header, self.config.index_interval_bytes)
        self.log_end_offset = active.next_offset
        if header.producer_id >= 0:
            self._track_producer(header, batch if header.is_control else None, write_index=True)
        if header.max_timestamp > self._max_timestamp:
            self._max_timestamp = header.max_timestamp
            self._offset_of_max_timestamp = base_offset
        return base_offset

    def _track_producer(self, header: BatchHeader, control_batch, write_index: bool) -> None:
        """Producer state and open/aborted transactions after a batch."""
        if header.is_control:
            self.producer_state.on_marker(header)
            aborted = self.transactions.on_marker(
                header.producer_id, header.base_offset, control_type(control_batch), header.base_offset)
            if aborted is not None and write_index and self.directory is not None:
                append_txn_index(txn_index_path(self.segments[-1].store.path), aborted)
            return
        self.producer_state.update(header)
        if header.is_transactional:
            self.transactions.on_transactional_data(header.producer_id, header.base_offset)

    @property
    def last_stable_offset(self) -> int:
        """Below every open transaction: what read_committed consumers may see."""
        unstable = self.transactions.first_unstable_offset()
        # Never below the log start: retention or DeleteRecords may have
        # removed the start of a transaction that is still open (as Kafka).
        return self.log_end_offset if unstable is None else max(unstable, self.log_start_offset)

    def rewrite_txn_indexes(self) -> None:
        """Each segment's `.txnindex` from the in-memory list (after compaction merged segments)."""
        if self.directory is None:
            return
        for segment, following in zip(self.segments, self.segments[1:] + [None]):
            end = following.base_offset if following is not None else self.log_end_offset + 1
            entries = [a for a in self.transactions.aborted if segment.base_offset <= a.last_offset < end]
            write_txn_index(txn_index_path(segment.store.path), entries)

    def _roll(self, base_offset: int) -> Segment:
        if self.directory is None:
            segment = Segment.in_memory(base_offset)
        else:
            # As Kafka: a producer-state snapshot at every roll bounds the
            # rebuild after a crash to the active segment.
            self._write_snapshot(base_offset)
            segment = Segment.on_disk(str(self.directory), base_offset)
        self.segments[-1].closed = True
        self.segments.append(segment)
        self._base_offsets.append(base_offset)
        return segment

    # --- reading ---------------------------------------------------------

    def read(self, fetch_offset: int, max_bytes: int, upper: int | None = None) -> list:
        """Bytes from the start of the batch holding `fetch_offset`: at
        least that whole batch, else up to `max_bytes`, within one segment;
        nothing at or past `upper` (the last stable offset, for read_committed).
        Stops before a broken batch; raises CorruptSegment when the batch
        holding `fetch_offset` is itself broken."""
        if fetch_offset < self.log_start_offset or fetch_offset > self.log_end_offset:
            raise OffsetOutOfRange(
                f"offset {fetch_offset} outside {self.log_start_offset}..{self.log_end_offset}"
            )
        if fetch_offset == self.log_end_offset or (upper is not None and fetch_offset >= upper):
            return []
        i = bisect.bisect_right(self._base_offsets, fetch_offset) - 1
        while i < len(self.segments):
            segment = self.segments[i]
            position, first_size = segment.locate(fetch_offset)  # CorruptSegment if in a broken part
            if position >= 0:
                length = min(max(max_bytes, first_size), segment.size - position)
                if upper is not None and upper < segment.next_offset:
                    try:
                        stop, _size = segment.locate(upper)
                    except CorruptSegment:
                        stop = -1  # the read below stops before the damage anyway
                    if stop >= 0:
                        length = min(length, stop - position)
                return segment.read(position, length)
            i += 1
        return []

    def offset_for_timestamp(self, timestamp_ms: int) -> int | None:
        for segment in self.segments:
            found = segment.first_batch_reaching(timestamp_ms)
            if found is not None:
                return found
        return None

    @property
    def max_timestamp_and_offset(self) -> tuple[int, int]:
        return self._max_timestamp, self._offset_of_max_timestamp

    def size_bytes(self) -> int:
        return sum(segment.size for segment in self.segments)

    def segment_base_offsets(self) -> list[int]:
        return list(self._base_offsets)

    # --- the log start: retention and DeleteRecords ---------------------

    def expired_segment_count(self) -> int:
        """How many of the oldest segments retention would delete now:
        those past retention.ms by their largest timestamp, and those that
        keep the log over retention.bytes. Never the active segment."""
        config, now = self.config, self.clock_ms()
        closed = self.segments[:-1]
        by_time = 0
        if config.retention_ms >= 0:
            while by_time < len(closed) and now - closed[by_time].largest_timestamp > config.retention_ms:
                by_time += 1
        by_size = 0
        if config.retention_bytes >= 0:
            excess = self.size_bytes() - config.retention_bytes
            while by_size < len(closed) and excess - closed[by_size].size >= 0:
                excess -= closed[by_size].size
                by_size += 1
        return max(by_time, by_size)

    def delete_oldest_segments(self, count: int) -> int:
        """Drop `count` closed segments from the front; returns bytes freed."""
        count = min(count, len(self.segments) - 1)
        if count <= 0:
            return 0
        doomed = self.segments[:count]
        del self.segments[:count]
        del self._base_offsets[:count]
        self.log_start_offset = max(self.log_start_offset, self.segments[0].base_offset)
        self.transactions.drop_before(self.log_start_offset)
        freed = sum(segment.size for segment in doomed)
        if self.cleaning:
            self._deferred_deletes.extend(doomed)
        else:
            for segment in doomed:
                segment.delete()
        return freed

    def start_cleaning(self) -> None:
        self.cleaning = True

    def finish_cleaning(self) -> None:
        self.cleaning = False
        for segment in self._deferred_deletes:
            segment.delete()
        self._deferred_deletes.clear()

    def advance_log_start(self, offset: int) -> None:
        """DeleteRecords: nothing below `offset` is readable any more;
        segments wholly below it go."""
        if offset <= self.log_start_offset:
            return
        if offset > self.log_end_offset:
            raise OffsetOutOfRange(f"offset {offset} is past the log end {self.log_end_offset}")
        self.log_start_offset = offset
        wholly_below = 0
        while wholly_below < len(self.segments) - 1 and self.segments[wholly_below + 1].base_offset <= offset:
            wholly_below += 1
        self.delete_oldest_segments(wholly_below)

    def replace_leading_segments(self, count: int, replacements: list) -> None:
        """The cleaner's swap: the first `count` (closed) segments become `replacements`."""
        for segment in replacements:
            segment.closed = True
        self.segments[:count] = replacements
        self._base_offsets = [segment.base_offset for segment in self.segments]

    def flush(self) -> None:
        self.segments[-1].flush()

    def _write_snapshot(self, offset: int) -> None:
        for entry in self.producer_state.entries.values():
            entry.current_txn_first_offset = self.transactions.ongoing.get(entry.producer_id, -1)
        write_snapshot(self.directory, offset, self.producer_state)

    def close(self) -> None:
        if self.directory is not None and self.producer_state.entries:
            self._write_snapshot(self.log_end_offset)
        if self.directory is not None:
            # A clean shutdown: what is not known flushed is flushed now, so
            # the next start need not validate it.
            for segment in self.segments:
                if segment.next_offset > self.recovery_point:
                    segment.flush()
            self.recovery_point = self.log_end_offset
        for segment in self.segments:
            segment.close()
