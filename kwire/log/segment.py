"""One segment: a store of batches plus its offset and time indexes."""

from __future__ import annotations

import os
import time

from kwire.log.index import OffsetIndex, TimeIndex
from kwire.log.durable_files import fsync_if_exists
from kwire.log.stores import FileStore, MemoryStore
from kwire.log.storage_errors import WriteNotUndone
from kwire.protocol.records import HEADER_SIZE, BatchHeader, iter_valid_batches, parse_header

_SCAN_BLOCK = 64 * 1024
_RECOVERY_BLOCK = 8 * 1024 * 1024


# Index entries hold offsets relative to the segment's base as int32.
MAX_RELATIVE_OFFSET = 2**31 - 1


def segment_name(base_offset: int) -> str:
    return f"{base_offset:020d}"


class Segment:
    def __init__(self, base_offset: int, store, offset_index: OffsetIndex, time_index: TimeIndex) -> None:
        self.base_offset = base_offset
        self.store = store
        self.offset_index = offset_index
        self.time_index = time_index
        self.next_offset = base_offset  # one past the last offset stored here
        self._bytes_since_index_entry = 0
        self.created_ms = int(time.time() * 1000)  # when this run opened or made it

    @classmethod
    def in_memory(cls, base_offset: int) -> "Segment":
        return cls(base_offset, MemoryStore(), OffsetIndex(None), TimeIndex(None))

    @classmethod
    def on_disk(cls, directory: str, base_offset: int) -> "Segment":
        stem = f"{directory}/{segment_name(base_offset)}"
        return cls(base_offset, FileStore(stem + ".log"), OffsetIndex(stem + ".index"), TimeIndex(stem + ".timeindex"))

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
        return any((len(index.first) + 1) * index.ENTRY.size > index_bytes
                   for index in (self.offset_index, self.time_index))

    def time_waited_for_roll(self, incoming_timestamp: int, now_ms: int) -> int:
        """Kafka's segment.ms measure: the incoming batch's timestamp minus the
        first batch's, or the segment's age when it has no timestamps."""
        if self.time_index.timestamps and self.time_index.timestamps[0] >= 0:
            return incoming_timestamp - self.time_index.timestamps[0]
        return now_ms - self.created_ms

    def append(self, batch, header: BatchHeader, index_interval_bytes: int) -> None:
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

    def mark(self) -> tuple:
        """Where the segment ends now, for `undo`."""
        return (self.store.size, self.offset_index.mark(), self.time_index.mark(), self._bytes_since_index_entry,
                self.next_offset)

    def undo(self, mark: tuple) -> None:
        """Cut the segment back to `mark` (appends that must not stand);
        raises WriteNotUndone if a file cannot be cut."""
        size, offset_mark, time_mark, self._bytes_since_index_entry, self.next_offset = mark
        self.offset_index.undo(offset_mark)
        self.time_index.undo(time_mark)
        if self.store.size != size:
            try:
                self.store.truncate(size)
            except OSError as exc:
                raise WriteNotUndone(exc.errno, f"could not truncate back to {size} bytes: {exc.strerror}",
                                     getattr(self.store, "path", None)) from exc

    def locate(self, offset: int) -> tuple[int, int]:
        """(position, size) of the batch holding `offset`; (-1, 0) if none."""
        _relative, position = self.offset_index.lookup(offset - self.base_offset)
        for batch_position, header in self.walk(position):
            if header.base_offset + header.last_offset_delta >= offset:
                return batch_position, header.size
        return -1, 0

    def first_batch_reaching(self, timestamp: int) -> int | None:
        """Base offset of the first batch whose max timestamp is >= timestamp."""
        if self.time_index.max_timestamp < timestamp:
            return None
        start_relative = self.time_index.lookup(timestamp)
        _relative, position = self.offset_index.lookup(start_relative)
        for _position, header in self.walk(position):
            if header.max_timestamp >= timestamp:
                return header.base_offset
        return None

    def walk(self, position: int = 0):
        """Batch headers from `position` to the end, read in blocks."""
        end = self.store.size
        while position < end:
            block = self.store.read_bytes(position, min(_SCAN_BLOCK, end - position))
            offset_in_block = 0
            while len(block) - offset_in_block >= HEADER_SIZE:
                header = parse_header(block, offset_in_block)
                yield position + offset_in_block, header
                offset_in_block += header.size
            if offset_in_block == 0:
                return  # a torn header at the very end: nothing more to walk
            position += offset_in_block

    def recover(self, interval: int) -> None:
        """Validate every batch by CRC, cut the file after the last good one
        and rebuild both indexes from the scan (the active segment only)."""
        offset_index, time_index = self.offset_index, self.time_index
        offset_index.clear()
        time_index.clear()
        self._bytes_since_index_entry = 0
        position, valid_end = 0, 0
        while self.store.size - position >= HEADER_SIZE:
            # Read at least the whole next batch, so a big one is not
            # mistaken for a torn one.
            next_size = parse_header(self.store.read_bytes(position, HEADER_SIZE)).size
            block = self.store.read_bytes(position, max(_RECOVERY_BLOCK, next_size))
            consumed = 0
            for batch_position, header in iter_valid_batches(block):
                absolute = position + batch_position
                relative = header.base_offset - self.base_offset
                if self._bytes_since_index_entry >= interval:
                    offset_index.relative_offsets.append(relative)
                    offset_index.positions.append(absolute)
                    self._bytes_since_index_entry = 0
                self._bytes_since_index_entry += header.size
                if header.max_timestamp > time_index.max_timestamp:
                    time_index.timestamps.append(header.max_timestamp)
                    time_index.relative_offsets.append(relative)
                self.next_offset = header.base_offset + header.last_offset_delta + 1
                consumed = batch_position + header.size
            if consumed == 0:
                break  # corrupt or torn: everything from here goes
            position += consumed
            valid_end = position
        if valid_end < self.store.size:
            self.store.truncate(valid_end)
        offset_index.rewrite()
        time_index.rewrite()

    def load_indexes(self, next_offset: int) -> None:
        """A closed (not active) segment: trust its index files."""
        self.offset_index.load()
        self.time_index.load()
        self.next_offset = next_offset

    def flush(self) -> None:
        """fsync what was written: the log, then its indexes (as Kafka)."""
        self.store.flush()
        self.offset_index.flush()
        self.time_index.flush()
        log_path = getattr(self.store, "path", None)
        if log_path is not None:
            fsync_if_exists(log_path[: -len(".log")] + ".txnindex")

    def close(self) -> None:
        self.store.close()
        self.offset_index.close()
        self.time_index.close()

    def delete(self) -> None:
        """Close and remove the segment's files (retention, DeleteRecords)."""
        self.close()
        log_path = getattr(self.store, "path", None)
        txn_index = log_path[: -len(".log")] + ".txnindex" if log_path else None
        for path in (log_path, self.offset_index.path, self.time_index.path, txn_index):
            if path is not None and os.path.exists(path):
                os.unlink(path)
