import attrs
import pytest

from kwire.config import SETTINGS, BrokerConfig, ConfigError, Rule, parse_option, rule_for
from kwire.coordinator.group_coordinator import GroupSettings


def test_overrides_use_kafka_names_and_types():
    config = BrokerConfig()
    config.apply_override("num.partitions", "3")
    config.apply_override("auto.create.topics.enable", "false")
    config.apply_override("message.max.bytes", "2000000")
    assert config.num_partitions == 3
    assert config.auto_create_topics_enable is False
    assert config.message_max_bytes == 2000000


def test_defaults_follow_kafka_except_the_rebalance_delay():
    config = BrokerConfig()
    assert config.num_partitions == 1
    assert config.auto_create_topics_enable is True
    assert config.socket_request_max_bytes == 100 * 1024 * 1024
    assert config.log_segment_bytes == 1024**3
    assert config.group_initial_rebalance_delay_ms == 100  # Kafka: 3000
    assert GroupSettings().initial_rebalance_delay_ms == 100  # the coordinator's own default agrees
    assert config.group_consumer_heartbeat_interval_ms == 500  # Kafka: 5000
    assert config.group_consumer_min_heartbeat_interval_ms == 100  # Kafka: 5000
    assert config.group_share_heartbeat_interval_ms == 500  # Kafka: 5000


@pytest.mark.parametrize("name", ["no.such.setting", "port", "data.dir"])
def test_unknown_or_non_kafka_names_are_refused(name):
    with pytest.raises(ValueError):
        BrokerConfig().apply_override(name, "1")


def test_bad_boolean_is_refused():
    with pytest.raises(ValueError):
        BrokerConfig().apply_override("auto.create.topics.enable", "maybe")


def test_advertised_address_falls_back_to_a_reachable_host():
    assert BrokerConfig(host="0.0.0.0").advertised(1234) == ("127.0.0.1", 1234)
    assert BrokerConfig(advertised_host="kafka", advertised_port=9999).advertised(1234) == ("kafka", 9999)


# --- validation: Kafka's types and ranges -------------------------------------------------------------------------


def test_every_rule_names_a_setting():
    fields = {f.name for f in attrs.fields(BrokerConfig)}
    coarse_synonyms = {"log.retention.hours", "log.retention.minutes", "log.roll.hours"}
    assert [name for name in SETTINGS if name.replace(".", "_") not in fields and name not in coarse_synonyms] == []


def test_the_defaults_are_valid():
    assert BrokerConfig().problems() == []


@pytest.mark.parametrize(
    "name, value, reason",
    [
        ("num.partitions", "0", "Value must be at least 1"),
        ("num.partitions", "-4", "Value must be at least 1"),
        ("num.partitions", "three", "Not a number of type INT"),
        ("num.partitions", "2147483648", "Not a number of type INT"),
        ("num.partitions", "1.0", "Not a number of type INT"),
        ("num.partitions", "1_000", "Not a number of type INT"),
        ("message.max.bytes", "-1", "Value must be at least 0"),
        ("socket.request.max.bytes", "0", "Value must be at least 1"),
        ("log.segment.bytes", "13", "Value must be at least 14"),
        ("fetch.max.bytes", "1023", "Value must be at least 1024"),
        ("log.retention.ms", "0", "Value must be at least 1 (or -1 for unlimited)"),
        ("log.retention.ms", "9223372036854775808", "Not a number of type LONG"),
        ("log.roll.hours", "0", "Value must be at least 1"),
        ("log.cleaner.min.cleanable.ratio", "1.5", "Value must be no more than 1"),
        ("log.cleaner.min.cleanable.ratio", "-0.1", "Value must be at least 0"),
        ("log.cleaner.min.cleanable.ratio", "nan", "Not a number of type DOUBLE"),
        ("log.cleaner.min.cleanable.ratio", "half", "Not a number of type DOUBLE"),
        ("compression.type", "brotli", "String must be one of: uncompressed, zstd, lz4, snappy, gzip, producer"),
        ("log.cleanup.policy", "compact,foo", "String must be one of: compact, delete"),
        ("log.cleanup.policy", "", "Empty list is not allowed"),
        ("log.message.timestamp.type", "createtime", "String must be one of: CreateTime, LogAppendTime"),
        (
            "group.consumer.migration.policy",
            "sideways",
            "String must be one of (case insensitive): disabled, downgrade, upgrade, bidirectional",
        ),
        ("auto.create.topics.enable", "yes", "Expected value to be either true or false"),
        ("auto.create.topics.enable", "1", "Expected value to be either true or false"),
        ("node.id", "-1", "Value must be at least 0"),
        ("max.connections", "-1", "Value must be at least 0"),
        ("connections.max.idle.ms", "ten minutes", "Not a number of type LONG"),
    ],
)
def test_a_value_kafka_refuses_is_one_line_naming_the_setting(name, value, reason):
    with pytest.raises(ConfigError) as refused:
        BrokerConfig().apply_override(name, value)
    assert str(refused.value) == f"Invalid value {value} for configuration {name}: {reason}"


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("num.partitions", " 3 ", 3),
        ("log.segment.bytes", "14", 14),
        ("log.cleaner.min.cleanable.ratio", "1", 1.0),
        ("log.cleaner.min.cleanable.ratio", "0.25", 0.25),
        ("log.retention.ms", "-1", -1),
        ("log.retention.ms", "-5", -1),  # Kafka: any negative retention means unlimited
        ("log.retention.bytes", "-1", -1),
        ("auto.create.topics.enable", "TRUE", True),
        ("log.cleanup.policy", "compact, delete", "compact,delete"),
        ("max.connections", "0", 0),
        ("queued.max.request.bytes", "-1", -1),
    ],
)
def test_values_at_the_edges_of_kafkas_ranges_are_accepted(name, value, expected):
    config = BrokerConfig()
    config.apply_override(name, value)
    assert getattr(config, name.replace(".", "_")) == expected
    assert config.problems() == []


def test_coarser_units_are_checked_and_stored_in_milliseconds():
    config = BrokerConfig()
    config.apply_override("log.retention.hours", "2")
    assert config.log_retention_ms == 2 * 3600_000
    config.apply_override("log.retention.minutes", "-1")
    assert config.log_retention_ms == -1
    with pytest.raises(ConfigError, match="for configuration log.retention.hours: Not a number of type INT"):
        config.apply_override("log.retention.hours", "two")


def test_a_config_built_in_code_is_checked_too():
    config = BrokerConfig(num_partitions=0, log_cleaner_enable="yes", port=70000)
    assert config.problems() == [
        "Invalid value 70000 for option --port: Value must be no more than 65535",
        "Invalid value 0 for configuration num.partitions: Value must be at least 1",
        "Invalid value yes for configuration log.cleaner.enable: Expected value to be either true or false",
    ]
    with pytest.raises(ConfigError) as refused:
        config.validate()
    assert len(str(refused.value).splitlines()) == 3


def test_queued_request_bytes_below_the_largest_request_is_refused_as_kafka_does():
    config = BrokerConfig()
    config.apply_override("socket.request.max.bytes", "2000000")
    config.apply_override("queued.max.request.bytes", "1000000")
    assert config.problems() == [
        "Invalid value 1000000 for configuration queued.max.request.bytes: "
        "must be at least socket.request.max.bytes (2000000) or -1"
    ]
    # kwire's own default bound does not get in the way of a larger request limit.
    larger_requests = BrokerConfig()
    larger_requests.apply_override("socket.request.max.bytes", "200000000")
    assert larger_requests.problems() == []


@pytest.mark.parametrize(
    "overrides, problem",
    [
        (
            {"group.consumer.heartbeat.interval.ms": "50"},
            "group.consumer.heartbeat.interval.ms must be greater than or equal to group.consumer.min.heartbeat.interval.ms",
        ),
        (
            {"group.consumer.max.heartbeat.interval.ms": "50"},
            "group.consumer.max.heartbeat.interval.ms must be greater than or equal to group.consumer.min.heartbeat.interval.ms",
        ),
        (
            {"group.consumer.session.timeout.ms": "70000"},
            "group.consumer.session.timeout.ms must be less than or equal to group.consumer.max.session.timeout.ms",
        ),
        (
            {"group.consumer.min.session.timeout.ms": "100", "group.consumer.session.timeout.ms": "400"},
            "group.consumer.heartbeat.interval.ms must be less than group.consumer.session.timeout.ms",
        ),
        (
            {"group.share.heartbeat.interval.ms": "50"},
            "group.share.heartbeat.interval.ms must be greater than or equal to group.share.min.heartbeat.interval.ms",
        ),
        (
            {"group.share.record.lock.duration.ms": "1000"},
            "group.share.record.lock.duration.ms must be between group.share.min.record.lock.duration.ms and group.share.max.record.lock.duration.ms",
        ),
    ],
)
def test_group_timings_are_checked_against_their_bounds_as_kafka_does(overrides, problem):
    config = BrokerConfig()
    for name, value in overrides.items():
        config.apply_override(name, value)
    assert problem in config.problems()


@pytest.mark.parametrize(
    "attribute, value, message",
    [
        ("port", "99999", "Invalid value 99999 for option --port: Value must be no more than 65535"),
        ("port", "-1", "Invalid value -1 for option --port: Value must be at least 0"),
        ("port", "http", "Invalid value http for option --port: Not a number of type INT"),
        ("advertised_port", "0", "Invalid value 0 for option --advertised-port: Value must be at least 1"),
        ("node_id", "-2", "Invalid value -2 for option --node-id: Value must be at least 0"),
    ],
)
def test_command_line_options_are_checked_like_settings(attribute, value, message):
    with pytest.raises(ConfigError) as refused:
        parse_option(attribute, value)
    assert str(refused.value) == message


def test_a_setting_added_without_a_rule_is_still_type_checked():
    @attrs.define
    class Later:
        log_flush_interval_ms: int | None = None
        some_ratio: float = 0.5

    by_annotation, by_default = attrs.fields(Later)
    assert rule_for("log.flush.interval.ms", by_annotation).parse("configuration log.flush.interval.ms", "1000") == 1000
    with pytest.raises(ConfigError, match="Not a number of type LONG"):
        rule_for("log.flush.interval.ms", by_annotation).parse("configuration log.flush.interval.ms", "soon")
    assert rule_for("some.ratio", by_default) == Rule("DOUBLE")
