"""Idempotent producers: with produce responses dropped by the broker
(`--drop-produce-responses`), clients retry and every message is stored
once; without idempotence the same faults make duplicates (so the check
can fail). Producer state survives a broker restart."""

from __future__ import annotations

import pytest

from compat_tests.clients import Outgoing, Reader, create_topic, produce
from compat_tests.group_consumers import wait_for

COUNT = 600
IDEMPOTENT = {
    "confluent-kafka": {"enable.idempotence": True, "linger.ms": 2, "batch.num.messages": 50},
    "kafka-python": {"enable_idempotence": True, "linger_ms": 2, "batch_size": 2000},
    "aiokafka": {"enable_idempotence": True, "max_batch_size": 2000},
}


def outgoing(count: int, first: int = 0) -> list[Outgoing]:
    return [Outgoing(b"k%d" % i, b"message-%06d" % i, partition=i % 2) for i in range(first, first + count)]


def stored_values(bootstrap: str, topic: str, expected: int, partitions=(0, 1)) -> list[bytes]:
    """Everything stored: at least the expected count, and all there is up to the end of the log."""
    with Reader("confluent-kafka", bootstrap).assign(topic, partitions) as reader:
        got = reader.poll_to_end(expected)
    return [m.value for m in got]


@pytest.mark.parametrize("client", sorted(IDEMPOTENT))
def test_retried_batches_are_stored_once(start_kwire, topic_name, client):
    broker = start_kwire("--drop-produce-responses", "3", memory=True)
    create_topic("confluent-kafka", broker.bootstrap, topic_name, 2)
    sent = outgoing(COUNT)
    produce(client, broker.bootstrap, topic_name, sent, **IDEMPOTENT[client])
    values = stored_values(broker.bootstrap, topic_name, COUNT)
    assert sorted(values) == sorted(m.value for m in sent)  # each exactly once
    for partition in (0, 1):  # and in order within a partition
        mine = [v for v in values if int(v[-6:]) % 2 == partition]
        assert mine == sorted(mine)


def test_without_idempotence_the_same_faults_duplicate(start_kwire, topic_name):
    broker = start_kwire("--drop-produce-responses", "3", memory=True)
    create_topic("confluent-kafka", broker.bootstrap, topic_name, 2)
    sent = outgoing(COUNT)
    produce(
        "confluent-kafka",
        broker.bootstrap,
        topic_name,
        sent,
        **{"enable.idempotence": False, "linger.ms": 2, "batch.num.messages": 50},
    )
    values = stored_values(broker.bootstrap, topic_name, COUNT)
    assert len(values) > COUNT and set(values) == {m.value for m in sent}


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_a_batch_written_just_before_a_crash_is_not_stored_twice(start_kwire, topic_name, client):
    """The broker writes a batch and dies before answering; restarted, it
    rebuilds producer state from the log, and the client's retry of that
    batch is recognised as a duplicate."""
    broker = start_kwire("--exit-after-produce", "4")
    create_topic("confluent-kafka", broker.bootstrap, topic_name, 2)  # not a produce request
    sent = outgoing(300)
    if client == "confluent-kafka":
        from confluent_kafka import Producer

        producer = Producer(
            {
                "bootstrap.servers": broker.bootstrap,
                "enable.idempotence": True,
                "linger.ms": 5,
                "batch.num.messages": 20,
                "reconnect.backoff.ms": 50,
            }
        )
        for m in sent:
            producer.produce(topic_name, key=m.key, value=m.value, partition=m.partition)
        producer.poll(0.5)
        wait_for(lambda: broker.process.poll() is not None, "the broker to exit")
        broker.extra_args = []  # back without the fault
        broker.start()
        assert producer.flush(30) == 0
    else:
        from kafka import KafkaProducer

        producer = KafkaProducer(
            bootstrap_servers=broker.bootstrap,
            enable_idempotence=True,
            linger_ms=5,
            batch_size=600,
            reconnect_backoff_ms=50,
        )
        futures = [producer.send(topic_name, key=m.key, value=m.value, partition=m.partition) for m in sent]
        wait_for(lambda: broker.process.poll() is not None, "the broker to exit")
        broker.extra_args = []  # back without the fault
        broker.start()
        producer.flush(30)
        assert all(f.get(10) for f in futures)
        producer.close()
    assert broker.process.returncode is None
    values = stored_values(broker.bootstrap, topic_name, len(sent))
    assert sorted(values) == sorted(m.value for m in sent)


def active_producer_ids(bootstrap: str, topic: str) -> list[int]:
    from kafka import KafkaAdminClient, TopicPartition

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        described = admin.describe_producers([TopicPartition(topic, 0)])[TopicPartition(topic, 0)]
        return [p.producer_id for p in described.active_producers]
    finally:
        admin.close()


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_idle_producers_are_forgotten_after_producer_id_expiration(start_kwire, topic_name, client):
    broker = start_kwire(
        "-o", "producer.id.expiration.ms=3000", "-o", "producer.id.expiration.check.interval.ms=100", memory=True
    )
    create_topic("confluent-kafka", broker.bootstrap, topic_name, 1)
    produce(
        client,
        broker.bootstrap,
        topic_name,
        [Outgoing(b"k", b"v%d" % i, partition=0) for i in range(10)],
        **IDEMPOTENT[client],
    )
    assert len(active_producer_ids(broker.bootstrap, topic_name)) == 1
    wait_for(lambda: active_producer_ids(broker.bootstrap, topic_name) == [], "the idle producer to expire")
    assert len(stored_values(broker.bootstrap, topic_name, 10, partitions=[0])) == 10  # its records stay
