"""More partitions than the broker may hold files open: under a limit of
256 descriptors, 1,000 partitions are created, written, read back through
two clients, and the broker starts again on that directory under the same
limit. Segment and index files are opened on demand through a bounded cache,
so the descriptors needed do not grow with the partitions."""

from __future__ import annotations

import resource
import time

from compat_tests.clients import TIMEOUT_S

FD_LIMIT = 256
TOPICS = [f"many-{n}" for n in range(10)]
PARTITIONS = 100


def limit_descriptors() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


def every_partition():
    return [(topic, p) for topic in TOPICS for p in range(PARTITIONS)]


def create_topics(bootstrap: str) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in TOPICS], request_timeout=30)
    for future in futures.values():
        future.result(TIMEOUT_S)


def produce_confluent(bootstrap: str, round_: str) -> None:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 20})
    failures = []
    for topic, p in every_partition():
        producer.produce(
            topic,
            value=f"{round_}:{topic}:{p}".encode(),
            partition=p,
            on_delivery=lambda error, _m: error and failures.append(error),
        )
    assert producer.flush(TIMEOUT_S) == 0
    assert not failures, failures[:3]


def produce_kafka_python(bootstrap: str, round_: str) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    try:
        futures = [
            producer.send(topic, value=f"{round_}:{topic}:{p}".encode(), partition=p) for topic, p in every_partition()
        ]
        producer.flush(TIMEOUT_S)
        for future in futures:
            future.get(TIMEOUT_S)
    finally:
        producer.close(10)


def read_confluent(bootstrap: str, count: int) -> set[tuple[str, int, int, bytes]]:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "fd-check", "enable.auto.commit": False})
    consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in every_partition()])
    got = set()
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while len(got) < count and time.monotonic() < deadline:
            for m in consumer.consume(1000, 1.0):
                assert not m.error(), m.error()
                got.add((m.topic(), m.partition(), m.offset(), m.value()))
    finally:
        consumer.close()
    return got


def read_kafka_python(bootstrap: str, count: int) -> set[tuple[str, int, int, bytes]]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    partitions = [TopicPartition(t, p) for t, p in every_partition()]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    got = set()
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while len(got) < count and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=1000, max_records=5000).values():
                got.update((r.topic, r.partition, r.offset, r.value) for r in records)
    finally:
        consumer.close()
    return got


def expected(*rounds: str) -> set[tuple[str, int, int, bytes]]:
    return {
        (t, p, offset, f"{round_}:{t}:{p}".encode())
        for offset, round_ in enumerate(rounds)
        for t, p in every_partition()
    }


def test_more_partitions_than_open_files_allowed(start_kwire):
    broker = start_kwire(preexec_fn=limit_descriptors)
    create_topics(broker.bootstrap)
    produce_confluent(broker.bootstrap, "first")
    assert read_kafka_python(broker.bootstrap, 1000) == expected("first")

    assert broker.stop() == 0
    broker.start()  # under the same limit, on a directory of 1,000 partitions
    produce_kafka_python(broker.bootstrap, "second")
    assert read_confluent(broker.bootstrap, 2000) == expected("first", "second")
    assert read_kafka_python(broker.bootstrap, 2000) == expected("first", "second")
    assert "Too many open files" not in broker.log_path.read_text()
