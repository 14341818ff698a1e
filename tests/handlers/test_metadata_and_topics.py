import pytest

from kwire.protocol.errors import ErrorCode
from tests.core_client import CoreClient, make_core
from tests.handlers import requests as rq


def test_metadata_auto_creates_with_num_partitions():
    core = make_core(num_partitions=4)
    response = CoreClient(core).call(3, 12, rq.metadata("fresh"))
    (topic,) = response.topics
    assert (topic.name, topic.error_code, len(topic.partitions)) == ("fresh", ErrorCode.none, 4)
    assert topic.topic_id.int != 0
    assert [p.leader_id for p in topic.partitions] == [1, 1, 1, 1]
    assert response.brokers[0].node_id == 1


def test_metadata_without_auto_creation_reports_unknown_topic():
    core = make_core(auto_create_topics_enable=False)
    (topic,) = CoreClient(core).call(3, 12, rq.metadata("absent")).topics
    assert topic.error_code == ErrorCode.unknown_topic_or_partition
    assert core.cluster.get("absent") is None


def test_client_can_refuse_auto_creation(client):
    (topic,) = client.call(3, 12, rq.metadata("absent", auto=False)).topics
    assert topic.error_code == ErrorCode.unknown_topic_or_partition


def test_metadata_invalid_name_is_invalid_topic(client):
    (topic,) = client.call(3, 12, rq.metadata("bad name!")).topics
    assert topic.error_code == ErrorCode.invalid_topic_exception


@pytest.mark.parametrize("version", [0, 1, 5, 9, 12, 13])
def test_all_topics_in_every_version(client, version):
    client.call(19, 4, rq.create("a", 2))
    client.call(19, 4, rq.create("b", 1))
    values = rq.metadata(None) if version else dict(topics=[])
    names = sorted(t.name for t in client.call(3, version, values).topics)
    assert names == ["a", "b"]


def test_create_topic_then_duplicate(client):
    first = client.call(19, 7, rq.create("dup", 3)).topics[0]
    assert (first.error_code, first.num_partitions) == (ErrorCode.none, 3)
    assert any(c.name == "retention.ms" for c in first.configs)
    again = client.call(19, 7, rq.create("dup", 3)).topics[0]
    assert again.error_code == ErrorCode.topic_already_exists


@pytest.mark.parametrize(
    "kwargs, error",
    [
        (dict(name="bad name!"), ErrorCode.invalid_topic_exception),
        (dict(name=".."), ErrorCode.invalid_topic_exception),
        (dict(name="x" * 250), ErrorCode.invalid_topic_exception),
        (dict(name="zero", partitions=0), ErrorCode.invalid_partitions),
        (dict(name="rf3", replication=3), ErrorCode.invalid_replication_factor),
        (dict(name="cfg", configs={"no.such.config": "1"}), ErrorCode.invalid_config),
        (dict(name="cfg2", configs={"retention.ms": "soon"}), ErrorCode.invalid_config),
        (
            dict(name="asg", partitions=-1, replication=-1, assignments=[dict(partition_index=0, broker_ids=[7])]),
            ErrorCode.invalid_replica_assignment,
        ),
    ],
)
def test_create_topic_errors(client, kwargs, error):
    name = kwargs.pop("name")
    result = client.call(19, 7, rq.create(name, **kwargs)).topics[0]
    assert result.error_code == error
    assert result.error_message
    assert client.core.cluster.get(name) is None


def test_validate_only_creates_nothing(client):
    result = client.call(19, 7, rq.create("dry", 2, validate_only=True)).topics[0]
    assert result.error_code == ErrorCode.none
    assert client.core.cluster.get("dry") is None


def test_manual_assignment_on_the_only_broker(client):
    assignments = [dict(partition_index=i, broker_ids=[1]) for i in range(3)]
    result = client.call(19, 7, rq.create("manual", -1, -1, assignments=assignments)).topics[0]
    assert (result.error_code, result.num_partitions) == (ErrorCode.none, 3)


def test_names_that_collide_on_dot_and_underscore(client):
    client.call(19, 7, rq.create("a.b"))
    assert client.call(19, 7, rq.create("a_b")).topics[0].error_code == ErrorCode.invalid_topic_exception


def test_topics_and_ids_survive_a_restart(tmp_path):
    core = make_core(tmp_path)
    created = CoreClient(core).call(19, 7, rq.create("kept", 3, configs={"retention.ms": "1000"})).topics[0]
    core.close()
    reopened = make_core(tmp_path)
    topic = reopened.cluster.get("kept")
    assert (len(topic.partitions), topic.topic_id, topic.configs) == (3, created.topic_id, {"retention.ms": "1000"})
    assert (tmp_path / "kept-2" / "partition.metadata").exists()
    assert (tmp_path / "meta.properties").exists()
    reopened.close()


def test_api_versions_lists_the_registry(client):
    response = client.call(18, 3, dict(client_software_name="kwire-test", client_software_version="1.0"))
    ranges = {k.api_key: (k.min_version, k.max_version) for k in response.api_keys}
    assert ranges[0] == (0, 13)  # Produce: Kafka 4.x lists v0-2 too
    assert ranges[1] == (4, 18)
    assert ranges[18] == (0, 4)
    # GetTelemetrySubscriptions and PushTelemetry wait for a CLIENT_METRICS subscription (tests/handlers/test_telemetry.py).
    assert set(ranges) == {key for key, _low, _high in client.core.registry.supported()} - {71, 72}


def test_api_versions_rejects_bad_software_name(client):
    response = client.call(18, 3, dict(client_software_name="bad name", client_software_version="1"))
    assert response.error_code == ErrorCode.invalid_request


def test_producer_ids_are_unique_across_restarts(tmp_path):
    core = make_core(tmp_path)
    values = dict(transactional_id=None, transaction_timeout=60000, producer_id=-1, producer_epoch=-1)
    first = CoreClient(core).call(22, 4, values)
    second = CoreClient(core).call(22, 4, values)
    assert second.producer_id > first.producer_id >= 0
    core.close()
    reopened = make_core(tmp_path)
    third = CoreClient(reopened).call(22, 4, values)
    assert third.producer_id > second.producer_id
    reopened.close()


def test_transactional_init_bumps_the_epoch_each_time(client):
    values = dict(transactional_id="tx", transaction_timeout=60000, producer_id=-1, producer_epoch=-1)
    first = client.call(22, 4, values)
    again = client.call(22, 4, values)
    assert (first.error_code, again.error_code) == (ErrorCode.none, ErrorCode.none)
    assert again.producer_id == first.producer_id and again.producer_epoch == first.producer_epoch + 1
    assert (
        client.call(22, 4, dict(values, transaction_timeout=10**9)).error_code == ErrorCode.invalid_transaction_timeout
    )
