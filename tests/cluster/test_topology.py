"""The brokers a node knows (kwire/cluster/topology.py) and the replica
assignments recorded in the metadata log: groundwork for issue 13. A node
is still a one-broker cluster; these check that the seam answers as before
and that a topology of several brokers is placed and persisted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kwire.cluster.cluster import Cluster
from kwire.cluster.metadata_log import TopicRecord, replay_records
from kwire.cluster.topology import BrokerEndpoint, Topology
from kwire.config import BrokerConfig
from kwire.protocol.errors import ErrorCode, KafkaError


def test_a_lone_node_places_every_replica_on_itself(tmp_path: Path) -> None:
    cluster = Cluster(BrokerConfig(data_dir=tmp_path, node_id=5))
    try:
        topic = cluster.create_topic("t", 3)
        assert topic.replicas == ((5,), (5,), (5,))
        assert cluster.topics["t"].replicas == [[5], [5], [5]]
        with pytest.raises(KafkaError) as info:
            cluster.create_topic("u", 1, replication_factor=2)
        assert info.value.error_code == ErrorCode.invalid_replication_factor
        assert "only 1 broker(s) are registered" in str(info.value)
        cluster.add_partitions("t", 4)
        assert cluster.topics["t"].replicas == [[5], [5], [5], [5]]
    finally:
        cluster.close()


def test_replicas_persist_across_a_restart(tmp_path: Path) -> None:
    config = BrokerConfig(data_dir=tmp_path)
    cluster = Cluster(config)
    cluster.topology.register(BrokerEndpoint(1, "127.0.0.1", 9092))
    cluster.topology.register(BrokerEndpoint(2, "127.0.0.1", 9093))
    cluster.topology.register(BrokerEndpoint(3, "127.0.0.1", 9094))
    cluster.create_topic("t", 3, replication_factor=3)
    placed = cluster.topics["t"].replicas
    cluster.alter_topic_configs("t", {"retention.ms": "1000"})
    assert sorted(placed[0]) == [1, 2, 3]
    assert sorted(replicas[0] for replicas in placed) == [1, 2, 3]  # leaders spread
    cluster.close()
    again = Cluster(config)
    try:
        assert again.topics["t"].replicas == placed
        assert again.topics["t"].configs == {"retention.ms": "1000"}
    finally:
        again.close()


def test_a_record_without_replicas_reads_as_before() -> None:
    value = json.dumps({"topic_id": "00000000-0000-0000-0000-000000000001", "partitions": 2, "configs": {}})
    snapshot = replay_records([(b"topic:t", value.encode())])
    assert snapshot.topics["t"] == TopicRecord("t", snapshot.topics["t"].topic_id, 2, {})
    assert snapshot.topics["t"].replicas == ()


def test_topology_racks() -> None:
    topology = Topology(2, rack="r1")
    assert topology.racks() == {2: "r1"}
    topology.set_local_address("127.0.0.1", 1234)
    topology.register(BrokerEndpoint(1, "127.0.0.1", 1233, "r0"))
    assert [broker.node_id for broker in topology.sorted_brokers()] == [1, 2]
    assert topology.racks() == {1: "r0", 2: "r1"}
    assert topology.controller_id == 2
