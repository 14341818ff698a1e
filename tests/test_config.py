import pytest

from kwire.config import BrokerConfig


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
    assert config.group_initial_rebalance_delay_ms == 0


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
