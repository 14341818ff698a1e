"""Share groups on a node: heartbeats, assignment, member expiry, state kept in __share_group_state."""

from kwire.clock import ManualClock
from kwire.cluster.cluster import Cluster
from kwire.config import BrokerConfig
from kwire.coordinator.share.share_partition import AcknowledgeType
from kwire.coordinator.share.share_service import ShareGroupsService, share_wait_key
from kwire.coordinator.share.share_state_log import (
    ShareSnapshot,
    parse_snapshot_key,
    parse_snapshot_value,
    snapshot_key,
    snapshot_value,
)
from kwire.protocol.errors import ErrorCode as E
from tests.log.follower_logs import batch, put


def make_service(cluster=None):
    config = BrokerConfig(
        port=0, data_dir=None, group_share_session_timeout_ms=10_000, group_share_min_session_timeout_ms=1000
    )
    if cluster is None:
        cluster = Cluster(config)
        cluster.create_topic("t", 2)
    clock, woken = ManualClock(monotonic=100.0), []
    return ShareGroupsService(config, cluster, woken.append, clock), clock, woken


def test_joining_heartbeating_and_leaving():
    service, _clock, _woken = make_service()
    assert service.heartbeat("g", "", 0, ("t",), None, "c", "/h").error_code == E.invalid_request
    assert service.heartbeat("g", "m", 0, None, None, "c", "/h").error_code == E.invalid_request
    joined = service.heartbeat("g", "m", 0, ("t", "missing"), None, "c", "/h")
    # As in Kafka, a topic new to the group is assigned once its share-partitions are initialized: next heartbeat.
    assert (joined.error_code, joined.member_epoch, joined.assignment) == (E.none, 1, {})
    again = service.heartbeat("g", "m", 1, None, None, "c", "/h")
    assert (again.error_code, again.member_epoch, again.assignment) == (E.none, 2, {"t": (0, 1)})
    quiet = service.heartbeat("g", "m", 2, None, None, "c", "/h")
    assert (quiet.error_code, quiet.member_epoch, quiet.assignment) == (E.none, 2, None)  # told once
    assert service.heartbeat("g", "m", 7, None, None, "c", "/h").error_code == E.fenced_member_epoch
    assert service.heartbeat("g", "x", 2, None, None, "c", "/h").error_code == E.unknown_member_id
    other = service.heartbeat("g", "n", 0, ("t",), None, "c", "/h")
    assert (other.member_epoch, other.assignment) == (3, {"t": (1,)})  # initialized already; spread
    rebalanced = service.heartbeat("g", "m", 2, None, None, "c", "/h")
    assert (rebalanced.member_epoch, rebalanced.assignment) == (3, {"t": (0,)})  # m keeps one
    assert service.heartbeat("g", "m", -1, None, None, "c", "/h").member_epoch == -1
    assert not service.is_member("g", "m") and service.is_member("g", "n")
    back = service.heartbeat("g", "n", 3, None, None, "c", "/h")
    assert (back.member_epoch, back.assignment) == (4, {"t": (0, 1)})


def test_a_topic_new_to_the_group_is_assigned_from_the_next_heartbeat_and_growth_keeps_the_old_partitions():
    service, _clock, _woken = make_service()
    service.heartbeat("g", "m", 0, ("t",), None, "c", "/h")
    # Started together: the first member has nothing yet, so the second one,
    # joining after the first heartbeat initialized t, does not find it all taken.
    other = service.heartbeat("g", "n", 0, ("t",), None, "c", "/h")
    assert other.assignment == {"t": (1,)}
    first = service.heartbeat("g", "m", 1, None, None, "c", "/h")
    assert first.assignment == {"t": (0,)}
    service.cluster.add_partitions("t", 4)
    grown = service.heartbeat("g", "m", first.member_epoch, None, None, "c", "/h")
    assert grown.assignment is None or grown.assignment == {"t": (0,)}  # the new partitions wait a heartbeat
    later = service.heartbeat("g", "m", grown.member_epoch, None, None, "c", "/h")
    assert later.assignment == {"t": (0, 2)}


def test_a_silent_member_is_removed_and_its_locks_end():
    service, clock, woken = make_service()
    service.heartbeat("g", "m", 0, ("t",), None, "c", "/h")
    partition = service.partition("g", "t", 0)
    partition.acquire("m", [(0, 0, False)], 1, service.now())
    session = service.sessions.open("g", "m")
    service.sessions.add(session, [("t", 0)])
    clock.advance(10.0)
    service.tick()
    assert not service.is_member("g", "m")
    clock.advance(10.0)
    service.tick()  # the departed member's idle session closes, releasing its records
    assert service.sessions.of_member("g", "m") is None
    assert share_wait_key("t", 0) in woken
    assert partition.next_fetch_offset() == 0


def test_share_state_is_written_and_loaded_again():
    service, _clock, _woken = make_service()
    partition = service.partition("g", "t", 1)
    partition.acquire("m", [(0, 2, False)], 3, service.now())
    partition.acknowledge("m", 0, 0, [AcknowledgeType.ACCEPT])
    partition.acknowledge("m", 1, 1, [AcknowledgeType.RELEASE])
    service.persist()
    assert not partition.changed
    again, _clock, _woken = make_service(service.cluster)
    loaded = again.partitions[("g", "t", 1)]
    assert (loaded.start_offset, loaded.state_batches()) == (1, [(1, 2, 0, 1)])


def test_snapshot_records_round_trip_and_garbage_is_passed_over():
    import uuid

    topic_id = uuid.uuid4()
    key = snapshot_key("g", topic_id, 3)
    assert parse_snapshot_key(key) == ("g", topic_id, 3)
    snapshot = ShareSnapshot(0, 7, ((7, 9, 0, 2), (10, 10, 4, 5)))
    assert parse_snapshot_value(snapshot_value(snapshot)) == snapshot
    for junk in (b"", b"\x00", b"\x00\x00\xff\xff", key[:-1]):
        assert parse_snapshot_key(junk) is None
        assert parse_snapshot_value(junk) is None
    assert parse_snapshot_value(b"\x00\x00" + bytes(18) + b"\xff\xff\xff\xff\x7f") is None


def test_a_topic_made_again_starts_the_share_partition_over():
    service, _clock, _woken = make_service()
    cluster = service.cluster
    cluster.group_configs.alter("g", {"share.auto.offset.reset": "earliest"}, False)
    partition = service.partition("g", "t", 0)
    partition.reset_to(5)  # as if five records had been read from the topic before it was made again
    assert service.partition("g", "t", 0).start_offset == 0


def test_deleting_a_share_group_needs_it_empty_and_tombstones_its_state():
    service, _clock, _woken = make_service()
    assert service.delete_group("g") == E.group_id_not_found
    service.heartbeat("g", "m", 0, ("t",), None, "c", "/h")
    service.partition("g", "t", 0).acquire("m", [(0, 0, False)], 1, service.now())
    service.partition("other", "t", 0)
    service.persist()
    assert service.delete_group("g") == E.non_empty_group
    service.heartbeat("g", "m", -1, None, None, "c", "/h")
    assert service.delete_group("g") == E.none
    assert "g" not in service.groups and ("g", "t", 0) not in service.partitions
    again, _clock, _woken = make_service(service.cluster)  # as after a restart
    assert "g" not in again.groups and list(again.partitions) == [("other", "t", 0)]


def test_groups_another_node_now_coordinates_are_forgotten_but_not_their_share_partitions():
    service, _clock, _woken = make_service()
    service.heartbeat("here", "m", 0, ("t",), None, "c", "/h")
    service.heartbeat("gone", "m", 0, ("t",), None, "c", "/h")
    service.partition("gone", "t", 0)
    service.forget_groups_not_coordinated(lambda group_id: group_id == "here")
    assert list(service.groups) == ["here"] and ("gone", "t", 0) in service.partitions


def test_a_topic_made_again_with_as_many_records_is_a_new_share_partition():
    """Kafka keys share state by topic id: what the group did with the old
    topic's records says nothing about the new topic's."""
    service, _clock, _woken = make_service()
    cluster = service.cluster
    cluster.group_configs.alter("g", {"share.auto.offset.reset": "earliest"}, False)
    put(cluster.partition("t", 0).log, batch(2))
    old = service.partition("g", "t", 0)
    old.acquire("m", [(0, 1, False)], 2, service.now())
    old.acknowledge("m", 0, 0, [AcknowledgeType.RELEASE])
    cluster.delete_topics(["t"])
    cluster.create_topic("t", 2)
    put(cluster.partition("t", 0).log, batch(2))
    fresh = service.partition("g", "t", 0)
    assert fresh is not old
    acquired = fresh.acquire("m", [(0, 1, False)], 2, service.now())
    assert [(a.first_offset, a.last_offset, a.delivery_count) for a in acquired] == [(0, 1, 1)]


def test_members_hear_of_a_topic_made_again_under_its_name():
    """Assignments carry topic ids: the new topic is a new assignment."""
    service, _clock, _woken = make_service()
    assert service.heartbeat("g", "m", 0, ("t",), None, "c", "/h").assignment == {}
    assert service.heartbeat("g", "m", 1, None, None, "c", "/h").assignment == {"t": (0, 1)}
    assert service.heartbeat("g", "m", 2, None, None, "c", "/h").assignment is None
    service.cluster.delete_topics(["t"])
    service.cluster.create_topic("t", 2)
    again = service.heartbeat("g", "m", 2, None, None, "c", "/h")
    assert (again.member_epoch, again.assignment) == (3, {})  # a new topic id: initialized afresh
    after = service.heartbeat("g", "m", 3, None, None, "c", "/h")
    assert (after.member_epoch, after.assignment) == (4, {"t": (0, 1)})
