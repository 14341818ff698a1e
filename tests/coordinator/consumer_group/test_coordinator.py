"""The KIP-848 state machine without sockets: joins, incremental handover,
fencing, leaving, static members, session and revocation timeouts, topic
changes, and the checks on offset commits."""

from __future__ import annotations

import uuid

import attrs
import pytest

from kwire.coordinator.consumer_group.coordinator import (
    ConsumerGroupCoordinator,
    ConsumerGroupSettings,
    HeartbeatRequest,
    HeartbeatResult,
)
from kwire.coordinator.consumer_group.model import Assignment, ConsumerGroupState, MemberState, TopicInfo
from kwire.protocol.errors import ErrorCode as E

T1 = uuid.UUID(int=1)
T2 = uuid.UUID(int=2)


class World:
    def __init__(self, **settings: object) -> None:
        self.topics = {"orders": TopicInfo(T1, 6)}
        self.overrides: dict[str, str] = {}
        self.coordinator = ConsumerGroupCoordinator(
            ConsumerGroupSettings(**settings),  # type: ignore[arg-type]
            lambda: self.topics,
            lambda group_id: self.overrides,
        )
        self.now = 100.0

    def beat(self, member_id: str, epoch: int, owned: Assignment | None = None, **fields: object) -> HeartbeatResult:
        request = HeartbeatRequest(
            group_id="g",
            member_id=member_id,
            member_epoch=epoch,
            instance_id=None,
            rack_id=None,
            rebalance_timeout_ms=-1,
            subscribed_topic_names=None,
            subscribed_topic_regex=None,
            server_assignor=None,
            owned=owned,
        )
        return self.coordinator.heartbeat(attrs.evolve(request, **fields), self.now)

    def join(self, member_id: str, **fields: object) -> HeartbeatResult:
        fields.setdefault("subscribed_topic_names", ("orders",))
        return self.beat(member_id, 0, frozenset(), rebalance_timeout_ms=30000, **fields)


def parts(*indexes: int, topic: uuid.UUID = T1) -> Assignment:
    return frozenset((topic, i) for i in indexes)


def test_a_lone_member_gets_every_partition_at_once() -> None:
    world = World()
    result = world.join("a")
    assert result.error_code == E.none
    assert result.member_epoch == 1
    assert result.assignment == parts(0, 1, 2, 3, 4, 5)
    assert result.heartbeat_interval_ms == 5000
    again = world.beat("a", 1, parts(0, 1, 2, 3, 4, 5))
    assert again.assignment is None  # nothing changed
    assert world.coordinator.groups["g"].state == ConsumerGroupState.STABLE


def test_a_partition_moves_only_after_its_owner_revoked_it() -> None:
    world = World()
    world.join("a")
    joined = world.join("b")
    assert joined.member_epoch == 2 and joined.assignment == frozenset()  # all still held by a
    group = world.coordinator.groups["g"]
    assert group.members["b"].state == MemberState.UNRELEASED_PARTITIONS
    revoke = world.beat("a", 1)
    assert revoke.member_epoch == 1  # unchanged while revoking
    assert revoke.assignment is not None and len(revoke.assignment) == 3
    assert group.state == ConsumerGroupState.RECONCILING
    assert world.beat("b", 2).assignment is None  # a has not revoked yet
    done = world.beat("a", 1, revoke.assignment)
    assert done.member_epoch == 2
    handed = world.beat("b", 2, frozenset())
    assert handed.assignment == parts(0, 1, 2, 3, 4, 5) - revoke.assignment
    assert group.state == ConsumerGroupState.STABLE


def test_leaving_frees_the_partitions_for_the_others() -> None:
    world = World()
    world.join("a")
    world.join("b")
    kept = world.beat("a", 1).assignment
    world.beat("a", 1, kept)
    world.beat("b", 2, frozenset())
    left = world.beat("b", -1)
    assert (left.error_code, left.member_epoch) == (E.none, -1)
    result = world.beat("a", 2, kept)
    assert result.member_epoch == 3 and result.assignment == parts(0, 1, 2, 3, 4, 5)


def test_epochs_the_coordinator_did_not_give_are_fenced() -> None:
    world = World()
    world.join("a")
    assert world.beat("a", 5).error_code == E.fenced_member_epoch
    assert world.beat("nobody", 1).error_code == E.unknown_member_id
    assert world.beat("a", 1).error_code == E.none


def test_invalid_requests_are_refused_as_kafka_refuses_them() -> None:
    world = World()
    assert world.beat("a", 0).error_code == E.invalid_request  # no rebalance timeout, no subscription
    assert world.join("a", group_id="").error_code == E.invalid_request
    assert world.join("a", server_assignor="sticky").error_code == E.unsupported_assignor
    assert world.join("", member_id_required=True).error_code == E.invalid_request
    assert world.beat("a", -3).error_code == E.invalid_request
    for bad in ("(", "(a+)+b", "(x)\\1", "(?=a)b", "a" * 1001):
        refused = world.join("a", subscribed_topic_names=None, subscribed_topic_regex=bad)
        assert refused.error_code == E.invalid_regular_expression, bad
    assert world.join("a", subscribed_topic_names=None, subscribed_topic_regex="orders|pay.*").error_code == E.none


def test_a_silent_member_is_removed_after_the_session_timeout() -> None:
    world = World(session_timeout_ms=1000)
    world.join("a")
    world.now += 2
    world.coordinator.tick(world.now)
    assert world.coordinator.groups["g"].state == ConsumerGroupState.EMPTY


def test_a_groups_own_configs_come_before_the_brokers() -> None:
    world = World(session_timeout_ms=1000, heartbeat_interval_ms=500)
    assert world.join("a").heartbeat_interval_ms == 500
    world.overrides.update({"consumer.heartbeat.interval.ms": "2000", "consumer.session.timeout.ms": "5000"})
    assert world.beat("a", 1).heartbeat_interval_ms == 2000
    world.now += 2  # past the broker's session timeout, within the group's
    world.coordinator.tick(world.now)
    assert world.coordinator.groups["g"].state != ConsumerGroupState.EMPTY
    world.now += 4
    world.coordinator.tick(world.now)
    assert world.coordinator.groups["g"].state == ConsumerGroupState.EMPTY


def test_a_member_that_does_not_revoke_in_time_is_fenced() -> None:
    world = World()
    world.join("a")
    world.join("b")
    world.beat("a", 1)  # told to revoke
    world.now += 31
    world.beat("b", 2)
    assert "a" not in world.coordinator.groups["g"].members
    assert world.beat("b", 3, frozenset()).assignment == parts(0, 1, 2, 3, 4, 5)


def test_more_partitions_and_regex_subscriptions_are_picked_up() -> None:
    world = World()
    world.join("a", subscribed_topic_names=None, subscribed_topic_regex="ord.*")
    world.topics["orders"] = TopicInfo(T1, 8)
    world.topics["ordinals"] = TopicInfo(T2, 1)
    result = world.beat("a", 1, parts(0, 1, 2, 3, 4, 5))
    assert result.assignment == parts(*range(8)) | parts(0, topic=T2)


def test_a_new_regex_is_resolved_after_the_answer_as_kafka_does() -> None:
    world = World()
    world.topics["payments"] = TopicInfo(T2, 2)
    joined = world.join("a", subscribed_topic_names=("payments",), subscribed_topic_regex="ord.*")
    assert joined.assignment == parts(0, 1, topic=T2)  # the named topic at once, the regex's not yet
    resolved = world.beat("a", joined.member_epoch, joined.assignment)
    assert resolved.member_epoch > joined.member_epoch
    assert resolved.assignment == parts(0, 1, topic=T2) | parts(*range(6))
    world.beat("a", -1)  # leaves: nobody subscribes to the regex, Kafka forgets it
    again = world.join("a", subscribed_topic_names=None, subscribed_topic_regex="ord.*")
    assert again.assignment == frozenset()
    assert world.beat("a", again.member_epoch, frozenset()).assignment == parts(*range(6))


def test_a_regex_the_group_already_resolved_counts_at_once() -> None:
    world = World()
    first = world.join("a", subscribed_topic_names=None, subscribed_topic_regex="ord.*")
    world.beat("a", first.member_epoch, frozenset())
    joined = world.join("b", subscribed_topic_names=None, subscribed_topic_regex="ord.*")
    assert world.coordinator.groups["g"].target["b"]  # b's share is in the target already
    assert joined.error_code == E.none


def test_static_member_comes_back_to_its_partitions() -> None:
    world = World()
    world.join("a", instance_id="i1")
    world.join("b", instance_id="i2")
    kept = world.beat("a", 1).assignment
    world.beat("a", 1, kept)
    world.beat("b", 2, frozenset())
    assert world.beat("a", -2, instance_id="i1").member_epoch == -2
    assert world.join("a2", instance_id="i2").error_code == E.unreleased_instance_id
    back = world.join("a2", instance_id="i1")
    assert back.error_code == E.none and back.assignment == kept


@pytest.mark.parametrize("assignor", ["uniform", "range"])
def test_both_assignors_share_the_partitions(assignor: str) -> None:
    world = World()
    for name in "abc":
        world.join(name, server_assignor=assignor)
    group = world.coordinator.groups["g"]
    assert group.assignor == assignor
    targets = list(group.target.values())
    assert sorted(len(t) for t in targets) == [2, 2, 2]
    assert frozenset().union(*targets) == parts(*range(6))


def test_commits_need_the_current_member_epoch() -> None:
    world = World()
    world.join("a")
    group = world.coordinator.groups["g"]
    assert world.coordinator.validate_commit(group, "a", 1, 9) == E.none
    assert world.coordinator.validate_commit(group, "a", 0, 9) == E.stale_member_epoch
    assert world.coordinator.validate_commit(group, "x", 1, 9) == E.unknown_member_id
    assert world.coordinator.validate_commit(group, "", -1, 9) == E.unknown_member_id  # the group has members
    assert world.coordinator.validate_fetch(group, "a", 0) == E.stale_member_epoch
    assert world.coordinator.validate_fetch(group, None, -1) == E.none
