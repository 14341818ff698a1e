"""Where a segment's bytes live: a file (pread/one write per batch) or RAM.

Both are a `Store`: they answer `read(position, length)` with a list of
bytes-like chunks, so fetch responses can be scatter-written without
joining them. A `ReadableStore` is what a scan needs: a size and reads.

A file is opened on demand through the shared cache of open files
(kwire/log/open_files.py), never held open for the segment's lifetime. An
append that fails is undone: the partial bytes are truncated away, so the
file is exactly as it was.
"""

from __future__ import annotations

import bisect
import os
from array import array
from typing import Protocol

from kwire.log.open_files import OPEN_FILES, FileClosed, FileOwner, OpenFiles
from kwire.log.storage_errors import WriteNotUndone
from kwire.protocol.records import Buffer


class ReadableStore(Protocol):
    @property
    def size(self) -> int:
        """Bytes stored."""
        ...

    def read_bytes(self, position: int, length: int) -> bytes:
        """Up to `length` bytes from `position`, as one bytes object."""
        ...


class Store(ReadableStore, Protocol):
    @property
    def path(self) -> str | None:
        """The file holding the bytes (None: they are in memory)."""
        ...

    def append(self, data: Buffer) -> None:
        """Add `data` at the end; a failed append leaves the store as it was."""
        ...

    def read(self, position: int, length: int) -> list[Buffer]:
        """Up to `length` bytes from `position`, as chunks (not joined)."""
        ...

    def truncate(self, size: int) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class FileStore:
    open_flags = os.O_RDWR | os.O_APPEND

    def __init__(self, path: str, files: OpenFiles = OPEN_FILES) -> None:
        self.path = path
        self.closed = False
        self._files = files
        try:
            self.size = os.stat(path).st_size
        except FileNotFoundError:
            os.close(os.open(path, self.open_flags | os.O_CREAT, 0o644))
            self.size = 0
        # Appends counted, and how many of them the last fsync covered
        # (a counter, not a flag: the flusher thread may fsync meanwhile).
        self.writes = 0
        self.flushed_writes = 0

    def append(self, data: Buffer) -> None:
        entry = self._files.pin(self)
        try:
            append_or_undo(entry.fd, data, self.size, self.path)
        finally:
            self._files.unpin(entry)
        self.size += len(data)
        self.writes += 1

    def read(self, position: int, length: int) -> list[Buffer]:
        return [self.read_bytes(position, length)]

    def read_bytes(self, position: int, length: int) -> bytes:
        entry = self._files.pin(self)
        try:
            return os.pread(entry.fd, length, position)
        finally:
            self._files.unpin(entry)

    def truncate(self, size: int) -> None:
        entry = self._files.pin(self)
        try:
            os.ftruncate(entry.fd, size)
        finally:
            self._files.unpin(entry)
        self.size = size
        self.writes += 1

    def flush(self) -> None:
        flush_written(self, self._files)

    def close(self) -> None:
        self.closed = True
        self._files.close(self)


class WriteCounting(FileOwner, Protocol):
    """A file's owner that counts its writes and the fsyncs that covered them."""

    writes: int
    flushed_writes: int


def flush_written(owner: WriteCounting, files: OpenFiles) -> None:
    """fsync `owner`'s file (a store or an index counting its `writes`),
    unless nothing was written since the last fsync or the file is gone (a
    deleted or replaced segment has nothing to flush)."""
    covered = owner.writes
    if covered == owner.flushed_writes:
        return
    try:
        entry = files.pin(owner)
    except FileClosed:
        return
    try:
        os.fsync(entry.fd)
    finally:
        files.unpin(entry)
    owner.flushed_writes = covered


def append_or_undo(fd: int, data: Buffer, size_before: int, path: str) -> None:
    """Write all of `data` at the end of the file (a short write puts out the
    rest); if that fails, cut the partial bytes off again and raise."""
    try:
        written = os.write(fd, data)
        while written < len(data):
            written += os.write(fd, memoryview(data)[written:])
    except OSError:
        undo_append(fd, size_before, path)
        raise


def undo_append(fd: int, size_before: int, path: str) -> None:
    """Cut a failed append's partial bytes off; WriteNotUndone if even that fails."""
    try:
        os.ftruncate(fd, size_before)
    except OSError as exc:
        raise WriteNotUndone(
            exc.errno, f"could not truncate a failed write back to {size_before} bytes: {exc.strerror}", path
        ) from exc


class MemoryStore:
    """Batches kept as immutable bytes objects, never copied on append."""

    path: str | None = None

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._starts = array("q")
        self.size = 0

    def append(self, data: Buffer) -> None:
        self._chunks.append(bytes(data))
        self._starts.append(self.size)
        self.size += len(data)

    def read(self, position: int, length: int) -> list[Buffer]:
        end = min(position + length, self.size)
        i = bisect.bisect_right(self._starts, position) - 1
        out: list[Buffer] = []
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
        """Drop the bytes from `size` on (a follower's truncation)."""
        keep = bisect.bisect_left(self._starts, size)  # chunks starting at or past `size` go
        del self._chunks[keep:]
        del self._starts[keep:]
        if self._chunks and self._starts[-1] + len(self._chunks[-1]) > size:
            self._chunks[-1] = self._chunks[-1][: size - self._starts[-1]]
        self.size = min(self.size, size)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass
