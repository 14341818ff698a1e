"""CreateAcls, DescribeAcls and DeleteAcls, in process: answers, cluster
authorization, the admin log, persistence across a restart and a cluster's
nodes all seeing the same ACLs."""

import logging
import struct

import pytest

from kwire.errors import StartupError
from kwire.handlers.base import CLOSE_CONNECTION
from kwire.protocol.errors import ErrorCode
from kwire.security.resources import AclOperation as Op
from kwire.security.resources import PatternType as Pattern
from kwire.security.resources import PermissionType as Perm
from kwire.security.resources import ResourceType as Res
from kwire.security.session import Session
from tests.cluster_cores import ClusterCores
from tests.core_client import CoreClient, make_core
from tests.wire import decode_response, request_frame

DESCRIBE, CREATE, DELETE = 29, 30, 31
AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
SECURED = dict(authorizer_class_name=AUTHORIZER, super_users="User:ANONYMOUS")


def creation(name="orders", operation=Op.READ, permission=Perm.ALLOW, principal="User:alice", host="*", **more):
    return dict(
        resource_type=more.get("resource_type", Res.TOPIC),
        resource_name=name,
        resource_pattern_type=more.get("pattern", Pattern.LITERAL),
        principal=principal,
        host=host,
        operation=operation,
        permission_type=permission,
    )


def acl_filter(name=None, resource_type=Res.ANY, pattern=Pattern.ANY, principal=None, operation=Op.ANY):
    return dict(
        resource_type_filter=resource_type,
        resource_name_filter=name,
        pattern_type_filter=pattern,
        principal_filter=principal,
        host_filter=None,
        operation=operation,
        permission_type=Perm.ANY,
    )


def create(client, *creations, version=3):
    return [
        (r.error_code, r.error_message) for r in client.call(CREATE, version, dict(creations=list(creations))).results
    ]


def describe(client, version=3, **fields):
    return client.call(DESCRIBE, version, acl_filter(**fields))


def described(client, **fields):
    response = describe(client, **fields)
    assert response.error_code == ErrorCode.none, response.error_message
    return {
        (r.resource_type, r.resource_name, r.pattern_type, a.principal, a.host, a.operation, a.permission_type)
        for r in response.resources
        for a in r.acls
    }


def delete(client, *filters, version=3):
    return client.call(DELETE, version, dict(filters=list(filters))).filter_results


@pytest.fixture
def secured():
    core = make_core(**SECURED)
    yield CoreClient(core)
    core.close()


@pytest.mark.parametrize("version", [1, 2, 3])
def test_create_describe_delete(secured, version):
    assert create(secured, creation(), creation("ord", Op.WRITE, pattern=Pattern.PREFIXED), version=version) == [
        (ErrorCode.none, None),
        (ErrorCode.none, None),
    ]
    assert described(secured) == {
        (Res.TOPIC, "orders", Pattern.LITERAL, "User:alice", "*", Op.READ, Perm.ALLOW),
        (Res.TOPIC, "ord", Pattern.PREFIXED, "User:alice", "*", Op.WRITE, Perm.ALLOW),
    }
    assert len(described(secured, name="orders", pattern=Pattern.MATCH)) == 2
    assert len(described(secured, name="orders", pattern=Pattern.LITERAL)) == 1
    (result,) = delete(secured, acl_filter(operation=Op.WRITE), version=version)
    assert result.error_code == ErrorCode.none
    assert [(m.resource_name, m.pattern_type, m.operation) for m in result.matching_acls] == [
        ("ord", Pattern.PREFIXED, Op.WRITE)
    ]
    assert len(described(secured)) == 1


def test_creating_twice_is_one_acl(secured):
    assert create(secured, creation(), creation()) == [(ErrorCode.none, None)] * 2
    assert create(secured, creation()) == [(ErrorCode.none, None)]
    assert len(described(secured)) == 1


def test_invalid_creations_fail_one_by_one(secured):
    results = create(
        secured,
        creation(resource_type=Res.CLUSTER, name="mine"),
        creation(""),
        creation(resource_type=Res.ANY),
        creation(pattern=Pattern.MATCH),
        creation(operation=Op.ANY),
        creation(permission=Perm.ANY),
        creation(principal="alice"),
        creation("fine"),
    )
    assert [code for code, _ in results] == [ErrorCode.invalid_request] * 7 + [ErrorCode.none]
    assert results[0][1] == "The only valid name for the CLUSTER resource is kafka-cluster"
    assert results[1][1] == "Invalid empty resource name"
    assert results[2][1] == "Invalid resourceType ANY"
    assert results[3][1] == "Invalid patternType MATCH"
    assert results[4][1] == "Invalid operation ANY"
    assert results[5][1] == "Invalid permissionType ANY"
    assert results[6][1].startswith("Could not parse principal from `alice`")
    assert {name for _type, name, *_rest in described(secured)} == {"fine"}


@pytest.mark.parametrize(
    ("api_key", "body"),
    [
        (CREATE, dict(creations=[creation(operation=0)])),
        (CREATE, dict(creations=[creation(resource_type=42)])),
        (DESCRIBE, acl_filter(pattern=0)),
        (DELETE, dict(filters=[acl_filter(), acl_filter(operation=77)])),
    ],
)
def test_unknown_codes_close_the_connection(secured, api_key, body):
    # Kafka's request parser refuses UNKNOWN elements: the connection closes.
    assert secured.raw(api_key, 3, body) is CLOSE_CONNECTION


def test_deleting_with_overlapping_filters_lists_an_acl_under_each(secured):
    create(secured, creation(), creation("payments"))
    first, second, third = delete(secured, acl_filter(name="orders"), acl_filter(), acl_filter(name="none"))
    assert [m.resource_name for m in first.matching_acls] == ["orders"]
    assert sorted(m.resource_name for m in second.matching_acls) == ["orders", "payments"]
    assert list(third.matching_acls) == []
    assert described(secured) == set()


def test_without_an_authorizer_security_is_disabled():
    core = make_core()
    client = CoreClient(core)
    try:
        assert create(client, creation()) == [(ErrorCode.security_disabled, "No Authorizer is configured.")]
        response = describe(client)
        assert response.error_code == ErrorCode.security_disabled
        assert response.error_message == "No Authorizer is configured on the broker"
        (result,) = delete(client, acl_filter())
        assert (result.error_code, result.error_message) == (
            ErrorCode.security_disabled,
            "No Authorizer is configured.",
        )
    finally:
        core.close()


def call_as(core, principal, api_key, version, body):
    session = Session("PLAINTEXT", "PLAINTEXT", principal, "127.0.0.1")
    outcome = core.handle_frame(request_frame(api_key, version, body)[4:], "/127.0.0.1", session)
    payload = b"".join(bytes(part) for part in outcome)
    (size,) = struct.unpack_from(">i", payload)
    assert size == len(payload) - 4
    return decode_response(api_key, version, payload[4:])[1]


def test_cluster_operations_are_authorized(secured, caplog):
    caplog.set_level(logging.INFO, logger="kwire.authorizer")
    core = secured.core
    refused = call_as(core, "User:bob", CREATE, 3, dict(creations=[creation(), creation("x")]))
    assert [r.error_code for r in refused.results] == [ErrorCode.cluster_authorization_failed] * 2
    assert "Principal = User:bob is Denied operation = ALTER" in caplog.text
    refused = call_as(core, "User:bob", DESCRIBE, 3, acl_filter())
    assert refused.error_code == ErrorCode.cluster_authorization_failed
    refused = call_as(core, "User:bob", DELETE, 3, dict(filters=[acl_filter()]))
    assert [r.error_code for r in refused.filter_results] == [ErrorCode.cluster_authorization_failed]
    # DESCRIBE on the cluster lets bob list, not change; ALTER implies DESCRIBE.
    create(secured, creation("kafka-cluster", Op.DESCRIBE, principal="User:bob", resource_type=Res.CLUSTER))
    assert call_as(core, "User:bob", DESCRIBE, 3, acl_filter()).error_code == ErrorCode.none
    refused = call_as(core, "User:bob", CREATE, 3, dict(creations=[creation()]))
    assert [r.error_code for r in refused.results] == [ErrorCode.cluster_authorization_failed]
    create(secured, creation("kafka-cluster", Op.ALTER, principal="User:carol", resource_type=Res.CLUSTER))
    assert call_as(core, "User:carol", DESCRIBE, 3, acl_filter()).error_code == ErrorCode.none
    done = call_as(core, "User:carol", CREATE, 3, dict(creations=[creation("t")]))
    assert [r.error_code for r in done.results] == [ErrorCode.none]


def test_changes_are_on_the_admin_log(secured, caplog):
    caplog.set_level(logging.INFO, logger="kwire.admin")
    create(secured, creation(), creation(""))
    assert "CreateAcls from client" in caplog.text
    assert "name=orders, patternType=LITERAL" in caplog.text and " created" in caplog.text
    assert "refused: Invalid empty resource name" in caplog.text
    delete(secured, acl_filter())
    assert "DeleteAcls from client" in caplog.text and " deleted" in caplog.text


def test_acls_survive_a_restart(tmp_path):
    core = make_core(tmp_path, **SECURED)
    client = CoreClient(core)
    create(client, creation(), creation("gone"), creation("g", resource_type=Res.GROUP, pattern=Pattern.PREFIXED))
    delete(client, acl_filter(name="gone"))
    core.close()
    core = make_core(tmp_path, **SECURED)
    try:
        assert described(CoreClient(core)) == {
            (Res.TOPIC, "orders", Pattern.LITERAL, "User:alice", "*", Op.READ, Perm.ALLOW),
            (Res.GROUP, "g", Pattern.PREFIXED, "User:alice", "*", Op.READ, Perm.ALLOW),
        }
        assert core.state.authorizer is not None
        assert core.state.authorizer.authorize("User:alice", "1.2.3.4", Op.DESCRIBE, Res.TOPIC, "orders")
        assert not core.state.authorizer.authorize("User:alice", "1.2.3.4", Op.READ, Res.TOPIC, "gone")
    finally:
        core.close()


def test_every_node_of_a_cluster_sees_the_acls(tmp_path):
    cores = ClusterCores(3, tmp_path, **SECURED)
    try:
        first, second = CoreClient(cores.cores[1]), CoreClient(cores.cores[2])
        create(first, creation())
        for core in cores.cores.values():
            assert described(CoreClient(core)) == {
                (Res.TOPIC, "orders", Pattern.LITERAL, "User:alice", "*", Op.READ, Perm.ALLOW)
            }
            assert core.state.authorizer.authorize("User:alice", "1.2.3.4", Op.READ, Res.TOPIC, "orders")
        delete(second, acl_filter())
        for core in cores.cores.values():
            assert described(CoreClient(core)) == set()
            assert not core.state.authorizer.authorize("User:alice", "1.2.3.4", Op.READ, Res.TOPIC, "orders")
        create(second, creation("later"))
        cores.stop(3)
        cores.start(3)  # a restarted node replays the controller's log
        assert {name for _t, name, *_r in described(CoreClient(cores.cores[3]))} == {"later"}
    finally:
        cores.close()
    # The whole cluster restarted: the controller's metadata log still has them.
    cores = ClusterCores(2, tmp_path, **SECURED)
    try:
        assert {name for _t, name, *_r in described(CoreClient(cores.cores[1]))} == {"later"}
    finally:
        cores.close()


def test_an_unknown_authorizer_stops_start_up(tmp_path):
    with pytest.raises(StartupError, match=r"^authorizer\.class\.name: com\.example\.Custom"):
        make_core(tmp_path, authorizer_class_name="com.example.Custom")
    # Nothing was left locked: the directory opens.
    make_core(tmp_path).close()


@pytest.mark.parametrize("api_key", [DESCRIBE, CREATE, DELETE])
def test_arbitrary_acl_requests_get_an_answer_or_close_their_connection(api_key):
    """As tests/test_core.py's hunt, with authorization on (so the requests reach the ACLs)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from kio.index import load_request_schema

    from tests.test_core import DEFAULT_EXAMPLES, EXAMPLES, answer, encode

    core = make_core(**SECURED)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=EXAMPLES == DEFAULT_EXAMPLES,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.data())
    def check(data):
        version = data.draw(st.sampled_from([1, 2, 3]), label="version")
        request = data.draw(st.from_type(load_request_schema(api_key, version)), label="request")
        payload = answer(core, encode(api_key, version, request))
        if payload is not None:
            assert decode_response(api_key, version, payload[4:])[0] == 7

    try:
        check()
        client = CoreClient(core)
        delete(client, acl_filter())
        assert create(client, creation()) == [(ErrorCode.none, None)]
        assert len(described(client)) == 1
    finally:
        core.close()
