"""Real clients against `kwire.Cluster`, the in-process multi-broker cluster:
a node stopped under a producer and started again, and the pytest plugin's
`kafka_cluster` fixture in a suite of its own."""

from __future__ import annotations

import pytest

import kwire
from compat_tests.clients import Outgoing, consume, produce, watermarks
from compat_tests.plugin_suite import run_with_the_plugin

pytestmark = pytest.mark.timeout(120)
N_MESSAGES = 60


def messages(tag: str) -> list[Outgoing]:
    return [Outgoing(key=b"k%d" % (i % 4), value=f"{tag}-{i}".encode()) for i in range(N_MESSAGES)]


@pytest.mark.parametrize(
    ("producer", "consumer"), [("confluent-kafka", "kafka-python"), ("kafka-python", "confluent-kafka")]
)
def test_a_node_stopped_and_started_under_real_clients(tmp_path, topic_name, producer, consumer):
    with kwire.Cluster(
        brokers=3, data_dir=tmp_path / "cluster", num_partitions=2, default_replication_factor=3
    ) as cluster:
        servers = cluster.bootstrap_servers
        assert len(servers.split(",")) == 3
        first = messages("before")
        assert len(produce(producer, servers, topic_name, first)) == N_MESSAGES
        leader = cluster.leader(topic_name, 0)
        cluster.stop(leader)
        status = cluster.status()
        assert [node["running"] for node in status["nodes"]] == [node != leader for node in (1, 2, 3)]
        moved = cluster.leader(topic_name, 0)
        assert moved not in (leader, -1)
        # The clients bootstrap from the nodes still running; the stopped one is offline in every ISR.
        running = ",".join(cluster.address(node) for node in (1, 2, 3) if node != leader)
        second = messages("during")
        assert len(produce(producer, running, topic_name, second)) == N_MESSAGES
        cluster.start(leader)
        got = consume(consumer, cluster.bootstrap_servers, topic_name, [0, 1], 2 * N_MESSAGES)
        assert sorted(m.value for m in got) == sorted(m.value for m in first + second)
        assert sum(watermarks(consumer, cluster.bootstrap_servers, topic_name, p)[1] for p in (0, 1)) == 2 * N_MESSAGES


def test_the_kafka_cluster_fixture_survives_a_leader_stop(pytester):
    pytester.makepyfile(
        """
        from confluent_kafka import Producer

        def test_failover(kafka_cluster):
            servers = kafka_cluster.bootstrap_servers
            producer = Producer({"bootstrap.servers": servers, "acks": "all", "enable.idempotence": True})
            for n in range(20):
                producer.produce("fixture-topic", b"v%d" % n)
            assert producer.flush(30) == 0
            leader = kafka_cluster.leader("fixture-topic", 0)
            kafka_cluster.stop(leader)
            for n in range(20, 40):
                producer.produce("fixture-topic", b"v%d" % n)
            assert producer.flush(30) == 0
            assert kafka_cluster.leader("fixture-topic", 0) not in (leader, -1)
            kafka_cluster.start(leader)
            entry = [p for p in kafka_cluster.status()["partitions"] if p["topic"] == "fixture-topic"][0]
            assert sorted(entry["replicas"]) == [1, 2, 3]
        """
    )
    run_with_the_plugin(pytester).assert_outcomes(passed=1)
