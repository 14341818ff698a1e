"""Where a segment's bytes live: a file (pread/one write per batch) or RAM.

Both answer `read(position, length)` with a list of bytes-like chunks, so
fetch responses can be scatter-written without joining them.
"""

from __future__ import annotations

import bisect
import os
from array import array


class FileStore:
    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        self.size = os.fstat(self._fd).st_size

    def append(self, data) -> None:
        written = os.write(self._fd, data)
        if written != len(data):  # a short write: put the rest out too
            os.write(self._fd, memoryview(data)[written:])
        self.size += len(data)

    def read(self, position: int, length: int) -> list:
        return [os.pread(self._fd, length, position)]

    def read_bytes(self, position: int, length: int) -> bytes:
        return os.pread(self._fd, length, position)

    def truncate(self, size: int) -> None:
        os.ftruncate(self._fd, size)
        self.size = size

    def flush(self) -> None:
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class MemoryStore:
    """Batches kept as immutable bytes objects, never copied on append."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._starts = array("q")
        self.size = 0

    def append(self, data) -> None:
        self._chunks.append(bytes(data))
        self._starts.append(self.size)
        self.size += len(data)

    def read(self, position: int, length: int) -> list:
        end = min(position + length, self.size)
        i = bisect.bisect_right(self._starts, position) - 1
        out = []
        while position < end and i < len(self._chunks):
            chunk, start = self._chunks[i], self._starts[i]
            lo, hi = position - start, min(len(chunk), end - start)
            out.append(chunk if lo == 0 and hi == len(chunk) else memoryview(chunk)[lo:hi])
            position = start + hi
            i += 1
        return out

    def read_bytes(self, position: int, length: int) -> bytes:
        return b"".join(self.read(position, length))

    def truncate(self, size: int) -> None:
        raise NotImplementedError("memory segments are never recovered")

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass
