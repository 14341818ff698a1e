"""One segment: a store of batches (a `.log` file or memory) with the
indexes it owns — offset, time and aborted transactions (`.txnindex`) —
and their recovery, checks, flushing and deletion."""

from __future__ import annotations

import bisect
import logging
import os
from collections.abc import Iterator

from kwire.clock import SYSTEM_CLOCK
from kwire.log.batch_checks import header_problem
from kwire.log.durable_files import fsync_if_exists
from kwire.log.files import (
    INDEX_SUFFIX,
    LOG_SUFFIX,
    SWAP_LOG_SUFFIX,
    TIME_INDEX_SUFFIX,
    TXN_INDEX_SUFFIX,
    file_path,
    offset_stem,
)
from kwire.log.index import OffsetIndex, TimeIndex
from kwire.log.segment_scan import SegmentScan, scan_to_end
from kwire.log.storage_errors import WriteNotUndone
from kwire.log.stores import FileStore, MemoryStore, Store
from kwire.log.transaction_index import AbortedTxn, append_txn_index, read_txn_index, write_txn_index
from kwire.protocol.records import (
    CURRENT_MAGIC,
    HEADER_SIZE,
    INT32,
    LAST_OFFSET_DELTA_AT,
    LOG_OVERHEAD,
    MIN_BATCH_LENGTH,
    OFFSET_LENGTH_MAGIC,
    BatchHeader,
    Buffer,
    parse_header,
)

log = logging.getLogger("kwire.log")


# Where a segment ends, for undoing appends: store size, offset and time
# index entry counts, bytes since the last index entry, next offset.
SegmentMark = tuple[int, int, int, int, int]

# Index entries hold offsets relative to the segment's base as int32.
MAX_RELATIVE_OFFSET = 2**31 - 1


class CorruptSegment(Exception):
    """A read met a broken batch: Kafka answers CORRUPT_MESSAGE.
    `resume_offset` is where sound data may start again (the next segment)."""

    def __init__(self, segment: Segment, offset: int) -> None:
        position, reason = segment.damage or (-1, "broken batch")
        super().__init__(
            f"{segment.describe()}: offset {offset} lies in a broken part (from byte {position}: {reason})"
        )
        self.resume_offset = segment.next_offset


class _ReportingScan:
    """A header walk that reports the broken batch it stops at."""

    def __init__(self, segment: Segment, scan: SegmentScan) -> None:
        self.segment = segment
        self.scan = scan

    @property
    def problem(self) -> str | None:
        return self.scan.problem

    def __iter__(self) -> Iterator[tuple[int, BatchHeader]]:
        yield from self.scan
        if self.scan.problem is not None:
            self.segment.note_damage(self.scan.end, self.scan.problem)


class Segment:
    def __init__(
        self,
        base_offset: int,
        store: Store,
        offset_index: OffsetIndex,
        time_index: TimeIndex,
        txn_index_path: str | None = None,
        created_ms: int | None = None,
    ) -> None:
        self.base_offset = base_offset
        self.store = store
        self.offset_index = offset_index
        self.time_index = time_index
        # Aborted transactions whose markers are here (written by PartitionLog;
        # the file exists only once there is one). None: in memory.
        self.txn_index_path = txn_index_path
        self.next_offset = base_offset  # one past the last offset stored here
        self._bytes_since_index_entry = 0
        # When this run opened or made it, by the log's clock.
        self.created_ms = SYSTEM_CLOCK.wall_ms() if created_ms is None else created_ms
        self.index_interval_bytes = 4096  # as last loaded or recovered with
        self.closed = False  # no more appends: its offsets end where the next segment begins
        self.stored_in_memory = isinstance(store, MemoryStore)
        # The first broken batch reads have met here (position, reason).
        self.damage: tuple[int, str] | None = None
        # Reads have checked the batch headers in [0, _checked_end).
        self._checked_end = 0
        self._checked_next_offset = base_offset

    @classmethod
    def in_memory(cls, base_offset: int, created_ms: int | None = None) -> Segment:
        return cls(base_offset, MemoryStore(), OffsetIndex(None), TimeIndex(None), created_ms=created_ms)

    @classmethod
    def on_disk(cls, directory: str, base_offset: int, created_ms: int | None = None) -> Segment:
        def path(suffix: str) -> str:
            return file_path(directory, base_offset, suffix)

        return cls(
            base_offset,
            FileStore(path(LOG_SUFFIX)),
            OffsetIndex(path(INDEX_SUFFIX)),
            TimeIndex(path(TIME_INDEX_SUFFIX)),
            path(TXN_INDEX_SUFFIX),
            created_ms,
        )

    @classmethod
    def swap_in(cls, directory: str, base_offset: int, interval: int, created_ms: int | None = None) -> Segment:
        """A compaction's decided output, `<base>.log.swap`, becomes the
        segment's `.log`; its indexes are built from a full check of it."""
        os.replace(file_path(directory, base_offset, SWAP_LOG_SUFFIX), file_path(directory, base_offset, LOG_SUFFIX))
        segment = cls.on_disk(directory, base_offset, created_ms)
        segment.recover(interval)
        return segment

    @property
    def size(self) -> int:
        return self.store.size

    @property
    def largest_timestamp(self) -> int:
        """What retention.ms judges a segment by: its largest record
        timestamp, or when it was made if it holds none."""
        return max(self.time_index.max_timestamp, -1) if self.time_index.max_timestamp >= 0 else self.created_ms

    def indexes_full(self, index_bytes: int) -> bool:
        """segment.index.bytes caps each index file, as in Kafka: a full one rolls the segment."""
        return any(
            (len(index.first) + 1) * index.ENTRY.size > index_bytes for index in (self.offset_index, self.time_index)
        )

    def time_waited_for_roll(self, incoming_timestamp: int, now_ms: int) -> int:
        """Kafka's segment.ms measure: the incoming batch's timestamp minus the
        first batch's, or the segment's age when it has no timestamps."""
        if self.time_index.timestamps and self.time_index.timestamps[0] >= 0:
            return incoming_timestamp - self.time_index.timestamps[0]
        return now_ms - self.created_ms

    def append(self, batch: Buffer, header: BatchHeader, index_interval_bytes: int) -> None:
        """Store a batch and its index entries; if any write fails, the
        segment (files and memory) is left as it was and OSError raised."""
        position = self.store.size
        relative = header.base_offset - self.base_offset
        index_entry_due = self._bytes_since_index_entry >= index_interval_bytes
        mark = self.mark()
        self.store.append(batch)  # undoes its own partial write
        try:
            if index_entry_due:
                self.offset_index.append(relative, position)
            self.time_index.maybe_append(header.max_timestamp, relative)
        except OSError:
            self.undo(mark)
            raise
        if index_entry_due:
            self._bytes_since_index_entry = 0
        self._bytes_since_index_entry += len(batch)
        self.next_offset = header.base_offset + header.last_offset_delta + 1

    def seal(self, end_offset: int | None = None) -> None:
        """No more appends: reads may trust that its offsets end where the
        next segment begins (`end_offset`, when that is known to be past the
        last batch: compaction leaves gaps)."""
        self.closed = True
        if end_offset is not None:
            self.next_offset = end_offset

    def reopen(self) -> None:
        """The active segment again: recovery cut away every later one."""
        self.closed = False

    def mark(self) -> SegmentMark:
        """Where the segment ends now, for `undo`."""
        return (
            self.store.size,
            self.offset_index.mark(),
            self.time_index.mark(),
            self._bytes_since_index_entry,
            self.next_offset,
        )

    def undo(self, mark: SegmentMark) -> None:
        """Cut the segment back to `mark` (appends that must not stand);
        raises WriteNotUndone if a file cannot be cut."""
        size, offset_mark, time_mark, self._bytes_since_index_entry, self.next_offset = mark
        self.offset_index.undo(offset_mark)
        self.time_index.undo(time_mark)
        if self.store.size != size:
            try:
                self.store.truncate(size)
            except OSError as exc:
                raise WriteNotUndone(
                    exc.errno, f"could not truncate back to {size} bytes: {exc.strerror}", self.store.path
                ) from exc

    def locate(self, offset: int, retry: bool = True) -> tuple[int, int]:
        """(position, size) of the batch holding `offset`; (-1, 0) if none.
        Raises CorruptSegment if the offset lies in a broken part."""
        entry_relative, position = self.offset_index.lookup(offset - self.base_offset)
        scan = self._walk_from(position)
        for batch_position, header in scan:
            if retry and batch_position == position and self._wrong_index_entry(entry_relative, position, header):
                return self.locate(offset, retry=False)
            if header.last_offset >= offset:
                return batch_position, header.size
        if scan.problem is not None:
            raise CorruptSegment(self, offset)
        return -1, 0

    def first_batch_reaching(self, timestamp: int, retry: bool = True) -> int | None:
        """Base offset of the first batch whose max timestamp is >= timestamp.
        Raises CorruptSegment if the walk meets a broken batch first."""
        if self.time_index.max_timestamp < timestamp:
            if self.damage is not None:  # its index ends at the damage: the answer may lie past it
                raise CorruptSegment(self, self.base_offset + max(self.time_index.relative_offsets, default=0))
            return None
        start_relative = self.time_index.lookup(timestamp)
        entry_relative, position = self.offset_index.lookup(start_relative)
        scan = self._walk_from(position)
        for batch_position, header in scan:
            if retry and batch_position == position and self._wrong_index_entry(entry_relative, position, header):
                return self.first_batch_reaching(timestamp, retry=False)
            if header.max_timestamp >= timestamp:
                return header.base_offset
        if scan.problem is not None:
            raise CorruptSegment(self, self.base_offset + start_relative)
        return None

    def _wrong_index_entry(self, entry_relative: int, position: int, header: BatchHeader) -> bool:
        """Start-up checks only the ends of an index; a wrong entry between
        them is caught here, where it would give a wrong answer, and the
        indexes are rebuilt (True) before the lookup is made again."""
        if position == 0 or header.base_offset == self.base_offset + entry_relative:
            return False
        log.warning(
            "Rebuilt the indexes of %s from its log: offset index entry (%d, %d) points at the batch of offset %d",
            self.describe(),
            entry_relative,
            position,
            header.base_offset,
        )
        self.rebuild_indexes(self.index_interval_bytes, self._end_offset_bound())
        return True

    def walk(self, position: int = 0) -> Iterator[tuple[int, BatchHeader]]:
        """Headers of the sound batches from `position` (where a batch
        starts) on; stops before a broken one, which is reported once."""
        return iter(self._walk_from(position))

    def _walk_from(self, position: int) -> _ReportingScan:
        scan = SegmentScan(self.store, self.base_offset, start=position, end_offset=self._end_offset_bound())
        return _ReportingScan(self, scan)

    def _end_offset_bound(self) -> int | None:
        # Closed segments end where the next begins; the active one grows.
        return self.next_offset if self.closed else None

    def read(self, position: int, length: int) -> list[Buffer]:
        """Up to `length` bytes from `position` (where a sound batch starts),
        cut before the first batch whose header shows it is broken, so that
        no client is ever sent damaged bytes. Headers already checked by an
        earlier read are not checked again (`_checked_end`)."""
        chunks = self.store.read(position, length)
        if self.stored_in_memory or not chunks:
            return chunks  # validated when produced, and RAM does not rot
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if position <= self._checked_end:
            at, min_offset, extends = self._checked_end - position, self._checked_next_offset, True
        else:
            at, min_offset, extends = 0, self.base_offset, False
        file_size, end_offset = self.store.size, self._end_offset_bound()
        offset_limit = end_offset if end_offset is not None else 2**63
        while len(data) - at >= HEADER_SIZE:
            # header_problem's checks, inlined: this loop runs once per batch read.
            base, length, magic = OFFSET_LENGTH_MAGIC.unpack_from(data, at)
            (delta,) = INT32.unpack_from(data, at + LAST_OFFSET_DELTA_AT)
            size = length + LOG_OVERHEAD
            if (
                magic != CURRENT_MAGIC
                or length < MIN_BATCH_LENGTH
                or position + at + size > file_size
                or delta < 0
                or base < min_offset
                or base + delta >= offset_limit
            ):
                problem = header_problem(parse_header(data, at), position + at, file_size, min_offset, end_offset)
                self.note_damage(position + at, problem or "broken batch header")
                if at == 0:
                    raise CorruptSegment(self, self.base_offset)
                return [memoryview(data)[:at]]
            if at + size > len(data):
                break  # cut by the byte limit: clients drop a partial last batch
            at += size
            min_offset = base + delta + 1
            if extends:
                self._checked_end, self._checked_next_offset = position + at, min_offset
        return chunks

    # --- start-up: recovery and index checks --------------------------------

    def recover(self, interval: int, end_offset: int | None = None) -> SegmentScan:
        """Check every batch (structure and CRC-32C), rebuild both indexes
        from the scan and cut the file after the last sound batch. Returns
        the scan: its `problem` says why bytes were cut (None: none were)."""
        scan = SegmentScan(self.store, self.base_offset, end_offset=end_offset, verify_crc=True)
        self._index_batches(scan, interval)
        if scan.end < self.store.size:
            self.store.truncate(scan.end)
        self.next_offset = scan.next_offset
        self._checked_end, self._checked_next_offset = scan.end, scan.next_offset
        return scan

    def rebuild_indexes(self, interval: int, end_offset: int | None = None) -> SegmentScan:
        """Both indexes again from a walk of the batch headers, cutting
        nothing: a broken batch found on the way is reported and reads stop
        before it."""
        scan = SegmentScan(self.store, self.base_offset, end_offset=end_offset)
        self._index_batches(scan, interval)
        if scan.problem is not None:
            self.note_damage(scan.end, scan.problem)
        return scan

    def _index_batches(self, scan: SegmentScan, interval: int) -> None:
        self.index_interval_bytes = interval
        offset_index, time_index = self.offset_index, self.time_index
        offset_index.clear()
        time_index.clear()
        self._bytes_since_index_entry = 0
        for position, header in scan:
            relative = header.base_offset - self.base_offset
            if self._bytes_since_index_entry >= interval:
                offset_index.relative_offsets.append(relative)
                offset_index.positions.append(position)
                self._bytes_since_index_entry = 0
            self._bytes_since_index_entry += header.size
            if header.max_timestamp > time_index.max_timestamp or not time_index.timestamps:
                time_index.timestamps.append(header.max_timestamp)
                time_index.relative_offsets.append(relative)
        offset_index.rewrite()
        time_index.rewrite()

    def load_closed(self, end_offset: int, interval: int) -> str | None:
        """A closed segment that is not re-validated: load its index files
        and check them; when one is missing or inconsistent, rebuild both
        from the batch headers. Returns why they were rebuilt (None: sound)."""
        self.seal(end_offset)
        self.index_interval_bytes = interval
        self.offset_index.load()
        self.time_index.load()
        problem = self._index_problem(end_offset - self.base_offset, interval)
        if problem is not None:
            self.rebuild_indexes(interval, end_offset)
        return problem

    def load_active(self, interval: int) -> tuple[str | None, SegmentScan | None]:
        """The active segment after a clean shutdown: load and check its
        indexes, then find the log end by walking the headers after the last
        offset index entry. Returns (why the indexes were rebuilt, the walk
        if it met a broken batch: the caller recovers the segment then)."""
        self.index_interval_bytes = interval
        self.offset_index.load()
        self.time_index.load()
        problem = self._index_problem(None, interval)
        start, min_offset = 0, self.base_offset
        if problem is None and self.offset_index.positions:
            start = self.offset_index.positions[-1]
            min_offset = self.base_offset + self.offset_index.relative_offsets[-1]
        scan = scan_to_end(SegmentScan(self.store, min_offset, start=start))
        if scan.problem is not None:
            return problem, scan
        self.next_offset = scan.next_offset if scan.batches_seen else self.base_offset
        # Appends go on adding an index entry every `interval` bytes.
        self._bytes_since_index_entry = self.store.size - (start if self.offset_index.positions else 0)
        if problem is None:
            span_problem = self.time_index.problem(self.next_offset - self.base_offset, self.store.size)
            problem = None if span_problem is None else f"time index: {span_problem}"
        if problem is not None:
            self.rebuild_indexes(interval)
        return problem, None

    def _index_problem(self, span: int | None, interval: int) -> str | None:
        """Why the loaded indexes cannot be trusted (None: they can)."""
        size = self.store.size
        if self.time_index.file_size is None and size:
            return "the time index file is missing"
        if self.offset_index.file_size is None and size > interval:
            return "the offset index file is missing"
        for name, index in (("offset index", self.offset_index), ("time index", self.time_index)):
            problem = index.problem(span, size)
            if problem is not None:
                return f"{name}: {problem}"
        return self._index_entries_mismatch()

    def _index_entries_mismatch(self) -> str | None:
        """Cheap spot checks against the log: the first and last offset
        index entries point at the batches they name, and the last time
        index entry names a batch with that largest timestamp."""
        offsets = self.offset_index
        for i in {0, len(offsets.positions) - 1} if offsets.positions else ():
            relative, position = offsets.relative_offsets[i], offsets.positions[i]
            header = (
                parse_header(self.store.read_bytes(position, HEADER_SIZE))
                if self.store.size - position >= HEADER_SIZE
                else None
            )
            if header is None or header.base_offset != self.base_offset + relative or header.magic != CURRENT_MAGIC:
                return (
                    f"offset index entry ({relative}, {position}) does not point at the batch of offset "
                    f"{self.base_offset + relative}"
                )
        times = self.time_index
        if times.timestamps:
            timestamp, relative = times.timestamps[-1], times.relative_offsets[-1]
            _relative, position = offsets.lookup(relative)
            for _position, header in self.walk(position):
                if header.base_offset >= self.base_offset + relative:
                    if header.base_offset == self.base_offset + relative and header.max_timestamp == timestamp:
                        return None
                    break
            return (
                f"time index entry ({timestamp}, {relative}) does not match the batch of offset "
                f"{self.base_offset + relative}"
            )
        return None

    # --- a follower's truncation ----------------------------------------------

    def truncation_point(self, offset: int) -> tuple[int, int]:
        """(position, end offset) where `truncate` would cut to drop every
        offset from `offset` on: at the batch holding `offset` (a batch is
        never split, so the end may lie below `offset`) or the first past
        it; at the end of the sound batches when there is none."""
        _relative, start = self.offset_index.lookup(offset - self.base_offset)
        scan = self._walk_from(start)
        for position, header in scan:
            if header.last_offset >= offset:
                return position, min(offset, header.base_offset)
        return scan.scan.end, offset

    def truncate(self, position: int, end_offset: int) -> None:
        """Cut the log file at `position` (from `truncation_point`), the
        index and aborted-transaction entries from `end_offset` on, and
        fsync the cut files; the segment is the active one again. Raises
        OSError (the caller takes the partition offline)."""
        if position < self.store.size:
            self.store.truncate(position)
        self.offset_index.keep_first(bisect.bisect_left(self.offset_index.positions, position))
        self.time_index.keep_first(bisect.bisect_left(self.time_index.relative_offsets, end_offset - self.base_offset))
        positions = self.offset_index.positions
        self._bytes_since_index_entry = position - (positions[-1] if positions else 0)
        aborted = self.aborted_txns()
        kept = [entry for entry in aborted if entry.last_offset < end_offset]
        if len(kept) != len(aborted):
            self.rewrite_aborted_txns(kept)
        self.next_offset = end_offset
        if self._checked_end > position:
            self._checked_end, self._checked_next_offset = position, end_offset
        if self.damage is not None and self.damage[0] >= position:
            self.damage = None  # the broken bytes are gone
        self.closed = False
        self.flush()

    # --- the transaction index -------------------------------------------------

    def aborted_txns(self) -> list[AbortedTxn]:
        """The entries of this segment's `.txnindex` (none in memory)."""
        return read_txn_index(self.txn_index_path) if self.txn_index_path is not None else []

    def append_aborted_txn(self, entry: AbortedTxn) -> None:
        """Add an entry to the `.txnindex` (nothing in memory); a failed write
        leaves the file as it was and raises OSError."""
        if self.txn_index_path is not None:
            append_txn_index(self.txn_index_path, entry)

    def rewrite_aborted_txns(self, entries: list[AbortedTxn]) -> None:
        """The `.txnindex` replaced whole by `entries` (removed when none)."""
        if self.txn_index_path is not None:
            write_txn_index(self.txn_index_path, entries)

    # --- damage found after start-up ------------------------------------------

    def note_damage(self, position: int, reason: str) -> None:
        """A broken batch found at `position`: logged once per segment."""
        if self.damage is not None and self.damage[0] <= position:
            return
        self.damage = (position, reason)
        log.warning("%s: the batch at byte %d is broken (%s); reads stop before it", self.describe(), position, reason)

    def describe(self) -> str:
        path = self.store.path
        if path is None:
            return f"in-memory segment {offset_stem(self.base_offset)}"
        return f"partition {os.path.basename(os.path.dirname(path))} segment {os.path.basename(path)}"

    def flush(self) -> None:
        """fsync what was written: the log, then its indexes (as Kafka)."""
        self.store.flush()
        self.offset_index.flush()
        self.time_index.flush()
        if self.txn_index_path is not None:
            fsync_if_exists(self.txn_index_path)

    def close(self) -> None:
        self.store.close()
        self.offset_index.close()
        self.time_index.close()

    def delete(self) -> None:
        """Close and remove the segment's files (retention, DeleteRecords)."""
        self.close()
        log_path = self.store.path
        for path in (log_path, self.offset_index.path, self.time_index.path, self.txn_index_path):
            if path is not None and os.path.exists(path):
                os.unlink(path)
