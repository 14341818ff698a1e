"""Disk faults for unit tests: writes (or other calls) to chosen files fail
the way the kernel fails them, a short write first, then the error."""

from __future__ import annotations

import errno
import fnmatch
import os


def path_of(fd: int) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")


def matches(path: str, suffix: str) -> bool:
    """`suffix` ends the path; it may hold wildcards (`t-0/*.log`)."""
    return fnmatch.fnmatchcase(path, "*" + suffix)


class FailingWrites:
    """While `failing`, os.write to a file whose path `matches` `suffix`
    writes half the bytes, then raises `error` on the next call (a full disk
    mid-write). `monkeypatch` undoes it all after the test."""

    def __init__(self, monkeypatch, suffix: str, error: int = errno.ENOSPC) -> None:
        self.suffix = suffix
        self.error = error
        self.failing = True
        self.failures = 0
        self._half_written = False
        self._write = os.write
        monkeypatch.setattr(os, "write", self.write)

    def write(self, fd, data):
        if not self.failing or not matches(path_of(fd), self.suffix):
            return self._write(fd, data)
        half = len(data) // 2
        if half and not self._half_written:
            self._half_written = True
            return self._write(fd, bytes(data[:half]))
        self._half_written = False
        self.failures += 1
        raise OSError(self.error, os.strerror(self.error))


class FailingCalls:
    """os.<name> raises `error` for paths/fds that `match` `suffix` while `failing`."""

    def __init__(self, monkeypatch, name: str, suffix: str = "", error: int = errno.EIO) -> None:
        self.suffix = suffix
        self.error = error
        self.failing = True
        self.calls = 0
        self._real = getattr(os, name)
        monkeypatch.setattr(os, name, self.call)

    def call(self, target, *args, **kwargs):
        path = path_of(target) if isinstance(target, int) else os.fspath(target)
        if self.failing and matches(path, self.suffix):
            self.calls += 1
            raise OSError(self.error, os.strerror(self.error), path)
        return self._real(target, *args, **kwargs)


class SyncEvents:
    """Records os.fsync (by path) and os.replace calls, in order, as
    ("fsync", path) and ("replace", source, destination)."""

    def __init__(self, monkeypatch) -> None:
        self.events: list[tuple] = []
        real_fsync, real_replace = os.fsync, os.replace

        def fsync(fd):
            self.events.append(("fsync", path_of(fd)))
            return real_fsync(fd)

        def replace(source, destination, **kwargs):
            self.events.append(("replace", os.fspath(source), os.fspath(destination)))
            return real_replace(source, destination, **kwargs)

        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(os, "replace", replace)

    def fsynced(self) -> list[str]:
        return [event[1] for event in self.events if event[0] == "fsync"]

    def clear(self) -> None:
        self.events.clear()
