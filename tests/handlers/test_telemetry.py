"""GetTelemetrySubscriptions, PushTelemetry and ListConfigResources through
the core, with CLIENT_METRICS subscriptions set by IncrementalAlterConfigs."""

import pytest

from kwire.clock import ManualClock
from kwire.handlers.base import ClientConnection
from kwire.protocol.errors import ErrorCode
from kwire.protocol.record_codec import GZIP, ZSTD, compress
from tests.core_client import CoreClient, make_core
from tests.telemetry.otlp_samples import metrics_data
from tests.wire import decode_response, request_frame

GET, PUSH, LIST, DESCRIBE, ALTER, INCREMENTAL = 71, 72, 74, 32, 33, 44
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3
CLIENT_METRICS = 16


def _alter(client, name, *ops, validate_only=False):
    configs = [dict(name=key, config_operation=op, value=value) for key, op, value in ops]
    request = dict(resources=[dict(resource_type=CLIENT_METRICS, resource_name=name, configs=configs)])
    (result,) = client.call(INCREMENTAL, 1, dict(request, validate_only=validate_only)).responses
    return result


def _describe(client, name):
    request = dict(resources=[dict(resource_type=CLIENT_METRICS, resource_name=name, configuration_keys=None)])
    (result,) = client.call(DESCRIBE, 4, dict(request, include_synonyms=False, include_documentation=False)).results
    return result


def _push(client, told, metrics=b"", compression=0, terminating=False, subscription_id=None):
    values = dict(
        client_instance_id=told.client_instance_id,
        subscription_id=told.subscription_id if subscription_id is None else subscription_id,
        terminating=terminating,
        compression_type=compression,
        metrics=metrics,
    )
    return client.call(PUSH, 0, values).error_code


@pytest.fixture
def clock():
    return ManualClock(wall_ms=1_700_000_000_000)


@pytest.fixture
def client(clock):
    return CoreClient(make_core(clock=clock, telemetry_max_bytes=4096))


def test_without_a_subscription_a_client_is_asked_for_nothing(client):
    told = client.call(GET, 0, dict(client_instance_id=None))
    assert told.error_code == ErrorCode.none and told.client_instance_id is not None
    assert told.requested_metrics == () and told.push_interval.total_seconds() == 300
    assert told.accepted_compression_types == (4, 3, 1, 2)  # zstd, lz4, gzip, snappy
    assert told.telemetry_max_bytes == 4096 and told.delta_temporality is True
    assert client.call(LIST, 0, {}).config_resources == ()


def test_a_subscription_is_told_and_the_push_lands_in_the_store(client, clock):
    assert (
        _alter(client, "ci", ("metrics", SET, "org.apache.kafka.producer."), ("interval.ms", SET, "100")).error_code
        == 0
    )
    assert [r.resource_name for r in client.call(LIST, 0, {}).config_resources] == ["ci"]
    told = client.call(GET, 0, dict(client_instance_id=None))
    assert told.requested_metrics == ("org.apache.kafka.producer.",) and told.push_interval.total_seconds() == 0.1
    assert _push(client, told, compress(ZSTD, metrics_data()), ZSTD) == ErrorCode.none
    assert _push(client, told) == ErrorCode.throttling_quota_exceeded  # within the interval
    clock.advance(ms=100)
    assert _push(client, told, compress(GZIP, metrics_data(retries=4)), GZIP, terminating=True) == ErrorCode.none
    (seen,) = client.core.state.telemetry.clients()
    assert (seen.client_instance_id, seen.push_count, seen.terminated) == (told.client_instance_id, 2, True)
    totals = {m.name: m.value for m in seen.metrics()}
    assert totals["org.apache.kafka.producer.record.retry.total"] == 7.0
    assert "org.apache.kafka.consumer.coordinator.rebalance.latency.avg" not in totals
    clock.advance(ms=100)
    assert _push(client, told) == ErrorCode.invalid_request  # nothing after a terminating push


def test_push_errors(client, clock):
    _alter(client, "ci", ("metrics", SET, "*"), ("interval.ms", SET, "100"))
    told = client.call(GET, 0, dict(client_instance_id=None))
    assert client.call(GET, 0, dict(client_instance_id=told.client_instance_id)).error_code == (
        ErrorCode.throttling_quota_exceeded
    )
    assert _push(client, told, bytes(5000)) == ErrorCode.telemetry_too_large
    clock.advance(ms=100)
    assert _push(client, told, b"\xff" * 20) == ErrorCode.invalid_record
    clock.advance(ms=100)
    assert _push(client, told, compress(ZSTD, bytes(1 << 20)), ZSTD) == ErrorCode.invalid_record  # a bomb
    clock.advance(ms=100)
    assert _push(client, told, compression=7) == ErrorCode.unsupported_compression_type
    clock.advance(ms=100)
    assert _push(client, told, subscription_id=told.subscription_id + 1) == ErrorCode.unknown_subscription_id
    assert _push(client, told, subscription_id=0) == ErrorCode.throttling_quota_exceeded
    told_none = dict(client_instance_id=None, subscription_id=0, terminating=False, compression_type=0, metrics=b"")
    assert client.call(PUSH, 0, told_none).error_code == ErrorCode.invalid_request
    assert client.core.state.telemetry.refused_pushes == 7


def test_a_changed_subscription_makes_the_old_id_stale(client):
    _alter(client, "ci", ("metrics", SET, "org.apache.kafka.producer."))
    told = client.call(GET, 0, dict(client_instance_id=None))
    _alter(client, "ci", ("metrics", APPEND, "org.apache.kafka.consumer."))
    assert _push(client, told) == ErrorCode.unknown_subscription_id
    again = client.call(GET, 0, dict(client_instance_id=told.client_instance_id))
    assert again.error_code == ErrorCode.none
    assert again.requested_metrics == ("org.apache.kafka.consumer.", "org.apache.kafka.producer.")
    assert _push(client, again) == ErrorCode.none


def _advertised(client):
    listed = client.call(18, 3, dict(client_software_name="kwire-test", client_software_version="1.0")).api_keys
    return {k.api_key: (k.min_version, k.max_version) for k in listed}


def test_the_telemetry_apis_are_advertised_once_a_subscription_exists(client):
    """As Kafka advertises them only with a metrics receiver: without a
    subscription clients see no telemetry APIs and never ask."""
    assert GET not in _advertised(client) and PUSH not in _advertised(client)
    assert _advertised(client)[LIST] == (0, 0)
    _alter(client, "ci", ("metrics", SET, "*"))
    assert (_advertised(client)[GET], _advertised(client)[PUSH]) == ((0, 0), (0, 0))
    _alter(client, "ci", ("metrics", DELETE, None))
    assert GET not in _advertised(client)


def test_describe_and_alter_as_kafka(client):
    assert _describe(client, "nothing-yet").configs == ()
    assert _describe(client, "").error_code == ErrorCode.invalid_request
    _alter(client, "ci", ("metrics", SET, "a.,b."), ("match", SET, "client_id=ci-.*"))
    _alter(client, "ci", ("metrics", SUBTRACT, "a."))
    described = {c.name: (c.value, c.config_source, c.read_only) for c in _describe(client, "ci").configs}
    assert described == {"match": ("client_id=ci-.*", 7, False), "metrics": ("b.", 7, False)}
    refused = _alter(client, "ci", ("colour", SET, "red"))
    assert (refused.error_code, refused.error_message) == (
        ErrorCode.invalid_request,
        "Unknown client metrics configuration: colour",
    )
    assert _alter(client, "ci", ("interval.ms", SET, "50")).error_code == ErrorCode.invalid_request
    assert _alter(client, "ci", ("match", SET, "client_colour=red")).error_code == ErrorCode.invalid_config
    assert _alter(client, "other", ("metrics", SET, "*"), validate_only=True).error_code == ErrorCode.none
    assert [r.resource_name for r in client.call(LIST, 0, {}).config_resources] == ["ci"]
    _alter(client, "ci", ("metrics", DELETE, None), ("match", DELETE, None))
    assert client.call(LIST, 0, {}).config_resources == ()
    # AlterConfigs replaces the whole set.
    request = dict(
        resources=[dict(resource_type=CLIENT_METRICS, resource_name="all", configs=[dict(name="metrics", value="*")])],
        validate_only=False,
    )
    assert client.call(ALTER, 2, request).responses[0].error_code == ErrorCode.none
    assert {c.name: c.value for c in _describe(client, "all").configs} == {"metrics": "*"}


def test_subscriptions_survive_a_restart(tmp_path):
    core = make_core(tmp_path)
    _alter(CoreClient(core), "ci", ("metrics", SET, "org.apache.kafka."), ("interval.ms", SET, "1000"))
    core.close()
    core = make_core(tmp_path)
    client = CoreClient(core)
    assert [r.resource_name for r in client.call(LIST, 0, {}).config_resources] == ["ci"]
    told = client.call(GET, 0, dict(client_instance_id=None))
    assert (told.requested_metrics, told.push_interval.total_seconds()) == (("org.apache.kafka.",), 1.0)
    core.close()


def test_match_on_the_software_named_in_api_versions(client):
    _alter(
        client, "rdk", ("metrics", SET, "*"), ("match", SET, "client_software_name=librdkafka,client_source_port=4321")
    )
    connection = ClientConnection("127.0.0.1", 4321)

    def call(api_key, version, values):
        outcome = client.core.handle_frame(
            request_frame(api_key, version, values)[4:], "/127.0.0.1", None, None, connection
        )
        return decode_response(api_key, version, b"".join(bytes(p) for p in outcome)[4:])[1]

    assert call(GET, 0, dict(client_instance_id=None)).requested_metrics == ()  # software not named yet
    call(18, 3, dict(client_software_name="librdkafka", client_software_version="2.16.0"))
    assert (connection.software_name, connection.software_version) == ("librdkafka", "2.16.0")
    assert call(GET, 0, dict(client_instance_id=None)).requested_metrics == ("*",)


def test_a_subscription_set_on_one_node_reaches_every_node(tmp_path):
    from tests.cluster_cores import ClusterCores

    cluster = ClusterCores(3, tmp_path)
    try:
        _alter(CoreClient(cluster.cores[1]), "ci", ("metrics", SET, "org.apache.kafka."))
        for node_id in (2, 3):
            told = CoreClient(cluster.cores[node_id]).call(GET, 0, dict(client_instance_id=None))
            assert told.requested_metrics == ("org.apache.kafka.",), node_id
            names = CoreClient(cluster.cores[node_id]).call(LIST, 0, {}).config_resources
            assert [r.resource_name for r in names] == ["ci"]
    finally:
        cluster.close()
