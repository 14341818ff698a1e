"""The server-side assignors of KIP-848 (`group.consumer.assignors`):
`uniform` spreads every subscribed partition evenly over the members,
keeping each where it was when that stays balanced; `range` gives each
member consecutive partitions of each topic it subscribes to.

An assignor sees the members' subscribed topic names (regex matches
resolved), the topics, and the current target; it returns the new target.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from kwire.coordinator.consumer_group.model import NOTHING, Assignment, TopicInfo, TopicPartition

Subscriptions = Mapping[str, frozenset[str]]  # member id -> topic names
Assignor = Callable[[Subscriptions, Mapping[str, TopicInfo], Mapping[str, Assignment]], dict[str, Assignment]]


def uniform(
    subscriptions: Subscriptions, topics: Mapping[str, TopicInfo], previous: Mapping[str, Assignment]
) -> dict[str, Assignment]:
    members = sorted(subscriptions)
    if not members:
        return {}
    eligible: dict[TopicPartition, list[str]] = {}
    for name in sorted({t for names in subscriptions.values() for t in names}):
        info = topics.get(name)
        if info is None:
            continue
        subscribers = [m for m in members if name in subscriptions[m]]
        for index in range(info.partitions):
            eligible[(info.topic_id, index)] = subscribers
    # Balanced when every member holds `floor` partitions and `extra` of them one more.
    floor, extra = divmod(len(eligible), len(members))
    held: dict[str, set[TopicPartition]] = {m: set() for m in members}
    unplaced = set(eligible)
    # Stickiness: each member keeps what it had, up to `floor`, then `floor + 1` while extras last.
    kept_previous = {m: sorted(tp for tp in previous.get(m, NOTHING) if m in eligible.get(tp, ())) for m in members}
    for m in members:
        for tp in kept_previous[m][:floor]:
            held[m].add(tp)
            unplaced.discard(tp)
    for m in members:
        if extra and len(kept_previous[m]) > floor:
            tp = kept_previous[m][floor]
            held[m].add(tp)
            unplaced.discard(tp)
            extra -= 1
    for tp in sorted(unplaced, key=lambda tp: (str(tp[0]), tp[1])):
        owner = min(eligible[tp], key=lambda m: (len(held[m]), m))
        held[owner].add(tp)
    return {m: frozenset(held[m]) for m in members}


def range_assignor(
    subscriptions: Subscriptions, topics: Mapping[str, TopicInfo], previous: Mapping[str, Assignment]
) -> dict[str, Assignment]:
    held: dict[str, set[TopicPartition]] = {m: set() for m in subscriptions}
    for name in sorted({t for names in subscriptions.values() for t in names}):
        info = topics.get(name)
        if info is None:
            continue
        subscribers = sorted(m for m, names in subscriptions.items() if name in names)
        share, extra = divmod(info.partitions, len(subscribers))
        start = 0
        for position, m in enumerate(subscribers):
            count = share + (1 if position < extra else 0)
            held[m].update((info.topic_id, index) for index in range(start, start + count))
            start += count
    return {m: frozenset(tps) for m, tps in held.items()}


ASSIGNORS: dict[str, Assignor] = {"uniform": uniform, "range": range_assignor}
