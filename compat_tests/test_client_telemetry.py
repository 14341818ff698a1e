"""Client telemetry (KIP-714) with real clients: librdkafka pushes its own
metrics once a CLIENT_METRICS subscription matches it (without one the
telemetry APIs are not advertised and it neither asks nor pushes), subscriptions are set through `kwire configs` and kafka-python's admin
client, and a raw GetTelemetrySubscriptions/PushTelemetry exchange follows
Kafka's rules.

The store itself is looked at in a node embedded in the test process (the
pushes still come over TCP from librdkafka); against a kwire subprocess the
first push of each client shows in the broker's log."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
import uuid

import pytest
from confluent_kafka import Consumer, Producer
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient

from compat_tests import raw
from compat_tests.broker import KwireProcess, wait_for
from compat_tests.clients import Outgoing, consume, produce
from compat_tests.group_consumers import REPO_ROOT
from kwire.broker import Broker
from kwire.protocol.record_codec import ZSTD, compress
from tests.telemetry.otlp_samples import metrics_data

GET, PUSH = 71, 72
PRODUCER_METRIC = "org.apache.kafka.producer.record.queue.time.avg"
CONSUMER_METRIC = "org.apache.kafka.consumer.coordinator.rebalance.latency.avg"
WAIT_S = 20
# One worker runs them all: they share the module's broker.
pytestmark = pytest.mark.xdist_group("client-telemetry")


@pytest.fixture(scope="module")
def telemetry_kwire(tmp_path_factory):
    """One kwire subprocess for the tests that only need their own subscriptions."""
    directory = tmp_path_factory.mktemp("telemetry")
    broker = KwireProcess(directory / "data", directory / "kwire.log").start()
    yield broker
    broker.kill()


def kwire(broker, *args: str, status: int = 0) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "kwire", *args, "--bootstrap-server", broker.bootstrap],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == status, result.stderr
    return result.stdout if status == 0 else result.stderr


def _subscribe_with_kafka_python(bootstrap: str, name: str, configs: dict[str, str]) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        resource = ConfigResource(ConfigResourceType.CLIENT_METRICS, name, configs=configs)
        # raise_on_unknown=False: a new subscription describes as empty (as in Kafka), so nothing is "known" yet.
        assert admin.alter_configs([resource], raise_on_unknown=False) == {"client_metrics": {name: "OK"}}
        assert admin.list_config_resources(["CLIENT_METRICS"]) == {"client_metrics": [name]}
    finally:
        admin.close()


def _clients(broker: Broker) -> dict[str, set[str]]:
    """Client id -> the metric names the broker keeps for it."""
    return broker.call_in_loop(
        lambda: {c.client_id: {m.name for m in c.metrics()} for c in broker.state.telemetry.clients()}
    )


def test_librdkafka_pushes_its_metrics_only_when_a_subscription_asks(topic_name):
    with Broker(http_port=0) as broker:
        bootstrap = broker.bootstrap_servers
        # No subscription: the telemetry APIs are not advertised (as Kafka without a metrics
        # receiver), so librdkafka neither asks nor pushes, and works as ever.
        sent = [Outgoing(key=None, value=b"m%d" % i) for i in range(20)]
        assert len(produce("confluent-kafka", bootstrap, topic_name, sent)) == 20
        assert len(consume("confluent-kafka", bootstrap, topic_name, [0], 20)) == 20
        assert broker.call_in_loop(lambda: len(broker.state.telemetry.instances)) == 0
        assert _clients(broker) == {}

        _subscribe_with_kafka_python(
            bootstrap,
            "ci",
            {"metrics": "org.apache.kafka.producer.,org.apache.kafka.consumer.", "interval.ms": "100"},
        )
        producer = Producer({"bootstrap.servers": bootstrap, "client.id": "ci-producer", "linger.ms": 5})
        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "client.id": "ci-consumer",
                "group.id": f"{topic_name}-group",
                "auto.offset.reset": "earliest",
            }
        )
        try:
            consumer.subscribe([topic_name])
            deadline = time.monotonic() + WAIT_S
            seen: dict[str, set[str]] = {}
            while time.monotonic() < deadline:
                producer.produce(topic_name, b"more")
                producer.poll(0)
                consumer.poll(0.1)
                seen = _clients(broker)
                if PRODUCER_METRIC in seen.get("ci-producer", ()) and CONSUMER_METRIC in seen.get("ci-consumer", ()):
                    break
            assert PRODUCER_METRIC in seen.get("ci-producer", set()), seen
            assert CONSUMER_METRIC in seen.get("ci-consumer", set()), seen
            # Only what the subscription asked for.
            assert all(name.startswith("org.apache.kafka.producer.") for name in seen["ci-producer"])
            producer.flush(10)
        finally:
            consumer.close()

        # What the clients pushed, on the node's own /metrics and console page, over HTTP.
        metrics = _http_get(broker.http_url + "metrics")
        producer_line = next(
            line
            for line in metrics.splitlines()
            if line.startswith("kafka_client_org_apache_kafka_producer_record_queue_time_avg{")
            and 'client_id="ci-producer"' in line
        )
        assert 'client_software_name="confluent-kafka-python"' in producer_line
        page = _http_get(broker.http_url + "clients")
        assert "ci-producer" in page and "ci-consumer" in page and "producer queue time avg" in page


def _http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.read().decode()


def test_kwire_configs_sets_describes_lists_and_deletes_subscriptions(telemetry_kwire):
    broker = telemetry_kwire
    done = kwire(
        broker,
        "configs",
        "alter",
        "--entity-type",
        "client-metrics",
        "--entity-name",
        "cli-sub",
        "--add-config",
        "metrics=[org.apache.kafka.producer.,org.apache.kafka.consumer.],interval.ms=1000",
    )
    assert done == "Completed updating config for client-metric cli-sub.\n"
    described = kwire(broker, "configs", "describe", "--entity-type", "client-metrics", "--entity-name", "cli-sub")
    rows = [line.split() for line in described.splitlines()]
    assert rows == [
        ["NAME", "VALUE", "SOURCE", "READ-ONLY"],
        ["interval.ms", "1000", "CLIENT_METRICS_CONFIG", "false"],
        ["metrics", "org.apache.kafka.producer.,org.apache.kafka.consumer.", "CLIENT_METRICS_CONFIG", "false"],
    ]
    listed = kwire(broker, "configs", "describe", "--entity-type", "client-metrics")
    assert (
        "Dynamic configs for client-metric cli-sub are "
        "interval.ms=1000,metrics=org.apache.kafka.producer.,org.apache.kafka.consumer." in listed.splitlines()
    )
    refused = kwire(
        broker,
        "configs",
        "alter",
        "--entity-type",
        "client-metrics",
        "--entity-name",
        "cli-sub",
        "--add-config",
        "interval.ms=10",
        status=1,
    )
    assert "INVALID_REQUEST" in refused and "interval must be between 100 and 3600000" in refused
    # kafka-python's admin client sees the same subscription.
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=10_000)
    try:
        found = admin.describe_configs([ConfigResource(ConfigResourceType.CLIENT_METRICS, "cli-sub")])
        assert found["client_metrics"]["cli-sub"]["interval.ms"]["value"] == "1000"
    finally:
        admin.close()
    kwire(
        broker,
        "configs",
        "alter",
        "--entity-type",
        "client-metrics",
        "--entity-name",
        "cli-sub",
        "--delete-config",
        "metrics,interval.ms",
    )
    assert "cli-sub" not in kwire(broker, "configs", "describe", "--entity-type", "client-metrics")


def _alter_raw(sock, name: str, configs: dict[str, str]) -> None:
    entries = [dict(name=key, config_operation=0, value=value) for key, value in configs.items()]
    request = dict(resources=[dict(resource_type=16, resource_name=name, configs=entries)], validate_only=False)
    assert raw.call(sock, 44, 1, request).responses[0].error_code == 0


def test_a_raw_exchange_follows_kafkas_rules(telemetry_kwire):
    sock = raw.connect(telemetry_kwire.bootstrap)
    _alter_raw(sock, "raw-sub", {"metrics": "org.apache.kafka.producer.", "match": "client_id=raw-client"})
    sock.sendall(raw.request_frame(18, 3, dict(client_software_name="raw", client_software_version="1.0")))
    raw.read_frame(sock)
    told = _get(sock, None)
    assert told.error_code == 0 and told.client_instance_id not in (None, uuid.UUID(int=0))
    assert told.requested_metrics == ("org.apache.kafka.producer.",)
    assert told.accepted_compression_types == (4, 3, 1, 2)
    assert _push(sock, told, compress(ZSTD, metrics_data()), ZSTD) == 0
    assert _push(sock, told, b"") == 89  # THROTTLING_QUOTA_EXCEEDED: within the push interval
    _alter_raw(sock, "raw-sub", {"metrics": "org.apache.kafka.", "match": "client_id=raw-client"})
    assert _push(sock, told, b"") == 117  # UNKNOWN_SUBSCRIPTION_ID: the subscription changed
    again = _get(sock, told.client_instance_id)
    assert again.error_code == 0 and again.requested_metrics == ("org.apache.kafka.",)
    assert _push(sock, again, b"\x00\x01garbage") == 87  # INVALID_RECORD
    wait_for(
        lambda: "client id raw-client, raw 1.0" in telemetry_kwire.log_path.read_text(errors="replace"),
        "the first push's log line",
    )


def _get(sock, instance_id):
    return _call(sock, GET, dict(client_instance_id=instance_id))


def _push(sock, told, metrics: bytes, compression: int = 0) -> int:
    values = dict(
        client_instance_id=told.client_instance_id,
        subscription_id=told.subscription_id,
        terminating=False,
        compression_type=compression,
        metrics=metrics,
    )
    return int(_call(sock, PUSH, values).error_code)


def _call(sock, api_key: int, values: dict):
    from kwire.admin.wire_client import decode_response

    sock.sendall(raw.request_frame(api_key, 0, values, 7, client_id="raw-client"))
    _correlation, response = decode_response(api_key, 0, raw.read_frame(sock))
    return response


def test_librdkafka_pushes_to_a_kwire_subprocess(telemetry_kwire, topic_name):
    kwire(
        telemetry_kwire,
        "configs",
        "alter",
        "--entity-type",
        "client-metrics",
        "--entity-name",
        "rdk-sub",
        "--add-config",
        "metrics=*,interval.ms=100,match=[client_id=rdk-telemetry-.*]",
    )
    producer = Producer({"bootstrap.servers": telemetry_kwire.bootstrap, "client.id": "rdk-telemetry-producer"})

    def pushed() -> bool:
        producer.produce(topic_name, b"x")
        producer.poll(0.05)
        log = telemetry_kwire.log_path.read_text(errors="replace")
        return "client id rdk-telemetry-producer, confluent-kafka-python" in log

    try:
        wait_for(pushed, "librdkafka's first push", timeout_s=WAIT_S)
    finally:
        producer.flush(10)
