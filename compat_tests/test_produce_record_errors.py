"""KIP-467: a batch refused because of particular records names them, and
each client fails exactly those records with the reason, the rest of the
batch with a "different record" error (librdkafka's test 0011, with Kafka).

librdkafka applies the per-record codes only when two or more records are
named: with one, it reports the partition's error for the whole batch."""

from __future__ import annotations

import asyncio
import time

from compat_tests.clients import TIMEOUT_S, Outgoing, create_topic, produce, watermarks

KEYLESS = "Compacted topic cannot accept message without key in topic partition {topic}-0"
OTHERS = "Failed to append record because it was part of a batch which had one more more invalid records"
HOUR_MS = 3_600_000


def keyless_every_tenth(count: int = 100) -> list[Outgoing]:
    return [Outgoing(None if i % 10 == 0 else b"key-%d" % i, b"value-%d" % i, partition=0) for i in range(count)]


def send_as_one_batch(client: str, bootstrap: str, topic: str, messages: list[Outgoing]) -> list[tuple]:
    """Each message's outcome: ("ok", offset) or (error name, the record's
    own error text where the client exposes it). A long linger and one flush
    put every message in one batch."""
    if client == "confluent-kafka":
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 1000, "message.send.max.retries": 0})
        outcomes: list = [None] * len(messages)

        def delivered(index):
            def callback(error, message):
                # confluent-kafka's KafkaError carries the code's text, not the broker's per-record one.
                outcomes[index] = (error.name(), None) if error else ("ok", message.offset())

            return callback

        for index, m in enumerate(messages):
            extra = {"timestamp": m.timestamp} if m.timestamp is not None else {}
            producer.produce(
                topic, key=m.key, value=m.value, partition=m.partition, on_delivery=delivered(index), **extra
            )
        assert producer.flush(TIMEOUT_S) == 0
        return outcomes
    if client == "kafka-python":
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=1000, retries=0, request_timeout_ms=10_000)
        try:
            futures = [
                producer.send(topic, key=m.key, value=m.value, partition=m.partition, timestamp_ms=m.timestamp)
                for m in messages
            ]
            producer.flush(TIMEOUT_S)
            return [
                ("ok", f.value.offset) if f.succeeded() else (type(f.exception).__name__, f.exception.args[0])
                for f in futures
            ]
        finally:
            producer.close(TIMEOUT_S)

    async def send_aiokafka():
        from aiokafka import AIOKafkaProducer

        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            batch = producer.create_batch()  # aiokafka's explicit batch: one future for all of it
            for m in messages:
                assert batch.append(key=m.key, value=m.value, timestamp=m.timestamp) is not None
            (partition,) = {m.partition for m in messages}
            future = await producer.send_batch(batch, topic, partition=partition)
            try:
                await future
            except Exception as exc:
                return [(type(exc).__name__, None)] * len(messages)
            return [("ok", None)] * len(messages)
        finally:
            await producer.stop()

    return asyncio.run(asyncio.wait_for(send_aiokafka(), TIMEOUT_S))


def test_librdkafka_fails_exactly_the_keyless_records_of_a_batch(shared_kwire, topic_name):
    create_topic("confluent-kafka", shared_kwire.bootstrap, topic_name, 1, configs={"cleanup.policy": "compact"})
    outcomes = send_as_one_batch("confluent-kafka", shared_kwire.bootstrap, topic_name, keyless_every_tenth())
    assert outcomes == [("INVALID_RECORD" if i % 10 == 0 else "_INVALID_DIFFERENT_RECORD", None) for i in range(100)]
    assert watermarks("confluent-kafka", shared_kwire.bootstrap, topic_name, 0) == (0, 0)
    assert produce("confluent-kafka", shared_kwire.bootstrap, topic_name, [Outgoing(b"k", b"v", partition=0)]) == [
        (0, 0)
    ]


def test_kafka_python_fails_exactly_the_keyless_records_and_aiokafka_the_whole_batch(shared_kwire, topic_name):
    create_topic("kafka-python", shared_kwire.bootstrap, topic_name, 1, configs={"cleanup.policy": "compact"})
    outcomes = send_as_one_batch("kafka-python", shared_kwire.bootstrap, topic_name, keyless_every_tenth())
    keyless = KEYLESS.format(topic=topic_name)
    assert outcomes == [("InvalidRecordError", keyless) if i % 10 == 0 else ("KafkaError", OTHERS) for i in range(100)]
    # aiokafka speaks Produce v7, from before KIP-467, and has no class for
    # INVALID_RECORD (87): the whole batch fails with UnknownError.
    outcomes = send_as_one_batch("aiokafka", shared_kwire.bootstrap, topic_name, keyless_every_tenth(20))
    assert outcomes == [("UnknownError", None)] * 20
    assert watermarks("kafka-python", shared_kwire.bootstrap, topic_name, 0) == (0, 0)


def test_records_stamped_too_far_ahead_fail_by_name_with_invalid_timestamp(shared_kwire, topic_name):
    """message.timestamp.after.max.ms (Kafka 4's default: one hour) refuses
    the records beyond it; nothing of their batch is stored."""
    create_topic("confluent-kafka", shared_kwire.bootstrap, topic_name, 1)
    now = int(time.time() * 1000)

    def batch(ahead: set[int]) -> list[Outgoing]:
        return [
            Outgoing(b"k", b"v%d" % i, timestamp=now + (3 * HOUR_MS if i in ahead else 0), partition=0)
            for i in range(5)
        ]

    outcomes = send_as_one_batch("confluent-kafka", shared_kwire.bootstrap, topic_name, batch({1, 3}))
    others = ("_INVALID_DIFFERENT_RECORD", None)
    assert outcomes == [others, ("INVALID_RECORD", None), others, ("INVALID_RECORD", None), others]
    outcomes = send_as_one_batch("kafka-python", shared_kwire.bootstrap, topic_name, batch({2}))
    assert [name for name, _ in outcomes] == [
        "KafkaError",
        "KafkaError",
        "InvalidTimestampError",
        "KafkaError",
        "KafkaError",
    ]
    assert outcomes[2][1].startswith(f"Timestamp {now + 3 * HOUR_MS} of message with offset 2 is out of range.")
    assert watermarks("confluent-kafka", shared_kwire.bootstrap, topic_name, 0) == (0, 0)
