"""Several nodes of one cluster, driven request by request (tests/cluster_cores.py):
replication, acks=all, elections, truncation and what Metadata and Fetch answer."""

import pytest

from kwire.protocol.errors import ErrorCode
from tests.cluster_cores import ClusterCores
from tests.core_client import CoreClient
from tests.handlers import requests as rq
from tests.wire import decode_response

RACK_AWARE = "org.apache.kafka.common.replica.RackAwareReplicaSelector"


@pytest.fixture
def cluster(tmp_path):
    cores = ClusterCores(3, tmp_path)
    yield cores
    cores.close()


def _create(cores: ClusterCores, name: str, partitions: int = 1, replication: int = 3, configs=None) -> None:
    (created,) = CoreClient(cores.cores[1]).call(19, 7, rq.create(name, partitions, replication, configs)).topics
    assert created.error_code == ErrorCode.none


def _state(cores: ClusterCores, name: str, index: int = 0):
    snapshot = cores.controller.snapshot
    return snapshot.partition_states[(snapshot.topics[name].topic_id, index)]


def _produce(cores: ClusterCores, node: int, name: str, *values: bytes, acks: int = 1, index: int = 0):
    answer = CoreClient(cores.cores[node]).call(0, 9, rq.produce(name, index, rq.batch(*values), acks=acks))
    return answer.responses[0].partition_responses[0]


def _decoded(outcome):
    payload = b"".join(bytes(part) for part in outcome)
    return decode_response(0, 9, payload[4:])[1]


def _offsets(cores: ClusterCores, name: str, index: int = 0) -> dict[int, tuple[int, int]]:
    """Each running node's (log end, high watermark) of the partition."""
    found = {}
    for node_id, core in cores.cores.items():
        partition = core.state.cluster.partition(name, index)
        if partition is not None and partition.replica is not None:
            found[node_id] = (partition.replica.log_end_offset, partition.replica.high_watermark)
    return found


def test_a_new_topic_is_placed_on_every_broker_and_replicated(cluster):
    _create(cluster, "t", partitions=3)
    leaders = {_state(cluster, "t", index).leader for index in range(3)}
    assert leaders == {1, 2, 3}  # spread as Kafka spreads them
    state = _state(cluster, "t", 0)
    assert sorted(state.isr) == [1, 2, 3] and state.leader_epoch == 0
    assert _produce(cluster, state.leader, "t", b"a", b"b").error_code == ErrorCode.none
    leader_log = cluster.cores[state.leader].state.cluster.partition("t", 0).log
    assert (leader_log.log_end_offset, leader_log.high_watermark) == (2, 0)  # acks=1: the followers have not copied
    cluster.replicate()
    assert _offsets(cluster, "t") == {1: (2, 2), 2: (2, 2), 3: (2, 2)}


def test_replication_factor_above_the_brokers_is_refused(cluster):
    (created,) = CoreClient(cluster.cores[2]).call(19, 7, rq.create("big", 1, 4)).topics
    assert created.error_code == ErrorCode.invalid_replication_factor


def test_acks_all_waits_for_the_isr_and_min_insync_refuses_when_it_is_too_small(cluster):
    _create(cluster, "t", configs={"min.insync.replicas": "2"})
    leader = _state(cluster, "t").leader
    client = CoreClient(cluster.cores[leader])
    delayed, finish = client.raw(0, 9, rq.produce("t", 0, rq.batch(b"x"), acks=-1))  # parked for the followers
    assert delayed.complete(False) is None
    cluster.replicate()
    answer = _decoded(finish(delayed.complete(False)))
    assert answer.responses[0].partition_responses[0].error_code == ErrorCode.none
    followers = [node for node in (1, 2, 3) if node != leader]
    for node in followers:
        cluster.stop(node)
    assert _state(cluster, "t").isr == (leader,)
    refused = _produce(cluster, leader, "t", b"y", acks=-1)
    assert refused.error_code == ErrorCode.not_enough_replicas
    assert _produce(cluster, leader, "t", b"z", acks=1).error_code == ErrorCode.none


def test_an_acks_all_append_times_out_when_the_isr_shrinks_under_min_insync_meanwhile(cluster):
    """Since Kafka 3.7 (KAFKA-15583) the high watermark does not move while
    the ISR is under min.insync.replicas, so such a produce is not
    acknowledged (REQUEST_TIMED_OUT) and consumers never see it."""
    _create(cluster, "t", configs={"min.insync.replicas": "2"})
    leader = _state(cluster, "t").leader
    delayed, _finish = CoreClient(cluster.cores[leader]).raw(0, 9, rq.produce("t", 0, rq.batch(b"x"), acks=-1))
    follower = next(node for node in (1, 2, 3) if node != leader)
    cluster.stop(follower)  # ISR 2 of 3: still enough, the last follower must copy
    cluster.replicate()
    assert delayed.complete(False) is not None
    delayed, finish = CoreClient(cluster.cores[leader]).raw(0, 9, rq.produce("t", 0, rq.batch(b"y"), acks=-1))
    other = next(node for node in (1, 2, 3) if node not in (leader, follower))
    cluster.stop(other)  # the ISR is now the leader alone, under min.insync.replicas
    answer = _decoded(finish(delayed.complete(True)))
    result = answer.responses[0].partition_responses[0]
    assert result.error_code == ErrorCode.request_timed_out
    assert _offsets(cluster, "t")[leader] == (2, 1)


def test_a_leader_stop_elects_an_in_sync_replica_with_a_new_epoch(cluster):
    _create(cluster, "t")
    before = _state(cluster, "t")
    _produce(cluster, before.leader, "t", b"a", b"b")
    cluster.replicate()
    cluster.stop(before.leader)
    after = _state(cluster, "t")
    assert after.leader in before.isr and after.leader != before.leader
    assert after.leader_epoch == before.leader_epoch + 1
    assert before.leader not in after.isr
    # Clients at a follower or the old epoch are told who leads now.
    other = next(node for node in cluster.cores if node != after.leader)
    answer = CoreClient(cluster.cores[other]).call(0, 10, rq.produce("t", 0, rq.batch(b"c"), acks=1))
    result = answer.responses[0].partition_responses[0]
    assert result.error_code == ErrorCode.not_leader_or_follower
    assert (result.current_leader.leader_id, result.current_leader.leader_epoch) == (after.leader, after.leader_epoch)
    metadata = CoreClient(cluster.cores[other]).call(3, 12, rq.metadata("t"))
    (partition,) = metadata.topics[0].partitions
    assert (partition.leader_id, partition.leader_epoch) == (after.leader, after.leader_epoch)
    assert before.leader in partition.offline_replicas
    assert sorted(b.node_id for b in metadata.brokers) == sorted(cluster.cores)


def test_a_restarted_replica_truncates_its_diverged_log_and_rejoins_the_isr(cluster):
    _create(cluster, "t")
    first = _state(cluster, "t").leader
    _produce(cluster, first, "t", b"a", b"b")
    cluster.replicate()
    # Written on the old leader only (acks=1), then it stops before anyone copies.
    _produce(cluster, first, "t", b"lost1", b"lost2", b"lost3")
    assert _offsets(cluster, "t")[first] == (5, 2)
    cluster.stop(first)
    second = _state(cluster, "t").leader
    _produce(cluster, second, "t", b"new")
    cluster.replicate()
    cluster.start(first)
    cluster.replicate()
    offsets = _offsets(cluster, "t")
    assert offsets == {1: (3, 3), 2: (3, 3), 3: (3, 3)}  # the unreplicated records are gone everywhere
    assert first in _state(cluster, "t").isr
    restarted = cluster.cores[first].state.cluster.partition("t", 0).log
    assert [entry.epoch for entry in restarted.leader_epochs.entries] == [0, 1]


def test_a_partition_without_live_replicas_is_offline_until_one_returns(cluster):
    _create(cluster, "solo", replication=1)
    leader = _state(cluster, "solo").leader
    _produce(cluster, leader, "solo", b"kept")
    cluster.stop(leader)
    assert _state(cluster, "solo").leader == -1
    other = next(iter(cluster.cores))
    (partition,) = CoreClient(cluster.cores[other]).call(3, 12, rq.metadata("solo")).topics[0].partitions
    assert (partition.error_code, partition.leader_id) == (ErrorCode.leader_not_available, -1)
    assert partition.offline_replicas == (leader,)
    cluster.start(leader)
    assert _state(cluster, "solo").leader == leader
    assert _offsets(cluster, "solo")[leader] == (1, 1)


def test_unclean_leader_election_lets_an_out_of_sync_replica_lead(tmp_path):
    cores = ClusterCores(2, tmp_path)
    try:
        _create(cores, "t", replication=2, configs={"unclean.leader.election.enable": "false"})
        leader = _state(cores, "t").leader
        follower = 3 - leader
        cores.stop(follower)  # leaves the ISR
        cores.stop(leader)  # the last in-sync replica: offline
        cores.start(follower)
        assert _state(cores, "t").leader == -1  # not in sync: may not lead
        client = CoreClient(cores.cores[follower])
        elect = dict(election_type=1, topic_partitions=[dict(topic="t", partitions=[0])], timeout_ms=1000)
        answer = client.call(43, 2, elect)
        assert answer.replica_election_results[0].partition_result[0].error_code == ErrorCode.none
        assert _state(cores, "t").leader == follower
    finally:
        cores.close()


def test_preferred_leader_election_moves_leadership_back(cluster):
    _create(cluster, "t")
    preferred = cluster.controller.snapshot.topics["t"].replicas[0][0]
    cluster.stop(preferred)
    cluster.start(preferred)
    cluster.replicate()
    assert _state(cluster, "t").leader != preferred
    elect = dict(election_type=0, topic_partitions=[dict(topic="t", partitions=[0])], timeout_ms=1000)
    answer = CoreClient(cluster.cores[1]).call(43, 2, elect)
    assert answer.replica_election_results[0].partition_result[0].error_code == ErrorCode.none
    assert _state(cluster, "t").leader == preferred
    again = CoreClient(cluster.cores[1]).call(43, 2, elect)
    assert again.replica_election_results[0].partition_result[0].error_code == ErrorCode.election_not_needed


def test_fetch_from_a_node_without_a_replica_names_the_leader(cluster):
    _create(cluster, "solo", replication=1)
    leader = _state(cluster, "solo").leader
    other = next(node for node in cluster.cores if node != leader)
    topic_id = cluster.controller.snapshot.topics["solo"].topic_id
    answer = CoreClient(cluster.cores[other]).call(1, 16, rq.fetch("solo", 0, 0, topic_id=topic_id))
    (fetched,) = answer.responses[0].partitions
    assert fetched.error_code == ErrorCode.not_leader_or_follower
    assert fetched.current_leader.leader_id == leader
    assert [n.node_id for n in answer.node_endpoints] == [leader]


def test_a_consumer_in_a_followers_rack_is_sent_to_that_follower(tmp_path):
    cores = ClusterCores(3, tmp_path, racks={1: "a", 2: "b", 3: "c"}, replica_selector_class=RACK_AWARE)
    try:
        _create(cores, "t")
        state = _state(cores, "t")
        _produce(cores, state.leader, "t", b"x")
        cores.replicate()
        follower = next(node for node in (1, 2, 3) if node != state.leader)
        request = rq.fetch("t", 0, 0)
        request["rack_id"] = {1: "a", 2: "b", 3: "c"}[follower]
        (fetched,) = CoreClient(cores.cores[state.leader]).call(1, 11, request).responses[0].partitions
        assert (fetched.error_code, fetched.preferred_read_replica) == (ErrorCode.none, follower)
        assert not fetched.records
        (served,) = CoreClient(cores.cores[follower]).call(1, 11, request).responses[0].partitions
        assert served.error_code == ErrorCode.none and served.records
    finally:
        cores.close()


def test_the_cluster_restarts_with_its_leaders_and_epochs(tmp_path):
    cores = ClusterCores(3, tmp_path)
    _create(cores, "t", partitions=2)
    _produce(cores, _state(cores, "t").leader, "t", b"a")
    cores.replicate()
    first = _state(cores, "t").leader
    cores.stop(first)
    before = {index: _state(cores, "t", index) for index in range(2)}
    cores.close()
    again = ClusterCores(3, tmp_path)
    try:
        # A whole-cluster restart elects nobody: the leaders, epochs and ISRs are the stored ones.
        assert {index: _state(again, "t", index) for index in range(2)} == before
        again.replicate()
        assert all(offsets == (1, 1) for offsets in _offsets(again, "t", 0).values())
    finally:
        again.close()


def test_manual_replica_assignments_are_placed_as_given_and_checked(cluster):
    client = CoreClient(cluster.cores[2])
    layout = [dict(partition_index=0, broker_ids=[3, 1]), dict(partition_index=1, broker_ids=[2, 3])]
    request = rq.create("manual", -1, -1, assignments=layout)
    (created,) = client.call(19, 7, request).topics
    assert (created.error_code, created.replication_factor) == (ErrorCode.none, 2)
    assert cluster.controller.snapshot.topics["manual"].replicas == ((3, 1), (2, 3))
    assert [_state(cluster, "manual", index).leader for index in (0, 1)] == [3, 2]
    grown = dict(name="manual", count=3, assignments=[dict(broker_ids=[1, 2])])
    answer = client.call(37, 3, dict(topics=[grown], timeout=1000, validate_only=False))
    assert answer.results[0].error_code == ErrorCode.none
    assert cluster.controller.snapshot.topics["manual"].replicas[2] == (1, 2)
    unknown = rq.create("unknown", -1, -1, assignments=[dict(partition_index=0, broker_ids=[1, 7])])
    (refused,) = client.call(19, 7, unknown).topics
    assert refused.error_code == ErrorCode.invalid_replica_assignment
    assert (
        refused.error_message == "The manual partition assignment includes broker 7, but no such broker is registered."
    )
    uneven = dict(name="manual", count=4, assignments=[dict(broker_ids=[1])])
    answer = client.call(37, 3, dict(topics=[uneven], timeout=1000, validate_only=False))
    assert answer.results[0].error_code == ErrorCode.invalid_replica_assignment


def test_delete_records_is_for_the_leader_and_followers_follow_the_log_start(cluster):
    _create(cluster, "t")
    leader = _state(cluster, "t").leader
    _produce(cluster, leader, "t", b"a", b"b", b"c")
    cluster.replicate()
    wanted = dict(topics=[dict(name="t", partitions=[dict(partition_index=0, offset=2)])], timeout=1000)
    follower = next(node for node in cluster.cores if node != leader)
    refused = CoreClient(cluster.cores[follower]).call(21, 2, wanted)
    assert refused.topics[0].partitions[0].error_code == ErrorCode.not_leader_or_follower
    done = CoreClient(cluster.cores[leader]).call(21, 2, wanted)
    assert (done.topics[0].partitions[0].error_code, done.topics[0].partitions[0].low_watermark) == (ErrorCode.none, 2)
    cluster.replicate()
    for core in cluster.cores.values():
        assert core.state.cluster.partition("t", 0).log.log_start_offset == 2


def test_an_offset_commit_is_answered_once_its_isr_has_it(cluster):
    _create(cluster, "t")
    coordinator = cluster.cores[1].state
    topic, index = coordinator.groups.offsets_partition("g")
    owner = _state(cluster, topic, index).leader
    commit = rq.offset_commit("g", "t", 0, 7)
    delayed, finish = CoreClient(cluster.cores[owner]).raw(8, 8, commit)  # parked: the followers have not copied it
    assert delayed.complete(False) is None
    cluster.replicate()
    payload = b"".join(bytes(part) for part in finish(delayed.complete(False)))
    (answer,) = decode_response(8, 8, payload[4:])[1].topics
    assert answer.partitions[0].error_code == ErrorCode.none
    # The coordinator's node stops: the new one has the commit.
    cluster.stop(owner)
    successor = cluster.cores[_state(cluster, topic, index).leader].state
    assert successor.groups.committed("g")[("t", 0)].offset == 7


def test_a_topic_deleted_and_created_again_is_replicated_afresh(cluster):
    _create(cluster, "t")
    leader = _state(cluster, "t").leader
    _produce(cluster, leader, "t", b"old1", b"old2")
    cluster.replicate()
    (deleted,) = (
        CoreClient(cluster.cores[1]).call(20, 6, dict(topics=[dict(name="t", topic_id=None)], timeout=1000)).responses
    )
    assert deleted.error_code == ErrorCode.none
    assert all(("t", 0) not in core.state.replicas.leaders for core in cluster.cores.values())
    _create(cluster, "t")
    leader = _state(cluster, "t").leader
    _produce(cluster, leader, "t", b"new")
    cluster.replicate()
    assert _offsets(cluster, "t") == {1: (1, 1), 2: (1, 1), 3: (1, 1)}
