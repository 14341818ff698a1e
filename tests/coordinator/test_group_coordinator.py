"""The classic group state machine, driven without sockets; time is a number."""

import attrs
import pytest

from kwire.coordinator.group import GroupState, JoinResult, Member, SyncResult
from kwire.coordinator.group_coordinator import GroupCoordinator, GroupSettings, JoinRequest, SyncRequest
from kwire.protocol.errors import ErrorCode as E

S = GroupState
GROUP = "g"
SESSION_MS = 10_000
REBALANCE_MS = 30_000


def join_request(
    member_id="",
    *,
    instance=None,
    protocols=(("range", b"r"),),
    session_ms=SESSION_MS,
    rebalance_ms=REBALANCE_MS,
    kip394=True,
    protocol_type="consumer",
    client_id="c",
):
    return JoinRequest(
        group_id=GROUP,
        member_id=member_id,
        group_instance_id=instance,
        client_id=client_id,
        client_host="/127.0.0.1",
        session_timeout_ms=session_ms,
        rebalance_timeout_ms=rebalance_ms,
        protocol_type=protocol_type,
        protocols=list(protocols),
        require_known_member_id=kip394,
        supports_skip_assignment=True,
    )


class Harness:
    def __init__(self, **settings):
        # Groups form at once unless a test asks for an initial delay.
        settings.setdefault("initial_rebalance_delay_ms", 0)
        self.coordinator = GroupCoordinator(GroupSettings(min_session_timeout_ms=1000, **settings))
        self.now = 0.0

    @property
    def group(self):
        return self.coordinator.group(GROUP)

    def advance(self, seconds):
        self.now += seconds
        self.coordinator.tick(self.now)

    def join(self, member_id="", **kwargs):
        return self.coordinator.join(join_request(member_id, **kwargs), self.now)

    def new_member(self, **kwargs) -> Member:
        """First join (MEMBER_ID_REQUIRED) then the join with the id."""
        first = self.join(**kwargs)
        if kwargs.get("instance") is None:
            assert isinstance(first, JoinResult) and first.error_code == E.member_id_required
            return self.join(first.member_id, **kwargs)
        return first

    def sync(self, member_id, generation=None, assignments=None, instance=None):
        generation = self.group.generation_id if generation is None else generation
        request = SyncRequest(GROUP, generation, member_id, instance, "consumer", None, assignments or {})
        return self.coordinator.sync(request, self.now)

    def heartbeat(self, member_id, generation=None, instance=None):
        generation = self.group.generation_id if generation is None else generation
        return self.coordinator.heartbeat(GROUP, generation, member_id, instance, self.now)

    def stable_group(self, count):
        """`count` members joined and synced; the leader assigns "a:<id>"."""
        # Every member gets its id first: the pending ids hold the rebalance
        # until the last one is back, as when consumers start together.
        ids = [self.join().member_id for _ in range(count)]
        members = [self.join(member_id) for member_id in ids]
        assert all(m.join_result is not None for m in members)
        assert self.group.state == S.COMPLETING_REBALANCE
        leader = self.group.leader_id
        followers = [m for m in members if m.member_id != leader]
        for follower in followers:
            assert isinstance(self.sync(follower.member_id), Member)
        assignments = {m.member_id: f"a:{m.member_id}".encode() for m in members}
        result = self.sync(leader, assignments=assignments)
        assert result.error_code == E.none
        assert self.group.state == S.STABLE
        return members


def test_first_join_needs_a_member_id_kip394():
    h = Harness()
    result = h.join()
    assert result.error_code == E.member_id_required
    assert result.member_id.startswith("c-")
    assert h.group.state == S.EMPTY and result.member_id in h.group.pending_members


def test_old_clients_join_without_the_member_id_round_trip():
    h = Harness()
    member = h.join(kip394=False)
    assert isinstance(member, Member)
    assert member.join_result.error_code == E.none


def test_single_member_becomes_leader_and_gets_every_subscription():
    h = Harness()
    member = h.new_member()
    result = member.join_result
    assert result.error_code == E.none and result.generation_id == 1
    assert result.leader == member.member_id == result.member_id
    assert result.protocol_name == "range"
    assert result.members == ((member.member_id, None, b"r"),)
    assert h.group.state == S.COMPLETING_REBALANCE
    sync = h.sync(member.member_id, assignments={member.member_id: b"mine"})
    assert sync == SyncResult(E.none, "consumer", "range", b"mine")
    assert h.group.state == S.STABLE


def test_followers_wait_for_the_leaders_assignment():
    h = Harness()
    a = h.new_member()
    h.sync(a.member_id, assignments={a.member_id: b"x"})
    b = h.new_member()  # a new member: the group rebalances
    assert h.group.state == S.PREPARING_REBALANCE and b.join_result is None
    assert h.heartbeat(a.member_id) == E.rebalance_in_progress
    h.join(a.member_id)
    assert a.join_result.generation_id == b.join_result.generation_id == 2
    assert a.join_result.leader == a.member_id  # the leader stays the leader
    assert b.join_result.members == ()  # followers don't see subscriptions
    waiting = h.sync(b.member_id)
    assert isinstance(waiting, Member) and waiting.sync_result is None
    h.sync(a.member_id, assignments={a.member_id: b"A", b.member_id: b"B"})
    assert b.sync_result == SyncResult(E.none, "consumer", "range", b"B")


def test_every_member_gets_its_own_assignment():
    h = Harness()
    members = h.stable_group(3)
    for member in members:
        assert h.sync(member.member_id).assignment == f"a:{member.member_id}".encode()
        assert h.heartbeat(member.member_id) == E.none


def test_protocol_chosen_by_votes_among_common_protocols():
    h = Harness()
    a = h.new_member(protocols=[("roundrobin", b""), ("range", b"")])
    b = h.join(protocols=[("range", b""), ("roundrobin", b"")])
    b = h.join(b.member_id, protocols=[("range", b""), ("roundrobin", b"")])
    c = h.join(protocols=[("range", b"")])
    c = h.join(c.member_id, protocols=[("range", b"")])
    h.join(a.member_id, protocols=[("roundrobin", b""), ("range", b"")])
    assert a.join_result.protocol_name == "range"  # c only supports range


def test_member_without_a_common_protocol_is_refused():
    h = Harness()
    h.new_member(protocols=[("range", b"")])
    assert h.join(protocols=[("cooperative-sticky", b"")]).error_code == E.inconsistent_group_protocol
    assert h.join(protocol_type="connect").error_code == E.inconsistent_group_protocol


def test_join_argument_errors():
    h = Harness(max_session_timeout_ms=60_000)
    assert h.join(session_ms=500).error_code == E.invalid_session_timeout
    assert h.join(session_ms=60_001).error_code == E.invalid_session_timeout
    assert (
        h.coordinator.join(
            JoinRequest("", "", None, "c", "", SESSION_MS, REBALANCE_MS, "consumer", [("range", b"")], True), 0
        ).error_code
        == E.invalid_group_id
    )
    assert h.join("never-issued").error_code == E.unknown_member_id


def test_group_max_size():
    h = Harness(max_size=2)
    h.stable_group(2)
    assert h.join().error_code == E.group_max_size_reached


def test_generation_and_member_checks():
    h = Harness()
    (a,) = h.stable_group(1)
    assert h.heartbeat(a.member_id, generation=0) == E.illegal_generation
    assert h.heartbeat("stranger") == E.unknown_member_id
    assert h.sync(a.member_id, generation=7).error_code == E.illegal_generation
    assert h.sync("stranger").error_code == E.unknown_member_id
    assert h.coordinator.heartbeat("no-such-group", 1, "x", None, h.now) == E.unknown_member_id
    wrong_protocol = h.coordinator.sync(SyncRequest(GROUP, 1, a.member_id, None, "consumer", "roundrobin", {}), h.now)
    assert wrong_protocol.error_code == E.inconsistent_group_protocol


def test_sync_during_preparing_rebalance_is_rebalance_in_progress():
    h = Harness()
    a, b = h.stable_group(2)
    h.new_member()
    assert h.sync(a.member_id).error_code == E.rebalance_in_progress


def test_a_new_join_cancels_followers_waiting_in_completing_rebalance():
    h = Harness()
    a = h.new_member()
    b = h.join()
    b = h.join(b.member_id)
    h.join(a.member_id)
    follower = b if h.group.leader_id == a.member_id else a
    assert isinstance(h.sync(follower.member_id), Member)
    h.new_member()
    assert follower.sync_result.error_code == E.rebalance_in_progress
    assert h.group.state == S.PREPARING_REBALANCE


def test_session_timeout_removes_a_silent_member_and_rebalances():
    h = Harness()
    a, b = h.stable_group(2)
    for _ in range(5):  # a heartbeats, b is silent
        h.advance(SESSION_MS / 1000 / 4)
        if h.heartbeat(a.member_id) != E.none:
            break
    assert b.member_id not in h.group.members
    assert h.group.state == S.PREPARING_REBALANCE
    assert h.heartbeat(b.member_id) == E.unknown_member_id
    h.join(a.member_id)
    assert a.join_result.members == ((a.member_id, None, b"r"),)


def test_last_member_expiring_leaves_an_empty_group():
    h = Harness()
    (a,) = h.stable_group(1)
    h.advance(SESSION_MS / 1000 + 0.1)
    assert h.group.state == S.EMPTY and not h.group.members
    assert h.group.generation_id == 2


def test_rebalance_timeout_drops_members_that_do_not_rejoin():
    h = Harness()
    a, b = h.stable_group(2)
    c = h.new_member()
    h.join(a.member_id)  # b keeps heartbeating but never rejoins
    for _ in range(6):
        assert c.join_result is None
        assert h.heartbeat(b.member_id, generation=1) == E.rebalance_in_progress
        h.advance(REBALANCE_MS / 1000 / 6)
    h.advance(0.1)
    assert c.join_result.error_code == E.none
    assert set(h.group.members) == {a.member_id, c.member_id}
    assert h.group.state == S.COMPLETING_REBALANCE


def test_pending_member_ids_hold_the_rebalance_and_expire():
    h = Harness()
    a = h.new_member()
    h.sync(a.member_id, assignments={})
    pending = h.join()  # got MEMBER_ID_REQUIRED, not back yet
    assert pending.error_code == E.member_id_required
    h.new_member()
    h.join(a.member_id)
    assert a.join_result is None  # still waiting for the pending id
    h.advance(SESSION_MS / 1000 + 0.1)
    assert a.join_result.error_code == E.none
    assert h.join(pending.member_id).error_code == E.unknown_member_id


def test_leave_group_rebalances_the_rest():
    h = Harness()
    a, b = h.stable_group(2)
    assert h.coordinator.leave(GROUP, [(b.member_id, None), ("stranger", None)], h.now) == [E.none, E.unknown_member_id]
    assert h.group.state == S.PREPARING_REBALANCE
    assert h.coordinator.leave("nope", [(a.member_id, None)], h.now) == [E.unknown_member_id]
    assert h.coordinator.leave(GROUP, [(a.member_id, None)], h.now) == [E.none]
    assert h.group.state == S.EMPTY


def test_leave_while_others_wait_completes_the_join():
    h = Harness()
    a, b = h.stable_group(2)
    c = h.new_member()
    h.join(a.member_id)
    assert c.join_result is None
    h.coordinator.leave(GROUP, [(b.member_id, None)], h.now)
    assert c.join_result.error_code == E.none and a.join_result.error_code == E.none


def test_leader_rejoining_a_stable_group_triggers_a_rebalance():
    h = Harness()
    a, b = h.stable_group(2)
    leader = a if h.group.leader_id == a.member_id else b
    follower = b if leader is a else a
    h.join(follower.member_id)  # unchanged follower: answered at once
    assert h.group.state == S.STABLE
    h.join(leader.member_id)
    assert h.group.state == S.PREPARING_REBALANCE


def test_changed_protocols_trigger_a_rebalance():
    h = Harness()
    a, b = h.stable_group(2)
    follower = b if h.group.leader_id == a.member_id else a
    h.join(follower.member_id, protocols=[("range", b"new-subscription")])
    assert h.group.state == S.PREPARING_REBALANCE


def test_initial_rebalance_delay_waits_for_more_members():
    h = Harness(initial_rebalance_delay_ms=3000)
    a = h.new_member()
    assert a.join_result is None
    h.advance(2)
    h.new_member()  # a member joined during the first 3 s: another 3 s follow them
    h.advance(2)
    assert a.join_result is None
    h.advance(1.1)
    assert a.join_result is None  # Kafka's rule: the second wait runs to 6 s
    h.advance(0.9)
    assert a.join_result.generation_id == 1 and len(a.join_result.members) == 2


def test_commits_and_expiry_do_not_touch_a_dead_group():
    h = Harness()
    h.stable_group(1)
    h.coordinator.delete(GROUP)
    assert h.group is None
    h.advance(100)


# --- static membership (KIP-345) ---------------------------------------------------


def test_static_member_restart_keeps_its_assignment_without_rebalance():
    h = Harness()
    first = h.new_member(instance="i1")
    first_id = first.member_id
    h.sync(first.member_id, instance="i1", assignments={first.member_id: b"p0"})
    generation = h.group.generation_id
    again = h.join(instance="i1")  # the same instance restarted: no member id yet
    assert isinstance(again, JoinResult) and again.error_code == E.none
    assert again.member_id != first_id and again.generation_id == generation
    assert again.skip_assignment  # it is the leader: must not reassign
    assert h.group.state == S.STABLE
    assert h.sync(again.member_id, instance="i1").assignment == b"p0"
    # The old id is fenced.
    assert h.heartbeat(first_id, instance="i1") == E.fenced_instance_id
    assert h.sync(first_id, instance="i1").error_code == E.fenced_instance_id


def test_static_leader_restart_before_v9_is_told_the_old_leader():
    h = Harness()
    first = h.new_member(instance="i1")
    old_id = first.member_id
    h.sync(old_id, instance="i1", assignments={old_id: b"p0"})
    request = attrs.evolve(
        join_request(instance="i1", protocols=[("range", b"no-owned-partitions")]), supports_skip_assignment=False
    )
    again = h.coordinator.join(request, h.now)
    # New metadata alone does not rebalance; the old leader id means "don't assign".
    assert (again.error_code, again.leader, again.members) == (E.none, old_id, ())
    assert h.group.state == S.STABLE and h.group.leader_id == again.member_id


def test_static_member_changing_the_selected_protocol_rebalances():
    h = Harness()
    a = h.new_member(instance="i1", protocols=[("range", b""), ("roundrobin", b"")])
    h.sync(a.member_id, instance="i1", assignments={})
    again = h.join(instance="i1", protocols=[("roundrobin", b"")])
    assert isinstance(again, Member)
    assert again.join_result.protocol_name == "roundrobin" and again.join_result.generation_id == 2


def test_static_member_is_not_removed_by_leave_without_instance_and_fenced_on_mismatch():
    h = Harness()
    member = h.new_member(instance="i1")
    h.sync(member.member_id, instance="i1", assignments={})
    assert h.coordinator.leave(GROUP, [("other", "i1")], h.now) == [E.fenced_instance_id]
    assert h.coordinator.leave(GROUP, [("", "i2")], h.now) == [E.unknown_member_id]
    assert h.join("other-id", instance="i1").error_code == E.fenced_instance_id
    assert h.coordinator.leave(GROUP, [("", "i1")], h.now) == [E.none]  # batched leave by instance id
    assert h.group.state == S.EMPTY


def test_static_member_that_stays_away_past_its_session_is_removed():
    h = Harness()
    static = h.new_member(instance="i1")
    other = h.join()
    other = h.join(other.member_id)
    h.join(static.member_id, instance="i1")
    h.advance(SESSION_MS / 1000 + 0.1)
    assert not h.group.members
    assert "i1" not in h.group.static_members
    assert static.join_result is not None  # completed before it expired


def test_fenced_static_member_waiting_in_a_join_is_answered():
    h = Harness()
    a = h.new_member(instance="i1")
    h.sync(a.member_id, instance="i1", assignments={})
    h.new_member()  # rebalance: a must rejoin
    h.join(a.member_id, instance="i1")
    assert a.join_result is not None  # both in, join complete
    h.new_member()
    h.join(a.member_id, instance="i1")  # a waits
    assert a.join_result is None
    replacement = h.join(instance="i1")  # a restarted instance takes its place
    assert a.join_result.error_code == E.fenced_instance_id
    assert isinstance(replacement, Member)


@pytest.mark.parametrize("kip394", [True, False])
def test_member_ids_carry_the_client_id(kip394):
    h = Harness()
    result = h.join(kip394=kip394, client_id="my-app")
    member_id = result.member_id if isinstance(result, JoinResult) else result.member_id
    assert member_id.startswith("my-app-")


# --- offset commits and the coordinator's own state ------------------------------


def test_who_may_commit():
    h = Harness()
    validate = h.coordinator.validate_commit
    assert validate("", -1, "", None, h.now) == E.invalid_group_id
    assert validate("unknown", -1, "", None, h.now) == E.none  # assign-mode consumers: no group management
    assert validate("unknown", 3, "m", None, h.now) == E.illegal_generation
    member = h.new_member(instance="i1")
    assert validate(GROUP, 1, member.member_id, "i1", h.now) == E.rebalance_in_progress  # not synced yet
    h.sync(member.member_id, instance="i1", assignments={})
    assert validate(GROUP, 1, member.member_id, "i1", h.now) == E.none
    assert validate(GROUP, 1, "other", "i1", h.now) == E.fenced_instance_id
    assert validate(GROUP, 1, "stranger", None, h.now) == E.unknown_member_id
    assert validate(GROUP, 2, member.member_id, "i1", h.now) == E.illegal_generation
    assert validate(GROUP, -1, "", None, h.now) == E.unknown_member_id  # a live group needs a member
    h.coordinator.leave(GROUP, [("", "i1")], h.now)
    assert validate(GROUP, -1, "", None, h.now) == E.none  # an empty group takes assign-mode commits


def test_a_commit_counts_as_a_sign_of_life():
    h = Harness()
    (member,) = h.stable_group(1)
    h.advance(SESSION_MS / 1000 * 0.75)
    assert h.coordinator.validate_commit(GROUP, 1, member.member_id, None, h.now) == E.none
    h.advance(SESSION_MS / 1000 * 0.75)  # past the session since the last heartbeat, not since the commit
    assert member.member_id in h.group.members
    h.advance(SESSION_MS / 1000 * 0.5)
    assert not h.group.members


def test_a_refused_commit_is_no_sign_of_life():
    h = Harness()
    (member,) = h.stable_group(1)
    h.advance(SESSION_MS / 1000 * 0.75)
    assert h.coordinator.validate_commit(GROUP, 7, member.member_id, None, h.now) == E.illegal_generation
    h.advance(SESSION_MS / 1000 * 0.75)
    assert not h.group.members


def test_changed_groups_are_handed_over_once():
    h = Harness()
    h.new_member()
    assert h.coordinator.take_changed() == {GROUP}
    assert h.coordinator.take_changed() == set()


def test_the_last_member_leaving_a_stable_group_keeps_pending_ids():
    h = Harness()
    (a,) = h.stable_group(1)
    pending = h.join()  # MEMBER_ID_REQUIRED: not back yet
    assert h.coordinator.leave(GROUP, [(a.member_id, None)], h.now) == [E.none]
    assert (h.group.state, h.group.generation_id) == (S.EMPTY, 2)
    assert pending.member_id in h.group.pending_members
    back = h.join(pending.member_id)
    assert isinstance(back, Member) and back.join_result.generation_id == 3
