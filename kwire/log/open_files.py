"""A bounded cache of open file descriptors, shared by every log.

A broker with 10,000 partitions must not hold 10,000 files open: segment
and index files are opened on demand through this cache, and the least
recently used are closed when it is full. Its size follows RLIMIT_NOFILE
(a quarter of the soft limit, leaving the rest for sockets).

The cleaner and the background flusher use the same files from worker
threads, so every step holds a lock, and a file in use is pinned: it is
never closed (and its number never reused) until its last user unpins it.
"""

from __future__ import annotations

import collections
import errno
import os
import resource
import threading
from typing import Protocol

MIN_CAPACITY = 16  # below this a small limit would thrash on every append


class FileClosed(OSError):
    """The file was closed by its owner (a deleted or replaced segment)."""

    def __init__(self, path: str) -> None:
        super().__init__(errno.EBADF, "file closed", path)


class FileOwner(Protocol):
    """What owns a descriptor here: a segment's store or an index file."""

    @property
    def path(self) -> str | None: ...  # None only for in-memory owners, which never open files

    @property
    def open_flags(self) -> int: ...

    @property
    def closed(self) -> bool: ...


class OpenFile:
    __slots__ = ("fd", "pins", "closing")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.pins = 0
        self.closing = False  # its owner closed it while pinned: close on the last unpin


def capacity_from_limit() -> int:
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    return max(MIN_CAPACITY, soft // 4)


class OpenFiles:
    """Each FileOwner owns at most one descriptor here."""

    def __init__(self, capacity: int | None = None) -> None:
        self._fixed_capacity = capacity
        self._lock = threading.Lock()
        self._open: collections.OrderedDict[FileOwner, OpenFile] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._open)

    @property
    def capacity(self) -> int:
        # Read again when needed: start-up may raise the limit after import.
        return self._fixed_capacity or capacity_from_limit()

    def pin(self, owner: FileOwner) -> OpenFile:
        """The owner's open file, opened if need be, pinned until `unpin`."""
        with self._lock:
            entry = self._open.get(owner)
            if entry is None:
                entry = self._open_locked(owner)
            else:
                self._open.move_to_end(owner)
            entry.pins += 1
            return entry

    def unpin(self, entry: OpenFile) -> None:
        with self._lock:
            entry.pins -= 1
            if entry.closing and entry.pins == 0:
                os.close(entry.fd)

    def close(self, owner: FileOwner) -> None:
        """Forget the owner's file; closed now, or by its last user."""
        with self._lock:
            entry = self._open.pop(owner, None)
            if entry is None:
                return
            if entry.pins:
                entry.closing = True
            else:
                os.close(entry.fd)

    def _open_locked(self, owner: FileOwner) -> OpenFile:
        path = owner.path
        if owner.closed or path is None:
            raise FileClosed(str(path))
        if self._fixed_capacity is not None or len(self._open) >= MIN_CAPACITY:  # (never full below the floor)
            self._evict(len(self._open) + 1 - self.capacity)
        try:
            fd = os.open(path, owner.open_flags, 0o644)
        except OSError as exc:
            if exc.errno not in (errno.EMFILE, errno.ENFILE) or not self._evict(max(1, len(self._open) // 2)):
                raise
            fd = os.open(path, owner.open_flags, 0o644)  # the process ran short: retry with fewer held
        entry = OpenFile(fd)
        self._open[owner] = entry
        return entry

    def _evict(self, count: int) -> int:
        """Close up to `count` unpinned files, least recently used first
        (a pinned one is in use, so it counts as recently used)."""
        closed = 0
        for _ in range(len(self._open)):
            if closed >= count:
                break
            owner, entry = next(iter(self._open.items()))
            if entry.pins:
                self._open.move_to_end(owner)
                continue
            del self._open[owner]
            os.close(entry.fd)
            closed += 1
        return closed


# The one cache the broker's logs share.
OPEN_FILES = OpenFiles()
