"""group.initial.rebalance.delay.ms with Kafka's extension rule
(InitialDelayedJoin): the first rebalance of an empty group waits one
delay; when a member joined during a wait, another wait follows, each the
delay or what is left of the rebalance timeout, whichever is shorter."""

import pytest

from kwire.clock import ManualClock
from kwire.cluster.cluster import Cluster
from kwire.config import BrokerConfig
from kwire.coordinator.group import GroupState, JoinResult
from kwire.coordinator.group_coordinator import GroupCoordinator, GroupSettings, JoinRequest, SyncRequest
from kwire.coordinator.groups_service import GroupsService
from kwire.core import BrokerCore
from kwire.protocol.errors import ErrorCode as E

S = GroupState
GROUP = "g"
DELAY_MS = 100


class Group:
    """One group's coordinator on a ManualClock."""

    def __init__(self, delay_ms=DELAY_MS):
        self.clock = ManualClock(monotonic=50.0)
        self.ms = 0
        self.coordinator = GroupCoordinator(
            GroupSettings(min_session_timeout_ms=1000, initial_rebalance_delay_ms=delay_ms)
        )

    def at(self, ms):
        """Move to `ms` after the start and run the timers. (Sums of seconds
        are not exact: the tests look 1 ms either side of a wait's end.)"""
        self.clock.advance(ms=ms - self.ms)
        self.ms = ms
        self.coordinator.tick(self.clock.monotonic())

    def join(self, member_id="", rebalance_ms=30_000):
        request = JoinRequest(
            GROUP, member_id, None, "c", "/127.0.0.1", 10_000, rebalance_ms, "consumer", [("range", b"")], True
        )
        return self.coordinator.join(request, self.clock.monotonic())

    def new_member(self, rebalance_ms=30_000):
        first = self.join(rebalance_ms=rebalance_ms)
        assert isinstance(first, JoinResult) and first.error_code == E.member_id_required
        return self.join(first.member_id, rebalance_ms=rebalance_ms)

    @property
    def state(self):
        return self.coordinator.group(GROUP).state


def test_a_lone_member_waits_exactly_one_delay():
    g = Group()
    a = g.new_member()
    g.at(99)
    assert a.join_result is None and g.state == S.PREPARING_REBALANCE
    g.at(101)
    assert a.join_result.error_code == E.none and a.join_result.generation_id == 1
    assert len(a.join_result.members) == 1


def test_a_member_joining_during_the_wait_brings_one_more_delay_from_its_end():
    g = Group()
    a = g.new_member()
    g.at(30)
    b = g.new_member()
    g.at(60)
    c = g.new_member()  # two joins in the first wait: still one more wait only
    g.at(199)
    assert a.join_result is None and b.join_result is None and c.join_result is None
    g.at(201)
    assert {m.join_result.generation_id for m in (a, b, c)} == {1}
    leader = next(m for m in (a, b, c) if m.member_id == a.join_result.leader)
    assert len(leader.join_result.members) == 3


def test_each_wait_with_a_newcomer_is_followed_by_another():
    g = Group()
    a = g.new_member()
    g.at(50)
    g.new_member()
    g.at(150)
    g.new_member()  # during the second wait
    g.at(299)
    assert a.join_result is None
    g.at(301)
    assert a.join_result.generation_id == 1 and g.state == S.COMPLETING_REBALANCE


def test_the_waits_end_within_the_rebalance_timeout():
    # remaining = 250 - 100 = 150: waits of 100, 100, then 50 (and no more).
    g = Group()
    a = g.new_member(rebalance_ms=250)
    for ms in (10, 110, 210):
        g.at(ms)
        g.new_member(rebalance_ms=250)
    g.at(249)
    assert a.join_result is None
    g.at(251)
    assert a.join_result.generation_id == 1 and g.state == S.COMPLETING_REBALANCE


def test_a_join_just_after_the_wait_ended_does_not_extend_it():
    """The wait ended at 100 ms but no tick has run yet: the generation forms
    without the newcomer, whose join starts an ordinary rebalance."""
    g = Group()
    a = g.new_member()
    g.clock.advance(ms=101)  # no tick
    late = g.new_member()
    assert a.join_result.generation_id == 1 and len(a.join_result.members) == 1
    assert late.join_result is None
    assert g.state == S.PREPARING_REBALANCE
    assert g.coordinator.group(GROUP).initial_delay_until is None  # not an initial rebalance: no delay
    sync = g.coordinator.sync(
        SyncRequest(GROUP, 1, a.member_id, None, None, None, {a.member_id: b""}), g.clock.monotonic()
    )
    assert sync.error_code == E.rebalance_in_progress
    a_again = g.join(a.member_id)
    assert a_again.join_result.generation_id == 2 and late.join_result.generation_id == 2


def test_a_group_that_became_empty_waits_again():
    g = Group()
    a = g.new_member()
    g.at(101)
    g.coordinator.leave(GROUP, [(a.member_id, None)], g.clock.monotonic())
    assert g.state == S.EMPTY
    g.at(1_000)
    b = g.new_member()
    g.at(1_099)
    assert b.join_result is None
    g.at(1_101)
    assert b.join_result.generation_id == 3


def test_zero_delay_forms_the_group_at_once():
    g = Group(delay_ms=0)
    a = g.new_member()
    assert a.join_result is not None and a.join_result.generation_id == 1


def test_next_timer_is_the_end_of_the_current_wait():
    g = Group()
    assert g.coordinator.next_timer() is None
    g.new_member()
    assert g.coordinator.next_timer() == pytest.approx(50.1)
    g.at(40)
    g.new_member()
    g.at(101)
    assert g.coordinator.next_timer() == pytest.approx(50.2)
    g.at(201)
    assert g.coordinator.next_timer() is None


def test_the_server_ticks_when_a_wait_ends():
    clock = ManualClock(monotonic=10.0)
    core = BrokerCore(BrokerConfig(port=0, data_dir=None, group_initial_rebalance_delay_ms=100), clock)
    assert core.seconds_to_next_tick(0.05) == 0.05
    request = JoinRequest(GROUP, "", None, "c", "/h", 10_000, 30_000, "consumer", [("range", b"")], False)
    core.state.groups.join(request)
    clock.advance(0.07)
    assert core.seconds_to_next_tick(0.05) == pytest.approx(0.03)
    clock.advance(0.031)
    core.tick()
    assert core.state.groups.group(GROUP).state == S.COMPLETING_REBALANCE
    assert core.seconds_to_next_tick(0.05) == 0.05


def test_the_service_uses_the_configured_delay():
    clock = ManualClock(monotonic=10.0)
    config = BrokerConfig(port=0, data_dir=None)
    service = GroupsService(config, Cluster(config), lambda key: None, clock)
    request = JoinRequest(GROUP, "", None, "c", "/h", 10_000, 30_000, "consumer", [("range", b"")], False)
    member = service.join(request)
    assert service.next_timer() == pytest.approx(10.0 + config.group_initial_rebalance_delay_ms / 1000)
    clock.advance(ms=config.group_initial_rebalance_delay_ms + 1)
    service.tick()
    assert member.join_result.generation_id == 1
