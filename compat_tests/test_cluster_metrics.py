"""Each node of `kwire serve --brokers 3 --http-port 0` has its own /metrics
(read with Prometheus' parser): one active controller, the cluster's topic
and partition counts, messages in on the leaders, and after a node stops the
partitions it held show as under-replicated on their new leaders and a
partition it alone held as offline on the controller."""

from __future__ import annotations

import urllib.request

from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from prometheus_client.parser import text_string_to_metric_families

from compat_tests.broker import wait_for
from compat_tests.cluster_clients import create_topic

REPLICATED, SINGLE = "metrics-r3", "metrics-r1"
MESSAGES = 30


def _scrape(address: str) -> dict[str, float]:
    """Every unlabelled sample by name, and labelled ones summed under their name."""
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = sample.name if not sample.labels else f"{sample.name}{{{','.join(sorted(sample.labels))}}}"
            totals[key] = totals.get(key, 0.0) + sample.value
    return totals


def _across(cluster, name: str, nodes=(1, 2, 3)) -> float:
    return sum(_scrape(cluster.http_addresses[node]).get(name, 0.0) for node in nodes)


def test_each_node_reports_its_part_and_a_stopped_node_shows(start_cluster):
    cluster = start_cluster("--http-port", "0")
    assert sorted(cluster.http_addresses) == [1, 2, 3]
    create_topic("confluent-kafka", cluster.bootstrap, REPLICATED, partitions=3, replication_factor=3)
    admin = KafkaAdminClient(bootstrap_servers=cluster.bootstrap, request_timeout_ms=10_000)
    try:
        admin.create_topics([NewTopic(SINGLE, -1, -1, replica_assignments={0: [3]})])
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=cluster.bootstrap, acks="all")
    for i in range(MESSAGES):
        producer.send(REPLICATED, b"m%d" % i, partition=i % 3)
    producer.flush(15)
    producer.close()

    assert _across(cluster, "kafka_controller_kafkacontroller_activecontrollercount") == 1
    assert _across(cluster, "kafka_controller_kafkacontroller_globaltopiccount") == 2
    assert _across(cluster, "kafka_controller_kafkacontroller_globalpartitioncount") == 4
    # Each message counted once, by the leader it was produced to.
    assert _across(cluster, "kafka_server_brokertopicmetrics_messagesin_total") == MESSAGES
    wait_for(
        lambda: _across(cluster, "kafka_server_replicamanager_underreplicatedpartitions") == 0,
        "every replica in sync",
    )
    assert _across(cluster, "kafka_server_replicamanager_partitioncount") == 3 * 3 + 1

    cluster.stop_node(3)
    # Node 3's replicas left the ISRs: all three partitions of the replicated topic are
    # under-replicated on their leaders, and the one it alone held has no leader.
    wait_for(
        lambda: _across(cluster, "kafka_server_replicamanager_underreplicatedpartitions", (1, 2)) == 3,
        "three under-replicated partitions",
    )
    assert _across(cluster, "kafka_controller_kafkacontroller_offlinepartitionscount", (1, 2)) == 1
    assert _across(cluster, "kafka_controller_kafkacontroller_activecontrollercount", (1, 2)) == 1
