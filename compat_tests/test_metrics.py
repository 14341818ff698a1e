"""GET /metrics after a known workload from real clients, read with
Prometheus' own text parser; /healthz, /readyz and the Dockerfile's
HEALTHCHECK against the same broker (one for the module)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from compat_tests.broker import KwireProcess, wait_for
from compat_tests.clients import Outgoing, create_topic, produce

CLIENTS = ["kafka-python", "confluent-kafka"]
N_MESSAGES = 250
ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.xdist_group("metrics")  # one worker: one broker for the module


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    directory = tmp_path_factory.mktemp("metrics")
    broker = KwireProcess(None, directory / "kwire.log", ["--http-port", "0"]).start()
    assert broker.http_port is not None
    yield broker
    broker.kill()


def get(broker: KwireProcess, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{broker.http_port}{path}", timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def scrape(broker: KwireProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample: (name, sorted labels) -> value."""
    status, text = get(broker, "/metrics")
    assert status == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def produce_requests(samples) -> float:
    return sum(
        v
        for (name, labels), v in samples.items()
        if name.endswith("requests_total") and ("request", "Produce") in labels
    )


def test_health_and_readiness(broker):
    assert get(broker, "/healthz") == (200, "ok\n")
    assert get(broker, "/readyz") == (200, "ready\n")


def test_the_dockerfiles_healthcheck_passes_against_a_ready_broker_and_fails_without_one(broker):
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    healthcheck = next(line for line in text.splitlines() if line.startswith("HEALTHCHECK"))
    command = json.loads(healthcheck.split(" CMD ", 1)[1])  # the exec form: a JSON array
    assert command[0] == "python"
    check = [sys.executable, *command[1:]]
    env = {**os.environ, "KWIRE_HTTP_PORT": str(broker.http_port)}
    assert subprocess.run(check, env=env, capture_output=True, timeout=20).returncode == 0
    env["KWIRE_HTTP_PORT"] = str(broker.port)  # a Kafka listener: no HTTP answer there
    assert subprocess.run(check, env=env, capture_output=True, timeout=20).returncode != 0


@pytest.mark.parametrize("client", CLIENTS)
def test_n_messages_produced_are_n_messages_in(broker, client):
    topic = f"metered-{client}"
    before = scrape(broker)
    messages = [Outgoing(key=None, value=b"v%d" % i, headers=()) for i in range(N_MESSAGES)]
    assert len(produce(client, broker.bootstrap, topic, messages)) == N_MESSAGES
    after = scrape(broker)
    assert value(after, "kafka_server_brokertopicmetrics_messagesin_total", topic=topic) == N_MESSAGES
    assert value(after, "kafka_server_brokertopicmetrics_bytesin_total", topic=topic) > N_MESSAGES * 2
    all_topics = "kafka_server_brokertopicmetrics_messagesin_total"
    assert value(after, all_topics) - value(before, all_topics) == N_MESSAGES
    assert produce_requests(after) - produce_requests(before) >= 1
    assert value(after, "kafka_log_log_logendoffset", topic=topic, partition="0") == N_MESSAGES


@pytest.mark.parametrize("client", CLIENTS)
def test_a_group_that_committed_x_of_n_lags_n_minus_x(broker, client):
    topic, group = f"lagging-{client}", f"group-{client}"
    create_topic(client, broker.bootstrap, topic, partitions=2)
    counts = {0: 30, 1: 12}
    messages = [Outgoing(key=None, value=b"v", headers=(), partition=p) for p, n in counts.items() for _ in range(n)]
    produce(client, broker.bootstrap, topic, messages)
    committed = {0: 10, 1: 12}
    commit(client, broker.bootstrap, group, topic, committed)
    samples = scrape(broker)
    for partition, n in counts.items():
        labels = dict(topic=topic, partition=str(partition))
        expected = n - committed[partition]
        assert value(samples, "kafka_consumergroup_lag", consumergroup=group, **labels) == expected
        assert value(samples, "kwire_consumer_group_lag", group=group, **labels) == expected
        assert (
            value(samples, "kafka_consumergroup_current_offset", consumergroup=group, **labels) == committed[partition]
        )
    assert value(samples, "kafka_consumergroup_lag_sum", consumergroup=group, topic=topic) == 20


def commit(client: str, bootstrap: str, group: str, topic: str, offsets: dict[int, int]) -> None:
    """Commit offsets for a group without joining it (a consumer by assignment)."""
    if client == "kafka-python":
        from kafka import KafkaConsumer, TopicPartition
        from kafka.structs import OffsetAndMetadata

        consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
        try:
            consumer.assign([TopicPartition(topic, p) for p in offsets])
            consumer.commit({TopicPartition(topic, p): OffsetAndMetadata(o, "", -1) for p, o in offsets.items()})
        finally:
            consumer.close(autocommit=False)
    else:
        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
        try:
            consumer.assign([TopicPartition(topic, p, 0) for p in offsets])
            consumer.commit(offsets=[TopicPartition(topic, p, o) for p, o in offsets.items()], asynchronous=False)
        finally:
            consumer.close()


@pytest.mark.parametrize("client", CLIENTS)
def test_a_produce_refused_as_too_large_counts_under_its_error(broker, client):
    topic = f"small-{client}"
    create_topic(client, broker.bootstrap, topic, configs={"max.message.bytes": "1000"})
    failed = "kafka_server_brokertopicmetrics_failedproducerequests_total"
    before = scrape(broker)
    with pytest.raises(Exception, match="(?i)too.?large"):
        big = [Outgoing(key=None, value=b"x" * 5000, headers=())]
        if client == "kafka-python":
            produce(client, broker.bootstrap, topic, big, retries=0)
        else:
            produce(client, broker.bootstrap, topic, big, **{"message.send.max.retries": 0})
    after = scrape(broker)
    assert value(after, failed, topic=topic) >= 1
    assert value(after, failed, error="MESSAGE_TOO_LARGE") - value(before, failed, error="MESSAGE_TOO_LARGE") >= 1
    errors = "kafka_network_requestmetrics_errors_total"
    assert value(after, errors, request="Produce", error="MESSAGE_TOO_LARGE") >= 1
    assert value(after, "kafka_server_brokertopicmetrics_messagesin_total", topic=topic) == 0


@pytest.mark.parametrize("client", CLIENTS)
def test_connections_per_listener_while_a_client_is_connected(broker, client):
    count = "kafka_server_socket_server_metrics_connection_count"
    created = "kafka_server_socket_server_metrics_connection_creation_total"
    before = scrape(broker)
    if client == "kafka-python":
        from kafka import KafkaConsumer

        consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap)
        consumer.topics()  # connected
        close = consumer.close
    else:
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": broker.bootstrap})
        producer.list_topics(timeout=10)
        close = producer.flush

    def counted():
        samples = scrape(broker)
        return samples if value(samples, count, listener="PLAINTEXT") >= 1 else None

    try:
        # librdkafka swaps its bootstrap connection for one to the broker it learned of: poll.
        during = wait_for(counted, "a connection counted", 10)
        assert value(during, created, listener="PLAINTEXT") > value(before, created, listener="PLAINTEXT")
    finally:
        close()
    if client == "kafka-python":  # its close is synchronous: the count drops
        connected = value(during, count, listener="PLAINTEXT")
        wait_for(lambda: value(scrape(broker), count, listener="PLAINTEXT") < connected, "a connection closed", 10)
