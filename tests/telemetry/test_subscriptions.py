"""Which subscriptions a client matches, and the subscription it is told."""

import uuid

from kwire.cluster.client_metrics_configs import parse_subscription
from kwire.telemetry.subscriptions import ClientMetadata, subscription_for, subscription_id

ID = uuid.UUID("12345678-1234-5678-1234-567812345678")
CLIENT = ClientMetadata(ID, "ci-producer", "librdkafka", "2.16.0", "127.0.0.1", 50123)


def _subscriptions(**resources):
    return [parse_subscription(name, configs) for name, configs in resources.items()]


def test_no_subscription_means_no_metrics_every_five_minutes():
    told = subscription_for(CLIENT, [])
    assert (told.metrics, told.interval_ms, told.names) == ((), 300000, ())
    assert not told.wants("org.apache.kafka.producer.record.queue.time.avg")


def test_matching_subscriptions_combine_prefixes_and_take_the_smallest_interval():
    told = subscription_for(
        CLIENT,
        _subscriptions(
            a={"metrics": "org.apache.kafka.producer.", "interval.ms": "5000"},
            b={"metrics": "org.apache.kafka.consumer.", "interval.ms": "1000", "match": "client_id=ci-.*"},
            c={"metrics": "org.apache.kafka.admin.", "interval.ms": "100", "match": "client_software_name=java"},
        ),
    )
    assert told.names == ("a", "b")
    assert told.metrics == ("org.apache.kafka.consumer.", "org.apache.kafka.producer.")
    assert told.interval_ms == 1000
    assert told.wants("org.apache.kafka.producer.record.queue.time.avg")
    assert not told.wants("org.apache.kafka.admin.x")


def test_every_selector_can_match():
    for selector, value in [
        ("client_instance_id", str(ID)),
        ("client_id", "ci-producer"),
        ("client_software_name", "librdkafka"),
        ("client_software_version", r"2\.16\..*"),
        ("client_source_address", r"127\.0\.0\.1"),
        ("client_source_port", "50123"),
    ]:
        told = subscription_for(CLIENT, _subscriptions(s={"metrics": "x.", "match": f"{selector}={value}"}))
        assert told.names == ("s",), selector
        other = ClientMetadata(uuid.uuid4(), "other", "java", "3.9", "10.0.0.1", 1)
        assert subscription_for(other, _subscriptions(s={"match": f"{selector}={value}"})).names == (), selector


def test_a_star_anywhere_asks_for_every_metric():
    told = subscription_for(CLIENT, _subscriptions(a={"metrics": "org.apache.kafka.producer."}, b={"metrics": "*"}))
    assert told.metrics == ("*",)
    assert told.wants("anything.at.all")


def test_the_subscription_id_follows_metrics_interval_and_instance():
    base = subscription_id(("a.",), 1000, ID)
    assert base == subscription_id(("a.",), 1000, ID)
    assert -(2**31) <= base < 2**31
    assert len({base, subscription_id(("b.",), 1000, ID), subscription_id(("a.",), 999, ID)}) == 3
    assert subscription_id(("a.",), 1000, uuid.UUID(int=7)) != base
