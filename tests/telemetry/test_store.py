"""What the store keeps per client: totals of deltas, latest gauges, bounds."""

import uuid

from kwire.cluster.client_metrics_configs import ClientMetricsConfigs
from kwire.protocol.record_codec import NONE
from kwire.telemetry.otlp import decode_push
from kwire.telemetry.store import ClientTelemetryStore
from kwire.telemetry.subscriptions import ClientMetadata
from tests.telemetry.otlp_samples import metrics_data

T0 = 1_700_000_000_000


def _store(metrics="org.apache.kafka.producer.", **limits):
    configs = ClientMetricsConfigs({}, lambda name, values: None)
    configs.alter("ci", {"metrics": metrics, "interval.ms": "100"}, validate_only=False)
    return ClientTelemetryStore(configs, **limits)


def _instance(store, client_id="ci-producer"):
    def metadata(instance_id):
        return ClientMetadata(instance_id, client_id, "librdkafka", "2.16.0", "127.0.0.1", 4000)

    return store.instances.get_subscriptions(None, metadata, T0)


def test_pushes_add_up_deltas_and_keep_the_latest_gauge():
    store = _store()
    instance = _instance(store)
    store.record_push(instance, decode_push(metrics_data(queue_time=10.0), NONE, 1 << 20), False, T0 + 1)
    store.record_push(instance, decode_push(metrics_data(queue_time=30.0, retries=2), NONE, 1 << 20), True, T0 + 2)
    (client,) = store.clients()
    assert (client.client_id, client.software_name, client.source_address) == ("ci-producer", "librdkafka", "127.0.0.1")
    assert (client.push_count, client.first_push_ms, client.last_push_ms, client.terminated) == (
        2,
        T0 + 1,
        T0 + 2,
        True,
    )
    assert client.subscriptions == ("ci",)
    assert client.resource == {"client_rack": "rack-a", "transactional_id": "tx-1"}
    values = {m.name: m for m in client.metrics()}
    assert values["org.apache.kafka.producer.record.queue.time.avg"].value == 30.0
    assert values["org.apache.kafka.producer.record.queue.time.avg"].labels == {"topic": "orders"}
    assert values["org.apache.kafka.producer.record.retry.total"].value == 5.0
    latency = values["org.apache.kafka.producer.node.request.latency"]
    assert (latency.count, latency.value) == (8, 80.0)
    # Not asked for: the consumer's metric is not kept.
    assert "org.apache.kafka.consumer.coordinator.rebalance.latency.avg" not in values


def test_an_empty_push_counts_and_star_keeps_everything():
    store = _store(metrics="*")
    instance = _instance(store)
    store.record_push(instance, None, False, T0)
    store.record_push(instance, decode_push(metrics_data(), NONE, 1 << 20), False, T0 + 1)
    (client,) = store.clients()
    assert client.push_count == 2
    assert "org.apache.kafka.consumer.coordinator.rebalance.latency.avg" in {m.name for m in client.metrics()}


def test_clients_and_series_are_bounded_and_idle_clients_forgotten():
    store = _store(metrics="*", max_clients=2, max_series=2, retain_ms=1000)
    instances = [_instance(store, f"c{i}") for i in range(3)]
    for index, instance in enumerate(instances):
        store.record_push(instance, decode_push(metrics_data(), NONE, 1 << 20), False, T0 + index)
    clients = store.clients()
    assert [c.client_id for c in clients] == ["c2", "c1"]  # most recent first; c0 went
    assert all(len(c.series) == 2 and c.dropped_series == 2 for c in clients)
    assert [c.client_id for c in store.clients(T0 + 1002)] == ["c2"]
    assert store.client(instances[2].instance_id) is clients[0]
    assert store.client(uuid.uuid4()) is None
