"""Kafka's sparse indexes, kept in memory and mirrored to files.

`.index`: 8-byte entries, (int32 offset relative to the segment's base,
int32 byte position in the `.log`). `.timeindex`: 12-byte entries, (int64
timestamp, int32 relative offset), added when the largest timestamp grows.
"""

from __future__ import annotations

import bisect
import os
import struct
from array import array

from kwire.log.durable_files import write_atomically
from kwire.log.open_files import OPEN_FILES, OpenFiles
from kwire.log.stores import append_or_undo, flush_written, undo_append

_WRITE_FLAGS = os.O_WRONLY | os.O_APPEND


class _IndexFile:
    """Two parallel columns of entries, appended to a file as they come.

    The file is opened through the shared cache of open files; an entry
    whose write fails is neither in the file nor in memory."""

    ENTRY: struct.Struct

    def __init__(self, path: str | None, files: OpenFiles = OPEN_FILES) -> None:
        self.path = path
        self.first = array("q")
        self.second = array("q")
        self.closed = False
        self.open_flags = _WRITE_FLAGS | os.O_CREAT  # created by the first entry written
        self._files = files
        self.writes = 0
        self.flushed_writes = 0
        # Bytes in the file as last known (found by `load`, then kept up to
        # date by writes); None: not known yet, or no file.
        self.file_size: int | None = None

    def load(self) -> None:
        """Read the file's entries as they are; `problem` judges them."""
        self.clear()
        self.file_size = None
        if self.path is None or not os.path.exists(self.path):
            return
        with open(self.path, "rb") as f:
            data = f.read()
        self.file_size = len(data)
        usable = len(data) - len(data) % self.ENTRY.size
        for first, second in self.ENTRY.iter_unpack(data[:usable]):
            self.first.append(first)
            self.second.append(second)

    def problem(self, span: int | None, log_size: int) -> str | None:
        """Why the loaded entries cannot be trusted for a segment holding
        `span` offsets (None: unknown) in `log_size` bytes; None if sound."""
        if self.file_size is not None and self.file_size % self.ENTRY.size:
            return f"{self.file_size} bytes is not a whole number of {self.ENTRY.size}-byte entries"
        return self._entries_problem(span, log_size)

    def _entries_problem(self, span: int | None, log_size: int) -> str | None:
        raise NotImplementedError

    def _add(self, first: int, second: int) -> None:
        if self.path is not None:
            self._write(self.ENTRY.pack(first, second))
        self.first.append(first)
        self.second.append(second)

    def _write(self, data: bytes) -> None:
        assert self.path is not None, "only an index with a file writes"
        entry = self._files.pin(self)
        try:
            self.open_flags = _WRITE_FLAGS
            if self.file_size is None:
                self.file_size = os.fstat(entry.fd).st_size
            append_or_undo(entry.fd, data, self.file_size, self.path)
        finally:
            self._files.unpin(entry)
        self.file_size += len(data)
        self.writes += 1

    def mark(self) -> int:
        return len(self.first)

    def undo(self, mark: int) -> None:
        """Drop the entries added since `mark`, from memory and the file."""
        dropped = len(self.first) - mark
        if dropped <= 0:
            return
        del self.first[mark:]
        del self.second[mark:]
        if self.path is not None:
            assert self.file_size is not None, "entries were written, so the size is known"
            size = self.file_size - dropped * self.ENTRY.size
            entry = self._files.pin(self)
            try:
                undo_append(entry.fd, size, self.path)
            finally:
                self._files.unpin(entry)
            self.file_size = size

    def keep_first(self, count: int) -> None:
        """Only the first `count` entries stay (a follower's truncation); the
        file is cut too, and fsynced by the next flush."""
        if count < len(self.first):
            self.undo(count)
            self.writes += 1

    def clear(self) -> None:
        del self.first[:]
        del self.second[:]

    def rewrite(self) -> None:
        """Make the file hold exactly the in-memory entries (atomically,
        fsynced; not touched when it already does)."""
        if self.path is None:
            return
        data = b"".join(self.ENTRY.pack(a, b) for a, b in zip(self.first, self.second))
        self._files.close(self)  # a rename replaces the file under any open descriptor
        if not data and not os.path.exists(self.path):
            os.close(os.open(self.path, _WRITE_FLAGS | os.O_CREAT, 0o644))  # nothing in it to lose
        elif _read(self.path) != data:
            write_atomically(self.path, data)
        self.file_size = len(data)
        self.open_flags = _WRITE_FLAGS

    def flush(self) -> None:
        flush_written(self, self._files)

    def close(self) -> None:
        self.closed = True
        self._files.close(self)


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


class OffsetIndex(_IndexFile):
    ENTRY = struct.Struct(">ii")  # relative offset, position

    @property
    def relative_offsets(self) -> array[int]:
        return self.first

    @property
    def positions(self) -> array[int]:
        return self.second

    def _entries_problem(self, span: int | None, log_size: int) -> str | None:
        if not self.first:
            return None
        if not _strictly_increasing(self.first) or not _strictly_increasing(self.second):
            return "entries do not increase"
        if self.first[0] < 0 or (span is not None and self.first[-1] >= span):
            return f"relative offsets {self.first[0]}..{self.first[-1]} fall outside the segment"
        if self.second[0] < 0 or self.second[-1] >= log_size:
            return f"position {self.second[-1]} lies beyond the log file ({log_size} bytes)"
        return None

    def append(self, relative_offset: int, position: int) -> None:
        self._add(relative_offset, position)

    def lookup(self, relative_offset: int) -> tuple[int, int]:
        """(relative offset, position) of the last entry at or before the
        target; (0, 0) when the target precedes every entry."""
        i = bisect.bisect_right(self.first, relative_offset) - 1
        if i < 0:
            return 0, 0
        return self.first[i], self.second[i]


class TimeIndex(_IndexFile):
    ENTRY = struct.Struct(">qi")  # timestamp, relative offset

    @property
    def timestamps(self) -> array[int]:
        return self.first

    @property
    def relative_offsets(self) -> array[int]:
        return self.second

    def _entries_problem(self, span: int | None, log_size: int) -> str | None:
        if not self.first:
            return None if log_size == 0 else "no entries for a segment that holds batches"
        if not _strictly_increasing(self.first) or list(self.second) != sorted(self.second):
            return "entries do not increase"
        if self.second[0] < 0 or (span is not None and self.second[-1] >= span):
            return f"relative offsets {self.second[0]}..{self.second[-1]} fall outside the segment"
        return None

    def maybe_append(self, timestamp: int, relative_offset: int) -> None:
        """Record a new largest timestamp; smaller ones add nothing."""
        if not self.first or timestamp > self.first[-1]:
            self._add(timestamp, relative_offset)

    @property
    def max_timestamp(self) -> int:
        return self.first[-1] if self.first else -1

    def lookup(self, timestamp: int) -> int:
        """Relative offset from which to scan for the first batch whose max
        timestamp reaches `timestamp`: the offset of the last entry with a
        smaller timestamp (0 if none)."""
        i = bisect.bisect_left(self.first, timestamp) - 1
        return self.second[i] if i >= 0 else 0


def _strictly_increasing(column: array[int]) -> bool:
    # sorted() and set() run in C: a big index is checked in milliseconds.
    values = list(column)
    return values == sorted(set(values))
