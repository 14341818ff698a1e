"""Finishing a compaction that a crash interrupted, as Kafka's log loader does.

The cleaner writes its output as `<base>.log.cleaned` files (fsynced), then
renames them to `<base>.log.swap` and fsyncs the directory: from that moment
the swap is decided. It then deletes the segments the output replaces and
renames each `.swap` to `.log`. At start-up, before the segments are listed:

- a `.cleaned` file is an unfinished cleaning: the old segments are all
  still there, so it is deleted;
- a `.swap` file is a decided swap: every old segment whose base offset lies
  in the offsets it covers is deleted, and it becomes the `.log`.
"""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path

from kwire.protocol.records import CURRENT_MAGIC, HEADER_SIZE, LOG_OVERHEAD

log = logging.getLogger("kwire.log")

CLEANED_SUFFIX = ".log.cleaned"
SWAP_SUFFIX = ".log.swap"
_SEGMENT_FILE_SUFFIXES = (".log", ".index", ".timeindex", ".txnindex")
_OFFSET_LENGTH_MAGIC = struct.Struct(">qi4xb")
_LAST_OFFSET_DELTA = struct.Struct(">i")  # at byte 23 of a batch


def complete_interrupted_swaps(directory: Path) -> None:
    directory = Path(directory)
    for name in sorted(os.listdir(directory)):
        if name.endswith(CLEANED_SUFFIX):
            os.unlink(directory / name)
            log.warning("Deleted %s/%s: a compaction was interrupted before its swap; the log is as it was",
                        directory.name, name)
    for name in sorted(os.listdir(directory)):
        if name.endswith(SWAP_SUFFIX) and name[: -len(SWAP_SUFFIX)].isdigit():
            _complete_swap(directory, int(name[: -len(SWAP_SUFFIX)]), directory / name)


def _complete_swap(directory: Path, base: int, swap_path: Path) -> None:
    end = _next_offset(swap_path, base)
    replaced = [b for b in _segment_bases(directory) if base <= b < end]
    for old_base in replaced:
        stem = directory / f"{old_base:020d}"
        for suffix in _SEGMENT_FILE_SUFFIXES:
            if stem.with_name(stem.name + suffix).exists():
                os.unlink(stem.with_name(stem.name + suffix))
    for suffix in (".index", ".timeindex"):  # of the new segment: rebuilt when it is opened
        stale = directory / f"{base:020d}{suffix}"
        if stale.exists():
            os.unlink(stale)
    os.replace(swap_path, directory / f"{base:020d}.log")
    log.warning("Finished a compaction of %s that a crash interrupted: %s replaced %d segment(s) "
                "(offsets %d to %d)", directory.name, swap_path.name, len(replaced), base, end - 1)


def _segment_bases(directory: Path) -> list[int]:
    return [int(name[:-4]) for name in os.listdir(directory) if name.endswith(".log") and name[:-4].isdigit()]


def _next_offset(path: Path, base: int) -> int:
    """One past the last offset of the whole batches in a `.swap` file (its
    base if it holds none), from the batch headers alone."""
    next_offset = base
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        position = 0
        while size - position >= HEADER_SIZE:
            header = os.pread(f.fileno(), HEADER_SIZE, position)
            batch_base, length, magic = _OFFSET_LENGTH_MAGIC.unpack_from(header)
            (delta,) = _LAST_OFFSET_DELTA.unpack_from(header, 23)
            if magic != CURRENT_MAGIC or length < HEADER_SIZE - LOG_OVERHEAD or delta < 0 \
                    or position + length + LOG_OVERHEAD > size:
                break
            next_offset = max(next_offset, batch_base + delta + 1)
            position += length + LOG_OVERHEAD
    return next_offset
