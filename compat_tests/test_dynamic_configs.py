"""Dynamic broker configs and GROUP configs through real admin clients:
altered, described with their sources, in force at once, kept across a
restart. (librdkafka and kafka-python refuse a BROKER resource named ""
client-side; the cluster-wide default is reached with a raw request, as
Kafka's own tools send it.)"""

from __future__ import annotations

import asyncio
import time

import pytest

from compat_tests import raw
from compat_tests.broker import wait_for
from compat_tests.clients import create_topic

TIMEOUT_S = 20
DESCRIBE, INCREMENTAL = 32, 44
BROKER = 4
SET = 0


def confluent_admin(bootstrap: str):
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap})


def confluent_describe(bootstrap: str, resource_type, name: str) -> dict:
    from confluent_kafka.admin import ConfigResource

    resource = ConfigResource(resource_type, name)
    admin = confluent_admin(bootstrap)  # held until the answer is in: its handle dies with it
    entries = admin.describe_configs([resource])[resource].result(TIMEOUT_S)
    return {key: (entry.value, entry.source) for key, entry in entries.items()}


def set_cluster_default(bootstrap: str, name: str, value: str):
    sock = raw.connect(bootstrap)
    request = dict(
        resources=[
            dict(
                resource_type=BROKER,
                resource_name="",
                configs=[dict(name=name, config_operation=SET, value=value)],
            )
        ],
        validate_only=False,
    )
    (response,) = raw.call(sock, INCREMENTAL, 1, request).responses
    return response


def test_confluent_alters_and_describes_broker_configs(start_kwire, topic_name):
    from confluent_kafka import KafkaException, Producer
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ConfigSource, ResourceType

    broker = start_kwire()
    create_topic("confluent-kafka", broker.bootstrap, topic_name, 1)
    admin = confluent_admin(broker.bootstrap)
    node = ConfigResource(
        ResourceType.BROKER,
        "1",
        incremental_configs=[
            ConfigEntry("message.max.bytes", "2000", incremental_operation=AlterConfigOpType.SET),
            ConfigEntry("log.cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND),
        ],
    )
    admin.incremental_alter_configs([node])[node].result(TIMEOUT_S)
    described = confluent_describe(broker.bootstrap, ResourceType.BROKER, "1")
    assert described["message.max.bytes"] == ("2000", ConfigSource.DYNAMIC_BROKER_CONFIG.value)
    assert described["log.cleanup.policy"] == ("delete,compact", ConfigSource.DYNAMIC_BROKER_CONFIG.value)
    assert described["num.partitions"] == ("1", ConfigSource.DEFAULT_CONFIG.value)
    topic = confluent_describe(broker.bootstrap, ResourceType.TOPIC, topic_name)
    assert topic["max.message.bytes"] == ("2000", ConfigSource.DYNAMIC_BROKER_CONFIG.value)

    # In force at once: a batch over the new limit is refused.
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    outcome = []
    producer.produce(topic_name, b"x" * 5000, on_delivery=lambda error, message: outcome.append(error))
    producer.flush(TIMEOUT_S)
    assert outcome and outcome[0] is not None and "too large" in outcome[0].str().lower()

    static = ConfigResource(
        ResourceType.BROKER,
        "1",
        incremental_configs=[ConfigEntry("num.partitions", "3", incremental_operation=AlterConfigOpType.SET)],
    )
    with pytest.raises(KafkaException) as refused:
        admin.incremental_alter_configs([static])[static].result(TIMEOUT_S)
    assert refused.value.args[0].code() == 42  # INVALID_REQUEST
    assert "Cannot update these configs dynamically: Set(num.partitions)" in refused.value.args[0].str()
    # (librdkafka sends a BROKER resource to the broker it names, so another
    # node id never reaches this one: tests/handlers/test_dynamic_configs.py.)


def test_confluent_group_configs(start_kwire):
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType

    broker = start_kwire()
    admin = confluent_admin(broker.bootstrap)
    group = ConfigResource(
        ResourceType.GROUP,
        "orders",
        incremental_configs=[
            ConfigEntry("consumer.session.timeout.ms", "50000", incremental_operation=AlterConfigOpType.SET),
            ConfigEntry("share.auto.offset.reset", "earliest", incremental_operation=AlterConfigOpType.SET),
        ],
    )
    admin.incremental_alter_configs([group])[group].result(TIMEOUT_S)
    described = confluent_describe(broker.bootstrap, ResourceType.GROUP, "orders")
    assert described["consumer.session.timeout.ms"] == ("50000", 8)  # GROUP_CONFIG
    assert described["share.auto.offset.reset"] == ("earliest", 8)
    assert described["share.record.lock.duration.ms"] == ("30000", 5)

    too_short = ConfigResource(
        ResourceType.GROUP,
        "orders",
        incremental_configs=[
            ConfigEntry("consumer.session.timeout.ms", "1000", incremental_operation=AlterConfigOpType.SET)
        ],
    )
    with pytest.raises(KafkaException) as refused:
        admin.incremental_alter_configs([too_short])[too_short].result(TIMEOUT_S)
    assert refused.value.args[0].code() == 40  # INVALID_CONFIG
    assert "group.consumer.min.session.timeout.ms" in refused.value.args[0].str()

    broker.restart()
    described = confluent_describe(broker.bootstrap, ResourceType.GROUP, "orders")
    assert described["consumer.session.timeout.ms"] == ("50000", 8)


def test_kafka_python_alters_and_describes_broker_configs(start_kwire, topic_name):
    from kafka import KafkaProducer
    from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient
    from kafka.errors import KafkaError

    broker = start_kwire()
    create_topic("kafka-python", broker.bootstrap, topic_name, 1)
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=TIMEOUT_S * 1000)
    try:
        admin.alter_configs([ConfigResource(ConfigResourceType.BROKER, "1", configs={"message.max.bytes": "3000"})])
        described = admin.describe_configs(
            [ConfigResource(ConfigResourceType.BROKER, "1")], include_synonyms=True, config_filter="all"
        )
        entries = next(iter(next(iter(described.values())).values()))
        assert entries["message.max.bytes"]["value"] == "3000"
        assert entries["log.retention.ms"]["value"] == "604800000"
    finally:
        admin.close()

    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, retries=0)
    try:
        with pytest.raises(KafkaError):
            producer.send(topic_name, b"y" * 6000).get(TIMEOUT_S)
        producer.send(topic_name, b"small").get(TIMEOUT_S)
    finally:
        producer.close(TIMEOUT_S)


def test_a_lower_cluster_default_retention_deletes_old_segments_and_survives_restart(start_kwire, topic_name):
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import ResourceType

    broker = start_kwire("-o", "log.retention.check.interval.ms=200", "-o", "log.segment.bytes=1000")
    create_topic("confluent-kafka", broker.bootstrap, topic_name, 1)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
    an_hour_ago = int(time.time() * 1000) - 3600_000
    for index in range(20):
        producer.produce(topic_name, b"v" * 200, timestamp=an_hour_ago + index)
        producer.flush(TIMEOUT_S)

    def log_start() -> int:
        consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "watermarks"})
        try:
            low, _high = consumer.get_watermark_offsets(TopicPartition(topic_name, 0), timeout=TIMEOUT_S)
            return low
        finally:
            consumer.close()

    assert log_start() == 0
    response = set_cluster_default(broker.bootstrap, "log.retention.ms", "60000")
    assert response.error_code == 0, response.error_message
    wait_for(lambda: log_start() > 0, "old segments deleted by the new default retention")

    broker.restart()
    described = confluent_describe(broker.bootstrap, ResourceType.BROKER, "1")
    assert described["log.retention.ms"] == ("60000", 3)  # DYNAMIC_DEFAULT_BROKER_CONFIG
    topic = confluent_describe(broker.bootstrap, ResourceType.TOPIC, topic_name)
    assert topic["retention.ms"] == ("60000", 3)
    sock = raw.connect(broker.bootstrap)
    request = dict(
        resources=[dict(resource_type=BROKER, resource_name="", configuration_keys=None)],
        include_synonyms=False,
        include_documentation=False,
    )
    (result,) = raw.call(sock, DESCRIBE, 4, request).results
    assert [(c.name, c.value) for c in result.configs] == [("log.retention.ms", "60000")]


def test_aiokafka_alters_and_describes_broker_configs(start_kwire):
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    broker = start_kwire()

    async def run():
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        try:
            (_no_topics, altered) = await admin.alter_configs(
                [ConfigResource(ConfigResourceType.BROKER, "1", configs={"log.retention.bytes": "123456"})]
            )
            described = await admin.describe_configs(
                [ConfigResource(ConfigResourceType.BROKER, "1")], include_synonyms=True
            )
            return altered, described
        finally:
            await admin.close()

    altered, (described,) = asyncio.run(asyncio.wait_for(run(), TIMEOUT_S))
    assert altered.to_object()["resources"][0]["error_code"] == 0
    entries = {c["config_names"]: c for c in described.to_object()["resources"][0]["config_entries"]}
    assert entries["log.retention.bytes"]["config_value"] == "123456"
    assert entries["log.retention.bytes"]["config_source"] == 2  # DYNAMIC_BROKER_CONFIG
    assert entries["num.partitions"]["read_only"] is True
