"""The collector's families, as Prometheus' text format shows them."""

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kwire.protocol.record_codec import NONE
from kwire.telemetry.otlp import decode_push
from kwire.telemetry.prometheus import TelemetryCollector, label_name, metric_name
from tests.telemetry.otlp_samples import metrics_data
from tests.telemetry.test_store import T0, _instance, _store


def test_names_and_labels_are_prometheus_safe():
    assert metric_name("org.apache.kafka.producer.record-queue.time") == (
        "kafka_client_org_apache_kafka_producer_record_queue_time"
    )
    assert label_name("node.id") == "node_id"
    assert label_name("client_id") == "attr_client_id"  # never hides the client's identity
    assert label_name("9lives") == "attr_9lives"
    assert label_name("__reserved") == "attr_reserved"


def _samples(text):
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_a_scrape_shows_each_client_metric_with_the_client_identity():
    store = _store(metrics="*")
    instance = _instance(store)
    store.record_push(instance, decode_push(metrics_data(retries=3), NONE, 1 << 20), False, T0)
    registry = CollectorRegistry()
    registry.register(TelemetryCollector(store, now_ms=lambda: T0))
    samples = _samples(generate_latest(registry).decode())
    identity = {
        "client_instance_id": str(instance.instance_id),
        "client_id": "ci-producer",
        "client_software_name": "librdkafka",
        "client_software_version": "2.16.0",
        "client_source_address": "127.0.0.1",
    }

    def value(name, **labels):
        return samples[(name, tuple(sorted({**identity, **labels}.items())))]

    assert value("kafka_client_telemetry_pushes") == 1.0
    assert value("kafka_client_org_apache_kafka_producer_record_queue_time_avg", topic="orders") == 12.5
    assert value("kafka_client_org_apache_kafka_producer_record_retry_total") == 3.0
    assert value("kafka_client_org_apache_kafka_producer_node_request_latency_count") == 4.0
    assert value("kafka_client_org_apache_kafka_producer_node_request_latency_sum") == 40.0


def test_an_empty_store_gives_empty_families():
    registry = CollectorRegistry()
    registry.register(TelemetryCollector(_store()))
    text = generate_latest(registry).decode()
    assert "kafka_client_telemetry_pushes gauge" in text
    assert "kafka_client_org" not in text


def test_one_collector_reads_the_stores_of_every_node():
    stores = [_store(metrics="*"), _store(metrics="*")]
    for index, store in enumerate(stores):
        store.record_push(
            _instance(store, f"node{index}-client"), decode_push(metrics_data(), NONE, 1 << 20), False, T0
        )
    registry = CollectorRegistry()
    registry.register(TelemetryCollector(lambda: stores))
    text = generate_latest(registry).decode()
    assert text.count("# TYPE kafka_client_telemetry_pushes gauge") == 1
    samples = _samples(text)
    clients = {dict(labels)["client_id"] for name, labels in samples if name == "kafka_client_telemetry_pushes"}
    assert clients == {"node0-client", "node1-client"}
