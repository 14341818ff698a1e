"""Several log directories (`log.dirs`), as Kafka's LogManager keeps them.

Every directory is a log directory of its own: its `meta.properties` (the
same cluster and node id, its own `directory.id`), its `.lock`, its
checkpoint files naming the partitions it holds. The metadata log lives in
the first (Kafka's default `metadata.log.dir`). A new partition goes to the
directory holding the fewest partitions, the first of them on a tie; at
start-up each partition is found wherever it is.

A partition moved by AlterReplicaLogDirs is first copied, while nothing is
appended to it, into `<topic>-<partition>.<uniqueId>-future` in its new
directory (every file fsynced); then its old directory is renamed for
removal (`…-delete`) and the future one renamed to `<topic>-<partition>`.
A crash in between leaves a future directory that start-up settles: if the
partition's directory still exists somewhere, the copy is unfinished and
discarded; if not, the old one was already renamed away after a complete
copy, and the copy becomes the partition's directory. Never are both
served.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from kwire.errors import StartupError
from kwire.log.durable_files import fsync_directory
from kwire.log.files import parse_future_dir_name, parse_partition_dir_name, partition_dir_name

log = logging.getLogger("kwire.cluster")

PartitionKey = tuple[str, int]


def least_loaded(log_dirs: Sequence[Path], counts: Mapping[Path, int]) -> Path:
    """Where a new partition goes: the directory with the fewest partitions
    (`counts`), the first in `log_dirs` order on a tie."""
    return min(log_dirs, key=lambda directory: counts.get(directory, 0))


def find_partition_dirs(
    log_dirs: Sequence[Path], skip_topics: frozenset[str], is_deleted: Callable[[Path], bool]
) -> dict[PartitionKey, Path]:
    """Start-up: every `<topic>-<partition>` directory in the log
    directories, by partition, once unfinished moves are settled (see the
    module's doc). Of two directories of one partition, one of a deleted
    topic (`is_deleted`) is left out: start-up removes it. Raises StartupError (one line) if a partition's
    directory is in two log directories."""
    found: dict[PartitionKey, list[Path]] = {}
    futures: list[tuple[PartitionKey, Path]] = []
    for log_dir in log_dirs:
        for entry in sorted(os.scandir(log_dir), key=lambda e: e.name):
            if not entry.is_dir(follow_symlinks=False):
                continue
            future = parse_future_dir_name(entry.name)
            if future is not None:
                futures.append((future, Path(entry.path)))
                continue
            parsed = parse_partition_dir_name(entry.name)
            if parsed is None or parsed[0] in skip_topics:
                continue
            found.setdefault(parsed, []).append(Path(entry.path))
    locations: dict[PartitionKey, Path] = {}
    for key, paths in found.items():
        # (A deleted topic's directory that was not renamed shares its name
        # with a new topic's only if the new one went to another directory.)
        live = paths if len(paths) == 1 else [path for path in paths if not is_deleted(path)]
        if len(live) > 1:
            raise StartupError(
                f"partition {key[0]}-{key[1]} has a directory in two log directories, {live[0]} and {live[1]}: "
                "remove the one that is out of date"
            )
        if live:
            locations[key] = live[0]
    for key, path in futures:
        current = locations.get(key)
        if current is not None:
            log.warning(
                "Discarding %s: an unfinished move of %s-%d, which stays in %s", path, key[0], key[1], current.parent
            )
            shutil.rmtree(path, ignore_errors=True)
            continue
        target = path.with_name(partition_dir_name(*key))
        os.rename(path, target)
        fsync_directory(target.parent)
        log.info("Completed the move of %s-%d to %s, interrupted by the last shutdown", key[0], key[1], target.parent)
        locations[key] = target
    return locations


def copy_partition_dir(source: Path, destination: Path) -> int:
    """Copy every file of `source` into the new directory `destination`,
    each file fsynced, then the directory and its parent; bytes copied.
    Raises OSError, with `destination` removed."""
    destination.mkdir()
    copied = 0
    try:
        for entry in sorted(os.scandir(source), key=lambda e: e.name):
            if not entry.is_file(follow_symlinks=False):
                continue
            target = destination / entry.name
            shutil.copyfile(entry.path, target)
            fd = os.open(target, os.O_RDONLY)
            try:
                os.fsync(fd)
                copied += os.fstat(fd).st_size
            finally:
                os.close(fd)
        fsync_directory(destination)
        fsync_directory(destination.parent)
    except OSError:
        shutil.rmtree(destination, ignore_errors=True)
        raise
    return copied
