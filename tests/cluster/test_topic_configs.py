import attrs
import pytest

from kwire.cluster.topic_configs import (
    TOPIC_CONFIGS,
    effective_value,
    log_config_for,
    validate_topic_configs,
    validate_value,
)
from kwire.config import BrokerConfig
from kwire.protocol.errors import ErrorCode, KafkaError


@pytest.mark.parametrize(
    "name,value,reason",
    [
        ("retention.ms", "soon", "Not a number of type LONG"),
        ("retention.ms", "-2", "at least -1"),
        ("segment.bytes", "13", "at least 14"),
        ("segment.bytes", str(2**31), "Not a number of type INT"),
        ("min.cleanable.dirty.ratio", "1.5", "no more than 1"),
        ("preallocate", "yes", "either true or false"),
        ("cleanup.policy", "archive", "String must be one of"),
        ("cleanup.policy", " ", "Empty list"),
        ("compression.type", "brotli", "String must be one of"),
        ("message.timestamp.type", "logappendtime", "String must be one of"),
    ],
)
def test_bad_values_are_invalid_config_with_kafkas_reason(name, value, reason):
    with pytest.raises(KafkaError) as raised:
        validate_value(name, value)
    assert raised.value.error_code == ErrorCode.invalid_config
    assert reason in str(raised.value)


def test_unknown_names_and_null_values_are_refused():
    for name, value in [("retention.forever", "1"), ("retention.ms", None)]:
        with pytest.raises(KafkaError) as raised:
            validate_value(name, value)
        assert raised.value.error_code == ErrorCode.invalid_config


def test_good_values_are_normalised():
    assert validate_topic_configs(
        {
            "retention.ms": " 1000 ",
            "preallocate": "TRUE",
            "cleanup.policy": "compact, delete",
        }
    ) == {"retention.ms": "1000", "preallocate": "true", "cleanup.policy": "compact, delete"}


def test_the_value_in_force_is_the_override_then_the_broker_setting_then_kafkas_default():
    broker = BrokerConfig()
    broker.apply_override("log.retention.ms", "5000")
    assert effective_value(broker, {"retention.ms": "7"}, "retention.ms") == "7"
    assert effective_value(broker, {}, "retention.ms") == "5000"
    assert effective_value(broker, {}, "remote.storage.enable") == TOPIC_CONFIGS["remote.storage.enable"].default


def test_log_config_follows_the_topic_configs():
    config = log_config_for(
        BrokerConfig(),
        {
            "cleanup.policy": "compact,delete",
            "message.timestamp.type": "LogAppendTime",
            "compression.type": "zstd",
            "segment.bytes": "1024",
            "min.insync.replicas": "2",
        },
    )
    assert config.cleanup_policy == frozenset({"compact", "delete"})
    assert config.log_append_time is True
    assert config.compression_type == "zstd"
    assert config.segment_bytes == 1024
    assert config.min_insync_replicas == 2
    defaults = log_config_for(BrokerConfig(), {})
    assert defaults.cleanup_policy == frozenset({"delete"})
    assert defaults.log_append_time is False


def test_flush_settings_follow_kafka():
    broker = BrokerConfig()
    config = log_config_for(broker, {})
    assert (config.flush_messages, config.flush_ms) == (2**63 - 1, 2**63 - 1)  # no fsync policy by default
    broker.apply_override("log.flush.interval.messages", "1")
    broker.apply_override("log.flush.scheduler.interval.ms", "500")
    config = log_config_for(broker, {})
    # log.flush.interval.ms unset: flush.ms falls back to the scheduler interval, as in Kafka.
    assert (config.flush_messages, config.flush_ms) == (1, 500)
    broker.apply_override("log.flush.interval.ms", "2000")
    assert log_config_for(broker, {}).flush_ms == 2000
    assert log_config_for(broker, {"flush.ms": "30", "flush.messages": "7"}) == attrs.evolve(
        config, flush_ms=30, flush_messages=7
    )
    with pytest.raises(KafkaError):
        validate_value("flush.messages", "0")


def test_timestamp_limits_come_from_the_topic_then_the_broker_then_kafkas_defaults():
    assert (
        log_config_for(BrokerConfig(), {}).timestamp_before_max_ms,
        log_config_for(BrokerConfig(), {}).timestamp_after_max_ms,
    ) == (2**63 - 1, 3_600_000)
    broker = BrokerConfig()
    broker.apply_override("log.message.timestamp.after.max.ms", "5000")
    broker.apply_override("log.message.timestamp.before.max.ms", "60000")
    assert log_config_for(broker, {}).timestamp_after_max_ms == 5000
    assert log_config_for(broker, {}).timestamp_before_max_ms == 60000
    assert log_config_for(broker, {"message.timestamp.after.max.ms": "7"}).timestamp_after_max_ms == 7
