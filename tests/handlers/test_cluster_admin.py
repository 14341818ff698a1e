"""DescribeCluster, DescribeTopicPartitions, OffsetForLeaderEpoch,
ElectLeaders, partition reassignments, UpdateFeatures and the features in
ApiVersions, driven in-process."""

import pytest

from kwire.handlers.base import CLUSTER_OPERATIONS, OPERATIONS_NOT_REQUESTED, TOPIC_OPERATIONS
from kwire.protocol.errors import ErrorCode
from tests.cluster_cores import ClusterCores
from tests.core_client import CoreClient, make_core
from tests.handlers import requests as rq

DESCRIBE_CLUSTER, DESCRIBE_TOPIC_PARTITIONS, OFFSET_FOR_LEADER_EPOCH = 60, 75, 23
ELECT_LEADERS, ALTER_REASSIGNMENTS, LIST_REASSIGNMENTS, UPDATE_FEATURES, API_VERSIONS = 43, 45, 46, 57, 18


def create(client, name, partitions=1):
    (topic,) = client.call(19, 7, rq.create(name, partitions)).topics
    assert topic.error_code == ErrorCode.none


def produce(client, topic, partition, count):
    response = client.call(0, 9, rq.produce(topic, partition, rq.batch(*[b"v"] * count)))
    assert response.responses[0].partition_responses[0].error_code == ErrorCode.none


# --- DescribeCluster ----------------------------------------------------------


@pytest.mark.parametrize("version", [0, 1, 2])
def test_describe_cluster_is_this_node(client, version):
    values = dict(include_cluster_authorized_operations=True, endpoint_type=1, include_fenced_brokers=False)
    response = client.call(DESCRIBE_CLUSTER, version, values)
    state = client.core.state
    assert response.error_code == ErrorCode.none
    assert response.cluster_id == state.cluster.cluster_id
    assert response.controller_id == state.config.node_id
    (broker,) = response.brokers
    assert (broker.broker_id, broker.host, broker.port, broker.rack) == (
        state.config.node_id,
        state.advertised_host,
        state.advertised_port,
        None,
    )
    assert response.cluster_authorized_operations == CLUSTER_OPERATIONS


def test_describe_cluster_operations_only_when_asked(client):
    response = client.call(DESCRIBE_CLUSTER, 1, dict(include_cluster_authorized_operations=False, endpoint_type=1))
    assert response.cluster_authorized_operations == OPERATIONS_NOT_REQUESTED
    assert response.endpoint_type == 1


def test_describe_cluster_has_no_controller_endpoints(client):
    response = client.call(DESCRIBE_CLUSTER, 1, dict(include_cluster_authorized_operations=False, endpoint_type=2))
    assert response.error_code == ErrorCode.unsupported_endpoint_type
    assert response.brokers == ()


# --- DescribeTopicPartitions --------------------------------------------------


def describe_topics(client, *names, limit=2000, cursor=None):
    values = dict(
        topics=[dict(name=n) for n in names],
        response_partition_limit=limit,
        cursor=None if cursor is None else dict(topic_name=cursor[0], partition_index=cursor[1]),
    )
    return client.call(DESCRIBE_TOPIC_PARTITIONS, 0, values)


def test_describe_topic_partitions_describes_named_topics_sorted(client):
    create(client, "b", 2)
    create(client, "a", 1)
    response = describe_topics(client, "b", "a", "nope", "bad name!")
    assert [(t.name, t.error_code) for t in response.topics] == [
        ("a", ErrorCode.none),
        ("b", ErrorCode.none),
        ("bad name!", ErrorCode.invalid_topic_exception),
        ("nope", ErrorCode.unknown_topic_or_partition),
    ]
    b = response.topics[1]
    assert b.topic_id == client.core.state.cluster.get("b").topic_id and b.is_internal is False
    assert b.topic_authorized_operations == TOPIC_OPERATIONS
    node = client.core.state.config.node_id
    for index, partition in enumerate(b.partitions):
        assert partition.partition_index == index
        assert (partition.leader_id, partition.leader_epoch) == (node, 0)
        assert partition.replica_nodes == partition.isr_nodes == (node,)
        assert partition.eligible_leader_replicas == partition.last_known_elr == ()
        assert partition.offline_replicas == ()
    # The zero topic id (kio reads it as None).
    assert response.topics[3].topic_id is None and response.topics[3].partitions == ()
    assert response.next_cursor is None


def test_describe_topic_partitions_with_no_names_is_every_topic(client):
    create(client, "y")
    create(client, "x")
    response = describe_topics(client)
    assert [t.name for t in response.topics] == ["x", "y"]


def test_describe_topic_partitions_pages_with_a_cursor(client):
    create(client, "a", 3)
    create(client, "b", 2)
    create(client, "c", 1)

    def page(cursor):
        response = describe_topics(client, limit=2, cursor=cursor)
        got = [(t.name, p.partition_index) for t in response.topics for p in t.partitions]
        following = response.next_cursor
        return got, None if following is None else (following.topic_name, following.partition_index)

    assert page(None) == ([("a", 0), ("a", 1)], ("a", 2))
    assert page(("a", 2)) == ([("a", 2), ("b", 0)], ("b", 1))
    assert page(("b", 1)) == ([("b", 1), ("c", 0)], None)
    # A page that ends exactly at a topic's end points at the next topic.
    response = describe_topics(client, "a", "b", limit=3)
    assert (response.next_cursor.topic_name, response.next_cursor.partition_index) == ("b", 0)


def test_describe_topic_partitions_cursor_must_be_in_the_list(client):
    create(client, "a")
    response = describe_topics(client, "a", cursor=("z", 0))
    assert [(t.name, t.error_code) for t in response.topics] == [("a", ErrorCode.invalid_request)]
    response = describe_topics(client, "a", cursor=("a", -1))
    assert response.topics[0].error_code == ErrorCode.invalid_request


# --- OffsetForLeaderEpoch -----------------------------------------------------


def epoch_request(topic, partition, leader_epoch, current=-1, version=4):
    parts = [dict(partition=partition, current_leader_epoch=current, leader_epoch=leader_epoch)]
    return dict(replica_id=-1, topics=[dict(topic=topic, partitions=parts)])


def end_of(client, topic, partition, leader_epoch, current=-1, version=4):
    response = client.call(OFFSET_FOR_LEADER_EPOCH, version, epoch_request(topic, partition, leader_epoch, current))
    (result,) = response.topics[0].partitions
    return result.error_code, result.leader_epoch, result.end_offset


@pytest.mark.parametrize("version", [2, 3, 4])
def test_offset_for_leader_epoch_answers_from_the_epoch_cache(client, version):
    create(client, "t")
    produce(client, "t", 0, 3)
    assert end_of(client, "t", 0, 0, version=version) == (ErrorCode.none, 0, 3)
    client.core.state.cluster.new_leader_epoch("t", 0)
    produce(client, "t", 0, 2)
    assert end_of(client, "t", 0, 0, version=version) == (ErrorCode.none, 0, 3)
    assert end_of(client, "t", 0, 1, current=1, version=version) == (ErrorCode.none, 1, 5)
    assert end_of(client, "t", 0, 2, version=version) == (ErrorCode.none, -1, -1)


def test_an_empty_partition_knows_its_epoch(client):
    create(client, "t")
    # The leader's epoch starts at the log end when it takes the partition.
    assert end_of(client, "t", 0, 0) == (ErrorCode.none, 0, 0)


def test_offset_for_leader_epoch_checks_the_current_epoch(client):
    create(client, "t")
    client.core.state.cluster.new_leader_epoch("t", 0)
    assert end_of(client, "t", 0, 0, current=0)[0] == ErrorCode.fenced_leader_epoch
    assert end_of(client, "t", 0, 0, current=2)[0] == ErrorCode.unknown_leader_epoch
    assert end_of(client, "t", 0, 0, current=1) == (ErrorCode.none, 0, 0)


def test_offset_for_leader_epoch_unknown_partitions(client):
    create(client, "t")
    assert end_of(client, "t", 5, 0) == (ErrorCode.unknown_topic_or_partition, -1, -1)
    assert end_of(client, "absent", 0, 0) == (ErrorCode.unknown_topic_or_partition, -1, -1)


def test_offset_for_leader_epoch_from_a_replica_id(client):
    create(client, "t")
    produce(client, "t", 0, 1)
    values = epoch_request("t", 0, 0)
    values["replica_id"] = 1
    (result,) = client.call(OFFSET_FOR_LEADER_EPOCH, 3, values).topics[0].partitions
    assert (result.error_code, result.end_offset) == (ErrorCode.none, 1)


def test_leader_epochs_survive_a_restart(tmp_path):
    core = make_core(tmp_path)
    client = CoreClient(core)
    create(client, "t")
    produce(client, "t", 0, 2)
    core.state.cluster.new_leader_epoch("t", 0)
    produce(client, "t", 0, 1)
    core.close()
    assert (tmp_path / "t-0" / "leader-epoch-checkpoint").read_text() == "0\n2\n0 0\n1 2\n"
    again = make_core(tmp_path)
    client = CoreClient(again)
    assert again.state.cluster.partition("t", 0).leader_epoch == 1  # never back to 0
    assert end_of(client, "t", 0, 0) == (ErrorCode.none, 0, 2)
    assert end_of(client, "t", 0, 1) == (ErrorCode.none, 1, 3)
    metadata = client.call(3, 12, rq.metadata("t"))
    assert metadata.topics[0].partitions[0].leader_epoch == 1
    again.close()


# --- ElectLeaders -------------------------------------------------------------


@pytest.mark.parametrize("version", [0, 1, 2])
def test_elect_leaders_is_never_needed(client, version):
    create(client, "t", 2)
    values = dict(
        election_type=0,
        topic_partitions=[dict(topic="t", partitions=[0, 1, 7]), dict(topic="absent", partitions=[0])],
        timeout=1000,
    )
    response = client.call(ELECT_LEADERS, version, values)
    results = {
        (r.topic, p.partition_id): p.error_code for r in response.replica_election_results for p in r.partition_result
    }
    assert results == {
        ("t", 0): ErrorCode.election_not_needed,
        ("t", 1): ErrorCode.election_not_needed,
        ("t", 7): ErrorCode.unknown_topic_or_partition,
        ("absent", 0): ErrorCode.unknown_topic_or_partition,
    }


def test_unclean_election_of_every_partition_lists_none(client):
    create(client, "t", 2)
    response = client.call(ELECT_LEADERS, 2, dict(election_type=1, topic_partitions=None, timeout=1000))
    assert response.error_code == ErrorCode.none
    assert {r.topic: r.partition_result for r in response.replica_election_results} == {"t": ()}


def test_an_unknown_election_type_is_invalid(client):
    response = client.call(ELECT_LEADERS, 2, dict(election_type=5, topic_partitions=None, timeout=1000))
    assert response.error_code == ErrorCode.invalid_request


# --- reassignments --------------------------------------------------------------


def reassign(client, topic, partition, replicas, version=1):
    values = dict(
        timeout=1000,
        allow_replication_factor_change=True,
        topics=[dict(name=topic, partitions=[dict(partition_index=partition, replicas=replicas)])],
    )
    response = client.call(ALTER_REASSIGNMENTS, version, values)
    assert response.error_code == ErrorCode.none
    return response.responses[0].partitions[0].error_code


@pytest.mark.parametrize("version", [0, 1])
def test_reassignments_on_one_node(client, version):
    create(client, "t")
    node = client.core.state.config.node_id
    assert reassign(client, "t", 0, [node], version) == ErrorCode.none
    assert reassign(client, "t", 0, [node + 1], version) == ErrorCode.invalid_replica_assignment
    assert reassign(client, "t", 0, [node, node + 1], version) == ErrorCode.invalid_replica_assignment
    assert reassign(client, "t", 0, [node, node], version) == ErrorCode.invalid_replica_assignment
    assert reassign(client, "t", 0, [], version) == ErrorCode.invalid_replica_assignment
    assert reassign(client, "t", 0, None, version) == ErrorCode.no_reassignment_in_progress
    assert reassign(client, "t", 3, [node], version) == ErrorCode.unknown_topic_or_partition
    assert reassign(client, "absent", 0, [node], version) == ErrorCode.unknown_topic_or_partition


def test_nothing_is_ever_reassigning(client):
    create(client, "t")
    for topics in (None, [dict(name="t", partition_indexes=[0]), dict(name="absent", partition_indexes=[0])]):
        response = client.call(LIST_REASSIGNMENTS, 0, dict(timeout=1000, topics=topics))
        assert (response.error_code, response.topics) == (ErrorCode.none, ())


# --- features -------------------------------------------------------------------


def test_api_versions_v3_reports_features(client):
    response = client.call(API_VERSIONS, 3, dict(client_software_name="kwire-test", client_software_version="1"))
    supported = {f.name: (f.min_version, f.max_version) for f in response.supported_features}
    finalized = {f.name: (f.min_version_level, f.max_version_level) for f in response.finalized_features}
    assert supported == {"metadata.version": (25, 25), "group.version": (1, 1), "transaction.version": (0, 0)}
    assert finalized == {"metadata.version": (25, 25), "group.version": (1, 1)}  # KIP-848 groups served
    assert response.finalized_features_epoch == 0


def update_features(client, version, *updates, validate_only=False):
    if version == 0:
        keys = [dict(feature=f, max_version_level=level, allow_downgrade=kind != 1) for f, level, kind in updates]
    else:
        keys = [dict(feature=f, max_version_level=level, upgrade_type=kind) for f, level, kind in updates]
    return client.call(UPDATE_FEATURES, version, dict(timeout=1000, feature_updates=keys, validate_only=validate_only))


@pytest.mark.parametrize("version", [0, 1, 2])
def test_update_features_to_the_current_levels_succeeds(client, version):
    response = update_features(client, version, ("metadata.version", 25, 1), ("group.version", 1, 1))
    assert response.error_code == ErrorCode.none
    if version < 2:
        assert {r.feature: r.error_code for r in response.results} == {
            "metadata.version": ErrorCode.none,
            "group.version": ErrorCode.none,
        }


@pytest.mark.parametrize("version", [0, 1, 2])
@pytest.mark.parametrize(
    "update",
    [
        ("metadata.version", 26, 1),  # newer than kwire knows
        ("metadata.version", 22, 2),  # a downgrade kwire cannot do
        ("metadata.version", 22, 1),  # a downgrade asked for as an upgrade
        ("group.version", 2, 1),  # newer than kwire knows (KIP-848 groups are level 1)
        ("no.such.feature", 1, 1),
        ("metadata.version", -1, 3),
    ],
)
def test_update_features_refuses_what_kwire_cannot_do(client, version, update):
    response = update_features(client, version, ("group.version", 1, 1), update)
    assert response.error_code == ErrorCode.invalid_update_version
    assert response.error_message
    if version < 2:
        assert response.results == ()


def test_update_features_validate_only(client):
    assert update_features(client, 1, ("metadata.version", 25, 1), validate_only=True).error_code == ErrorCode.none
    refused = update_features(client, 1, ("metadata.version", 24, 2), validate_only=True)
    assert refused.error_code == ErrorCode.invalid_update_version


def test_broker_rack_is_reported_and_other_known_brokers_listed():
    """broker.rack shows in DescribeCluster and Metadata; every live broker of
    the cluster is listed, and a topic is placed on them; requests for a
    partition another node leads are answered NOT_LEADER_OR_FOLLOWER naming
    that leader."""
    cores = ClusterCores(2, racks={1: "r1", 2: "r2"})
    core = cores.cores[1]
    try:
        client = CoreClient(core)
        values = dict(include_cluster_authorized_operations=False, endpoint_type=1, include_fenced_brokers=False)
        response = client.call(DESCRIBE_CLUSTER, 1, values)
        assert [(b.broker_id, b.rack) for b in response.brokers] == [(1, "r1"), (2, "r2")]
        (topic,) = client.call(19, 7, rq.create("two", 4, replication=2)).topics
        assert (topic.error_code, topic.replication_factor) == (ErrorCode.none, 2)
        metadata = client.call(3, 12, rq.metadata("two"))
        assert [(b.node_id, b.rack) for b in metadata.brokers] == [(1, "r1"), (2, "r2")]
        (entry,) = metadata.topics
        for partition in entry.partitions:
            assert sorted(partition.replica_nodes) == [1, 2]
            assert partition.leader_id == partition.replica_nodes[0]
            assert list(partition.isr_nodes) == list(partition.replica_nodes)
        assert sorted(p.leader_id for p in entry.partitions) == [1, 1, 2, 2]
        # Produce and Fetch only where this node leads; elsewhere NOT_LEADER_OR_FOLLOWER,
        # Produce v10+ naming the leader and its address (KIP-951).
        for partition in entry.partitions:
            index, leader = partition.partition_index, partition.leader_id
            for version in (9, 10, 11):
                answer = client.call(0, version, rq.produce("two", index, rq.batch(b"v"), acks=1))
                (result,) = answer.responses[0].partition_responses
                if leader == 1:
                    assert result.error_code == ErrorCode.none
                    continue
                assert result.error_code == ErrorCode.not_leader_or_follower
                if version >= 10:
                    assert result.current_leader.leader_id == 2
                    assert [(n.node_id, n.host, n.port, n.rack) for n in answer.node_endpoints] == [
                        (2, "127.0.0.1", 19093, "r2")
                    ]
            expected = ErrorCode.none if leader == 1 else ErrorCode.not_leader_or_follower
            # A consumer's fetch before v11 is served by the leader only; from v11
            # (KIP-392's client metadata) a follower serves it too, as Kafka's does.
            answer = client.call(1, 10, rq.fetch("two", index, 0))
            assert answer.responses[0].partitions[0].error_code == expected
            for version in (11, 12, 16):
                answer = client.call(1, version, rq.fetch("two", index, 0, topic_id=entry.topic_id))
                (fetched,) = answer.responses[0].partitions
                assert fetched.error_code == ErrorCode.none
            listed = client.call(
                2,
                7,
                dict(
                    replica_id=-1,
                    isolation_level=0,
                    topics=[
                        dict(
                            name="two", partitions=[dict(partition_index=index, current_leader_epoch=-1, timestamp=-1)]
                        )
                    ],
                ),
            )
            assert listed.topics[0].partitions[0].error_code == expected
            epochs = client.call(
                OFFSET_FOR_LEADER_EPOCH,
                4,
                dict(
                    replica_id=-1,
                    topics=[
                        dict(topic="two", partitions=[dict(partition=index, current_leader_epoch=-1, leader_epoch=0)])
                    ],
                ),
            )
            assert epochs.topics[0].partitions[0].error_code == expected
        # FindCoordinator: the leader of the group's __consumer_offsets partition.
        from kwire.coordinator.offsets import OFFSETS_TOPIC, partition_for

        (created,) = client.call(19, 7, rq.create(OFFSETS_TOPIC, 6, replication=2)).topics
        assert created.error_code == ErrorCode.none
        offsets_topic = core.state.cluster.get(OFFSETS_TOPIC)
        for group in ("g1", "g2", "g3", "g4", "g5", "g6"):
            leader = offsets_topic.replicas_of(partition_for(group, 6))[0]
            for version in (3, 4):
                values = dict(key=group, key_type=0, coordinator_keys=[group])
                answer = client.call(10, version, values)
                found = answer.coordinators[0] if version >= 4 else answer
                assert (found.error_code, found.node_id) == (ErrorCode.none, leader)
                assert found.port == (19093 if leader == 2 else core.state.advertised_port)
    finally:
        cores.close()
