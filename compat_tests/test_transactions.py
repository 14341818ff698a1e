"""Transactions through real clients: read_committed sees committed data
only, aborted data stays hidden, the last stable offset holds readers back
while a transaction is open, consume-transform-produce is exactly once
across a restart, zombies are fenced, timeouts abort, and a broker restart
in the middle of a transaction is survived."""

from __future__ import annotations

import asyncio
import time

import confluent_kafka
import pytest

from compat_tests.clients import Outgoing, Reader, create_topic, produce
from compat_tests.group_consumers import wait_for

TIMEOUT_S = 20


def read_all(client: str, bootstrap: str, topic: str, isolation: str, expected: int, partitions=(0,)) -> list[bytes]:
    """Everything a consumer with this isolation level gets: at least
    `expected` messages, and all it can read up to the end of the log."""
    option = {"confluent-kafka": {"isolation.level": isolation}}.get(client, {"isolation_level": isolation})
    with Reader(client, bootstrap, **option).assign(topic, list(partitions)) as reader:
        got = reader.poll_to_end(expected, timeout=10)
    return [m.value for m in got]


class TransactionalProducer:
    """The same transactional calls through each client."""

    def __init__(self, client: str, bootstrap: str, transactional_id: str, **extra) -> None:
        self.client = client
        if client == "confluent-kafka":
            from confluent_kafka import Producer

            self._producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": transactional_id, **extra})
            self._producer.init_transactions(TIMEOUT_S)
        elif client == "kafka-python":
            from kafka import KafkaProducer

            self._producer = KafkaProducer(bootstrap_servers=bootstrap, transactional_id=transactional_id, **extra)
            self._producer.init_transactions()
        else:
            from aiokafka import AIOKafkaProducer

            async def start():
                producer = AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=transactional_id, **extra)
                await producer.start()
                return producer

            self._loop = asyncio.new_event_loop()
            self._producer = self._run(start())

    def _run(self, coroutine):
        return self._loop.run_until_complete(asyncio.wait_for(coroutine, TIMEOUT_S))

    def begin(self) -> None:
        if self.client == "aiokafka":
            self._run(self._producer.begin_transaction())
        else:
            self._producer.begin_transaction()

    def send(self, topic: str, value: bytes, partition: int = 0, key: bytes | None = None) -> None:
        if self.client == "confluent-kafka":
            self._producer.produce(topic, key=key, value=value, partition=partition)
        elif self.client == "kafka-python":
            self._producer.send(topic, key=key, value=value, partition=partition)
        else:
            self._run(self._producer.send(topic, key=key, value=value, partition=partition))

    def flush(self) -> None:
        if self.client == "aiokafka":
            self._run(self._producer.flush())
        else:
            self._producer.flush(TIMEOUT_S)

    def commit(self) -> None:
        if self.client == "confluent-kafka":
            self._producer.commit_transaction(TIMEOUT_S)
        elif self.client == "kafka-python":
            self._producer.commit_transaction()
        else:
            self._run(self._producer.commit_transaction())

    def abort(self) -> None:
        if self.client == "confluent-kafka":
            self._producer.abort_transaction(TIMEOUT_S)
        elif self.client == "kafka-python":
            self._producer.abort_transaction()
        else:
            self._run(self._producer.abort_transaction())

    def close(self) -> None:
        if self.client == "aiokafka":
            self._run(self._producer.stop())
            self._loop.close()
        elif self.client == "kafka-python":
            self._producer.close(5)


TRANSACTIONAL = ["confluent-kafka", "kafka-python", "aiokafka"]


@pytest.mark.parametrize("producer", TRANSACTIONAL)
def test_committed_is_visible_and_aborted_is_not(shared_kwire, topic_name, producer):
    bootstrap = shared_kwire.bootstrap
    create_topic("confluent-kafka", bootstrap, topic_name, 1)
    p = TransactionalProducer(producer, bootstrap, f"{topic_name}-tx")
    try:
        for outcome in ("commit", "abort", "commit"):
            p.begin()
            for i in range(5):
                p.send(topic_name, b"%s-%d" % (outcome.encode(), i))
            p.flush()
            p.commit() if outcome == "commit" else p.abort()
    finally:
        p.close()
    committed = [b"commit-%d" % i for i in range(5)] * 2
    for reader in ["confluent-kafka", "kafka-python", "aiokafka"]:
        assert read_all(reader, bootstrap, topic_name, "read_committed", 10) == committed, reader
    uncommitted = read_all("confluent-kafka", bootstrap, topic_name, "read_uncommitted", 15)
    assert uncommitted == committed[:5] + [b"abort-%d" % i for i in range(5)] + committed[5:]


@pytest.mark.parametrize("reader", ["confluent-kafka", "kafka-python"])
def test_interleaved_plain_and_transactional_writes(shared_kwire, topic_name, reader):
    bootstrap = shared_kwire.bootstrap
    create_topic("confluent-kafka", bootstrap, topic_name, 1)

    def plain(value: bytes) -> None:
        produce("confluent-kafka", bootstrap, topic_name, [Outgoing(None, value, partition=0)])

    p = TransactionalProducer("confluent-kafka", bootstrap, f"{topic_name}-tx")
    plain(b"plain-1")
    p.begin()
    p.send(topic_name, b"txn-a-1")
    p.flush()
    plain(b"plain-2")  # written while the transaction is open
    # The last stable offset holds read_committed at the open transaction.
    assert read_all(reader, bootstrap, topic_name, "read_committed", 1) == [b"plain-1"]
    p.send(topic_name, b"txn-a-2")
    p.commit()
    p.begin()
    p.send(topic_name, b"txn-b-1")
    p.flush()
    plain(b"plain-3")
    p.abort()
    plain(b"plain-4")
    expected = [b"plain-1", b"txn-a-1", b"plain-2", b"txn-a-2", b"plain-3", b"plain-4"]
    assert read_all(reader, bootstrap, topic_name, "read_committed", len(expected)) == expected


class GroupSource:
    """A read_committed group consumer of one client: polls values and hands
    its positions to a transactional producer (send_offsets_to_transaction)."""

    def __init__(self, client: str, bootstrap: str, topic: str, group: str, producer: TransactionalProducer):
        self.client, self.producer = client, producer
        if client == "confluent-kafka":
            from confluent_kafka import Consumer

            self._consumer = Consumer(
                {
                    "bootstrap.servers": bootstrap,
                    "group.id": group,
                    "enable.auto.commit": False,
                    "auto.offset.reset": "earliest",
                    "isolation.level": "read_committed",
                }
            )
            self._consumer.subscribe([topic])
        elif client == "kafka-python":
            from kafka import KafkaConsumer

            self._consumer = KafkaConsumer(
                topic,
                bootstrap_servers=bootstrap,
                group_id=group,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                isolation_level="read_committed",
                max_poll_records=10,
            )
        else:
            from aiokafka import AIOKafkaConsumer

            async def start():
                consumer = AIOKafkaConsumer(
                    topic,
                    bootstrap_servers=bootstrap,
                    group_id=group,
                    enable_auto_commit=False,
                    auto_offset_reset="earliest",
                    isolation_level="read_committed",
                    max_poll_records=10,
                )
                await consumer.start()
                return consumer

            self._group = group
            self._consumer = producer._run(start())  # the producer's event loop serves both

    def poll(self) -> list[bytes]:
        if self.client == "confluent-kafka":
            return [m.value() for m in self._consumer.consume(10, 1.0) if not m.error()]
        if self.client == "kafka-python":
            return [m.value for batch in self._consumer.poll(timeout_ms=1000).values() for m in batch]
        batches = self.producer._run(self._consumer.getmany(timeout_ms=1000))
        return [m.value for batch in batches.values() for m in batch]

    def send_offsets(self) -> None:
        consumer, producer = self._consumer, self.producer._producer
        if self.client == "confluent-kafka":
            producer.send_offsets_to_transaction(
                consumer.position(consumer.assignment()), consumer.consumer_group_metadata(), TIMEOUT_S
            )
        elif self.client == "kafka-python":
            from kafka.structs import OffsetAndMetadata

            offsets = {tp: OffsetAndMetadata(consumer.position(tp), "", -1) for tp in consumer.assignment()}
            producer.send_offsets_to_transaction(offsets, consumer.group_metadata())
        else:
            from aiokafka.structs import OffsetAndMetadata

            offsets = {}
            for tp in consumer.assignment():
                offsets[tp] = OffsetAndMetadata(self.producer._run(consumer.position(tp)), "")
            self.producer._run(producer.send_offsets_to_transaction(offsets, self._group))

    def close(self) -> None:
        if self.client == "aiokafka":
            self.producer._run(self._consumer.stop())
        else:
            self._consumer.close()


@pytest.mark.parametrize("client", TRANSACTIONAL)
def test_consume_transform_produce_is_exactly_once_across_a_restart(shared_kwire, topic_name, client):
    bootstrap = shared_kwire.bootstrap
    source, sink = f"{topic_name}-in", f"{topic_name}-out"
    create_topic("confluent-kafka", bootstrap, source, 2)
    create_topic("confluent-kafka", bootstrap, sink, 1)
    inputs = [Outgoing(b"k%d" % i, b"%d" % i, partition=i % 2) for i in range(60)]
    produce("confluent-kafka", bootstrap, source, inputs)
    abandoned = []

    def run_processor(batches: int | None, commit_last: bool) -> None:
        p = TransactionalProducer(client, bootstrap, f"{topic_name}-etl-tx")
        consumer = GroupSource(client, bootstrap, source, f"{topic_name}-etl", p)
        done, idle, deadline = 0, 0, time.monotonic() + 30
        try:
            while (batches is None or done < batches) and time.monotonic() < deadline:
                values = consumer.poll()
                if not values:
                    idle += 1
                    if batches is None and done and idle >= 2:
                        break  # caught up
                    continue
                idle = 0
                p.begin()
                for value in values:
                    p.send(sink, b"processed-" + value)
                consumer.send_offsets()
                done += 1
                if done == batches and not commit_last:
                    p.flush()
                    abandoned.append(p)
                    return  # "crash": the transaction stays open
                p.commit()
        finally:
            consumer.close()
        p.close()

    run_processor(batches=3, commit_last=False)
    run_processor(batches=None, commit_last=True)  # a new instance fences and aborts the old transaction
    got = read_all("confluent-kafka", bootstrap, sink, "read_committed", len(inputs))
    assert sorted(got) == sorted(b"processed-" + m.value for m in inputs)
    for zombie in abandoned:
        zombie.close()


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_a_zombie_producer_is_fenced(shared_kwire, topic_name, client):
    bootstrap = shared_kwire.bootstrap
    create_topic("confluent-kafka", bootstrap, topic_name, 1)
    zombie = TransactionalProducer(client, bootstrap, f"{topic_name}-tx")
    zombie.begin()
    zombie.send(topic_name, b"from-the-zombie")
    zombie.flush()
    successor = TransactionalProducer(client, bootstrap, f"{topic_name}-tx")
    with pytest.raises(Exception, match="(?i)fenc|epoch"):
        zombie.send(topic_name, b"more")
        zombie.flush()
        zombie.commit()
    successor.begin()
    successor.send(topic_name, b"from-the-successor")
    successor.commit()
    successor.close()
    assert read_all("confluent-kafka", bootstrap, topic_name, "read_committed", 1) == [b"from-the-successor"]


def test_a_transaction_that_outlives_its_timeout_is_aborted(start_kwire, topic_name):
    broker = start_kwire("-o", "transaction.abort.timed.out.transaction.cleanup.interval.ms=100", memory=True)
    create_topic("confluent-kafka", broker.bootstrap, topic_name, 1)
    p = TransactionalProducer("confluent-kafka", broker.bootstrap, "slow", **{"transaction.timeout.ms": 1500})
    p.begin()
    p.send(topic_name, b"too-late")
    p.flush()
    produce("confluent-kafka", broker.bootstrap, topic_name, [Outgoing(None, b"plain", partition=0)])
    # Once aborted, read_committed readers get past it (the LSO moved on).
    wait_for(
        lambda: read_all("confluent-kafka", broker.bootstrap, topic_name, "read_committed", 1) == [b"plain"],
        "the timed-out transaction to be aborted",
    )
    with pytest.raises(confluent_kafka.KafkaException):  # fenced: the broker aborted it
        p.commit()


@pytest.mark.parametrize("outcome", ["commit", "abort"])
def test_broker_restart_in_the_middle_of_a_transaction(start_kwire, topic_name, outcome):
    broker = start_kwire()
    create_topic("confluent-kafka", broker.bootstrap, topic_name, 1)
    p = TransactionalProducer("confluent-kafka", broker.bootstrap, "restarting", **{"reconnect.backoff.ms": 50})
    p.begin()
    for i in range(5):
        p.send(topic_name, b"m-%d" % i)
    p.flush()
    broker.stop()
    broker.start()
    p.commit() if outcome == "commit" else p.abort()
    expected = [b"m-%d" % i for i in range(5)] if outcome == "commit" else []
    assert read_all("confluent-kafka", broker.bootstrap, topic_name, "read_committed", len(expected)) == expected


@pytest.mark.parametrize("reader", ["confluent-kafka", "kafka-python"])
def test_a_transaction_left_open_across_a_restart_times_out(start_kwire, topic_name, reader):
    broker = start_kwire("-o", "transaction.abort.timed.out.transaction.cleanup.interval.ms=100")
    create_topic("confluent-kafka", broker.bootstrap, topic_name, 1)
    p = TransactionalProducer(
        "confluent-kafka", broker.bootstrap, f"{topic_name}-tx", **{"transaction.timeout.ms": 2000}
    )
    p.begin()
    p.send(topic_name, b"never-committed")
    p.flush()
    broker.stop()
    broker.start()  # the open transaction, and when it began, come back from __transaction_state
    produce("confluent-kafka", broker.bootstrap, topic_name, [Outgoing(None, b"plain", partition=0)])
    wait_for(
        lambda: read_all(reader, broker.bootstrap, topic_name, "read_committed", 1) == [b"plain"],
        "the recovered transaction to time out and be aborted",
    )
    assert read_all(reader, broker.bootstrap, topic_name, "read_uncommitted", 2) == [b"never-committed", b"plain"]
    with pytest.raises(confluent_kafka.KafkaException):  # fenced: the broker aborted it
        p.commit()


def test_operators_can_see_open_transactions(shared_kwire, topic_name):
    from kafka import KafkaAdminClient, TopicPartition

    bootstrap = shared_kwire.bootstrap
    create_topic("confluent-kafka", bootstrap, topic_name, 1)
    tid = f"{topic_name}-visible"
    p = TransactionalProducer("confluent-kafka", bootstrap, tid)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        assert admin.describe_transactions([tid])[tid].state.value == "Empty"  # no start time yet: -1, as Kafka
        p.begin()
        p.send(topic_name, b"open")
        p.flush()
        listed = admin.list_transactions(state_filters=["Ongoing"])
        assert [t.state.value for t in listed[1] if t.transactional_id == tid] == ["Ongoing"]
        described = admin.describe_transactions([tid])[tid]
        assert described.state.value == "Ongoing"
        assert described.topic_partitions == {TopicPartition(topic_name, 0)}
        (producer,) = admin.describe_producers([TopicPartition(topic_name, 0)])[
            TopicPartition(topic_name, 0)
        ].active_producers
        assert (producer.producer_id, producer.current_transaction_start_offset) == (described.producer_id, 0)
        p.commit()
        assert admin.describe_transactions([tid])[tid].state.value == "CompleteCommit"
        assert tid not in {t.transactional_id for t in admin.list_transactions(state_filters=["Ongoing"])[1]}
    finally:
        admin.close()
        p.close()


@pytest.mark.parametrize("reader", ["confluent-kafka", "kafka-python"])
def test_a_stray_transactional_batch_cannot_hang_read_committed_readers(shared_kwire, topic_name, reader):
    """KIP-890: a transactional batch for a partition its transaction never
    added (a zombie's late retry, say) is refused, so it cannot open a
    transaction that nobody ends and hold read_committed readers back."""
    from compat_tests import raw
    from kwire.protocol.record_codec import Record, build_batch

    bootstrap = shared_kwire.bootstrap
    create_topic("confluent-kafka", bootstrap, topic_name, 1)
    with raw.connect(bootstrap) as sock:
        init = raw.call(
            sock,
            22,
            4,
            dict(transactional_id=f"{topic_name}-stray", transaction_timeout=60_000, producer_id=-1, producer_epoch=-1),
        )
        stray = build_batch(
            [Record(offset_delta=0, timestamp_delta=0, key=None, value=b"stray", headers=())],
            base_timestamp=int(time.time() * 1000),
            producer_id=init.producer_id,
            producer_epoch=init.producer_epoch,
            base_sequence=0,
            is_transactional=True,
        )
        answer = raw.call(
            sock,
            0,
            9,
            dict(
                transactional_id=f"{topic_name}-stray",
                acks=-1,
                timeout=1000,
                topic_data=[dict(name=topic_name, partition_data=[dict(index=0, records=bytes(stray))])],
            ),
        )
    assert answer.responses[0].partition_responses[0].error_code == 48  # INVALID_TXN_STATE
    produce("confluent-kafka", bootstrap, topic_name, [Outgoing(None, b"plain", partition=0)])
    assert read_all(reader, bootstrap, topic_name, "read_committed", 1) == [b"plain"]
    assert read_all(reader, bootstrap, topic_name, "read_uncommitted", 1) == [b"plain"]


@pytest.mark.parametrize("producer,reader", [("confluent-kafka", "kafka-python"), ("kafka-python", "aiokafka")])
def test_compaction_keeps_committed_values_and_drops_aborted_ones(start_kwire, topic_name, producer, reader):
    broker = start_kwire("-o", "log.cleaner.backoff.ms=100", memory=True)
    create_topic(
        "confluent-kafka",
        broker.bootstrap,
        topic_name,
        1,
        configs={"cleanup.policy": "compact", "segment.bytes": "2000", "min.cleanable.dirty.ratio": "0.01"},
    )
    p = TransactionalProducer(producer, broker.bootstrap, f"{topic_name}-tx")
    try:
        for round_ in range(6):  # even rounds commit, odd rounds abort
            p.begin()
            for k in range(10):
                p.send(topic_name, b"round-%d" % round_, key=b"key-%d" % k)
            p.flush()
            p.commit() if round_ % 2 == 0 else p.abort()
    finally:
        p.close()
    # Plain fillers with unique keys push the transactions into closed segments.
    produce(
        "confluent-kafka",
        broker.bootstrap,
        topic_name,
        [Outgoing(b"filler-%d" % i, b"f" * 100, partition=0) for i in range(60)],
    )
    option = {"confluent-kafka": {"isolation.level": "read_uncommitted"}}.get(
        reader, {"isolation_level": "read_uncommitted"}
    )

    def only_the_last_commit_left() -> bool:
        with Reader(reader, broker.bootstrap, **option).assign(topic_name, [0]) as consumer:
            got = consumer.poll_to_end(timeout=5)
        keyed = sorted((m.key, m.value) for m in got if m.key.startswith(b"key-"))
        return keyed == [(b"key-%d" % k, b"round-4") for k in range(10)]

    # Even read_uncommitted readers stop seeing aborted values once the cleaner ran.
    wait_for(only_the_last_commit_left, "compaction of the transactional writes", timeout_s=30)
    assert read_all(reader, broker.bootstrap, topic_name, "read_committed", 70)[:10] == [b"round-4"] * 10


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_unused_transactional_ids_expire_and_stay_gone_after_a_restart(start_kwire, topic_name, client):
    from kafka import KafkaAdminClient

    broker = start_kwire(
        "-o",
        "transactional.id.expiration.ms=3000",
        "-o",
        "transaction.remove.expired.transaction.cleanup.interval.ms=100",
        "-o",
        "transaction.abort.timed.out.transaction.cleanup.interval.ms=100",
    )
    create_topic("confluent-kafka", broker.bootstrap, topic_name, 1)
    tid = f"{topic_name}-short-lived"

    def listed() -> set[str]:
        admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=10_000)
        try:
            return {t.transactional_id for t in admin.list_transactions()[1]}
        finally:
            admin.close()

    p = TransactionalProducer(client, broker.bootstrap, tid)
    p.begin()
    p.send(topic_name, b"committed")
    p.commit()
    p.close()
    assert tid in listed()
    wait_for(lambda: tid not in listed(), "the unused transactional id to expire")
    broker.stop()
    broker.start()
    assert tid not in listed()  # its tombstone in __transaction_state was replayed
    assert read_all(client, broker.bootstrap, topic_name, "read_committed", 1) == [b"committed"]
