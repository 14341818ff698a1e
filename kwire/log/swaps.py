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

from kwire.log.files import (
    CLEANED_LOG_SUFFIX,
    INDEX_SUFFIX,
    LOG_SUFFIX,
    SEGMENT_SUFFIXES,
    SWAP_LOG_SUFFIX,
    TIME_INDEX_SUFFIX,
    file_path,
    offset_of,
    offsets_in,
)
from kwire.log.segment_scan import SegmentScan, scan_to_end
from kwire.log.stores import FileStore

log = logging.getLogger("kwire.log")


def complete_interrupted_swaps(directory: Path) -> None:
    directory = Path(directory)
    for name in sorted(os.listdir(directory)):
        if name.endswith(CLEANED_LOG_SUFFIX):
            os.unlink(directory / name)
            log.warning(
                "Deleted %s/%s: a compaction was interrupted before its swap; the log is as it was",
                directory.name,
                name,
            )
    for name in sorted(os.listdir(directory)):
        base = offset_of(name, SWAP_LOG_SUFFIX)
        if base is not None:
            _complete_swap(directory, base, directory / name)


def _complete_swap(directory: Path, base: int, swap_path: Path) -> None:
    end = _next_offset(swap_path, base)
    replaced = [b for b in offsets_in(directory, LOG_SUFFIX) if base <= b < end]
    for old_base in replaced:
        for suffix in SEGMENT_SUFFIXES:
            _unlink_if_exists(file_path(directory, old_base, suffix))
    for suffix in (INDEX_SUFFIX, TIME_INDEX_SUFFIX):  # of the new segment: rebuilt when it is opened
        _unlink_if_exists(file_path(directory, base, suffix))
    os.replace(swap_path, file_path(directory, base, LOG_SUFFIX))
    log.warning(
        "Finished a compaction of %s that a crash interrupted: %s replaced %d segment(s) (offsets %d to %d)",
        directory.name,
        swap_path.name,
        len(replaced),
        base,
        end - 1,
    )


def _unlink_if_exists(path: str) -> None:
    if os.path.exists(path):
        os.unlink(path)


def _next_offset(path: Path, base: int) -> int:
    """One past the last offset of the sound batches in a `.swap` file (its
    base if it holds none), from the batch headers alone."""
    store = FileStore(str(path))
    try:
        return scan_to_end(SegmentScan(store, base)).next_offset
    finally:
        store.close()
