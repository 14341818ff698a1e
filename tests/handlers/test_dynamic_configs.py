"""Dynamic broker configs and GROUP config resources through the three
config APIs, in process."""

import logging

import pytest

from kwire.protocol.errors import ErrorCode
from kwire.server.connection_quotas import ConnectionQuotas
from tests.core_client import CoreClient, make_core
from tests.handlers import requests as rq

DESCRIBE, ALTER, INCREMENTAL = 32, 33, 44
TOPIC, BROKER, GROUP = 2, 4, 32
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3
DYNAMIC_BROKER, DYNAMIC_DEFAULT, STATIC, DEFAULT, GROUP_SOURCE = 2, 3, 4, 5, 8


def describe(client, kind, name, keys=None):
    request = dict(
        resources=[dict(resource_type=kind, resource_name=name, configuration_keys=keys)],
        include_synonyms=True,
        include_documentation=True,
    )
    (result,) = client.call(DESCRIBE, 4, request).results
    return result


def described(client, kind, name):
    result = describe(client, kind, name)
    assert result.error_code == ErrorCode.none, result.error_message
    return {c.name: c for c in result.configs}


def alter(client, kind, name, configs, validate_only=False):
    request = dict(
        resources=[
            dict(resource_type=kind, resource_name=name, configs=[dict(name=k, value=v) for k, v in configs.items()])
        ],
        validate_only=validate_only,
    )
    (response,) = client.call(ALTER, 2, request).responses
    return response


def incremental(client, kind, name, *ops, validate_only=False):
    request = dict(
        resources=[
            dict(
                resource_type=kind,
                resource_name=name,
                configs=[dict(name=n, config_operation=op, value=v) for n, op, v in ops],
            )
        ],
        validate_only=validate_only,
    )
    (response,) = client.call(INCREMENTAL, 1, request).responses
    return response


def ok(response):
    assert response.error_code == ErrorCode.none, response.error_message


def test_cluster_default_is_in_force_and_described_at_both_levels(client):
    client.call(19, 4, rq.create("t"))
    ok(incremental(client, BROKER, "", ("log.retention.ms", SET, "60000")))

    default_level = described(client, BROKER, "")
    assert list(default_level) == ["log.retention.ms"]
    assert default_level["log.retention.ms"].value == "60000"
    assert default_level["log.retention.ms"].config_source == DYNAMIC_DEFAULT

    node = described(client, BROKER, "1")["log.retention.ms"]
    assert (node.value, node.config_source, node.read_only) == ("60000", DYNAMIC_DEFAULT, False)
    assert [(s.value, s.source) for s in node.synonyms] == [("60000", DYNAMIC_DEFAULT), ("604800000", DEFAULT)]
    assert described(client, BROKER, "1")["num.partitions"].read_only

    retention = described(client, TOPIC, "t")["retention.ms"]
    assert (retention.value, retention.config_source) == ("60000", DYNAMIC_DEFAULT)
    assert client.core.state.cluster.get("t").partitions[0].log.config.retention_ms == 60000


def test_per_broker_beats_the_cluster_default_and_takes_effect_at_once(client):
    client.call(19, 4, rq.create("t"))
    ok(alter(client, BROKER, "", {"message.max.bytes": "1000"}))
    ok(alter(client, BROKER, "1", {"message.max.bytes": "300"}))
    entry = described(client, BROKER, "1")["message.max.bytes"]
    assert (entry.value, entry.config_source) == ("300", DYNAMIC_BROKER)
    assert [s.source for s in entry.synonyms] == [DYNAMIC_BROKER, DYNAMIC_DEFAULT, DEFAULT]

    big = client.call(0, 9, rq.produce("t", 0, rq.batch(b"x" * 250)))
    assert big.responses[0].partition_responses[0].error_code == ErrorCode.message_too_large
    ok(incremental(client, BROKER, "1", ("message.max.bytes", DELETE, None)))
    fits = client.call(0, 9, rq.produce("t", 0, rq.batch(b"x" * 250)))
    assert fits.responses[0].partition_responses[0].error_code == ErrorCode.none


def test_static_settings_bad_values_and_other_brokers_are_invalid_requests(client):
    static = alter(client, BROKER, "1", {"num.partitions": "3", "log.retention.hours": "1"})
    assert static.error_code == ErrorCode.invalid_request
    assert static.error_message == "Cannot update these configs dynamically: Set(log.retention.hours, num.partitions)"

    bad = incremental(client, BROKER, "", ("log.segment.bytes", SET, "10"))
    assert bad.error_code == ErrorCode.invalid_request  # as Kafka (KAFKA-13609), not INVALID_CONFIG
    assert bad.error_message == "Invalid value 10 for configuration log.segment.bytes: Value must be at least 14"
    assert incremental(client, BROKER, "", ("log.retention.ms", SET, "soon")).error_code == ErrorCode.invalid_request

    other = incremental(client, BROKER, "2", ("log.retention.ms", SET, "1000"))
    assert (other.error_code, other.error_message) == (
        ErrorCode.invalid_request,
        "Unexpected broker id, expected 1, but received 2",
    )
    assert describe(client, BROKER, "2").error_code == ErrorCode.invalid_request
    assert client.core.config.num_partitions == 1 and client.core.config.log_segment_bytes == 1 << 30
    assert described(client, BROKER, "") == {}


def test_validate_only_changes_nothing(client):
    ok(incremental(client, BROKER, "", ("log.retention.ms", SET, "1000"), validate_only=True))
    ok(alter(client, BROKER, "1", {"log.retention.ms": "1000"}, validate_only=True))
    assert client.core.config.log_retention_ms == 604800000
    assert described(client, BROKER, "") == {}


def test_list_operations_and_legacy_alter_replacing_a_level(client):
    ok(incremental(client, BROKER, "", ("log.cleanup.policy", APPEND, "compact")))
    assert client.core.config.log_cleanup_policy == "delete,compact"
    ok(incremental(client, BROKER, "", ("log.cleanup.policy", SUBTRACT, "delete")))
    assert client.core.config.log_cleanup_policy == "compact"
    appended = incremental(client, BROKER, "", ("message.max.bytes", APPEND, "1"))
    assert appended.error_code == ErrorCode.invalid_request

    ok(alter(client, BROKER, "", {"log.retention.bytes": "1000"}))
    assert list(described(client, BROKER, "")) == ["log.retention.bytes"]
    assert client.core.config.log_cleanup_policy == "delete"  # back to the static value


def test_kafka_dynamic_keys_kwire_does_not_use_are_stored(client):
    # librdkafka's admin tests set this one on a broker.
    ok(alter(client, BROKER, "1", {"sasl.kerberos.min.time.before.relogin": "58000"}))
    entry = described(client, BROKER, "1")["sasl.kerberos.min.time.before.relogin"]
    assert (entry.value, entry.config_source, entry.read_only) == ("58000", DYNAMIC_BROKER, False)


def test_dynamic_configs_survive_a_restart(tmp_path):
    core = make_core(tmp_path)
    client = CoreClient(core)
    client.call(19, 4, rq.create("t"))
    ok(incremental(client, BROKER, "", ("log.retention.ms", SET, "5000")))
    ok(incremental(client, BROKER, "1", ("log.segment.bytes", SET, "100000")))
    ok(incremental(client, GROUP, "g", ("consumer.session.timeout.ms", SET, "50000")))
    ok(incremental(client, BROKER, "1", ("log.roll.ms", SET, "100")))
    ok(incremental(client, BROKER, "1", ("log.roll.ms", DELETE, None)))
    core.close()

    core = make_core(tmp_path)
    try:
        client = CoreClient(core)
        assert core.config.log_retention_ms == 5000 and core.config.log_segment_bytes == 100000
        assert core.config.log_roll_ms == 604800000
        log_config = core.state.cluster.get("t").partitions[0].log.config
        assert (log_config.retention_ms, log_config.segment_bytes) == (5000, 100000)
        assert described(client, BROKER, "1")["log.segment.bytes"].config_source == DYNAMIC_BROKER
        assert described(client, GROUP, "g")["consumer.session.timeout.ms"].value == "50000"
    finally:
        core.close()


def test_a_static_setting_shows_under_a_dynamic_one():
    core = make_core(message_max_bytes=5000, explicit={"message.max.bytes"})
    client = CoreClient(core)
    try:
        ok(incremental(client, BROKER, "", ("message.max.bytes", SET, "6000")))
        entry = described(client, BROKER, "1")["message.max.bytes"]
        assert [(s.value, s.source) for s in entry.synonyms] == [
            ("6000", DYNAMIC_DEFAULT),
            ("5000", STATIC),
            ("1048588", DEFAULT),
        ]
        ok(incremental(client, BROKER, "", ("message.max.bytes", DELETE, None)))
        assert core.config.message_max_bytes == 5000
    finally:
        core.close()


def test_connection_limits_follow_a_change():
    core = make_core()
    quotas = ConnectionQuotas(core.config.max_connections, core.config.max_connections_per_ip)
    core.state.cluster.broker_configs.on_change.append(lambda: quotas.set_limits(core.config))
    client = CoreClient(core)
    try:
        ok(incremental(client, BROKER, "1", ("max.connections.per.ip", SET, "1")))
        assert quotas.admit("10.0.0.1")
        assert not quotas.admit("10.0.0.1")
    finally:
        core.close()


def test_group_configs_are_validated_stored_and_described(client):
    entries = described(client, GROUP, "g")
    assert entries["consumer.session.timeout.ms"].value == "45000"
    assert entries["consumer.session.timeout.ms"].config_source == DEFAULT
    assert entries["share.auto.offset.reset"].value == "latest"

    ok(incremental(client, GROUP, "g", ("share.record.lock.duration.ms", SET, "20000")))
    entry = described(client, GROUP, "g")["share.record.lock.duration.ms"]
    assert (entry.value, entry.config_source) == ("20000", GROUP_SOURCE)
    assert described(client, GROUP, "other")["share.record.lock.duration.ms"].value == "30000"

    cases = [
        ("consumer.session.timeout.ms", "40000", "must be greater than or equal to group.consumer.min.session"),
        ("consumer.heartbeat.interval.ms", "20000", "must be less than or equal to group.consumer.max.heartbeat"),
        ("share.auto.offset.reset", "middle", "String must be one of: latest, earliest"),
        ("share.session.timeout.ms", "x", "Not a number of type INT"),
        ("nonsense", "1", "Unknown group config name: nonsense"),
    ]
    for name, value, reason in cases:
        refused = incremental(client, GROUP, "g", (name, SET, value))
        assert refused.error_code == ErrorCode.invalid_config, name
        assert reason in refused.error_message
    assert incremental(client, GROUP, "", ("share.isolation.level", SET, "read_committed")).error_code != 0
    ok(alter(client, GROUP, "g", {"share.isolation.level": "read_committed"}))
    entries = described(client, GROUP, "g")
    assert entries["share.isolation.level"].value == "read_committed"
    assert entries["share.record.lock.duration.ms"].config_source == DEFAULT  # replaced by the legacy alter


def test_every_change_is_logged_with_who_and_what(client, caplog):
    with caplog.at_level(logging.INFO, logger="kwire.admin"):
        ok(incremental(client, BROKER, "", ("log.retention.ms", SET, "1000")))
        incremental(client, BROKER, "1", ("num.partitions", SET, "2"))
        ok(
            incremental(
                client, BROKER, "", ("log.retention.ms", DELETE, None), ("log.cleanup.policy", APPEND, "compact")
            )
        )
    changed, refused, incremented = [r.getMessage() for r in caplog.records]
    assert incremented.endswith("configs of broker '' set to -log.retention.ms, log.cleanup.policy+=compact")
    assert changed.startswith("IncrementalAlterConfigs from client ")
    assert "configs of broker '' set to log.retention.ms=1000" in changed
    assert "refused" in refused and "num.partitions=2" in refused and "Cannot update" in refused


@pytest.mark.parametrize("version", [0, 1, 2])
def test_every_alter_configs_version_reaches_broker_configs(client, version):
    request = dict(
        resources=[dict(resource_type=BROKER, resource_name="", configs=[dict(name="log.retention.ms", value="7")])],
        validate_only=False,
    )
    (response,) = client.call(ALTER, version, request).responses
    ok(response)
    assert client.core.config.log_retention_ms == 7


def test_every_broker_setting_is_documented(client):
    result = describe(client, BROKER, "1")
    undocumented = [c.name for c in result.configs if not c.documentation]
    assert result.configs and undocumented == []
    assert describe(client, BROKER, "one").error_message == "Broker id must be an integer, but it is: one"
