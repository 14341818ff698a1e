"""Which topics and partitions a decoded request names (for a rule's topic
and partition filters, and for paused partitions): any list field of the
request whose items carry a topic name (`name`, `topic`, or a `topic_id`
the cluster knows) and, inside them, partition numbers (a list of ints, or
items with `partition_index` / `partition` / `index`)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from typing import Any

_PARTITION_FIELDS = ("partition_index", "partition", "index")


def request_partitions(request: Any, topic_name: Callable[[uuid.UUID], str | None]) -> list[tuple[str, int | None]]:
    found: list[tuple[str, int | None]] = []
    if not dataclasses.is_dataclass(request):
        return found
    for field in dataclasses.fields(request):
        value = getattr(request, field.name)
        if not isinstance(value, tuple):
            continue
        for item in value:
            if isinstance(item, str):
                if "topic" in field.name:
                    found.append((item, None))
                continue
            if not dataclasses.is_dataclass(item):
                continue
            topic = _topic_of(item, topic_name)
            if topic is None:
                continue
            partitions = _partitions_of(item)
            if partitions:
                found.extend((topic, partition) for partition in partitions)
            else:
                found.append((topic, None))
    return found


def _topic_of(item: Any, topic_name: Callable[[uuid.UUID], str | None]) -> str | None:
    for name in ("name", "topic", "topic_name"):
        value = getattr(item, name, None)
        if isinstance(value, str) and value:
            return value
    topic_id = getattr(item, "topic_id", None)
    if isinstance(topic_id, uuid.UUID):
        return topic_name(topic_id)
    return None


def _partitions_of(item: Any) -> list[int]:
    partitions: list[int] = []
    for field in dataclasses.fields(item):
        value = getattr(item, field.name)
        if not isinstance(value, tuple) or not value:
            continue
        for entry in value:
            if isinstance(entry, int) and not isinstance(entry, bool) and "partition" in field.name:
                partitions.append(entry)
            elif dataclasses.is_dataclass(entry):
                for name in _PARTITION_FIELDS:
                    number = getattr(entry, name, None)
                    if isinstance(number, int) and not isinstance(number, bool):
                        partitions.append(number)
                        break
    return partitions
