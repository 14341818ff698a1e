"""The names of a log's files, as Kafka spells them (its LogFileUtils):
one place that builds them and parses them back.

A partition's directory is `<topic>-<partition>`; in it each segment's
files share a stem, the segment's base offset as 20 digits
(`00000000000000000042.log`, `.index`, `.timeindex`, `.txnindex`), and
producer-state snapshots are `<offset>.snapshot`. Files on their way in or
out carry a further suffix: `.cleaned` (compaction output not yet
decided), `.swap` (compaction output decided, being swapped in), `.tmp`
(a file being replaced whole), `.deleted` (Kafka's files awaiting
deletion; kwire deletes at once, but `kwire check` reports them).

A deleted topic's partition directory is renamed at once to
`<topic>-<partition>.<uniqueId>-delete` (Kafka's name, capped at 255
characters) and removed later. A partition being moved to another log
directory (AlterReplicaLogDirs) is copied there first as
`<topic>-<partition>.<uniqueId>-future`.
"""

from __future__ import annotations

import os
from pathlib import Path

LOG_SUFFIX = ".log"
INDEX_SUFFIX = ".index"
TIME_INDEX_SUFFIX = ".timeindex"
TXN_INDEX_SUFFIX = ".txnindex"
SNAPSHOT_SUFFIX = ".snapshot"
CLEANED_SUFFIX = ".cleaned"
SWAP_SUFFIX = ".swap"
TEMPORARY_SUFFIX = ".tmp"
DELETED_SUFFIX = ".deleted"

# Every file that belongs to one segment.
SEGMENT_SUFFIXES = (LOG_SUFFIX, INDEX_SUFFIX, TIME_INDEX_SUFFIX, TXN_INDEX_SUFFIX)
# A compaction's output, before and after its swap is decided.
CLEANED_LOG_SUFFIX = LOG_SUFFIX + CLEANED_SUFFIX
SWAP_LOG_SUFFIX = LOG_SUFFIX + SWAP_SUFFIX
# Files that only an interrupted write, compaction or deletion leaves behind.
LEFTOVER_SUFFIXES = (CLEANED_SUFFIX, TEMPORARY_SUFFIX, SWAP_SUFFIX, DELETED_SUFFIX)

_OFFSET_DIGITS = 20


def offset_stem(offset: int) -> str:
    """An offset as file names carry it: 20 digits, zero-padded."""
    return f"{offset:0{_OFFSET_DIGITS}d}"


def file_name(offset: int, suffix: str) -> str:
    return offset_stem(offset) + suffix


def file_path(directory: str | Path, offset: int, suffix: str) -> str:
    """The path of the file of `offset` with `suffix` in `directory`."""
    return os.path.join(str(directory), file_name(offset, suffix))


def offset_of(name: str, suffix: str) -> int | None:
    """The offset a file name `<digits><suffix>` carries (None: not such a name)."""
    if not name.endswith(suffix):
        return None
    stem = name[: -len(suffix)]
    return int(stem) if stem.isdigit() else None


def files_in(directory: str | Path, suffix: str) -> list[tuple[int, Path]]:
    """(offset, path) of each `<digits><suffix>` file in `directory`, by offset."""
    found = ((offset_of(name, suffix), name) for name in os.listdir(directory))
    return sorted((offset, Path(directory) / name) for offset, name in found if offset is not None)


def offsets_in(directory: str | Path, suffix: str) -> list[int]:
    """The offsets of the `<digits><suffix>` files in `directory`, ascending."""
    return [offset for offset, _path in files_in(directory, suffix)]


def sibling(path: str, suffix: str) -> str:
    """The same segment's file with another suffix (`.log` -> `.txnindex`)."""
    stem, _dot, _old = os.path.basename(path).partition(".")
    return os.path.join(os.path.dirname(path), stem + suffix)


def partition_dir_name(topic: str, partition: int) -> str:
    return f"{topic}-{partition}"


def parse_partition_dir_name(name: str) -> tuple[str, int] | None:
    """(topic, partition) of a `<topic>-<partition>` directory name, None if
    it is not one (the partition must be a plain decimal number)."""
    topic, dash, index = name.rpartition("-")
    if not dash or not topic or not index.isdigit() or str(int(index)) != index:
        return None
    return topic, int(index)


DELETE_DIR_SUFFIX = "-delete"
_MAX_DIR_NAME = 255  # what file systems allow; Kafka caps the name to it


def deleted_dir_name(topic: str, partition: int, unique_id: str) -> str:
    """The name a deleted partition's directory is renamed to (Kafka's
    `<topic>-<partition>.<uniqueId>-delete`, the prefix cut to fit)."""
    suffix = f".{unique_id}{DELETE_DIR_SUFFIX}"
    return partition_dir_name(topic, partition)[: _MAX_DIR_NAME - len(suffix)] + suffix


def is_deleted_dir_name(name: str) -> bool:
    """Whether `name` is a deleted partition's directory awaiting removal."""
    stem, dot, unique = name.rpartition(".")
    return bool(stem and dot and unique.endswith(DELETE_DIR_SUFFIX) and len(unique) > len(DELETE_DIR_SUFFIX))


FUTURE_DIR_SUFFIX = "-future"


def future_dir_name(topic: str, partition: int, unique_id: str) -> str:
    """Where AlterReplicaLogDirs copies a partition in its new log directory
    before the swap: Kafka's `<topic>-<partition>.<uniqueId>-future`."""
    return f"{partition_dir_name(topic, partition)}.{unique_id}{FUTURE_DIR_SUFFIX}"


def parse_future_dir_name(name: str) -> tuple[str, int] | None:
    """(topic, partition) of a future directory's name, None if it is not one."""
    if not name.endswith(FUTURE_DIR_SUFFIX):
        return None
    stem, dot, unique = name[: -len(FUTURE_DIR_SUFFIX)].rpartition(".")
    if not dot or not unique:
        return None
    return parse_partition_dir_name(stem)
