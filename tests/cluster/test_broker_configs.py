"""The dynamic broker config levels and group configs, and their records in
the metadata log."""

import json
import logging

import pytest

from kwire.cluster.broker_configs import DYNAMIC, DynamicBrokerConfigs, is_static
from kwire.cluster.group_configs import GroupConfigs, broker_group_settings, validate_group_configs
from kwire.cluster.metadata_log import replay_records
from kwire.config import BrokerConfig
from kwire.protocol.errors import ErrorCode, KafkaError


def test_config_records_replay_last_write_wins_and_empty_sets_are_tombstones():
    snapshot = replay_records(
        [
            (b"broker-config:", json.dumps({"log.retention.ms": "1000"}).encode()),
            (b"broker-config:1", json.dumps({"message.max.bytes": "2000"}).encode()),
            (b"broker-config:1", None),
            (b"group-config:g", json.dumps({"share.auto.offset.reset": "earliest"}).encode()),
            (b"group-config:h", json.dumps({"share.auto.offset.reset": "earliest"}).encode()),
            (b"group-config:h", None),
        ]
    )
    assert snapshot.broker_configs == {"": {"log.retention.ms": "1000"}}
    assert snapshot.group_configs == {"g": {"share.auto.offset.reset": "earliest"}}


def test_kwires_dynamic_settings_are_kafkas():
    assert {"log.retention.ms", "message.max.bytes", "max.connections", "log.cleanup.policy"} <= DYNAMIC
    assert not DYNAMIC & {"num.partitions", "node.id", "log.retention.hours", "auto.create.topics.enable"}
    assert is_static("log.retention.hours") and is_static("listeners") and is_static("num.partitions")
    assert not is_static("log.retention.ms") and not is_static("num.io.threads")


def test_levels_apply_in_order_and_a_write_goes_to_the_store():
    config = BrokerConfig(data_dir=None)
    written = []
    configs = DynamicBrokerConfigs(config, {}, lambda name, values: written.append((name, values)))
    configs.alter("", {"log.retention.ms": "5000", "log.retention.bytes": "10"}, validate_only=False)
    configs.alter("1", {"log.retention.ms": "7000"}, validate_only=False)
    assert (config.log_retention_ms, config.log_retention_bytes) == (7000, 10)
    configs.alter("1", {}, validate_only=False)
    assert config.log_retention_ms == 5000
    assert written[-1] == ("1", {})
    configs.alter("", {}, validate_only=False)
    assert (config.log_retention_ms, config.log_retention_bytes) == (604800000, -1)


def test_a_stored_value_this_version_refuses_is_skipped_with_a_warning(caplog):
    config = BrokerConfig(data_dir=None)
    stored = {"": {"log.segment.bytes": "1", "log.retention.ms": "9000"}}
    with caplog.at_level(logging.WARNING):
        configs = DynamicBrokerConfigs(config, stored, lambda name, values: None)
    assert config.log_retention_ms == 9000 and config.log_segment_bytes == 1 << 30
    assert configs.level("") == {"log.retention.ms": "9000"}
    assert "log.segment.bytes=1" in caplog.text


def test_a_change_that_breaks_a_cross_check_is_refused():
    config = BrokerConfig(data_dir=None)
    configs = DynamicBrokerConfigs(config, {}, lambda name, values: None)
    with pytest.raises(KafkaError) as refused:
        configs.alter("", {"max.connections.per.ip": "0"}, validate_only=False)
    assert refused.value.error_code == ErrorCode.invalid_request
    assert config.max_connections_per_ip == 2**31 - 1


def test_group_values_are_checked_together():
    assert validate_group_configs({"consumer.session.timeout.ms": " 50000 "}) == {
        "consumer.session.timeout.ms": "50000"
    }
    with pytest.raises(KafkaError, match="share.heartbeat.interval.ms must be less than or equal to group.share.max"):
        validate_group_configs({"share.heartbeat.interval.ms": "45000"})
    with pytest.raises(KafkaError, match="at least 1000"):
        validate_group_configs({"share.record.lock.duration.ms": "999"})


def test_deleting_every_override_of_a_group_forgets_it():
    written = []
    groups = GroupConfigs({"g": {"share.isolation.level": "read_committed"}}, lambda g, c: written.append((g, c)))
    groups.alter("g", {}, validate_only=False)
    assert groups.overrides == {} and written == [("g", {})]
    with pytest.raises(KafkaError):
        groups.alter("", {"share.isolation.level": "read_committed"}, validate_only=False)


def test_a_groups_defaults_and_bounds_are_the_brokers_settings():
    config = BrokerConfig(data_dir=None, group_consumer_min_heartbeat_interval_ms=200)
    broker = broker_group_settings(lambda name: getattr(config, name.replace(".", "_")))
    groups = GroupConfigs({}, lambda g, c: None, broker)
    shown = {name: (value, source) for name, value, source, _spec in groups.entries("g")}
    assert shown["consumer.heartbeat.interval.ms"] == (str(config.group_consumer_heartbeat_interval_ms), 5)
    groups.alter("g", {"consumer.heartbeat.interval.ms": "200"}, validate_only=False)
    with pytest.raises(KafkaError, match="greater than or equal to group.consumer.min.heartbeat.interval.ms"):
        groups.alter("g", {"consumer.heartbeat.interval.ms": "199"}, validate_only=False)
    # Without a broker's config the bounds are Kafka's defaults.
    with pytest.raises(KafkaError, match="group.consumer.min.heartbeat.interval.ms"):
        validate_group_configs({"consumer.heartbeat.interval.ms": "200"})
