"""Deleting topics and adding partitions through each client's admin API:
confluent-kafka AdminClient, kafka-python KafkaAdminClient and aiokafka
AIOKafkaAdminClient. A CI suite's teardown deletes its topics; a test that
re-creates a topic must find it new (no data, no committed offsets)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from compat_tests.broker import wait_for
from compat_tests.clients import CLIENTS, Outgoing, consume, create_topic, produce, watermarks

TIMEOUT_S = 20


def delete_topics(client: str, bootstrap: str, topics: list) -> dict:
    """Delete through `client`'s admin API; {topic: error code} (0: deleted)."""
    if client == "confluent-kafka":
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": bootstrap})  # held until the futures are done
        futures = admin.delete_topics(topics, operation_timeout=10)
        codes = {}
        for topic, future in futures.items():
            try:
                future.result(TIMEOUT_S)
                codes[topic] = 0
            except KafkaException as exc:
                codes[topic] = exc.args[0].code()
        return codes
    if client == "kafka-python":
        from kafka.admin import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
        try:
            result = admin.delete_topics(topics, timeout_ms=10_000, raise_errors=False)
        finally:
            admin.close()
        return {t["topic_id"] if t["name"] is None else t["name"]: t["error_code"] for t in result["topics"]}

    async def run():
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            response = await admin.delete_topics(topics, timeout_ms=10_000)
        finally:
            await admin.close()
        return dict(response.topic_error_codes)

    return asyncio.run(asyncio.wait_for(run(), TIMEOUT_S))


def create_partitions(client: str, bootstrap: str, topic: str, count: int) -> None:
    """Grow `topic` to `count` partitions; raises the client's error."""
    if client == "confluent-kafka":
        from confluent_kafka.admin import AdminClient, NewPartitions

        admin = AdminClient({"bootstrap.servers": bootstrap})  # held until the future is done
        futures = admin.create_partitions([NewPartitions(topic, count)])
        futures[topic].result(TIMEOUT_S)
    elif client == "kafka-python":
        from kafka.admin import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
        try:
            admin.create_partitions({topic: count})
        finally:
            admin.close()
    else:

        async def run():
            from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
            await admin.start()
            try:
                await admin.create_partitions({topic: NewPartitions(count)})
            finally:
                await admin.close()

        asyncio.run(asyncio.wait_for(run(), TIMEOUT_S))


def described(bootstrap: str, topic: str) -> tuple[int, int | None]:
    """(partitions, error code or None) as a fresh confluent client sees the
    topic among all topics (asking for it by name could auto-create it);
    (0, 3) when it is absent (UNKNOWN_TOPIC_OR_PARTITION)."""
    from confluent_kafka.admin import AdminClient

    entry = AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics.get(topic)
    if entry is None:
        return 0, 3
    return len(entry.partitions), entry.error.code() if entry.error is not None else None


@pytest.mark.parametrize("client", CLIENTS)
def test_delete_topics(start_kwire, client):
    broker = start_kwire("-o", "auto.create.topics.enable=false")
    create_topic(client, broker.bootstrap, "doomed", 2)
    create_topic(client, broker.bootstrap, "kept", 1)
    produce(client, broker.bootstrap, "doomed", [Outgoing(key=b"k", value=b"v")])

    assert delete_topics(client, broker.bootstrap, ["doomed"]) == {"doomed": 0}
    wait_for(
        lambda: described(broker.bootstrap, "doomed")[1] == 3, "the topic to be gone"
    )  # UNKNOWN_TOPIC_OR_PARTITION
    assert described(broker.bootstrap, "kept") == (1, None)
    assert delete_topics(client, broker.bootstrap, ["doomed"]) == {"doomed": 3}

    broker.restart()
    assert described(broker.bootstrap, "doomed")[1] == 3  # still deleted
    assert described(broker.bootstrap, "kept") == (1, None)


@pytest.mark.parametrize("client", CLIENTS)
def test_create_partitions_and_produce_to_them(start_kwire, client):
    broker = start_kwire()
    create_topic(client, broker.bootstrap, "grows", 2)
    create_partitions(client, broker.bootstrap, "grows", 4)
    assert described(broker.bootstrap, "grows") == (4, None)
    placed = produce(client, broker.bootstrap, "grows", [Outgoing(key=b"k", value=b"new", partition=3)])
    assert placed == [(3, 0)]
    (message,) = consume(client, broker.bootstrap, "grows", [3], 1)
    assert message.value == b"new"

    broker.restart()
    assert described(broker.bootstrap, "grows") == (4, None)
    assert watermarks(client, broker.bootstrap, "grows", 3) == (0, 1)


def test_create_partitions_errors(shared_kwire, topic_name):
    from confluent_kafka import KafkaError, KafkaException

    bootstrap = shared_kwire.bootstrap
    create_topic("confluent-kafka", bootstrap, topic_name, 3)
    with pytest.raises(KafkaException) as info:
        create_partitions("confluent-kafka", bootstrap, topic_name, 2)
    assert info.value.args[0].code() == KafkaError.INVALID_PARTITIONS
    assert "would not be an increase" in info.value.args[0].str()

    from kafka.errors import InvalidPartitionsError, UnknownTopicOrPartitionError

    with pytest.raises(InvalidPartitionsError):
        create_partitions("kafka-python", bootstrap, topic_name, 3)
    with pytest.raises(UnknownTopicOrPartitionError):
        create_partitions("kafka-python", bootstrap, topic_name + "-absent", 3)

    from aiokafka.errors import InvalidPartitionsError as AioInvalidPartitions

    with pytest.raises(AioInvalidPartitions):
        create_partitions("aiokafka", bootstrap, topic_name, 1)
    assert described(bootstrap, topic_name) == (3, None)


def test_delete_by_topic_id(shared_kwire, topic_name):
    from confluent_kafka import TopicCollection
    from confluent_kafka.admin import AdminClient

    bootstrap = shared_kwire.bootstrap
    create_topic("kafka-python", bootstrap, topic_name, 1)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    description = admin.describe_topics(TopicCollection([topic_name]))[topic_name].result(TIMEOUT_S)
    topic_id = uuid.UUID(bytes=bytes(_uuid_bytes(description.topic_id)))
    assert delete_topics("kafka-python", bootstrap, [topic_id]) == {topic_name: 0}
    stranger = uuid.uuid4()
    (code,) = delete_topics("kafka-python", bootstrap, [stranger]).values()
    assert code == 100  # UNKNOWN_TOPIC_ID
    wait_for(lambda: described(bootstrap, topic_name)[1] == 3, "the topic to be gone")


def _uuid_bytes(confluent_uuid) -> bytes:
    high = confluent_uuid.get_most_significant_bits() & (2**64 - 1)
    low = confluent_uuid.get_least_significant_bits() & (2**64 - 1)
    return high.to_bytes(8, "big") + low.to_bytes(8, "big")


def test_deletion_disabled(start_kwire):
    from confluent_kafka import KafkaError

    broker = start_kwire("-o", "delete.topic.enable=false", memory=True)
    create_topic("confluent-kafka", broker.bootstrap, "stays", 1)
    assert delete_topics("confluent-kafka", broker.bootstrap, ["stays"]) == {
        "stays": KafkaError.TOPIC_DELETION_DISABLED
    }
    assert delete_topics("kafka-python", broker.bootstrap, ["stays"]) == {"stays": 73}
    assert described(broker.bootstrap, "stays") == (1, None)


def test_recreating_a_topic_leaves_its_old_offsets_and_data_behind(start_kwire):
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient

    broker = start_kwire()
    bootstrap = broker.bootstrap
    create_topic("confluent-kafka", bootstrap, "reborn", 1)
    produce("confluent-kafka", bootstrap, "reborn", [Outgoing(key=b"k", value=b"old-%d" % i) for i in range(5)])
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "keeper", "enable.auto.commit": False})
    try:
        consumer.commit(offsets=[TopicPartition("reborn", 0, 5)], asynchronous=False)
    finally:
        consumer.close()

    def committed() -> int:
        admin = AdminClient({"bootstrap.servers": bootstrap})
        from confluent_kafka import ConsumerGroupTopicPartitions

        found = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions("keeper")])["keeper"].result(TIMEOUT_S)
        return {(tp.topic, tp.partition): tp.offset for tp in found.topic_partitions}.get(("reborn", 0), -1)

    assert committed() == 5
    # The offsets topic exists now, and kwire keeps it.
    assert delete_topics("confluent-kafka", bootstrap, ["__consumer_offsets"]) == {"__consumer_offsets": 17}
    assert delete_topics("kafka-python", bootstrap, ["reborn"]) == {"reborn": 0}
    assert committed() == -1
    create_topic("aiokafka", bootstrap, "reborn", 1)
    assert watermarks("kafka-python", bootstrap, "reborn", 0) == (0, 0)
    placed = produce("kafka-python", bootstrap, "reborn", [Outgoing(key=b"k", value=b"new")])
    assert placed == [(0, 0)]
    (message,) = consume("aiokafka", bootstrap, "reborn", [0], 1)
    assert message.value == b"new"

    broker.restart()  # the deletion, the tombstones and the new topic all persisted
    assert committed() == -1
    assert watermarks("confluent-kafka", bootstrap, "reborn", 0) == (0, 1)
