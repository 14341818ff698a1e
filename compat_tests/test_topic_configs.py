"""Topic configs through the admin clients: set at creation, described with
their sources, altered (whole and incremental), validated, persisted."""

from __future__ import annotations

import asyncio

import pytest

from compat_tests.clients import create_topic

TIMEOUT_S = 20


def confluent_describe(bootstrap: str, topic: str) -> dict:
    from confluent_kafka.admin import AdminClient, ConfigResource

    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    entries = admin.describe_configs([resource])[resource].result(TIMEOUT_S)
    return {name: (entry.value, entry.source) for name, entry in entries.items()}


def test_confluent_describe_alter_and_validate(start_kwire, topic_name):
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ConfigSource

    broker = start_kwire("-o", "log.retention.hours=2", "-o", "max.connections.per.ip=500")
    create_topic("confluent-kafka", broker.bootstrap, topic_name, 1, configs={"segment.bytes": "100000"})
    described = confluent_describe(broker.bootstrap, topic_name)
    assert described["segment.bytes"] == ("100000", ConfigSource.DYNAMIC_TOPIC_CONFIG.value)
    assert described["retention.ms"] == ("7200000", ConfigSource.STATIC_BROKER_CONFIG.value)
    assert described["cleanup.policy"] == ("delete", ConfigSource.DEFAULT_CONFIG.value)
    assert len(described) >= 25

    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    node = ConfigResource(ConfigResource.Type.BROKER, "1")
    broker_configs = admin.describe_configs([node])[node].result(TIMEOUT_S)
    assert (broker_configs["log.retention.ms"].value, broker_configs["log.retention.ms"].source) == (
        "7200000",
        ConfigSource.STATIC_BROKER_CONFIG.value,
    )
    assert broker_configs["log.segment.bytes"].source == ConfigSource.DEFAULT_CONFIG.value
    assert (broker_configs["max.connections.per.ip"].value, broker_configs["max.connections.per.ip"].source) == (
        "500",
        ConfigSource.STATIC_BROKER_CONFIG.value,
    )
    assert broker_configs["queued.max.request.bytes"].value == "104857600"
    assert broker_configs["log.flush.interval.messages"].value == str(2**63 - 1)

    resource = ConfigResource(
        ConfigResource.Type.TOPIC,
        topic_name,
        incremental_configs=[
            ConfigEntry("retention.ms", "60000", incremental_operation=AlterConfigOpType.SET),
            ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND),
            ConfigEntry("segment.bytes", None, incremental_operation=AlterConfigOpType.DELETE),
        ],
    )
    admin.incremental_alter_configs([resource])[resource].result(TIMEOUT_S)
    described = confluent_describe(broker.bootstrap, topic_name)
    assert described["retention.ms"][0] == "60000"
    assert described["cleanup.policy"][0] == "delete,compact"
    assert described["segment.bytes"] == ("1073741824", ConfigSource.DEFAULT_CONFIG.value)

    bad = ConfigResource(
        ConfigResource.Type.TOPIC,
        topic_name,
        incremental_configs=[ConfigEntry("retention.ms", "soon", incremental_operation=AlterConfigOpType.SET)],
    )
    with pytest.raises(KafkaException, match="retention.ms"):
        admin.incremental_alter_configs([bad])[bad].result(TIMEOUT_S)
    unknown = ConfigResource(
        ConfigResource.Type.TOPIC,
        topic_name,
        incremental_configs=[ConfigEntry("retention.parsecs", "1", incremental_operation=AlterConfigOpType.SET)],
    )
    with pytest.raises(KafkaException, match="retention.parsecs"):
        admin.incremental_alter_configs([unknown])[unknown].result(TIMEOUT_S)
    assert confluent_describe(broker.bootstrap, topic_name)["retention.ms"][0] == "60000"

    # Survives a restart.
    broker.stop()
    broker.start()
    assert confluent_describe(broker.bootstrap, topic_name)["cleanup.policy"][0] == "delete,compact"


def test_confluent_rejects_invalid_values_at_creation(shared_kwire, topic_name):
    from confluent_kafka import KafkaException

    for configs, key in [
        ({"cleanup.policy": "shred"}, "cleanup.policy"),
        ({"min.cleanable.dirty.ratio": "1.5"}, "min.cleanable.dirty.ratio"),
        ({"message.timestamp.type": "Tuesday"}, "message.timestamp.type"),
    ]:
        with pytest.raises(KafkaException, match=key):
            create_topic("confluent-kafka", shared_kwire.bootstrap, topic_name, 1, configs=configs)


def test_kafka_python_describe_and_alter(shared_kwire, topic_name):
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    create_topic("kafka-python", shared_kwire.bootstrap, topic_name, 1, configs={"retention.ms": "123456"})
    admin = KafkaAdminClient(bootstrap_servers=shared_kwire.bootstrap, request_timeout_ms=10_000)
    try:

        def describe() -> dict:
            response = admin.describe_configs(
                [ConfigResource(ConfigResourceType.TOPIC, topic_name)], config_filter="all"
            )
            return {name: entry["value"] for name, entry in response["topic"][topic_name].items()}

        described = describe()
        assert described["retention.ms"] == "123456"
        assert described["compression.type"] == "producer"
        sources = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic_name)])["topic"][topic_name]
        assert {name: entry["config_source"] for name, entry in sources.items()} == {
            "retention.ms": "DYNAMIC_TOPIC_CONFIG"
        }  # the default filter: only what was changed
        admin.alter_configs(
            [
                ConfigResource(
                    ConfigResourceType.TOPIC,
                    topic_name,
                    configs={"compression.type": "zstd", "retention.bytes": "1000000"},
                )
            ]
        )
        described = describe()
        assert (described["compression.type"], described["retention.bytes"]) == ("zstd", "1000000")
        assert described["retention.ms"] == "123456"  # incremental: untouched
    finally:
        admin.close()


def test_aiokafka_describe_and_alter(shared_kwire, topic_name):
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    create_topic("aiokafka", shared_kwire.bootstrap, topic_name, 1)

    async def run():
        admin = AIOKafkaAdminClient(bootstrap_servers=shared_kwire.bootstrap)
        await admin.start()
        try:
            await admin.alter_configs(
                [
                    ConfigResource(
                        ConfigResourceType.TOPIC, topic_name, configs={"message.timestamp.type": "LogAppendTime"}
                    )
                ]
            )
            return await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic_name)])
        finally:
            await admin.close()

    (response,) = asyncio.run(asyncio.wait_for(run(), TIMEOUT_S))
    resources = response.to_object()["resources"]
    entries = {c["config_names"]: c["config_value"] for c in resources[0]["config_entries"]}
    assert entries["message.timestamp.type"] == "LogAppendTime"
