"""When a consumer group's regular-expression subscriptions count (KIP-848).

Kafka resolves a regex the group has not seen before asynchronously, after
answering the heartbeat that brought it: that answer assigns the member's
named topics only, and the regex's topics come with a later heartbeat, once
the resolution has bumped the group epoch. A regex nobody subscribes to any
more is forgotten (Kafka writes a tombstone for it), so subscribing to it
again waits for a new resolution. kwire resolves right after the answer and
keeps the matches current with the topics at every heartbeat.
"""

from __future__ import annotations

from kwire.coordinator.consumer_group.model import ConsumerGroup


def _subscribed_regexes(group: ConsumerGroup) -> set[str]:
    return {m.subscribed_topic_regex for m in group.members.values() if m.subscribed_topic_regex}


def resolve_new_regexes(group: ConsumerGroup) -> bool:
    """Mark the regexes the members subscribe to as resolved, forgetting
    unused ones; True if one was new (its topics may change the assignment)."""
    wanted = _subscribed_regexes(group)
    new = wanted - group.resolved_regexes
    group.resolved_regexes = wanted
    return bool(new)


def forget_unused_regexes(group: ConsumerGroup) -> None:
    group.resolved_regexes &= _subscribed_regexes(group)
