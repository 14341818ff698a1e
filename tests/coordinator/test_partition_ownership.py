"""Coordinators that serve only the internal partitions their node leads:
NOT_COORDINATOR elsewhere, loading a partition another coordinator wrote,
unloading it, and finishing a prepared transaction on loading."""

from kwire.clock import ManualClock
from kwire.cluster.cluster import Cluster
from kwire.config import BrokerConfig
from kwire.coordinator.group import GroupState, JoinResult
from kwire.coordinator.group_coordinator import JoinRequest, SyncRequest
from kwire.coordinator.group_metadata import StoredGroup, StoredMember, group_value, parse_group_value
from kwire.coordinator.groups_service import GroupsService, group_wait_key
from kwire.coordinator.offsets import CommittedOffset, partition_for
from kwire.coordinator.transaction_log import TxnState
from kwire.coordinator.transactions_service import TransactionsService
from kwire.protocol.errors import ErrorCode as E
from kwire.protocol.record_codec import Record, build_batch
from kwire.protocol.records import parse_header
from tests.cluster_cores import ClusterCores

PARTITIONS = 2


def key_in(partition: int, prefix: str) -> str:
    """A group or transactional id that Kafka places in `partition` (of 2)."""
    return next(f"{prefix}{i}" for i in range(100) if partition_for(f"{prefix}{i}", PARTITIONS) == partition)


G0, G1 = key_in(0, "g"), key_in(1, "g")
T0, T1 = key_in(0, "tx"), key_in(1, "tx")
OFFSET = CommittedOffset(5, 2, "m", 0)


def make_cluster() -> Cluster:
    config = BrokerConfig(
        port=0,
        data_dir=None,
        group_initial_rebalance_delay_ms=0,
        offsets_topic_num_partitions=PARTITIONS,
        transaction_state_log_num_partitions=PARTITIONS,
    )
    cluster = Cluster(config)
    cluster.create_topic("t", 2)
    return cluster


def groups_service(cluster: Cluster, clock: ManualClock, owned: set[int] | None = None) -> GroupsService:
    return GroupsService(cluster.config, cluster, lambda key: None, clock, owned=owned)


def join_request(group: str, member_id: str = "") -> JoinRequest:
    return JoinRequest(group, member_id, None, "c", "/h", 10_000, 30_000, "consumer", [("range", b"sub")], False)


def stable_group(service: GroupsService, group: str) -> str:
    """A one-member group at generation 1 with its assignment; the member id."""
    member = service.join(join_request(group))
    assert not isinstance(member, JoinResult)
    service.sync(SyncRequest(group, 1, member.member_id, None, None, None, {member.member_id: b"mine"}))
    return member.member_id


# --- groups ------------------------------------------------------------------------


def test_a_group_of_a_partition_owned_elsewhere_is_not_coordinated_here():
    service = groups_service(make_cluster(), ManualClock(monotonic=100.0), owned={0})
    assert service.coordinator_error(G0) == E.none
    assert service.coordinator_error(G1) == E.not_coordinator
    assert groups_service(make_cluster(), ManualClock()).coordinator_error(G1) == E.none  # a lone node owns all


def test_a_loaded_partition_brings_the_offsets_and_the_generation_another_coordinator_wrote():
    cluster = make_cluster()
    first = groups_service(cluster, ManualClock(monotonic=100.0))
    member_id = stable_group(first, G1)
    first.commit(G1, {("t", 0): OFFSET})
    first.commit(G0, {("t", 1): OFFSET})

    clock = ManualClock(monotonic=500.0)  # long after the member's last heartbeat on `first`
    second = groups_service(cluster, clock, owned={0})  # the same logs: a replica of them
    assert second.committed(G1) == {} and second.coordinator_error(G1) == E.not_coordinator
    second.load_partition(1)
    assert second.coordinator_error(G1) == E.none
    assert second.committed(G1) == {("t", 0): OFFSET}
    group = second.group(G1)
    assert (group.state, group.generation_id, group.leader_id, group.protocol_name) == (
        GroupState.STABLE,
        1,
        member_id,
        "range",
    )
    member = group.members[member_id]
    assert (member.assignment, member.protocols, member.last_heartbeat) == (b"mine", [("range", b"sub")], 500.0)
    # The session starts afresh with the new coordinator, and the member carries on.
    clock.advance(9)
    assert second.heartbeat(G1, 1, member_id, None) == E.none
    assert second.commit_check(G1, 1, member_id, None) == E.none
    assert sorted(g.group_id for g in second.listed_groups()) == sorted([G0, G1])  # G0: loaded at start
    assert second.committed(G0) == {("t", 1): OFFSET}


def test_an_unloaded_partition_is_forgotten_and_its_parked_joins_answered():
    cluster = make_cluster()
    woken: list[object] = []
    service = GroupsService(cluster.config, cluster, woken.append, ManualClock(monotonic=100.0))
    stable_group(service, G1)
    service.commit(G1, {("t", 0): OFFSET})
    parked = service.join(join_request(G1))  # a newcomer waits for the member to rejoin
    assert not isinstance(parked, JoinResult) and parked.join_result is None

    service.unload_partition(1)
    assert parked.join_result == JoinResult(E.not_coordinator)
    assert group_wait_key(G1) in woken
    assert service.coordinator_error(G1) == E.not_coordinator
    assert service.coordinator_error(G0) == E.none
    assert service.group(G1) is None and service.committed(G1) == {}
    assert service.listed_groups() == []

    service.load_partition(1)  # and back: the log still has it all
    assert service.committed(G1) == {("t", 0): OFFSET}
    assert service.group(G1).generation_id == 1


def test_a_forgotten_empty_group_stays_forgotten_after_a_load():
    cluster = make_cluster()
    service = groups_service(cluster, ManualClock(monotonic=100.0))
    member_id = stable_group(service, G0)
    service.leave(G0, [(member_id, None)])
    service.tick()  # empty, no offsets: forgotten, with a tombstone
    assert service.group(G0) is None
    assert groups_service(cluster, ManualClock(monotonic=100.0)).group(G0) is None


def test_group_metadata_values_round_trip():
    stored = StoredGroup(
        "consumer",
        7,
        "range",
        "m-1",
        1234,
        (StoredMember("m-1", "i-1", "c", "/h", 30_000, 10_000, b"sub", b"asg"),),
    )
    assert parse_group_value(group_value(stored)) == stored
    empty = StoredGroup("consumer", 8, None, None, 1234, ())
    assert parse_group_value(group_value(empty)) == empty


# --- transactions --------------------------------------------------------------------


class Markers:
    """An injected marker writer: what was asked, answering `error`."""

    def __init__(self, error: E = E.none) -> None:
        self.error = error
        self.written: list[tuple[str, int, int, int, int, bool]] = []

    def __call__(self, topic, partition, producer_id, producer_epoch, coordinator_epoch, commit):
        self.written.append((topic, partition, producer_id, producer_epoch, coordinator_epoch, commit))
        return self.error


def transactions_service(cluster: Cluster, owned=None, markers=None, clock=None) -> TransactionsService:
    clock = clock or ManualClock(monotonic=100.0, wall_ms=1_000_000)
    ids = iter(range(1000, 2000))
    return TransactionsService(
        cluster.config,
        cluster,
        groups_service(cluster, clock, owned),
        lambda: next(ids),
        lambda key: None,
        clock,
        owned=owned,
        write_marker=markers,
    )


def test_an_id_of_a_partition_owned_elsewhere_is_not_coordinated_here():
    service = transactions_service(make_cluster(), owned={0})
    assert service.coordinator_error(T1) == E.not_coordinator
    assert service.init_producer_id(T1, 10_000, -1, -1) == (E.not_coordinator, -1, -1)
    assert service.init_producer_id(T1, 0, -1, -1)[0] == E.invalid_transaction_timeout  # arguments first
    assert service.add_partitions(T1, 1, 0, [("t", 0)]) == E.not_coordinator
    assert service.end_transaction(T1, 1, 0, True) == E.not_coordinator
    assert service.init_producer_id(T0, 10_000, -1, -1)[0] == E.none


def test_a_prepared_commit_is_completed_by_the_coordinator_that_loads_it():
    cluster = make_cluster()
    failing = Markers(E.not_leader_or_follower)  # the old coordinator cannot reach the leaders
    first = transactions_service(cluster, markers=failing)
    _error, pid, epoch = first.init_producer_id(T1, 60_000, -1, -1)
    assert first.add_partitions(T1, pid, epoch, [("t", 0), ("t", 1)]) == E.none
    assert first.end_transaction(T1, pid, epoch, True) == E.none  # decided, markers still due
    assert first.transaction(T1).state == TxnState.PREPARE_COMMIT
    first.unload_partition(1)  # leadership moves away
    assert first.transaction(T1) is None and first.coordinator_error(T1) == E.not_coordinator

    markers = Markers()
    second = transactions_service(cluster, owned={0}, markers=markers)
    assert markers.written == []
    second.load_partition(1)
    assert sorted(markers.written) == [("t", 0, pid, epoch, 0, True), ("t", 1, pid, epoch, 0, True)]
    assert second.transaction(T1).state == TxnState.COMPLETE_COMMIT
    # The Complete record is on the log: a third coordinator has nothing left to do.
    third_markers = Markers()
    third = transactions_service(cluster, owned={1}, markers=third_markers)
    assert third.transaction(T1).state == TxnState.COMPLETE_COMMIT and third_markers.written == []


def test_an_ongoing_transaction_loaded_keeps_its_timeout():
    cluster = make_cluster()
    first = transactions_service(cluster)
    _error, pid, epoch = first.init_producer_id(T0, 10_000, -1, -1)
    first.add_partitions(T0, pid, epoch, [("t", 0)])

    clock = ManualClock(monotonic=100.0, wall_ms=1_000_000 + 11_000)  # past the transaction's timeout
    markers = Markers()
    second = transactions_service(cluster, owned=set(), markers=markers, clock=clock)
    second.load_partition(0)
    meta = second.transaction(T0)
    assert meta.state == TxnState.ONGOING and meta.start_ms == 1_000_000
    clock.advance(60)  # the expiry check's interval
    second.tick()
    assert second.transaction(T0).state == TxnState.COMPLETE_ABORT
    assert markers.written == [("t", 0, pid, epoch + 1, 0, False)]  # aborted under a bumped epoch


# --- how a node of a cluster drives them ------------------------------------------------


def _leader_of(cores: ClusterCores, topic: str, key: str) -> int:
    cluster = cores.cores[1].state.cluster
    return cluster.partition(topic, partition_for(key, 2)).leader


def test_a_node_of_a_cluster_coordinates_the_internal_partitions_it_leads(tmp_path):
    cores = ClusterCores(2, tmp_path, offsets_topic_num_partitions=2, transaction_state_log_num_partitions=2)
    try:
        first = cores.cores[1].state
        first.cluster.internal_topic("__consumer_offsets")
        first.cluster.internal_topic("__transaction_state")
        for topic, keys, service in (
            ("__consumer_offsets", (G0, G1), "groups"),
            ("__transaction_state", (T0, T1), "transactions"),
        ):
            for key in keys:
                leader = _leader_of(cores, topic, key)
                assert getattr(cores.cores[leader].state, service).coordinator_error(key) == E.none
                assert getattr(cores.cores[3 - leader].state, service).coordinator_error(key) == E.not_coordinator
        # The marker goes to the data partition's leader, whichever node coordinates.
        first.cluster.create_topic("t", 2, replication_factor=1)
        coordinator = cores.cores[_leader_of(cores, "__transaction_state", T0)].state
        _error, pid, epoch = coordinator.transactions.init_producer_id(T0, 10_000, -1, -1)
        assert coordinator.transactions.add_partitions(T0, pid, epoch, [("t", 0), ("t", 1)]) == E.none
        assert coordinator.transactions.end_transaction(T0, pid, epoch, True) == E.none
        for index in (0, 1):
            leader = first.cluster.partition("t", index).leader
            assert cores.cores[leader].state.cluster.partition("t", index).log.log_end_offset == 1
        # The coordinator's node stops: the other replica of its partition leads and knows the id.
        cores.replicate()
        stopped = coordinator.config.node_id
        cores.stop(stopped)
        successor = cores.cores[3 - stopped].state
        assert successor.transactions.coordinator_error(T0) == E.none
        assert successor.transactions.transaction(T0) is not None
    finally:
        cores.close()


def test_the_produce_path_asks_the_transactions_coordinator_node(tmp_path):
    cores = ClusterCores(2, tmp_path, transaction_state_log_num_partitions=2)
    try:
        first = cores.cores[1].state
        first.cluster.internal_topic("__transaction_state")
        coordinator = cores.cores[_leader_of(cores, "__transaction_state", T0)].state
        other = cores.cores[3 - coordinator.config.node_id].state
        other.cluster.create_topic("t", 1, replication_factor=2)
        _error, pid, epoch = coordinator.transactions.init_producer_id(T0, 10_000, -1, -1)
        batch = build_batch(
            [Record(0, 0, None, b"v", ())], producer_id=pid, producer_epoch=epoch, is_transactional=True
        )
        # Not yet in the transaction: the coordinator (the other node) says so.
        assert other.transactions.verify_first_write(T0, parse_header(batch), ("t", 0)) != E.none
        assert coordinator.transactions.add_partitions(T0, pid, epoch, [("t", 0)]) == E.none
        assert other.transactions.verify_first_write(T0, parse_header(batch), ("t", 0)) == E.none
    finally:
        cores.close()
