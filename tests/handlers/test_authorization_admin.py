"""The admin APIs ask the authorizer what Kafka's controller and brokers
ask: topic admin by topic (or the cluster), configs by resource, the rest
on the cluster, each refusal with Kafka's error code."""

from __future__ import annotations

import struct
import zlib

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings
from kio.index import load_request_schema

from kwire.core import ProtocolViolation
from kwire.handlers.base import CLOSE_CONNECTION, NO_RESPONSE
from kwire.protocol.errors import ErrorCode
from kwire.security.resources import AclOperation, ResourceType
from kwire.security.session import Session
from tests.core_client import CoreClient, make_core
from tests.handlers import requests as rq
from tests.handlers.authz_client import FakeAuthorizer, PrincipalClient
from tests.test_core import encode, served_api_keys

A, R = AclOperation, ResourceType
TAF = ErrorCode.topic_authorization_failed
GAF = ErrorCode.group_authorization_failed
CAF = ErrorCode.cluster_authorization_failed
CREATE_TOPICS, DELETE_TOPICS, DELETE_RECORDS, DESCRIBE_CONFIGS, ALTER_CONFIGS = 19, 20, 21, 32, 33
ALTER_LOG_DIRS, DESCRIBE_LOG_DIRS, CREATE_PARTITIONS, ELECT_LEADERS, INCREMENTAL_ALTER_CONFIGS = 34, 35, 37, 43, 44
ALTER_REASSIGNMENTS, LIST_REASSIGNMENTS, DESCRIBE_QUOTAS, ALTER_QUOTAS, UPDATE_FEATURES = 45, 46, 48, 49, 57
DESCRIBE_CLUSTER = 60


@pytest.fixture
def node():
    core = make_core()
    admin = CoreClient(core)
    assert admin.call(CREATE_TOPICS, 7, rq.create("t")).topics[0].error_code == 0
    acl = FakeAuthorizer()
    core.state.authorizer = acl
    yield core, PrincipalClient(core), acl
    core.close()


def test_create_topics_needs_create_on_the_cluster_or_the_topic(node):
    core, client, acl = node
    answer = client.call(CREATE_TOPICS, 7, rq.create("new"))
    assert (answer.topics[0].error_code, answer.topics[0].error_message) == (TAF, "Authorization failed.")
    assert core.state.cluster.get("new") is None
    acl.grant(A.CREATE, R.TOPIC, "new")
    created = client.call(CREATE_TOPICS, 7, rq.create("new")).topics[0]
    # Created, but without DESCRIBE_CONFIGS its configs are not shown.
    assert (created.error_code, created.configs, created.topic_config_error_code) == (0, (), TAF)
    acl.grant(A.CREATE, R.CLUSTER)
    acl.grant(A.DESCRIBE_CONFIGS, R.TOPIC, "other")
    other = client.call(CREATE_TOPICS, 7, rq.create("other")).topics[0]
    assert (other.error_code, other.topic_config_error_code) == (0, 0) and other.configs


def test_delete_topics_needs_delete_and_hides_names_without_describe(node):
    core, client, acl = node
    topic_id = core.state.cluster.get("t").topic_id
    by_name = dict(topics=[dict(name="t", topic_id=None)], timeout=1000)
    by_id = dict(topics=[dict(name=None, topic_id=topic_id)], timeout=1000)
    assert client.call(DELETE_TOPICS, 6, by_name).responses[0].error_code == TAF
    refused = client.call(DELETE_TOPICS, 6, by_id).responses[0]
    assert (refused.error_code, refused.name) == (TAF, None)
    acl.grant(A.DESCRIBE, R.TOPIC, "t")
    refused = client.call(DELETE_TOPICS, 6, by_id).responses[0]
    assert (refused.error_code, refused.name) == (TAF, "t")
    assert core.state.cluster.get("t") is not None
    acl.grant(A.DELETE, R.TOPIC, "t")
    assert client.call(DELETE_TOPICS, 6, by_name).responses[0].error_code == 0
    assert core.state.cluster.get("t") is None


def test_delete_topics_of_a_name_without_describe_does_not_tell_whether_it_exists(node):
    _core, client, _acl = node
    body = dict(topics=[dict(name="missing", topic_id=None)], timeout=1000)
    assert client.call(DELETE_TOPICS, 6, body).responses[0].error_code == TAF


def test_delete_on_the_cluster_deletes_any_topic(node):
    core, client, acl = node
    acl.grant(A.DELETE, R.CLUSTER)
    body = dict(topics=[dict(name="t", topic_id=None)], timeout=1000)
    assert client.call(DELETE_TOPICS, 6, body).responses[0].error_code == 0


def test_create_partitions_needs_alter_on_the_topic(node):
    core, client, acl = node
    body = dict(topics=[dict(name="t", count=2, assignments=None)], timeout=1000, validate_only=False)
    assert client.call(CREATE_PARTITIONS, 3, body).results[0].error_code == TAF
    assert len(core.state.cluster.get("t").partitions) == 1
    acl.grant(A.ALTER, R.TOPIC, "t")
    assert client.call(CREATE_PARTITIONS, 3, body).results[0].error_code == 0


def test_delete_records_needs_delete_on_the_topic(node):
    _core, client, acl = node
    body = dict(topics=[dict(name="t", partitions=[dict(partition_index=0, offset=0)])], timeout=1000)
    partition = client.call(DELETE_RECORDS, 2, body).topics[0].partitions[0]
    assert (partition.error_code, partition.low_watermark) == (TAF, -1)
    acl.grant(A.DELETE, R.TOPIC, "t")
    assert client.call(DELETE_RECORDS, 2, body).topics[0].partitions[0].error_code == 0


@pytest.mark.parametrize(
    "config_type, name, resource_type, resource_name, error",
    [
        (2, "t", R.TOPIC, "t", TAF),
        (4, "1", R.CLUSTER, "kafka-cluster", CAF),
        (32, "g", R.GROUP, "g", GAF),
    ],
)
def test_configs_are_described_and_altered_with_the_resource_types_permission(
    node, config_type, name, resource_type, resource_name, error
):
    core, client, acl = node
    if config_type == 4:
        name = str(core.state.config.node_id)
    describe = dict(resources=[dict(resource_type=config_type, resource_name=name, configuration_keys=None)])
    result = client.call(DESCRIBE_CONFIGS, 4, describe).results[0]
    assert (result.error_code, result.configs) == (error, ())
    acl.grant(A.DESCRIBE_CONFIGS, resource_type, resource_name)
    assert client.call(DESCRIBE_CONFIGS, 4, describe).results[0].error_code == 0

    alter = dict(resources=[dict(resource_type=config_type, resource_name=name, configs=[])], validate_only=True)
    assert client.call(ALTER_CONFIGS, 2, alter).responses[0].error_code == error
    assert client.call(INCREMENTAL_ALTER_CONFIGS, 1, alter).responses[0].error_code == error
    acl.grant(A.ALTER_CONFIGS, resource_type, resource_name)
    assert client.call(ALTER_CONFIGS, 2, alter).responses[0].error_code == 0
    assert client.call(INCREMENTAL_ALTER_CONFIGS, 1, alter).responses[0].error_code == 0


def test_describe_cluster_answers_anyone_and_shows_operations_only_to_describers(node):
    _core, client, acl = node
    body = dict(include_cluster_authorized_operations=True, endpoint_type=1)
    answer = client.call(DESCRIBE_CLUSTER, 1, body)
    assert (answer.error_code, answer.cluster_authorized_operations) == (0, 0)
    assert answer.brokers
    acl.grant(A.DESCRIBE, R.CLUSTER)
    acl.grant(A.IDEMPOTENT_WRITE, R.CLUSTER)
    answer = client.call(DESCRIBE_CLUSTER, 1, body)
    assert answer.cluster_authorized_operations == (1 << A.DESCRIBE) | (1 << A.IDEMPOTENT_WRITE)


def test_log_dirs_need_describe_and_alter_on_the_cluster(node):
    _core, client, acl = node
    answer = client.call(DESCRIBE_LOG_DIRS, 4, dict(topics=None))
    assert (answer.error_code, answer.results) == (CAF, ())
    acl.grant(A.DESCRIBE, R.CLUSTER)
    assert client.call(DESCRIBE_LOG_DIRS, 4, dict(topics=None)).error_code == 0
    move = dict(dirs=[dict(path="/nowhere", topics=[dict(name="t", partitions=[0])])])
    assert client.call(ALTER_LOG_DIRS, 2, move).results[0].partitions[0].error_code == CAF
    acl.grant(A.ALTER, R.CLUSTER)
    assert client.call(ALTER_LOG_DIRS, 2, move).results[0].partitions[0].error_code != CAF


def test_cluster_admin_needs_alter_or_describe_on_the_cluster(node):
    _core, client, acl = node
    elect = dict(election_type=0, topic_partitions=[dict(topic="t", partitions=[0])], timeout=1000)
    answer = client.call(ELECT_LEADERS, 2, elect)
    assert answer.error_code == CAF
    assert answer.replica_election_results[0].partition_result[0].error_code == CAF
    reassign = dict(timeout=1000, topics=[dict(name="t", partitions=[dict(partition_index=0, replicas=[1])])])
    answer = client.call(ALTER_REASSIGNMENTS, 0, reassign)
    assert (answer.error_code, answer.responses[0].partitions[0].error_code) == (CAF, CAF)
    features = dict(timeout=1000, feature_updates=[], validate_only=True)
    assert client.call(UPDATE_FEATURES, 1, features).error_code == CAF
    assert client.call(LIST_REASSIGNMENTS, 0, dict(timeout=1000, topics=None)).error_code == CAF

    acl.grant(A.ALTER, R.CLUSTER)
    assert client.call(ELECT_LEADERS, 2, elect).error_code == 0
    assert client.call(ALTER_REASSIGNMENTS, 0, reassign).error_code == 0
    assert client.call(UPDATE_FEATURES, 1, features).error_code == 0
    assert client.call(LIST_REASSIGNMENTS, 0, dict(timeout=1000, topics=None)).error_code == CAF
    acl.grant(A.DESCRIBE, R.CLUSTER)
    assert client.call(LIST_REASSIGNMENTS, 0, dict(timeout=1000, topics=None)).error_code == 0


def test_client_quotas_need_describe_configs_and_alter_configs_on_the_cluster(node):
    _core, client, acl = node
    describe = dict(components=[], strict=False)
    answer = client.call(DESCRIBE_QUOTAS, 1, describe)
    assert (answer.error_code, answer.entries) == (CAF, None)
    alter = dict(
        entries=[
            dict(
                entity=[dict(entity_type="client-id", entity_name="c")],
                ops=[dict(key="producer_byte_rate", value=1024.0, remove=False)],
            )
        ],
        validate_only=True,
    )
    entry = client.call(ALTER_QUOTAS, 1, alter).entries[0]
    assert (entry.error_code, entry.entity[0].entity_name) == (CAF, "c")
    acl.grant(A.DESCRIBE_CONFIGS, R.CLUSTER)
    acl.grant(A.ALTER_CONFIGS, R.CLUSTER)
    assert client.call(DESCRIBE_QUOTAS, 1, describe).error_code == 0
    assert client.call(ALTER_QUOTAS, 1, alter).entries[0].error_code == 0


# --- hostile requests with an authorizer ---------------------------------------------------------


class CoinAuthorizer:
    """Allows a fixed half of everything (by a checksum of the question), so
    both the allowed and the refused branches see arbitrary input."""

    def authorize(self, principal, host, operation, resource_type, name):
        return zlib.crc32(f"{operation}/{resource_type}/{name}".encode()) % 2 == 0

    def authorize_by_resource_type(self, principal, host, operation, resource_type):
        return self.authorize(principal, host, operation, resource_type, "*")


@pytest.fixture(scope="module")
def coin_core():
    core = make_core()
    CoreClient(core).call(CREATE_TOPICS, 7, rq.create("t", partitions=2))
    core.state.authorizer = CoinAuthorizer()
    yield core
    core.close()


@pytest.mark.parametrize("api_key", served_api_keys(), ids=lambda key: f"api-{key}")
def test_arbitrary_requests_with_an_authorizer_get_an_answer_or_close_only_their_connection(coin_core, api_key):
    spec = coin_core.registry.get(api_key)
    versions = list(range(spec.min_version, spec.max_version + 1))
    session = Session("SASL_PLAINTEXT", "SASL_PLAINTEXT", "User:fuzzy", "127.0.0.1")

    @settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data):
        version = data.draw(st.sampled_from(versions), label="version")
        request = data.draw(st.from_type(load_request_schema(api_key, version)), label="request")
        try:
            outcome = coin_core.handle_frame(encode(api_key, version, request), "/127.0.0.1", session)
        except ProtocolViolation:
            return
        if isinstance(outcome, tuple):
            delayed, finish = outcome
            outcome = finish(delayed.complete(True))
        if outcome is NO_RESPONSE or outcome is CLOSE_CONNECTION:
            return
        payload = b"".join(bytes(part) for part in outcome)
        (size,) = struct.unpack_from(">i", payload)
        assert size == len(payload) - 4
        assert struct.unpack_from(">i", payload, 4)[0] == 7  # the correlation id: an answer, not a crash

    check()
