"""CLIENT_METRICS resources: Kafka's validation, parsing and versioning."""

import pytest

from kwire.cluster.client_metrics_configs import (
    DEFAULT_INTERVAL_MS,
    ClientMetricsConfigs,
    parse_subscription,
    validate_client_metrics_configs,
)
from kwire.protocol.errors import ErrorCode, KafkaError


@pytest.mark.parametrize(
    ("name", "configs", "error", "message"),
    [
        ("", {"metrics": "a"}, ErrorCode.invalid_request, "Subscription name can't be empty"),
        ("s", {"colour": "red"}, ErrorCode.invalid_request, "Unknown client metrics configuration: colour"),
        ("s", {"interval.ms": "99"}, ErrorCode.invalid_request, "interval must be between 100 and 3600000"),
        ("s", {"interval.ms": "3600001"}, ErrorCode.invalid_request, "interval must be between 100 and 3600000"),
        ("s", {"interval.ms": "soon"}, ErrorCode.invalid_config, "Not a number of type INT"),
        ("s", {"match": "client_colour=red"}, ErrorCode.invalid_config, "Illegal client matching pattern"),
        ("s", {"match": "client_id"}, ErrorCode.invalid_config, "Illegal client matching pattern"),
        ("s", {"match": "client_id=a=b"}, ErrorCode.invalid_config, "Illegal client matching pattern"),
        ("s", {"match": "client_id=(unclosed"}, ErrorCode.invalid_config, "Illegal client matching pattern"),
        ("s", {"metrics": None}, ErrorCode.invalid_request, "Null value"),
    ],
)
def test_what_kafka_refuses(name, configs, error, message):
    with pytest.raises(KafkaError) as refused:
        validate_client_metrics_configs(name, configs)
    assert refused.value.error_code == error
    assert message in (refused.value.message or "")


def test_valid_configs_are_kept_and_parsed():
    configs = {"metrics": "org.apache.kafka.producer., org.apache.kafka.consumer.", "interval.ms": " 100 "}
    configs["match"] = "client_id=ci-.*,client_software_name=librdkafka"
    clean = validate_client_metrics_configs("s", configs)
    assert clean["interval.ms"] == "100"
    parsed = parse_subscription("s", clean)
    assert parsed.metrics == ("org.apache.kafka.producer.", "org.apache.kafka.consumer.")
    assert parsed.interval_ms == 100
    assert [selector for selector, _ in parsed.match] == ["client_id", "client_software_name"]
    assert parsed.matches({"client_id": "ci-7", "client_software_name": "librdkafka"})
    assert not parsed.matches({"client_id": "xci-7", "client_software_name": "librdkafka"})
    assert not parsed.matches({"client_id": "ci-7", "client_software_name": None})  # unknown: no match


def test_a_subscription_without_configs_asks_nothing_every_five_minutes():
    parsed = parse_subscription("s", {})
    assert (parsed.metrics, parsed.interval_ms, parsed.match) == ((), DEFAULT_INTERVAL_MS, ())
    assert parsed.matches({})


def test_alter_writes_versions_and_removes_an_emptied_resource():
    written = []
    configs = ClientMetricsConfigs({}, lambda name, values: written.append((name, values)))
    configs.alter("s", {"metrics": "*"}, validate_only=True)
    assert (written, configs.version, configs.names()) == ([], 0, [])
    configs.alter("s", {"metrics": "*"}, validate_only=False)
    assert (written, configs.version, configs.names()) == ([("s", {"metrics": "*"})], 1, ["s"])
    assert [s.metrics for s in configs.subscriptions()] == [("*",)]
    configs.alter("s", {}, validate_only=False)
    assert (configs.version, configs.names(), configs.subscriptions()) == (2, [], ())
    configs.reload({"t": {"interval.ms": "500"}})
    assert (configs.version, configs.names()) == (3, ["t"])
    configs.reload({"t": {"interval.ms": "500"}})
    assert configs.version == 3  # nothing changed
