"""Files replaced whole (checkpoints, snapshots, rewritten indexes): written
to a temporary file, fsynced, renamed over the old one, and the directory
fsynced, so a crash leaves either the old file or the new one. A write
that fails removes its temporary file and leaves the old file intact."""

from __future__ import annotations

import os
from pathlib import Path

from kwire.log.files import TEMPORARY_SUFFIX


def fsync_directory(path: str | os.PathLike[str]) -> None:
    """Make the names created, renamed or removed in `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: str | os.PathLike[str], data: bytes, durable: bool = True) -> None:
    """Replace `path` with `data`; raises OSError with the old file untouched.
    `durable=False` skips the fsyncs (the caller syncs the whole disk after)."""
    path = Path(path)
    temporary = path.with_name(path.name + TEMPORARY_SUFFIX)
    try:
        with open(temporary, "wb") as f:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    if durable:
        fsync_directory(path.parent)


def fsync_if_exists(path: str | os.PathLike[str]) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
