"""The same operations through each real client, so one scenario can run
against kafka-python, confluent-kafka and aiokafka alike."""

from __future__ import annotations

import asyncio
import time
from typing import NamedTuple

CLIENTS = ["kafka-python", "confluent-kafka", "aiokafka"]
TIMEOUT_S = 30


class Message(NamedTuple):
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    timestamp: int


class Outgoing(NamedTuple):
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp: int | None = None
    partition: int | None = None


def _headers(raw) -> tuple[tuple[str, bytes], ...]:
    return tuple((name, bytes(value) if value is not None else None) for name, value in (raw or ()))


# --- admin -------------------------------------------------------------------


def create_topic(client: str, bootstrap: str, name: str, partitions: int = 1, configs: dict | None = None) -> None:
    """Create a topic; raises the client's own error on failure."""
    if client == "kafka-python":
        from kafka.admin import KafkaAdminClient, NewTopic

        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
        try:
            admin.create_topics([NewTopic(name, partitions, 1, topic_configs=configs or {})])
        finally:
            admin.close()
    elif client == "confluent-kafka":
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": bootstrap})
        futures = admin.create_topics([NewTopic(name, partitions, 1, config=configs or {})], request_timeout=10)
        futures[name].result(TIMEOUT_S)
    else:
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic

        async def create():
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
            await admin.start()
            try:
                response = await admin.create_topics([NewTopic(name, partitions, 1, topic_configs=configs or {})])
                for _topic, code, *_ in response.topic_errors if hasattr(response, "topic_errors") else []:
                    if code:
                        from aiokafka.errors import for_code

                        raise for_code(code)
            finally:
                await admin.close()

        asyncio.run(asyncio.wait_for(create(), TIMEOUT_S))


# --- producing -----------------------------------------------------------------


def produce(
    client: str, bootstrap: str, topic: str, messages: list[Outgoing], acks="all", **extra
) -> list[tuple[int, int]]:
    """Send all messages; return (partition, offset) per message (acks=0: partitions only, offsets -1)."""
    if client == "kafka-python":
        return _produce_kafka_python(bootstrap, topic, messages, acks, extra)
    if client == "confluent-kafka":
        return _produce_confluent(bootstrap, topic, messages, acks, extra)
    return asyncio.run(asyncio.wait_for(_produce_aiokafka(bootstrap, topic, messages, acks, extra), TIMEOUT_S * 2))


def _produce_kafka_python(bootstrap, topic, messages, acks, extra):
    from kafka import KafkaProducer

    acks_value = {"all": "all", 1: 1, 0: 0}[acks]
    options = dict(bootstrap_servers=bootstrap, acks=acks_value, linger_ms=5)
    if acks_value != "all":
        options["enable_idempotence"] = False
    options.update(extra)
    producer = KafkaProducer(**options)
    try:
        futures = [
            producer.send(
                topic,
                key=m.key,
                value=m.value,
                headers=list(m.headers),
                timestamp_ms=m.timestamp,
                partition=m.partition,
            )
            for m in messages
        ]
        producer.flush(TIMEOUT_S)
        results = [f.get(TIMEOUT_S) for f in futures]
        return [(r.partition, r.offset) for r in results]
    finally:
        producer.close(TIMEOUT_S)


def _produce_confluent(bootstrap, topic, messages, acks, extra):
    from confluent_kafka import KafkaException, Producer

    config = {"bootstrap.servers": bootstrap, "acks": str(acks) if acks != "all" else "all", "linger.ms": 5}
    config.update(extra)
    producer = Producer(config)
    results: list = [None] * len(messages)

    def delivered(index):
        def callback(error, message):
            results[index] = error if error else (message.partition(), message.offset())

        return callback

    for index, m in enumerate(messages):
        kwargs = dict(key=m.key, value=m.value, headers=list(m.headers), on_delivery=delivered(index))
        if m.timestamp is not None:
            kwargs["timestamp"] = m.timestamp
        if m.partition is not None:
            kwargs["partition"] = m.partition
        while True:
            try:
                producer.produce(topic, **kwargs)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    remaining = producer.flush(TIMEOUT_S)
    assert remaining == 0, f"{remaining} messages not delivered"
    for result in results:
        if not isinstance(result, tuple):
            raise KafkaException(result)
    return results


async def _produce_aiokafka(bootstrap, topic, messages, acks, extra):
    from aiokafka import AIOKafkaProducer

    acks_value = {"all": "all", 1: 1, 0: 0}[acks]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=acks_value, linger_ms=5, **extra)
    await producer.start()
    try:
        futures = [
            await producer.send(
                topic,
                key=m.key,
                value=m.value,
                headers=list(m.headers),
                timestamp_ms=m.timestamp,
                partition=m.partition,
            )
            for m in messages
        ]
        await producer.flush()
        results = [await f for f in futures]
        # acks=0: aiokafka resolves each send with no metadata at all.
        return [(r.partition, r.offset) if r is not None else (m.partition, -1) for r, m in zip(results, messages)]
    finally:
        await producer.stop()


# --- consuming -------------------------------------------------------------------


class Reader:
    """A consumer by assignment (no group): assign, then poll."""

    def __init__(self, client: str, bootstrap: str, **extra) -> None:
        self.client = client
        self.bootstrap = bootstrap
        self.extra = extra
        self._loop = asyncio.new_event_loop() if client == "aiokafka" else None
        self._consumer = None

    def assign(self, topic: str, partitions: list[int], start="earliest") -> Reader:
        """start: "earliest", "latest", or an int offset for every partition."""
        self._topic, self._partitions, self._start = topic, list(partitions), start
        if self.client == "kafka-python":
            from kafka import KafkaConsumer, TopicPartition

            options = dict(
                bootstrap_servers=self.bootstrap, enable_auto_commit=False, auto_offset_reset="earliest", group_id=None
            )
            options.update(self.extra)
            consumer = KafkaConsumer(**options)
            tps = [TopicPartition(topic, p) for p in partitions]
            consumer.assign(tps)
            if start == "earliest":
                consumer.seek_to_beginning(*tps)
            elif start == "latest":
                consumer.seek_to_end(*tps)
            else:
                for tp in tps:
                    consumer.seek(tp, start)
            for tp in tps:
                consumer.position(tp)  # resolve now, before anything else is produced
            self._consumer = consumer
        elif self.client == "confluent-kafka":
            from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

            config = {
                "bootstrap.servers": self.bootstrap,
                "group.id": "compat-assign",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
            config.update(self.extra)
            consumer = Consumer(config)
            if start == "latest":
                # Pin the current end now, so whatever is produced later is "after" it.
                ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
                consumer.assign([TopicPartition(topic, p, ends[p]) for p in partitions])
            else:
                offset = OFFSET_BEGINNING if start == "earliest" else start
                consumer.assign([TopicPartition(topic, p, offset) for p in partitions])
            self._consumer = consumer
        else:
            self._loop.run_until_complete(self._assign_aiokafka(topic, partitions, start))
        return self

    async def _assign_aiokafka(self, topic, partitions, start):
        from aiokafka import AIOKafkaConsumer
        from aiokafka.structs import TopicPartition

        options = dict(bootstrap_servers=self.bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
        options.update(self.extra)
        consumer = AIOKafkaConsumer(**options)
        await consumer.start()
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        if start == "earliest":
            await consumer.seek_to_beginning(*tps)
        elif start == "latest":
            await consumer.seek_to_end(*tps)
        else:
            for tp in tps:
                consumer.seek(tp, start)
        for tp in tps:
            await consumer.position(tp)
        self._consumer = consumer

    def poll(self, count: int, timeout: float = TIMEOUT_S) -> list[Message]:
        """Up to `count` messages, waiting at most `timeout` seconds."""
        deadline = time.monotonic() + timeout
        out: list[Message] = []
        while len(out) < count and time.monotonic() < deadline:
            out.extend(self.poll_once(min(1.0, max(0.0, deadline - time.monotonic()))))
        return out

    def poll_to_end(self, at_least: int = 0, timeout: float = TIMEOUT_S) -> list[Message]:
        """Everything up to the end of the assigned partitions as this
        consumer sees it (the last stable offset under read_committed): at
        least `at_least` messages, then until its position reaches the end
        offsets. Nothing more can arrive without a new write, so there is no
        grace period to wait out."""
        deadline = time.monotonic() + timeout
        out: list[Message] = []
        while time.monotonic() < deadline:
            out.extend(self.poll_once(0.1))
            if len(out) >= at_least and self._at_end():
                break
        return out

    def _at_end(self) -> bool:
        if self.client == "kafka-python":
            from kafka import TopicPartition

            tps = [TopicPartition(self._topic, p) for p in self._partitions]
            ends = self._consumer.end_offsets(tps)
            return all(self._consumer.position(tp) >= ends[tp] for tp in tps)
        if self.client == "confluent-kafka":
            from confluent_kafka import TopicPartition

            for p in self._partitions:
                low, end = self._consumer.get_watermark_offsets(
                    TopicPartition(self._topic, p), timeout=10, cached=False
                )
                (position,) = self._consumer.position([TopicPartition(self._topic, p)])
                # No position before the first fetch: it is still where reading starts.
                start = {"earliest": low, "latest": end}.get(self._start, self._start)
                if (position.offset if position.offset >= 0 else start) < end:
                    return False
            return True

        async def at_end():
            from aiokafka.structs import TopicPartition

            tps = [TopicPartition(self._topic, p) for p in self._partitions]
            ends = await self._consumer.end_offsets(tps)
            return all([await self._consumer.position(tp) >= ends[tp] for tp in tps])

        return self._loop.run_until_complete(at_end())

    def poll_once(self, timeout: float) -> list[Message]:
        if self.client == "kafka-python":
            batches = self._consumer.poll(timeout_ms=int(timeout * 1000), max_records=5000)
            return [
                Message(r.partition, r.offset, r.key, r.value, _headers(r.headers), r.timestamp)
                for records in batches.values()
                for r in records
            ]
        if self.client == "confluent-kafka":
            out = []
            for m in self._consumer.consume(5000, timeout):
                if m.error():
                    raise RuntimeError(m.error())
                out.append(
                    Message(m.partition(), m.offset(), m.key(), m.value(), _headers(m.headers()), m.timestamp()[1])
                )
            return out
        batches = self._loop.run_until_complete(
            self._consumer.getmany(timeout_ms=int(timeout * 1000), max_records=5000)
        )
        return [
            Message(r.partition, r.offset, r.key, r.value, _headers(r.headers), r.timestamp)
            for records in batches.values()
            for r in records
        ]

    def close(self) -> None:
        if self._consumer is None:
            return
        if self.client == "aiokafka":
            self._loop.run_until_complete(self._consumer.stop())
            self._loop.close()
        else:
            self._consumer.close()
        self._consumer = None

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def consume(
    client: str,
    bootstrap: str,
    topic: str,
    partitions: list[int],
    count: int,
    start="earliest",
    timeout: float = TIMEOUT_S,
    **extra,
) -> list[Message]:
    with Reader(client, bootstrap, **extra).assign(topic, partitions, start) as reader:
        return reader.poll(count, timeout)


def watermarks(client: str, bootstrap: str, topic: str, partition: int) -> tuple[int, int]:
    """(earliest, latest) offsets via the client's ListOffsets path."""
    if client == "kafka-python":
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
        try:
            tp = TopicPartition(topic, partition)
            return consumer.beginning_offsets([tp])[tp], consumer.end_offsets([tp])[tp]
        finally:
            consumer.close()
    if client == "confluent-kafka":
        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "compat-watermarks"})
        try:
            return consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        finally:
            consumer.close()

    async def query():
        from aiokafka import AIOKafkaConsumer
        from aiokafka.structs import TopicPartition

        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
        await consumer.start()
        try:
            tp = TopicPartition(topic, partition)
            return (await consumer.beginning_offsets([tp]))[tp], (await consumer.end_offsets([tp]))[tp]
        finally:
            await consumer.stop()

    return asyncio.run(asyncio.wait_for(query(), TIMEOUT_S))
