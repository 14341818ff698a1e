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
from pathlib import Path

from kwire.log.segment_scan import SegmentScan
from kwire.log.stores import FileStore

log = logging.getLogger("kwire.log")

CLEANED_SUFFIX = ".log.cleaned"
SWAP_SUFFIX = ".log.swap"
_SEGMENT_FILE_SUFFIXES = (".log", ".index", ".timeindex", ".txnindex")


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
    """One past the last offset of the sound batches in a `.swap` file (its
    base if it holds none), from the batch headers alone."""
    store = FileStore(str(path))
    try:
        scan = SegmentScan(store, base)
        for _batch in scan:
            pass
        return scan.next_offset
    finally:
        store.close()
