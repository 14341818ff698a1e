"""Partition directories that no topic in the metadata log claims.

When the end of `__cluster_metadata-0` is lost (a torn write cut off at
recovery), a topic created just before can vanish from the metadata while
its partition directories, and the records acknowledged into them, stay.
Such a topic is recovered from its directories: its id from their
`partition.metadata`, its partition count from the highest index. A
directory that cannot be attributed with certainty is left untouched.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

import attrs

from kwire.cluster.meta_files import read_topic_id
from kwire.cluster.topic_names import collision_key, validate_topic_name
from kwire.log.files import parse_partition_dir_name
from kwire.protocol.errors import KafkaError

log = logging.getLogger("kwire.cluster")


@attrs.frozen
class OrphanTopic:
    name: str
    topic_id: uuid.UUID
    partitions: int


def find_orphan_topics(
    log_dirs: Path | Sequence[Path],
    partition_counts: dict[str, int],
    topic_ids: set[uuid.UUID],
    skip: frozenset[str],
    max_partitions: int,
) -> list[OrphanTopic]:
    """Topics to recover from directories named `<topic>-<partition>` (in
    any of the log directories) that no known topic (name -> partition
    count) owns; warns about the rest."""
    unclaimed: dict[str, dict[int, Path]] = {}
    for log_dir in [log_dirs] if isinstance(log_dirs, Path) else log_dirs:
        for entry in sorted(os.scandir(log_dir), key=lambda e: e.name):
            parsed = parse_partition_dir_name(entry.name)
            if parsed is None or not entry.is_dir() or parsed[0] in skip:
                continue
            name, index = parsed
            if index < partition_counts.get(name, 0):
                continue
            unclaimed.setdefault(name, {})[index] = Path(entry.path)
    orphans = []
    collision_keys = {collision_key(known) for known in partition_counts}
    for name, directories in unclaimed.items():
        try:
            orphan = _attribute(name, directories, partition_counts, topic_ids, collision_keys, max_partitions)
        except ValueError as exc:
            log.warning(
                "Left directories %s untouched: %s", ", ".join(sorted(p.name for p in directories.values())), exc
            )
            continue
        topic_ids.add(orphan.topic_id)
        orphans.append(orphan)
    return orphans


def _attribute(
    name: str,
    directories: dict[int, Path],
    partition_counts: dict[str, int],
    topic_ids: set[uuid.UUID],
    collision_keys: set[str],
    max_partitions: int,
) -> OrphanTopic:
    if name in partition_counts:
        raise ValueError(
            f"topic {name} has {partition_counts[name]} partition(s) in the metadata log, and these are not among them"
        )
    try:
        validate_topic_name(name)
    except KafkaError as exc:
        raise ValueError(f"not a topic's partitions ({exc})") from None
    if collision_key(name) in collision_keys:
        raise ValueError(f"topic {name} would collide with a topic the metadata log knows")
    ids = set()
    for directory in directories.values():
        try:
            ids.add(read_topic_id(directory))
        except ValueError as exc:
            raise ValueError(f"{directory.name}: {exc}, so its topic id is unknown") from None
    if len(ids) != 1:
        raise ValueError("their partition.metadata files name different topic ids")
    topic_id = ids.pop()
    if topic_id in topic_ids:
        raise ValueError(f"their topic id {topic_id} belongs to another topic")
    partitions = max(directories) + 1
    if partitions > max_partitions:
        raise ValueError(f"partition index {partitions - 1} is beyond what a topic may have")
    return OrphanTopic(name, topic_id, partitions)
