"""KIP-848 groups written to `__consumer_offsets` and read back: a restart
finds the members with their epochs, subscriptions, assignments and classic
metadata, and members carry on without joining again; only changes are
written; deleted groups leave tombstones."""

from __future__ import annotations

import attrs

from kwire.clock import ManualClock
from kwire.cluster.cluster import Cluster
from kwire.config import BrokerConfig
from kwire.coordinator.consumer_group import records as r
from kwire.coordinator.consumer_group.coordinator import HeartbeatRequest
from kwire.coordinator.consumer_group.model import ClassicMemberMetadata, ConsumerGroupState
from kwire.coordinator.consumer_group.persistence import GroupReplay, persisted
from kwire.coordinator.group_coordinator import JoinRequest
from kwire.coordinator.groups_service import GroupsService
from kwire.coordinator.offsets import CommittedOffset
from kwire.log.keyed_records import iter_keyed_records
from kwire.protocol.errors import ErrorCode as E

OFFSET = CommittedOffset(5, -1, "", 0)


class Node:
    """A groups service on a data dir that can be restarted."""

    def __init__(self, data_dir) -> None:
        self.config = BrokerConfig(
            port=0, data_dir=data_dir, group_consumer_session_timeout_ms=10_000, group_initial_rebalance_delay_ms=0
        )
        self.cluster = Cluster(self.config)
        if self.cluster.get("t") is None:
            self.cluster.create_topic("t", 4)
        self.clock = ManualClock(monotonic=100.0)
        self.service = GroupsService(self.config, self.cluster, lambda key: None, self.clock)

    def restart(self, monotonic: float = 5_000.0) -> None:
        self.cluster.close()
        self.cluster = Cluster(self.config)
        self.clock = ManualClock(monotonic=monotonic)
        self.service = GroupsService(self.config, self.cluster, lambda key: None, self.clock)

    def beat(self, member_id: str, epoch: int, owned=None, **fields):
        join = epoch == 0
        request = HeartbeatRequest(
            group_id=fields.pop("group", "g"),
            member_id=member_id,
            member_epoch=epoch,
            instance_id=fields.pop("instance_id", None),
            rack_id=None,
            rebalance_timeout_ms=30_000 if join else -1,
            subscribed_topic_names=("t",) if join else None,
            subscribed_topic_regex=None,
            server_assignor=None,
            owned=frozenset() if join else owned,
            client_id="c",
            client_host="/127.0.0.1",
        )
        return self.service.consumer_heartbeat(attrs.evolve(request, **fields))

    def records(self, group: str = "g") -> list[tuple[r.RecordKey, bytes | None]]:
        """The consumer-group records of the group's partition, in order."""
        log = self.service.offsets_log_for(group)
        out = []
        for key, value in iter_keyed_records(log):
            parsed = r.parse_key(key)
            if parsed is not None and parsed.group_id == group:
                out.append((parsed, value))
        return out

    def close(self) -> None:
        self.cluster.close()


def settle(node: Node) -> tuple[int, int]:
    """Two members share the topic; returns their member epochs once stable."""
    a = node.beat("a", 0)
    b = node.beat("b", 0)
    a = node.beat("a", a.member_epoch, owned=a.assignment)  # revokes what b gets
    a = node.beat("a", a.member_epoch, owned=a.assignment)
    b = node.beat("b", b.member_epoch, owned=b.assignment)
    group = node.service.consumer_group_now("g")
    assert group.state == ConsumerGroupState.STABLE, group
    return a.member_epoch, b.member_epoch


def test_a_group_comes_back_after_a_restart_and_its_members_carry_on(tmp_path):
    node = Node(tmp_path)
    settle(node)
    before = node.service.consumer_group_now("g")
    shape = {
        m.member_id: (m.member_epoch, m.previous_member_epoch, m.state, m.assigned, m.subscribed_topic_names)
        for m in before.members.values()
    }
    epochs = (before.group_epoch, before.target_epoch, dict(before.target), dict(before.owners))
    node.restart()
    after = node.service.consumer_group_now("g")
    assert after.state == ConsumerGroupState.STABLE
    assert (after.group_epoch, after.target_epoch, dict(after.target), dict(after.owners)) == epochs
    assert {
        m.member_id: (m.member_epoch, m.previous_member_epoch, m.state, m.assigned, m.subscribed_topic_names)
        for m in after.members.values()
    } == shape
    member = after.members["a"]
    assert (member.client_id, member.client_host, member.rebalance_timeout_ms) == ("c", "/127.0.0.1", 30_000)
    # The members heartbeat with their ids and epochs: no join, no new epoch.
    for member_id, (epoch, *_rest) in shape.items():
        result = node.beat(member_id, epoch, owned=shape[member_id][3])
        assert (result.error_code, result.member_epoch) == (E.none, epoch)
    assert node.service.consumer_group_now("g").group_epoch == epochs[0]
    # Their sessions started at the load: one silent past the timeout is gone.
    node.clock.advance(9)
    node.beat("a", shape["a"][0], owned=shape["a"][3])
    node.clock.advance(2)
    node.service.tick()
    assert set(node.service.consumer_group_now("g").members) == {"a"}
    node.close()


def test_heartbeats_that_change_nothing_write_nothing(tmp_path):
    node = Node(tmp_path)
    epoch_a, _epoch_b = settle(node)
    log = node.service.offsets_log_for("g")
    end = log.log_end_offset
    owned = node.service.consumer_group_now("g").members["a"].assigned
    for _ in range(5):
        node.beat("a", epoch_a, owned=owned)
        node.beat("a", epoch_a)
    assert log.log_end_offset == end
    node.close()


def test_a_join_writes_kafkas_records_in_kafkas_order(tmp_path):
    node = Node(tmp_path)
    node.beat("a", 0)
    kinds = [key.record_type for key, _value in node.records()]
    assert kinds == [r.MEMBER_METADATA, r.GROUP_METADATA, r.TARGET_ASSIGNMENT_MEMBER, 6, r.CURRENT_MEMBER_ASSIGNMENT]
    _key, value = node.records()[1]
    epoch, metadata_hash = r.parse_group_metadata(value)
    assert epoch == 1 and metadata_hash != 0
    node.close()


def test_a_leaving_member_leaves_tombstones_and_stays_gone(tmp_path):
    node = Node(tmp_path)
    epoch_a, _ = settle(node)
    count = len(node.records())
    assert node.beat("a", -1).error_code == E.none
    new = node.records()[count:]
    assert [(k.record_type, k.member_id) for k, v in new if v is None] == [(8, "a"), (7, "a"), (5, "a")]
    node.restart()
    group = node.service.consumer_group_now("g")
    assert set(group.members) == {"b"}
    assert node.beat("a", epoch_a).error_code == E.unknown_member_id
    node.close()


def test_a_static_member_that_left_for_now_is_waited_for_after_a_restart(tmp_path):
    node = Node(tmp_path)
    joined = node.beat("a", 0, instance_id="i")
    node.beat("a", -2, instance_id="i")
    node.restart()
    group = node.service.consumer_group_now("g")
    assert group.members["a"].member_epoch == -2 and group.static_members == {"i": "a"}
    back = node.beat("a2", 0, instance_id="i")
    assert (back.error_code, back.member_epoch, back.assignment) == (E.none, joined.member_epoch, joined.assignment)
    node.close()


def test_an_emptied_group_with_offsets_comes_back_empty_and_one_without_is_tombstoned(tmp_path):
    node = Node(tmp_path)
    node.beat("a", 0)
    node.service.commit("g", {("t", 0): OFFSET})
    node.beat("a", -1)
    node.beat("b", 0, group="gone")
    node.beat("b", -1, group="gone")
    node.service.tick()  # the empty group without offsets is forgotten; the other stays, as in Kafka
    assert node.records("gone")[-2:] == [(r.RecordKey(6, "gone"), None), (r.RecordKey(3, "gone"), None)]
    node.restart()
    assert node.service.consumer.group("gone") is None
    assert node.service.consumer_group_now("g").state.value == "Empty"
    assert node.service.committed("g") == {("t", 0): OFFSET}
    node.close()


def test_a_deleted_group_does_not_come_back(tmp_path):
    node = Node(tmp_path)
    node.beat("a", 0)
    node.beat("a", -1)
    assert node.service.delete_group("g") == E.none
    node.restart()
    assert node.service.consumer.group("g") is None and node.service.group("g") is None
    node.close()


def test_classic_member_metadata_is_kept(tmp_path):
    node = Node(tmp_path)
    node.beat("a", 0)
    classic = ClassicMemberMetadata(45_000, (("range", b"\x00\x03"), ("cooperative-sticky", b"")))
    node.service.consumer.group("g").members["a"].classic = classic
    node.service.publish_changes()  # nothing marked the group changed yet
    node.service._mark_consumer_group("g", "a")  # as a classic member's join does (migration)
    node.service.publish_changes()
    node.restart()
    assert node.service.consumer.group("g").members["a"].classic == classic
    node.close()


def test_unchanged_topics_keep_the_group_as_it_was_and_changed_ones_rebalance_it(tmp_path):
    node = Node(tmp_path)
    first = node.beat("a", 0)
    node.restart()
    group = node.service.consumer_group_now("g")
    assert group.state == ConsumerGroupState.STABLE and set(group.topics) == {"t"}  # the stored hash matched
    assert node.beat("a", first.member_epoch).member_epoch == first.member_epoch
    node.cluster.close()
    node.cluster = Cluster(node.config)
    node.cluster.add_partitions("t", 6)  # while the groups service is down
    node.clock = ManualClock(monotonic=9_000.0)
    node.service = GroupsService(node.config, node.cluster, lambda key: None, node.clock)
    assert node.service.consumer_group_now("g").topics == {}  # the hash differs: to be looked at again
    again = node.beat("a", first.member_epoch)
    assert again.member_epoch == first.member_epoch + 1 and len(again.assignment) == 6
    node.close()


def test_malformed_records_are_skipped_with_a_warning(caplog):
    replay = GroupReplay()
    replay.apply(r.record_key(r.GROUP_METADATA, "g"), b"\x00\x00\x00")
    replay.apply(b"\x00\x05\x7f\xff", b"")
    replay.apply(r.record_key(r.GROUP_METADATA, "h"), r.group_metadata_value(3))
    replay.apply(r.record_key(r.MEMBER_METADATA, "h", "m"), b"\x00\x00\xff")
    groups = replay.groups(0.0, {}, "uniform")
    assert [(g.group_id, g.group_epoch, list(g.members)) for g, _ in groups] == [("h", 3, [])]
    assert caplog.text.count("malformed consumer group record") == 3


def test_what_the_log_says_follows_the_group_through_a_rebalance(tmp_path):
    # After every step the records written add up to the group as it is
    # (the per-member shortcut included), and a restart reads that back.
    node = Node(tmp_path)
    held: dict[str, object] = {}

    def step(member_id: str, epoch: int, **fields) -> None:
        result = node.beat(member_id, epoch, owned=held.get(member_id), **fields)
        if result.assignment is not None:
            held[member_id] = result.assignment
        group = node.service.consumer.group("g")
        assert node.service._consumer_stored.get("g") == (persisted(group) if group else None)

    for member_id in "abc":
        step(member_id, 0)
    for _ in range(4):
        for member_id in "abc":
            step(member_id, node.service.consumer.group("g").members[member_id].member_epoch)
    step("b", -1)
    step("a", node.service.consumer.group("g").members["a"].member_epoch, rebalance_timeout_ms=5_000)
    group = node.service.consumer.group("g")
    expected = persisted(group)
    node.restart()
    assert persisted(node.service.consumer.group("g")) == expected
    node.close()


def test_a_classic_group_taken_over_by_a_consumer_member_comes_back_as_a_consumer_group(tmp_path):
    node = Node(tmp_path)
    classic = JoinRequest("g", "", None, "c", "/h", 10_000, 10_000, "consumer", [("range", b"")], False)
    member = node.service.coordinator.join(classic, node.service.now())
    node.service.publish_changes()
    node.service.leave("g", [(member.member_id, None)])
    node.service.commit("g", {("t", 0): OFFSET})
    assert node.service._stored == {"g"}  # its classic group record is on the log
    assert node.beat("a", 0).error_code == E.none
    assert node.service._stored == set()  # and tombstoned
    node.restart()
    assert node.service.group("g") is None
    assert set(node.service.consumer.group("g").members) == {"a"}
    assert node.service.committed("g") == {("t", 0): OFFSET}
    node.close()


def test_a_node_taking_over_the_partition_loads_the_group_and_leaving_it_writes_nothing(tmp_path):
    node = Node(tmp_path)
    first = node.beat("a", 0)
    index = node.service.offsets.partition_of("g")
    node.cluster.close()
    node.cluster = Cluster(node.config)
    node.service = GroupsService(node.config, node.cluster, lambda key: None, node.clock, owned=set())
    assert node.service.consumer.group("g") is None
    node.service.load_partition(index)
    assert node.beat("a", first.member_epoch).member_epoch == first.member_epoch
    end = node.service.offsets_log_for("g").log_end_offset
    node.service.unload_partition(index)
    assert node.service.consumer.group("g") is None
    assert node.service.offsets_log_for("g").log_end_offset == end  # forgotten, not deleted
    node.service.load_partition(index)
    assert set(node.service.consumer.group("g").members) == {"a"}
    node.close()


def test_a_restart_skips_malformed_records_of_any_kind(tmp_path, caplog):
    node = Node(tmp_path)
    first = node.beat("a", 0)
    node.service.commit("g", {("t", 0): OFFSET})
    garbage = [
        (b"\x00", b""),  # a key too short for its version
        (b"\x00\x01\x00\x05ab", b""),  # an offset key cut short
        (b"\x00\x01\x00\x01g\x00\x01t\x00\x00\x00\x01", b"\x00\x03\x00"),  # an offset value cut short
        (b"\x00\x02\x00\x01h", b"\x00\x03\x00\x08\xff\xfe"),  # a classic group value that is not UTF-8
        (r.record_key(r.CURRENT_MEMBER_ASSIGNMENT, "g", "x"), b"\x00\x00\x01"),
    ]
    node.service.offsets.append_records("g", garbage)
    node.restart()
    assert node.beat("a", first.member_epoch).member_epoch == first.member_epoch
    assert node.service.committed("g") == {("t", 0): OFFSET}
    assert caplog.text.count("malformed") == len(garbage)
    node.close()


def test_an_upgraded_group_and_its_classic_members_survive_a_restart_and_a_downgrade_too(tmp_path):
    from tests.coordinator.consumer_group.test_migration import classic_join, stable_classic_group, sync

    node = Node(tmp_path)
    (a, b), _generation = stable_classic_group(node.service)
    joined = node.beat("new", 0)
    for member_id in (a, b):
        sync(node.service, member_id, classic_join(node.service, member_id).generation_id)
    before = node.service.consumer_group_now("g")
    classic_before = {m.member_id: m.classic for m in before.members.values()}
    node.restart()
    after = node.service.consumer_group_now("g")
    assert node.service.group("g") is None  # the classic group's record was replaced
    assert {m.member_id: m.classic for m in after.members.values()} == classic_before
    assert classic_before[a] is not None and classic_before["new"] is None
    assert node.beat("new", joined.member_epoch).error_code == 0  # carries on
    assert node.beat("new", -1).error_code == 0  # the last KIP-848 member leaves: a classic group again
    assert node.service.consumer_group_now("g") is None
    node.restart(monotonic=9_000.0)
    assert node.service.consumer_group_now("g") is None  # its KIP-848 records got tombstones
    assert set(node.service.group("g").members) == {a, b}
    node.close()
