"""Online migration between the classic and the consumer group protocol in
the groups service: upgrade by a ConsumerGroupHeartbeat, classic members
served from a consumer group, downgrade when the last member of the
consumer protocol leaves, and group.consumer.migration.policy."""

import struct

from kwire.coordinator.consumer_group.coordinator import HeartbeatRequest
from kwire.coordinator.consumer_group.migration import MigrationPolicy
from kwire.coordinator.consumer_protocol import encode_assignment, parse_assignment
from kwire.coordinator.group import GroupState, JoinResult, SyncResult
from kwire.coordinator.group_coordinator import JoinRequest, SyncRequest
from kwire.protocol.errors import ErrorCode as E
from tests.coordinator.test_groups_service import make_service


def subscription(topics, owned=()) -> bytes:
    """A ConsumerProtocolSubscription v1 (topics, no user data, owned partitions)."""
    out = struct.pack(">hi", 1, len(topics))
    for t in topics:
        out += struct.pack(">h", len(t)) + t.encode()
    out += struct.pack(">i", -1)
    out += struct.pack(">i", len(owned))
    for t, parts in owned:
        out += struct.pack(">h", len(t)) + t.encode() + struct.pack(">i", len(parts))
        out += b"".join(struct.pack(">i", p) for p in parts)
    return out


def classic_join(service, member_id="", owned=(), protocol_type="consumer", metadata=None, instance=None):
    request = JoinRequest(
        "g",
        member_id,
        instance,
        "kafka-python",
        "/h",
        10_000,
        30_000,
        protocol_type,
        [("range", subscription(["t"], owned) if metadata is None else metadata)],
        False,
    )
    return service.join(request)


def consumer_heartbeat(service, member_id, epoch, owned=None):
    request = HeartbeatRequest(
        group_id="g",
        member_id=member_id,
        member_epoch=epoch,
        instance_id=None,
        rack_id=None,
        rebalance_timeout_ms=30_000 if epoch == 0 else -1,
        subscribed_topic_names=("t",) if epoch == 0 else None,
        subscribed_topic_regex=None,
        server_assignor=None,
        owned=frozenset() if epoch == 0 else owned,
    )
    return service.consumer_heartbeat(request)


def sync(service, member_id, generation):
    result = service.sync(SyncRequest("g", generation, member_id, None, "consumer", "range", {}))
    assert isinstance(result, SyncResult)
    return result


def stable_classic_group(service, members=2, partitions_of_first=1):
    """A classic group of `members` consumers, t-0 and t-1 assigned by its leader."""
    joined = [classic_join(service) for _ in range(members)]
    for member in joined[:-1]:  # the others rejoin for the rebalance the last one started
        classic_join(service, member.member_id)
    group = service.group("g")
    assert group.state == GroupState.COMPLETING_REBALANCE
    ids = list(group.members)
    plan = {m: encode_assignment([("t", i)] if i < 2 else [], 0) for i, m in enumerate(ids)}
    plan[ids[0]] = encode_assignment([("t", i) for i in range(partitions_of_first)], 0)
    service.sync(SyncRequest("g", group.generation_id, group.leader_id, None, None, None, plan))
    assert service.group("g").state == GroupState.STABLE
    return ids, group.generation_id


def test_policy_values():
    assert MigrationPolicy.parse("Bidirectional").upgrade and MigrationPolicy.parse("bidirectional").downgrade
    assert MigrationPolicy.parse("upgrade").upgrade and not MigrationPolicy.parse("upgrade").downgrade
    assert MigrationPolicy.parse("downgrade").downgrade and not MigrationPolicy.parse("downgrade").upgrade
    assert not MigrationPolicy.parse("disabled").upgrade and not MigrationPolicy.parse("disabled").downgrade


def test_a_consumer_heartbeat_upgrades_a_classic_group_and_its_members_move_on():
    service, _clock, _woken = make_service()
    (a, b), generation = stable_classic_group(service)
    joined = consumer_heartbeat(service, "new", 0)
    assert joined.error_code == E.none and joined.member_epoch == generation + 1
    assert service.group("g") is None  # no classic group any more
    group = service.consumer_group("g")
    assert {m.member_id for m in group.members.values() if m.classic is not None} == {a, b}
    assert {m.member_id: m.assigned for m in group.members.values()}[a] == group.target[a]  # kept t-0 as it was
    # The classic members are told to join again; their commits still count at their generation.
    assert service.commit_check("g", generation, a, None, 2) == E.none
    assert service.commit_check("g", generation + 5, a, None, 2) == E.illegal_generation
    assert service.heartbeat("g", generation, a, None) == E.rebalance_in_progress
    rejoined = classic_join(service, a)
    assert isinstance(rejoined, JoinResult) and rejoined.error_code == E.none
    assert rejoined.generation_id == generation + 1 and rejoined.protocol_name == "range"
    assert rejoined.leader == "" and rejoined.members == ()  # the coordinator assigns
    assert parse_assignment(sync(service, a, rejoined.generation_id).assignment) == (("t", 0),)
    assert service.heartbeat("g", rejoined.generation_id, a, None) == E.none


def test_classic_members_revoke_eagerly_or_cooperatively():
    for cooperative in (False, True):
        service, _clock, _woken = make_service()
        (a,), generation = stable_classic_group(service, members=1, partitions_of_first=2)
        joined = consumer_heartbeat(service, "new", 0)
        assert joined.assignment == frozenset()  # both partitions are still with the classic member
        assert service.heartbeat("g", generation, a, None) == E.rebalance_in_progress
        owned = [("t", [0, 1])] if cooperative else []  # an eager member gave up everything before joining
        rejoined = classic_join(service, a, owned=owned)
        kept = parse_assignment(sync(service, a, rejoined.generation_id).assignment)
        assert len(kept) == 1
        if cooperative:  # it still owns the other: it is asked to join again once it let go
            assert rejoined.generation_id == generation
            assert service.heartbeat("g", rejoined.generation_id, a, None) == E.rebalance_in_progress
            rejoined = classic_join(service, a, owned=[(kept[0][0], [kept[0][1]])])
            assert parse_assignment(sync(service, a, rejoined.generation_id).assignment) == kept
        assert rejoined.generation_id == generation + 1
        assert service.heartbeat("g", rejoined.generation_id, a, None) == E.none
        given = consumer_heartbeat(service, "new", joined.member_epoch, owned=frozenset()).assignment
        assert len(given) == 1 and {index for _, index in given} | {kept[0][1]} == {0, 1}


def test_upgrade_refusals_follow_the_policy_and_the_protocol_type():
    for policy in ("disabled", "downgrade"):
        service, _clock, _woken = make_service(group_consumer_migration_policy=policy)
        stable_classic_group(service)
        refused = consumer_heartbeat(service, "new", 0)
        assert refused.error_code == E.group_id_not_found
        assert "online upgrade is disabled" in refused.error_message
        assert service.group("g").state == GroupState.STABLE
    service, _clock, _woken = make_service()
    request = JoinRequest("g", "", None, "c", "/h", 10_000, 10_000, "connect", [("x", b"")], False)
    service.join(request)
    service.coordinator.tick(service.now())
    refused = consumer_heartbeat(service, "new", 0)
    assert refused.error_code == E.group_id_not_found and "consumer embedded protocol" in refused.error_message
    assert consumer_heartbeat(service, "new", 3).error_code == E.group_id_not_found  # not a join: no upgrade


def test_a_malformed_subscription_keeps_the_group_classic():
    service, _clock, _woken = make_service()
    classic_join(service, metadata=b"\x00")
    service.coordinator.tick(service.now())
    refused = consumer_heartbeat(service, "new", 0)
    assert refused.error_code == E.group_id_not_found and "malformed" in refused.error_message
    assert service.group("g") is not None


def test_a_classic_member_joins_a_consumer_group():
    service, _clock, _woken = make_service()
    first = consumer_heartbeat(service, "m", 0)
    assert len(first.assignment) == 2
    required = service.join(
        JoinRequest("g", "", None, "c", "/h", 10_000, 30_000, "consumer", [("range", subscription(["t"]))], True)
    )
    assert required.error_code == E.member_id_required and required.member_id
    joined = classic_join(service, required.member_id)
    assert joined.error_code == E.none and joined.generation_id == 2
    assert parse_assignment(sync(service, joined.member_id, 2).assignment) == ()  # "m" still holds both
    assert service.heartbeat("g", 2, joined.member_id, None) == E.none  # waits for "m" to revoke
    revoking = consumer_heartbeat(service, "m", 1, owned=first.assignment)
    kept = revoking.assignment
    assert len(kept) == 1
    assert consumer_heartbeat(service, "m", 1, owned=kept).member_epoch == 2
    assert service.heartbeat("g", 2, joined.member_id, None) == E.rebalance_in_progress  # its partition is free
    again = classic_join(service, joined.member_id)
    assert len(parse_assignment(sync(service, joined.member_id, again.generation_id).assignment)) == 1
    assert service.heartbeat("g", again.generation_id, joined.member_id, None) == E.none
    described = service.consumer_group_now("g")
    assert sorted(m.classic is not None for m in described.members.values()) == [False, True]


def test_classic_requests_checked_as_kafka_checks_them():
    service, _clock, _woken = make_service()
    consumer_heartbeat(service, "m", 0)
    assert classic_join(service, protocol_type="other").error_code == E.inconsistent_group_protocol
    assert classic_join(service, metadata=b"\x00\x01").error_code == E.unknown_server_error
    joined = classic_join(service)
    assert service.heartbeat("g", joined.generation_id, "m", None) == E.unknown_member_id  # a consumer-protocol member
    assert service.heartbeat("g", joined.generation_id + 1, joined.member_id, None) == E.illegal_generation
    assert sync(service, joined.member_id, joined.generation_id + 1).error_code == E.illegal_generation
    wrong = service.sync(SyncRequest("g", joined.generation_id, joined.member_id, None, "consumer", "roundrobin", {}))
    assert wrong.error_code == E.inconsistent_group_protocol
    assert service.leave("g", [(joined.member_id, None), ("m", None), ("nobody", None)]) == [
        E.none,
        E.unknown_member_id,
        E.unknown_member_id,
    ]
    assert service.consumer_group("g") is not None  # "m" is still in it


def test_a_classic_member_keeps_the_session_timeout_of_its_join():
    service, clock, _woken = make_service()
    consumer_heartbeat(service, "m", 0)
    joined = classic_join(service)  # session.timeout.ms 10 s
    clock.advance(ms=8_000)
    consumer_heartbeat(service, "m", 1)
    assert joined.member_id in service.consumer_group("g").members
    clock.advance(ms=3_000)
    service.tick()
    assert joined.member_id not in service.consumer_group("g").members


def test_the_last_consumer_member_leaving_downgrades_the_group():
    service, _clock, woken = make_service()
    (a, b), generation = stable_classic_group(service)
    joined = consumer_heartbeat(service, "new", 0)
    for member_id in (a, b):
        rejoined = classic_join(service, member_id)
        sync(service, member_id, rejoined.generation_id)
    group_epoch = service.consumer_group("g").group_epoch
    assert consumer_heartbeat(service, "new", -1).error_code == E.none
    assert service.consumer_group("g") is None
    classic = service.group("g")
    assert classic.state == GroupState.PREPARING_REBALANCE and classic.generation_id == group_epoch
    assert set(classic.members) == {a, b} and classic.protocol_type == "consumer"
    member_epoch = joined.member_epoch  # the classic members are at the epoch of the upgrade's join
    assert service.heartbeat("g", member_epoch, a, None) in (E.rebalance_in_progress, E.illegal_generation)
    # They rejoin as classic members and the classic protocol takes over again.
    for member_id in (a, b):
        request = JoinRequest(
            "g", member_id, None, "c", "/h", 10_000, 30_000, "consumer", [("range", subscription(["t"]))], False
        )
        service.join(request)
    assert service.group("g").state == GroupState.COMPLETING_REBALANCE


def test_no_downgrade_when_the_policy_allows_only_upgrades():
    service, _clock, _woken = make_service(group_consumer_migration_policy="upgrade")
    stable_classic_group(service)
    consumer_heartbeat(service, "new", 0)
    consumer_heartbeat(service, "new", -1)
    group = service.consumer_group("g")
    assert group is not None and all(m.classic is not None for m in group.members.values())


def test_a_classic_member_must_sync_and_rejoin_within_its_rebalance_timeout():
    service, clock, _woken = make_service(group_consumer_session_timeout_ms=120_000)
    consumer_heartbeat(service, "m", 0)
    joined = classic_join(service)  # rebalance timeout 30 s, session 10 s: heartbeats keep it alive
    for _ in range(4):
        clock.advance(ms=8_000)
        service.heartbeat("g", joined.generation_id, joined.member_id, None)
        consumer_heartbeat(service, "m", 1)
        service.tick()
    assert joined.member_id not in service.consumer_group("g").members  # joined but never synced
    again = classic_join(service)
    sync(service, again.member_id, again.generation_id)
    consumer_heartbeat(service, "m", 0)  # "m" holds nothing now: the partition the classic member waits for is free
    told = service.heartbeat("g", again.generation_id, again.member_id, None)
    assert told == E.rebalance_in_progress
    for _ in range(4):
        clock.advance(ms=8_000)
        assert service.heartbeat("g", again.generation_id, again.member_id, None) in (told, E.unknown_member_id)
        service.tick()
    assert again.member_id not in service.consumer_group("g").members  # told to join again, never did


def test_joins_parked_on_a_rebalance_are_told_to_join_again_by_the_upgrade():
    service, _clock, woken = make_service()
    (a, b), generation = stable_classic_group(service)
    parked = classic_join(service, a, metadata=subscription(["t", "u"]))  # new metadata: a rebalance, a waits for b
    assert parked.join_result is None and service.group("g").state == GroupState.PREPARING_REBALANCE
    woken.clear()
    assert consumer_heartbeat(service, "new", 0).error_code == E.none
    assert parked.join_result.error_code == E.rebalance_in_progress
    assert any(key == ("group", "g") for key in woken)  # the parked JoinGroup is answered


def test_a_classic_static_member_taking_the_last_consumer_members_place_downgrades():
    service, _clock, _woken = make_service()

    def static_heartbeat(epoch):
        request = HeartbeatRequest(
            group_id="g",
            member_id="s",
            member_epoch=epoch,
            instance_id="i1",
            rack_id=None,
            rebalance_timeout_ms=30_000 if epoch == 0 else -1,
            subscribed_topic_names=("t",) if epoch == 0 else None,
            subscribed_topic_regex=None,
            server_assignor=None,
            owned=frozenset() if epoch == 0 else None,
        )
        return service.consumer_heartbeat(request)

    static_heartbeat(0)
    other = classic_join(service)
    sync(service, other.member_id, other.generation_id)
    epoch = service.consumer_group("g").group_epoch
    assert static_heartbeat(-2).error_code == E.none  # leaves for now: its place is kept
    assert service.consumer_group("g") is not None
    replacing = classic_join(service, instance="i1")
    assert replacing.error_code == E.none and replacing.generation_id == epoch
    classic = service.group("g")
    assert classic is not None and service.consumer_group("g") is None
    assert classic.state == GroupState.STABLE  # same subscription: no rebalance
    assert set(classic.members) == {other.member_id, replacing.member_id}
    assert service.heartbeat("g", classic.generation_id, replacing.member_id, "i1") == E.none


def test_an_assignment_with_a_custom_assignors_user_data_keeps_the_group_classic():
    service, _clock, _woken = make_service()
    member = classic_join(service)
    with_user_data = encode_assignment([("t", 0)], 0)[:-4] + struct.pack(">i", 6) + b"sticky"
    service.sync(
        SyncRequest(
            "g",
            member.join_result.generation_id,
            member.member_id,
            None,
            None,
            None,
            {member.member_id: with_user_data},
        )
    )
    refused = consumer_heartbeat(service, "new", 0)
    assert refused.error_code == E.group_id_not_found and "unsupported custom assignor" in refused.error_message
    assert service.group("g").state == GroupState.STABLE
