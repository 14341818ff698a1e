"""Client quotas through real clients: AlterClientQuotas and
DescribeClientQuotas with kafka-python's protocol classes (neither
kafka-python's nor confluent-kafka's admin client has quota methods in the
installed versions), quotas surviving a restart, confluent-kafka
(librdkafka) producers and consumers throttled by producer_byte_rate and
consumer_byte_rate (librdkafka's throttle_cb reports the broker's
throttle_time_ms) and a kafka-python producer throttled the same way (its
throttle-time metric reports it); the rate achieved stays bounded.

Timings are never asserted tightly: throttling must be reported and the
achieved rate must stay below three times the quota."""

from __future__ import annotations

import time

from compat_tests.clients import Outgoing, create_topic, produce

TIMEOUT_S = 20
EXACT, DEFAULT, SPECIFIED = 0, 1, 2
# Two 1-second windows: a client may burst the quota for one second before
# the rate is measured (Kafka's default 11 windows allow ten).
QUOTA_WINDOWS = ("-o", "quota.window.num=2")
RUN_S = 3.0


# --- kafka-python: the protocol classes through the admin client's connection ------


class QuotaAdmin:
    def __init__(self, bootstrap: str) -> None:
        from kafka.admin import KafkaAdminClient

        self.admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)

    def send(self, request):
        return self.admin._manager.run(self.admin._manager.send, request)

    def alter(self, *entries, validate_only=False):
        """entries: ({type: name}, {key: value or None to remove}); the response's entries."""
        from kafka.protocol.admin.client_quotas import AlterClientQuotasRequest

        entry = AlterClientQuotasRequest.EntryData
        request = AlterClientQuotasRequest(
            entries=[
                entry(
                    entity=[entry.EntityData(entity_type=t, entity_name=n) for t, n in components.items()],
                    ops=[
                        entry.OpData(key=k, value=0.0 if v is None else float(v), remove=v is None)
                        for k, v in ops.items()
                    ],
                )
                for components, ops in entries
            ],
            validate_only=validate_only,
        )
        return self.send(request).entries

    def describe(self, *components, strict=False):
        from kafka.protocol.admin.client_quotas import DescribeClientQuotasRequest

        component = DescribeClientQuotasRequest.ComponentData
        request = DescribeClientQuotasRequest(
            components=[component(entity_type=t, match_type=m, match=n) for t, m, n in components], strict=strict
        )
        return self.send(request)

    def described(self, *components, strict=False):
        response = self.describe(*components, strict=strict)
        assert response.error_code == 0, response.error_message
        return {
            tuple(sorted((e.entity_type, e.entity_name) for e in entry.entity)): {v.key: v.value for v in entry.values}
            for entry in response.entries
        }

    def close(self) -> None:
        self.admin.close()


def test_kafka_python_alters_and_describes_quotas_that_survive_a_restart(start_kwire):
    broker = start_kwire()
    admin = QuotaAdmin(broker.bootstrap)
    try:
        results = admin.alter(
            ({"client-id": "app"}, {"producer_byte_rate": 1024, "consumer_byte_rate": 2048}),
            ({"client-id": None}, {"request_percentage": 25.5}),
            ({"user": None, "client-id": "app"}, {"controller_mutation_rate": 4}),
            ({"ip": "127.0.0.1"}, {"connection_creation_rate": 30}),
            ({"ip": None, "user": None}, {"connection_creation_rate": 30}),
            ({"client-id": "bad"}, {"no_such_quota": 1}),
        )
        assert [(r.error_code, r.error_message) for r in results] == [
            (0, None),
            (0, None),
            (0, None),
            (0, None),
            (
                42,
                "Invalid quota entity combination, IP entity shouldnot be combined with User or ClientId",
            ),
            (42, "Invalid configuration key no_such_quota"),
        ]
        (checked,) = admin.alter(({"client-id": "other"}, {"producer_byte_rate": 5}), validate_only=True)
        assert checked.error_code == 0
        expected = {
            (("client-id", "app"),): {"producer_byte_rate": 1024.0, "consumer_byte_rate": 2048.0},
            (("client-id", None),): {"request_percentage": 25.5},
            (("client-id", "app"), ("user", None)): {"controller_mutation_rate": 4.0},
            (("ip", "127.0.0.1"),): {"connection_creation_rate": 30.0},
        }
        assert admin.described() == expected
        assert set(admin.described(("client-id", EXACT, "app"))) == {
            (("client-id", "app"),),
            (("client-id", "app"), ("user", None)),
        }
        assert set(admin.described(("client-id", EXACT, "app"), strict=True)) == {(("client-id", "app"),)}
        assert set(admin.described(("client-id", DEFAULT, None))) == {(("client-id", None),)}
        assert set(admin.described(("user", SPECIFIED, None))) == {(("client-id", "app"), ("user", None))}
        refused = admin.describe(("topic", SPECIFIED, None))
        assert (refused.error_code, refused.error_message) == (35, "Unsupported entity type topic")
        (removed,) = admin.alter(({"client-id": "app"}, {"consumer_byte_rate": None}))
        assert removed.error_code == 0
        del expected[(("client-id", "app"),)]["consumer_byte_rate"]
    finally:
        admin.close()
    broker.restart()
    admin = QuotaAdmin(broker.bootstrap)
    try:
        assert admin.described() == expected
    finally:
        admin.close()
    log = broker.log_path.read_text()
    assert "changed client quotas of ClientQuotaEntity(entries={client-id=app})" in log
    assert "refused: Invalid configuration key no_such_quota" in log


# --- confluent-kafka: throttled producers and consumers -------------------------


def _set_quota(bootstrap: str, client_id: str, key: str, value: float) -> None:
    admin = QuotaAdmin(bootstrap)
    try:
        (result,) = admin.alter(({"client-id": client_id}, {key: value}))
        assert result.error_code == 0, result.error_message
    finally:
        admin.close()


def test_confluent_producer_over_producer_byte_rate_is_throttled(start_kwire, topic_name):
    from confluent_kafka import Producer

    broker = start_kwire(*QUOTA_WINDOWS, memory=True)
    quota = 50_000
    _set_quota(broker.bootstrap, "quota-producer", "producer_byte_rate", quota)
    create_topic("confluent-kafka", broker.bootstrap, topic_name)
    throttles: list[int] = []
    delivered = [0]

    def on_delivery(err, message):
        if err is None:
            delivered[0] += len(message.value())

    producer = Producer(
        {
            "bootstrap.servers": broker.bootstrap,
            "client.id": "quota-producer",
            "batch.size": 10_000,
            "linger.ms": 5,
            "acks": 1,
            "throttle_cb": lambda event: throttles.append(event.throttle_time),
        }
    )
    value = b"p" * 1000
    started = time.monotonic()
    while time.monotonic() - started < RUN_S:
        try:
            producer.produce(topic_name, value, on_delivery=on_delivery)
        except BufferError:
            producer.poll(0.05)
        producer.poll(0)
    elapsed = time.monotonic() - started
    producer.poll(0.5)
    elapsed_with_last = time.monotonic() - started
    producer.purge()
    producer.flush(5)
    assert any(t > 0 for t in throttles), throttles
    assert delivered[0] > 0
    # Without the quota this client sends tens of MB in these seconds.
    assert delivered[0] / elapsed < 3 * quota, (delivered[0], elapsed, elapsed_with_last)


def test_confluent_consumer_over_consumer_byte_rate_is_throttled(start_kwire, topic_name):
    from confluent_kafka import Consumer

    broker = start_kwire(*QUOTA_WINDOWS, memory=True)
    quota = 50_000
    create_topic("confluent-kafka", broker.bootstrap, topic_name)
    # 1 MB to read, far more than the quota lets through in the test, in
    # batches smaller than one answer may hold (quota x (windows - 1) x 1 s):
    # as in Kafka, a larger first batch would be throttled every time.
    produce(
        "confluent-kafka", broker.bootstrap, topic_name, [Outgoing(None, b"c" * 1000)] * 1000, **{"batch.size": 10_000}
    )
    _set_quota(broker.bootstrap, "quota-consumer", "consumer_byte_rate", quota)
    throttles: list[int] = []
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "client.id": "quota-consumer",
            "group.id": f"{topic_name}-group",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "throttle_cb": lambda event: throttles.append(event.throttle_time),
        }
    )
    try:
        consumer.subscribe([topic_name])
        received = 0
        first = None
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            message = consumer.poll(0.1)
            if message is None or message.error() is not None:
                if first is not None and time.monotonic() - first >= RUN_S:
                    break
                continue
            if first is None:
                first = time.monotonic()  # the group is joined: the rate starts counting
            received += len(message.value())
            if time.monotonic() - first >= RUN_S:
                break
        assert first is not None, "nothing consumed"
        elapsed = time.monotonic() - first
        assert any(t > 0 for t in throttles), throttles
        assert received < 1000 * 1000
        # The first answer may hold up to one window span of the quota
        # (quota x (windows - 1) x 1 s) before the rate is measured at all.
        assert received / (elapsed + 1) < 3 * quota, (received, elapsed)
    finally:
        consumer.close()


def test_kafka_python_producer_over_producer_byte_rate_is_throttled(start_kwire, topic_name):
    from kafka import KafkaProducer

    broker = start_kwire(*QUOTA_WINDOWS, memory=True)
    quota = 50_000
    _set_quota(broker.bootstrap, "kp-quota-producer", "producer_byte_rate", quota)
    create_topic("kafka-python", broker.bootstrap, topic_name)
    value = b"k" * 1000
    counts = {"delivered": 0, "pending": 0}

    def acknowledged(_result) -> None:
        counts["pending"] -= 1
        counts["delivered"] += len(value)

    def failed(_error) -> None:
        counts["pending"] -= 1

    producer = KafkaProducer(
        bootstrap_servers=broker.bootstrap,
        client_id="kp-quota-producer",
        batch_size=10_000,
        linger_ms=5,
        acks=1,
        request_timeout_ms=10_000,
    )
    try:
        started = time.monotonic()
        while time.monotonic() - started < RUN_S:
            if counts["pending"] >= 50:  # kafka-python's buffer has no bound of its own
                time.sleep(0.005)
                continue
            counts["pending"] += 1
            producer.send(topic_name, value).add_callback(acknowledged).add_errback(failed)
        elapsed = time.monotonic() - started
        delivered = counts["delivered"]
        throttle_max = max(
            metric
            for group in producer.metrics().values()
            for name, metric in group.items()
            if name in ("produce-throttle-time-max", "throttle-time-max")
        )
        producer.flush(TIMEOUT_S)
    finally:
        producer.close(timeout=TIMEOUT_S)
    assert throttle_max > 0
    assert delivered > 0
    assert delivered / elapsed < 3 * quota, (delivered, elapsed)
