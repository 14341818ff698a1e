"""Each log directory's own files, as Kafka keeps them.

- `.lock`: an exclusive lock held for the broker's lifetime, taken before
  anything else in the directory is read or written, so that two brokers
  never write the same logs.
- `.kafka_cleanshutdown`: written at a clean shutdown once every log is
  flushed and closed, removed at start-up once the logs are loaded. Its
  absence at start-up means the last run crashed and logs past their
  recovery points must be validated.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Sequence
from pathlib import Path

from kwire.errors import StartupError

LOCK_FILE = ".lock"
CLEAN_SHUTDOWN_FILE = ".kafka_cleanshutdown"


class DataDirLock:
    def __init__(self, data_dir: Path, fd: int) -> None:
        self.data_dir = data_dir
        self._fd = fd

    @classmethod
    def acquire(cls, data_dir: Path) -> DataDirLock:
        """Create the directory if needed and lock it; StartupError (one
        line) if another process holds the lock or the path is unusable."""
        data_dir = Path(data_dir)
        path = data_dir / LOCK_FILE
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StartupError(f"data directory {data_dir} cannot be used: {exc.strerror} ({exc.filename})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StartupError(
                f"data directory {data_dir} is in use by another process (lock {path} is held)"
            ) from None
        return cls(data_dir, fd)

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = -1


class DataDirLocks:
    """The locks of every log directory (`log.dirs`), taken in order and
    released together."""

    def __init__(self, locks: list[DataDirLock]) -> None:
        self.locks = locks

    @classmethod
    def acquire(cls, directories: Sequence[Path]) -> DataDirLocks:
        """Lock each directory; if one cannot be locked, those already
        locked are released and its StartupError raised."""
        locks: list[DataDirLock] = []
        try:
            for directory in directories:
                locks.append(DataDirLock.acquire(directory))
        except BaseException:
            for lock in locks:
                lock.release()
            raise
        return cls(locks)

    def release(self) -> None:
        for lock in self.locks:
            lock.release()


def held_by_another_process(data_dir: Path) -> bool:
    """Whether some broker holds the directory's lock now (for `kwire check`:
    it only probes, creating nothing)."""
    try:
        fd = os.open(Path(data_dir) / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def had_clean_shutdown(data_dir: Path) -> bool:
    return (Path(data_dir) / CLEAN_SHUTDOWN_FILE).exists()


def mark_clean_shutdown(data_dir: Path) -> None:
    """Written last at a clean shutdown, durably (file and directory)."""
    path = Path(data_dir) / CLEAN_SHUTDOWN_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_directory(data_dir)


def clear_clean_shutdown(data_dir: Path) -> None:
    """At start-up once the logs are loaded: from now on a crash is unclean.
    Durably, lest a power cut bring the marker back."""
    path = Path(data_dir) / CLEAN_SHUTDOWN_FILE
    if path.exists():
        path.unlink()
        _fsync_directory(data_dir)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
