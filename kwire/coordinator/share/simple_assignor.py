"""Kafka's `simple` assignor for share groups (KIP-932), sans-IO.

Members of a share group may read the same partition, but Kafka does not
give everyone everything: partitions are spread so that each member gets
about the same number, and a partition is shared only when there are more
members than partitions (each one then by ceil(members / partitions)
members). Balance comes first, then stickiness: a member keeps what it had
as far as balance allows. When every member subscribes to the same topics
the balance is over all their partitions together; otherwise each topic is
balanced among its own subscribers and the results combined.
"""

from __future__ import annotations

from collections.abc import Mapping

ShareAssignment = dict[str, tuple[int, ...]]  # topic name -> partition indexes
_Slot = tuple[str, int]


def assign(
    subscriptions: Mapping[str, frozenset[str]],
    partition_counts: Mapping[str, int],
    previous: Mapping[str, ShareAssignment],
) -> dict[str, ShareAssignment]:
    """The target assignment of every member. `subscriptions`: member id ->
    the topics it subscribes to; `partition_counts`: the assignable topics
    and their partition counts (a subscribed topic missing here gets nobody);
    `previous`: the last target, for stickiness."""
    members = sorted(subscriptions)
    held: dict[str, set[_Slot]] = {m: set() for m in members}
    kept = {m: {(t, p) for t, parts in previous.get(m, {}).items() for p in parts} for m in members}
    if len({subscriptions[m] for m in members}) <= 1:
        scopes = [(members, _slots(next(iter(subscriptions.values()), frozenset()), partition_counts))]
    else:
        topics = sorted(set().union(*subscriptions.values()))
        scopes = [
            ([m for m in members if topic in subscriptions[m]], _slots(frozenset([topic]), partition_counts))
            for topic in topics
        ]
    for scope_members, slots in scopes:
        for member, got in _balance(scope_members, slots, kept).items():
            held[member] |= got
    result: dict[str, ShareAssignment] = {}
    for member, slots_held in held.items():
        by_topic: dict[str, list[int]] = {}
        for topic, index in sorted(slots_held):
            by_topic.setdefault(topic, []).append(index)
        result[member] = {topic: tuple(indexes) for topic, indexes in by_topic.items()}
    return result


def _slots(topics: frozenset[str], partition_counts: Mapping[str, int]) -> list[_Slot]:
    return [(t, p) for t in sorted(topics) if t in partition_counts for p in range(partition_counts[t])]


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _balance(members: list[str], slots: list[_Slot], kept: Mapping[str, set[_Slot]]) -> dict[str, set[_Slot]]:
    """One scope: `slots` spread over `members`."""
    got: dict[str, set[_Slot]] = {m: set() for m in members}
    if not members or not slots:
        return got
    sharing = _ceil_div(len(members), len(slots))  # members per partition
    total = sharing * len(slots)
    # Member i's share of `total`, so that the counts differ by one at most.
    quota = {
        m: _ceil_div(total * (i + 1), len(members)) - _ceil_div(total * i, len(members)) for i, m in enumerate(members)
    }
    holders: dict[_Slot, set[str]] = {slot: set() for slot in slots}
    for member in members:  # stickiness: keep what balance allows
        for slot in sorted(kept.get(member, set()) & holders.keys()):
            if len(got[member]) < quota[member] and len(holders[slot]) < sharing:
                got[member].add(slot)
                holders[slot].add(member)
    unfilled = [m for m in members if len(got[m]) < quota[m]]
    turn = 0
    for slot in slots:  # the rest round-robin to members still short
        while len(holders[slot]) < sharing and unfilled:
            candidates = [m for m in unfilled if m not in holders[slot]]
            if not candidates:
                break  # everyone short already has it: a slight imbalance, as in Kafka
            member = candidates[turn % len(candidates)]
            turn += 1
            got[member].add(slot)
            holders[slot].add(member)
            if len(got[member]) >= quota[member]:
                unfilled.remove(member)
    return got
