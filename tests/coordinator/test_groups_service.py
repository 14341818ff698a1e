"""Groups with their offsets: commit rules, retention, forgetting, restart."""

from kwire.clock import ManualClock
from kwire.cluster.cluster import Cluster
from kwire.config import BrokerConfig
from kwire.coordinator.group_coordinator import JoinRequest, SyncRequest
from kwire.coordinator.groups_service import GroupsService, group_wait_key
from kwire.coordinator.offsets import CommittedOffset
from kwire.protocol.errors import ErrorCode as E


def make_service(**overrides):
    overrides.setdefault("group_initial_rebalance_delay_ms", 0)  # groups form at once
    config = BrokerConfig(port=0, data_dir=None, **overrides)
    cluster = Cluster(config)
    cluster.create_topic("t", 2)
    clock, woken = ManualClock(monotonic=100.0), []
    return GroupsService(config, cluster, woken.append, clock), clock, woken


def join(service, group="g"):
    request = JoinRequest(group, "", None, "c", "/h", 10_000, 10_000, "consumer", [("range", b"")], False)
    return service.coordinator.join(request, service.now())


OFFSET = CommittedOffset(5, -1, "", 0)


def test_commit_rules_for_a_live_group():
    service, _clock, _woken = make_service()
    member = join(service)
    assert service.commit_check("g", 1, member.member_id, None) == E.rebalance_in_progress  # not synced yet
    service.sync(SyncRequest("g", 1, member.member_id, None, None, None, {}))
    assert service.commit_check("g", 1, member.member_id, None) == E.none
    assert service.commit_check("g", 2, member.member_id, None) == E.illegal_generation
    assert service.commit_check("g", 1, "stranger", None) == E.unknown_member_id
    assert service.commit_check("g", -1, "", None) == E.unknown_member_id  # a live group needs a member
    assert service.commit_check("", -1, "", None) == E.invalid_group_id


def test_the_creation_of_the_offsets_topic_is_lazy():
    service, _clock, _woken = make_service(offsets_topic_num_partitions=3)
    assert service.cluster.get("__consumer_offsets") is None
    service.commit("g", {("t", 0): OFFSET})
    topic = service.cluster.get("__consumer_offsets")
    assert len(topic.partitions) == 3 and topic.configs["cleanup.policy"] == "compact"


def test_empty_groups_offsets_expire_after_retention():
    service, clock, _woken = make_service(offsets_retention_minutes=1, offsets_retention_check_interval_ms=1000)
    service.commit("idle", {("t", 0): OFFSET})
    member = join(service, "busy")
    service.commit("busy", {("t", 1): OFFSET})
    for _ in range(7):  # 70 s in 10 s steps; "busy" keeps its session alive
        clock.advance(10)
        service.coordinator.heartbeat("busy", 1, member.member_id, None, clock.monotonic())
        service.tick()
    assert service.offsets.committed("idle") == {}
    assert service.coordinator.group("idle") is None
    assert service.offsets.committed("busy") == {("t", 1): OFFSET}


def test_a_group_without_members_or_offsets_is_forgotten():
    service, clock, woken = make_service()
    member = join(service)
    service.coordinator.leave("g", [(member.member_id, None)], service.now())
    service.tick()
    assert service.coordinator.group("g") is None
    assert group_wait_key("g") in woken


def test_offsets_and_their_groups_come_back_after_a_restart(tmp_path):
    config = BrokerConfig(port=0, data_dir=tmp_path)
    cluster = Cluster(config)
    cluster.create_topic("t", 2)
    service = GroupsService(config, cluster, lambda key: None, ManualClock(monotonic=100.0))
    service.commit("g", {("t", 0): OFFSET, ("t", 1): CommittedOffset(9, 2, "m", 1)})
    cluster.close()
    cluster = Cluster(config)
    again = GroupsService(config, cluster, lambda key: None, ManualClock(monotonic=100.0))
    assert again.offsets.committed("g") == {("t", 0): OFFSET, ("t", 1): CommittedOffset(9, 2, "m", 1)}
    assert again.coordinator.group("g").state.value == "Empty"
    cluster.close()


def test_a_session_that_ended_between_ticks_is_over_for_whoever_looks_at_the_group():
    # Kafka's timers are exact: a DeleteGroups sent just after a dead member's
    # session ends finds the group empty, even if no tick has run since.
    service, clock, _woken = make_service()
    member = join(service)
    service.sync(SyncRequest("g", 1, member.member_id, None, None, None, {}))
    clock.advance(9.999)
    assert service.delete_group("g") == E.non_empty_group
    assert [g.group_id for g in service.listed_groups()] == ["g"]
    clock.advance(0.002)  # 10.001 s since the last sign of life: past session.timeout.ms
    assert service.group("g").members == {}
    assert service.delete_group("g") == E.none


def test_a_stable_group_is_back_at_its_generation_after_a_restart(tmp_path):
    config = BrokerConfig(port=0, data_dir=tmp_path, group_initial_rebalance_delay_ms=0)
    cluster = Cluster(config)
    service = GroupsService(config, cluster, lambda key: None, ManualClock(monotonic=100.0))
    member = join(service)
    service.sync(SyncRequest("g", 1, member.member_id, None, None, None, {member.member_id: b"a"}))
    cluster.close()
    cluster = Cluster(config)
    clock = ManualClock(monotonic=5_000.0)
    again = GroupsService(config, cluster, lambda key: None, clock)
    group = again.group("g")
    assert (group.state.value, group.generation_id, list(group.members)) == ("Stable", 1, [member.member_id])
    assert again.heartbeat("g", 1, member.member_id, None) == E.none  # its session started afresh
    clock.advance(11)  # past session.timeout.ms with no sign of life: gone, as with Kafka
    assert again.group("g").members == {}
    cluster.close()
