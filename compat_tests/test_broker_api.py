"""Real clients against `kwire.Broker`, the in-process broker of users' test
suites (thread mode): confluent-kafka and kafka-python produce what the
other consumes; a restart on a data directory keeps the data (in memory it
does not); an asyncio program drives it with aiokafka (the client of asyncio
suites); and the pytest plugin's fixtures serve confluent-kafka."""

from __future__ import annotations

import asyncio

import pytest

import kwire
from compat_tests.clients import Outgoing, consume, create_topic, produce, watermarks
from compat_tests.plugin_suite import run_with_the_plugin
from tests.server.node_checks import Resources

N_MESSAGES = 100
PAIRS = [("confluent-kafka", "kafka-python"), ("kafka-python", "confluent-kafka")]

pytestmark = pytest.mark.timeout(120)


def messages(tag: str) -> list[Outgoing]:
    return [
        Outgoing(key=b"k%d" % (i % 5), value=f"{tag}-{i}".encode(), headers=(("n", b"%d" % i),))
        for i in range(N_MESSAGES)
    ]


def values(client: str, bootstrap: str, topic: str, partitions: list[int]) -> list[bytes]:
    return sorted(message.value for message in consume(client, bootstrap, topic, partitions, N_MESSAGES))


@pytest.mark.parametrize(("producer", "consumer"), PAIRS)
def test_clients_through_the_in_process_broker_and_its_restart(tmp_path, topic_name, producer, consumer):
    expected = sorted(message.value for message in messages(producer))
    before = Resources.now()
    with kwire.Broker(data_dir=tmp_path / "data", num_partitions=2) as broker:
        create_topic(producer, broker.bootstrap_servers, topic_name, partitions=2)
        assert len(produce(producer, broker.bootstrap_servers, topic_name, messages(producer))) == N_MESSAGES
        assert values(consumer, broker.bootstrap_servers, topic_name, [0, 1]) == expected
        port = broker.port
        broker.restart()
        assert broker.port == port
        assert values(producer, broker.bootstrap_servers, topic_name, [0, 1]) == expected
        assert sum(watermarks(consumer, broker.bootstrap_servers, topic_name, p)[1] for p in (0, 1)) == N_MESSAGES
    assert Resources.now() == before


def test_a_broker_in_memory_starts_empty_after_a_restart(topic_name):
    with kwire.Broker() as broker:
        produce("confluent-kafka", broker.bootstrap_servers, topic_name, messages("memory"))
        broker.restart()
        assert topic_name not in broker.state.cluster.topics
        produce("kafka-python", broker.bootstrap_servers, topic_name, messages("again")[:3])
        assert watermarks("confluent-kafka", broker.bootstrap_servers, topic_name, 0) == (0, 3)


def test_an_asyncio_program_with_aiokafka(topic_name):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    async def main(bootstrap: str) -> list[bytes]:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
        await producer.start()
        try:
            for number in range(N_MESSAGES):
                await producer.send(topic_name, b"a%d" % number, key=b"k")
            await producer.flush()
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic_name, bootstrap_servers=bootstrap, group_id="asyncio-group", auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            got: list[bytes] = []
            async with asyncio.timeout(60):
                while len(got) < N_MESSAGES:
                    batches = await consumer.getmany(timeout_ms=500)
                    got.extend(record.value for records in batches.values() for record in records)
            await consumer.commit()
            return got
        finally:
            await consumer.stop()

    with kwire.Broker() as broker:
        assert asyncio.run(main(broker.bootstrap_servers)) == [b"a%d" % n for n in range(N_MESSAGES)]


def test_the_pytest_fixtures_serve_a_real_client(pytester):
    pytester.makepyfile(
        """
        from confluent_kafka import Consumer, Producer

        def test_roundtrip(kafka_bootstrap_servers, kafka_topic):
            topic = kafka_topic(partitions=2)
            producer = Producer({"bootstrap.servers": kafka_bootstrap_servers})
            for n in range(10):
                producer.produce(topic, b"v%d" % n, partition=n % 2)
            assert producer.flush(30) == 0
            consumer = Consumer({"bootstrap.servers": kafka_bootstrap_servers, "group.id": "g", "auto.offset.reset": "earliest"})
            consumer.subscribe([topic])
            got = []
            try:
                for _ in range(200):
                    message = consumer.poll(0.2)
                    if message is not None and message.error() is None:
                        got.append(message.value())
                    if len(got) == 10:
                        break
            finally:
                consumer.close()
            assert sorted(got) == sorted(b"v%d" % n for n in range(10))
        """
    )
    run_with_the_plugin(pytester).assert_outcomes(passed=1)


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_faults_injected_through_the_in_process_broker(topic_name, client):
    # broker.faults from the test's thread: retriable errors the client rides
    # out, then a clear that restores normal service.
    with kwire.Broker() as broker:
        create_topic(client, broker.bootstrap_servers, topic_name, partitions=1)
        rule = broker.faults.inject_error("Produce", "NOT_LEADER_OR_FOLLOWER", count=2, topic=topic_name)
        assert [entry["id"] for entry in broker.faults.list()] == [rule]
        assert len(produce(client, broker.bootstrap_servers, topic_name, messages(client))) == N_MESSAGES
        assert broker.faults.list() == []  # used up: the client met both errors and retried
        assert f"fault done: rule {rule} (error) applied 2 times" in broker.log_text()
        broker.faults.add_latency("Fetch", ms=1)
        broker.faults.clear()
        assert broker.faults.list() == []
        expected = sorted(message.value for message in messages(client))
        assert values(client, broker.bootstrap_servers, topic_name, [0]) == expected
