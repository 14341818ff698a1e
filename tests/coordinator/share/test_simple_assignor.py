"""Kafka's simple assignor for share groups: balance first, then stickiness;
a partition shared only when members outnumber partitions."""

from __future__ import annotations

from kwire.coordinator.share.simple_assignor import assign


def _counts(target: dict[str, dict[str, tuple[int, ...]]]) -> list[int]:
    return sorted(sum(len(p) for p in a.values()) for a in target.values())


def test_members_split_the_partitions_instead_of_all_reading_all() -> None:
    target = assign({"a": frozenset({"t"}), "b": frozenset({"t"})}, {"t": 4}, {})
    assert _counts(target) == [2, 2]
    assert sorted(target["a"]["t"] + target["b"]["t"]) == [0, 1, 2, 3]


def test_balance_is_over_all_the_topics_of_a_homogeneous_group() -> None:
    subscriptions = {m: frozenset({"x", "y"}) for m in "ab"}
    target = assign(subscriptions, {"x": 1, "y": 1}, {})
    assert _counts(target) == [1, 1]


def test_more_members_than_partitions_share_them_evenly() -> None:
    target = assign({m: frozenset({"t"}) for m in "abc"}, {"t": 2}, {})
    assert _counts(target) == [1, 1, 2]  # each partition read by ceil(3 / 2) = 2 members
    readers = [m for m, a in target.items() for _p in a.get("t", ())]
    assert len(readers) == 4


def test_a_member_keeps_what_it_had_when_another_joins() -> None:
    first = assign({"a": frozenset({"t"})}, {"t": 4}, {})
    assert first == {"a": {"t": (0, 1, 2, 3)}}
    second = assign({"a": frozenset({"t"}), "z": frozenset({"t"})}, {"t": 4}, first)
    assert set(second["a"]["t"]) < set(first["a"]["t"]) and len(second["a"]["t"]) == 2
    assert sorted(second["a"]["t"] + second["z"]["t"]) == [0, 1, 2, 3]


def test_each_topic_is_balanced_among_its_own_subscribers() -> None:
    subscriptions = {"a": frozenset({"x"}), "b": frozenset({"y"}), "c": frozenset({"x", "y"})}
    target = assign(subscriptions, {"x": 2, "y": 2}, {})
    assert len(target["a"]["x"]) == 1 and len(target["b"]["y"]) == 1
    assert len(target["c"]["x"]) == 1 and len(target["c"]["y"]) == 1


def test_missing_topics_and_empty_groups_assign_nothing() -> None:
    assert assign({"a": frozenset({"gone"})}, {}, {}) == {"a": {}}
    assert assign({}, {}, {}) == {}
