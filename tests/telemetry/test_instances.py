"""The rules of GetTelemetrySubscriptions and PushTelemetry (Kafka's
ClientMetricsManager), with the time passed in."""

import uuid

import pytest

from kwire.cluster.client_metrics_configs import ClientMetricsConfigs
from kwire.protocol.errors import ErrorCode
from kwire.telemetry.instances import ClientInstances, TelemetryRefusal
from kwire.telemetry.subscriptions import ClientMetadata

T0 = 1_700_000_000_000
MAX = 1024


def _metadata(instance_id):
    return ClientMetadata(instance_id, "ci", "librdkafka", "2.16.0", "127.0.0.1", 5000)


@pytest.fixture
def configs():
    resources = ClientMetricsConfigs({}, lambda name, values: None)
    resources.alter("s", {"metrics": "org.apache.kafka.", "interval.ms": "1000"}, validate_only=False)
    return resources


@pytest.fixture
def instances(configs):
    return ClientInstances(lambda: (configs.version, configs.subscriptions()))


def _push(instances, instance, now, *, subscription_id=None, terminating=False, compression=0, size=10):
    sid = instance.subscription.subscription_id if subscription_id is None else subscription_id
    return instances.check_push(instance.instance_id, sid, terminating, compression, size, MAX, _metadata, now)


def _refused(call, *args, **kwargs):
    with pytest.raises(TelemetryRefusal) as refused:
        call(*args, **kwargs)
    return refused.value.error_code


def test_the_zero_uuid_gets_a_new_id_and_a_given_id_is_kept(instances):
    first = instances.get_subscriptions(None, _metadata, T0)
    second = instances.get_subscriptions(uuid.UUID(int=0), _metadata, T0)
    assert first.instance_id != second.instance_id
    assert uuid.UUID(int=0) not in (first.instance_id, second.instance_id)
    chosen = uuid.uuid4()
    assert instances.get_subscriptions(chosen, _metadata, T0).instance_id == chosen
    assert first.subscription.metrics == ("org.apache.kafka.",) and first.subscription.interval_ms == 1000


def test_a_second_get_within_the_interval_is_throttled(instances):
    instance = instances.get_subscriptions(None, _metadata, T0)
    assert _refused(instances.get_subscriptions, instance.instance_id, _metadata, T0 + 999) == (
        ErrorCode.throttling_quota_exceeded
    )
    assert instances.get_subscriptions(instance.instance_id, _metadata, T0 + 1000) is instance


def test_the_first_push_after_a_get_is_early_then_pushes_keep_the_interval(instances):
    instance = instances.get_subscriptions(None, _metadata, T0)
    _push(instances, instance, T0 + 10)  # early: the first after a get
    assert _refused(_push, instances, instance, T0 + 500) == ErrorCode.throttling_quota_exceeded
    _push(instances, instance, T0 + 1010)
    assert _refused(_push, instances, instance, T0 + 1500) == ErrorCode.throttling_quota_exceeded


def test_a_terminating_push_is_never_throttled_and_is_the_last(instances):
    instance = instances.get_subscriptions(None, _metadata, T0)
    _push(instances, instance, T0 + 1)
    _push(instances, instance, T0 + 2, terminating=True)
    assert _refused(_push, instances, instance, T0 + 5000) == ErrorCode.invalid_request


def test_a_stale_subscription_id_after_a_config_change(instances, configs):
    instance = instances.get_subscriptions(None, _metadata, T0)
    old_id = instance.subscription.subscription_id
    configs.alter("s", {"metrics": "org.apache.kafka.producer.", "interval.ms": "1000"}, validate_only=False)
    code = _refused(_push, instances, instance, T0 + 5, subscription_id=old_id)
    assert code == ErrorCode.unknown_subscription_id
    # The client may ask again at once, and is told the new subscription.
    renewed = instances.get_subscriptions(instance.instance_id, _metadata, T0 + 6)
    assert renewed.subscription.metrics == ("org.apache.kafka.producer.",)
    assert renewed.subscription.subscription_id != old_id
    _push(instances, renewed, T0 + 7)


def test_unknown_compression_and_too_large(instances):
    instance = instances.get_subscriptions(None, _metadata, T0)
    assert _refused(_push, instances, instance, T0 + 1, compression=9) == ErrorCode.unsupported_compression_type
    # Refused for its compression: may fetch the subscription again at once.
    instance = instances.get_subscriptions(instance.instance_id, _metadata, T0 + 2)
    assert _refused(_push, instances, instance, T0 + 3, size=MAX + 1) == ErrorCode.telemetry_too_large
    _push(instances, instance, T0 + 1003, size=MAX)


@pytest.mark.parametrize("bad", [None, uuid.UUID(int=0), uuid.UUID(int=1)])
def test_a_push_without_a_real_instance_id_is_invalid(instances, bad):
    code = _refused(instances.check_push, bad, 0, False, 0, 0, MAX, _metadata, T0)
    assert code == ErrorCode.invalid_request


def test_a_push_from_an_unknown_instance_is_told_its_subscription_changed(instances):
    """A client that got its id from another broker (or before a restart)
    pushes here first: a new instance, whose subscription id it cannot know."""
    instance_id = uuid.uuid4()
    code = _refused(instances.check_push, instance_id, 12345, False, 0, 0, MAX, _metadata, T0)
    assert code == ErrorCode.unknown_subscription_id
    assert instances.get_subscriptions(instance_id, _metadata, T0 + 1).instance_id == instance_id


def test_instances_expire_when_idle_and_are_capped(configs):
    instances = ClientInstances(lambda: (configs.version, configs.subscriptions()), max_instances=3, expiry_ms=60000)
    ids = [instances.get_subscriptions(None, _metadata, T0).instance_id for _ in range(5)]
    assert len(instances) == 3 and instances.get(ids[0]) is None and instances.get(ids[4]) is not None
    instances.expire(T0 + 59999)
    assert len(instances) == 3
    instances.expire(T0 + 60000)
    assert len(instances) == 0
