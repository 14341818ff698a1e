"""KIP-848 groups beside classic ones in the groups service: one protocol
per non-empty group, commits with member epochs, an emptied group living on
as its offsets, deletion."""

from kwire.coordinator.consumer_group.coordinator import HeartbeatRequest
from kwire.coordinator.group_coordinator import JoinRequest
from kwire.coordinator.offsets import CommittedOffset
from kwire.protocol.errors import ErrorCode as E
from tests.coordinator.test_groups_service import join, make_service

OFFSET = CommittedOffset(5, -1, "", 0)


def heartbeat(service, member_id: str, epoch: int, group: str = "g"):
    request = HeartbeatRequest(
        group_id=group,
        member_id=member_id,
        member_epoch=epoch,
        instance_id=None,
        rack_id=None,
        rebalance_timeout_ms=30000 if epoch == 0 else -1,
        subscribed_topic_names=("t",) if epoch == 0 else None,
        subscribed_topic_regex=None,
        server_assignor=None,
        owned=frozenset() if epoch == 0 else None,
    )
    return service.consumer_heartbeat(request)


def test_one_protocol_per_group_while_it_has_members_when_migration_is_disabled():
    service, _clock, _woken = make_service(group_consumer_migration_policy="disabled")
    join(service, "classic")
    result = heartbeat(service, "m", 0, group="classic")
    assert result.error_code == E.group_id_not_found and "online upgrade is disabled" in (result.error_message or "")
    assert heartbeat(service, "m", 0).member_epoch == 1
    classic_join = JoinRequest("g", "", None, "c", "/h", 10_000, 10_000, "other", [("range", b"")], False)
    assert service.join(classic_join).error_code == E.inconsistent_group_protocol  # not the consumer protocol
    assert [g.group_id for g in service.listed_consumer_groups()] == ["g"]
    assert service.delete_group("g") == E.non_empty_group
    assert service.consumer_subscriptions("g") == {"t"}  # OffsetDelete refuses these (GROUP_SUBSCRIBED_TO_TOPIC)
    assert service.consumer_subscriptions("classic") is None


def test_commits_carry_the_member_epoch_and_outlive_the_members():
    service, clock, _woken = make_service(group_consumer_session_timeout_ms=1000)
    heartbeat(service, "m", 0)
    assert service.commit_check("g", 1, "m", None, 9) == E.none
    assert service.commit_check("g", 0, "m", None, 9) == E.stale_member_epoch
    assert service.commit_check("g", 1, "m", None, 8) == E.unsupported_version
    service.commit("g", {("t", 0): OFFSET})
    assert service.group("g") is None  # no classic group made by the commit
    clock.advance(ms=2000)
    service.tick()
    assert service.consumer_group("g") is None  # no members
    assert service.group("g") is None  # still a KIP-848 group, as in Kafka: ListGroups type consumer, Empty
    assert [(g.group_id, g.state.value) for g in service.listed_consumer_groups()] == [("g", "Empty")]
    assert heartbeat(service, "n", 0).member_epoch >= 1  # which a KIP-848 member may take over
    assert service.committed("g")[("t", 0)] == OFFSET


def test_an_empty_group_without_offsets_is_forgotten_and_a_classic_join_converts_an_empty_one():
    service, clock, _woken = make_service(group_consumer_session_timeout_ms=1000)
    heartbeat(service, "m", 0, group="bare")
    heartbeat(service, "m", 0)
    service.commit("g", {("t", 0): OFFSET})
    clock.advance(ms=2000)
    service.tick()
    assert [g.group_id for g in service.listed_consumer_groups()] == ["g"]
    classic_join = JoinRequest("g", "", None, "c", "/h", 10_000, 10_000, "consumer", [("range", b"")], False)
    service.join(classic_join)
    assert service.listed_consumer_groups() == [] and service.group("g") is not None


def test_an_empty_consumer_groups_offsets_expire_with_offsets_retention():
    service, clock, _woken = make_service(offsets_retention_minutes=1)
    heartbeat(service, "m", 0)
    service.commit("g", {("t", 0): OFFSET})
    heartbeat(service, "m", -1)
    clock.advance(ms=30_000)
    service.tick()
    assert service.committed("g")
    clock.advance(ms=700_000)  # past the retention and the next retention check
    service.tick()
    assert service.committed("g") == {} and service.listed_consumer_groups() == []


def test_an_emptied_group_is_deleted_with_its_offsets():
    service, _clock, _woken = make_service()
    heartbeat(service, "m", 0)
    service.commit("g", {("t", 0): OFFSET})
    assert heartbeat(service, "m", -1).member_epoch == -1
    assert service.delete_group("g") == E.none
    assert service.committed("g") == {}
