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

_OFFSET_ENTRY = struct.Struct(">ii")
_TIME_ENTRY = struct.Struct(">qi")


class OffsetIndex:
    def __init__(self, path: str | None) -> None:
        self.path = path
        self.relative_offsets = array("q")
        self.positions = array("q")
        self._fd: int | None = None

    def load(self) -> None:
        if self.path is None or not os.path.exists(self.path):
            return
        with open(self.path, "rb") as f:
            data = f.read()
        usable = len(data) - len(data) % _OFFSET_ENTRY.size
        for relative, position in _OFFSET_ENTRY.iter_unpack(data[:usable]):
            if self.relative_offsets and relative <= self.relative_offsets[-1]:
                break  # zero-padding or garbage past the real entries
            self.relative_offsets.append(relative)
            self.positions.append(position)

    def append(self, relative_offset: int, position: int) -> None:
        self.relative_offsets.append(relative_offset)
        self.positions.append(position)
        if self.path is not None:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.write(self._fd, _OFFSET_ENTRY.pack(relative_offset, position))

    def lookup(self, relative_offset: int) -> tuple[int, int]:
        """(relative offset, position) of the last entry at or before the
        target; (0, 0) when the target precedes every entry."""
        i = bisect.bisect_right(self.relative_offsets, relative_offset) - 1
        if i < 0:
            return 0, 0
        return self.relative_offsets[i], self.positions[i]

    def truncate_to_position(self, position: int) -> None:
        """Drop entries that point at or beyond `position`, in memory and on disk."""
        keep = bisect.bisect_left(self.positions, position)
        del self.relative_offsets[keep:]
        del self.positions[keep:]
        self.rewrite()

    def rewrite(self) -> None:
        if self.path is None:
            return
        self.close()
        with open(self.path, "wb") as f:
            f.write(b"".join(_OFFSET_ENTRY.pack(o, p) for o, p in zip(self.relative_offsets, self.positions)))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class TimeIndex:
    def __init__(self, path: str | None) -> None:
        self.path = path
        self.timestamps = array("q")
        self.relative_offsets = array("q")
        self._fd: int | None = None

    def load(self) -> None:
        if self.path is None or not os.path.exists(self.path):
            return
        with open(self.path, "rb") as f:
            data = f.read()
        usable = len(data) - len(data) % _TIME_ENTRY.size
        for timestamp, relative in _TIME_ENTRY.iter_unpack(data[:usable]):
            if self.timestamps and (timestamp <= self.timestamps[-1] or relative < self.relative_offsets[-1]):
                break
            self.timestamps.append(timestamp)
            self.relative_offsets.append(relative)

    def maybe_append(self, timestamp: int, relative_offset: int) -> None:
        if self.timestamps and timestamp <= self.timestamps[-1]:
            return
        self.timestamps.append(timestamp)
        self.relative_offsets.append(relative_offset)
        if self.path is not None:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.write(self._fd, _TIME_ENTRY.pack(timestamp, relative_offset))

    @property
    def max_timestamp(self) -> int:
        return self.timestamps[-1] if self.timestamps else -1

    def lookup(self, timestamp: int) -> int:
        """Relative offset from which to scan for the first batch whose max
        timestamp reaches `timestamp`: the offset of the last entry with a
        smaller timestamp (0 if none)."""
        i = bisect.bisect_left(self.timestamps, timestamp) - 1
        return self.relative_offsets[i] if i >= 0 else 0

    def clear(self) -> None:
        del self.timestamps[:]
        del self.relative_offsets[:]
        self.rewrite()

    def rewrite(self) -> None:
        if self.path is None:
            return
        self.close()
        with open(self.path, "wb") as f:
            f.write(b"".join(_TIME_ENTRY.pack(t, o) for t, o in zip(self.timestamps, self.relative_offsets)))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
