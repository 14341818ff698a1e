"""ACLs through real admin clients: confluent-kafka (librdkafka) and
kafka-python create, describe and delete them against a kwire started with
an authorizer (PLAINTEXT clients are User:ANONYMOUS, named a super user so
they may change ACLs); they survive a restart; without an authorizer the
clients see SECURITY_DISABLED."""

from __future__ import annotations

import pytest

TIMEOUT_S = 20
AUTHORIZER = ("-o", "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer")
SUPER_ANONYMOUS = ("-o", "super.users=User:ANONYMOUS")


def _confluent_admin(bootstrap: str):
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap})


def _confluent_described(admin, **fields):
    from confluent_kafka.admin import AclBindingFilter, AclOperation, AclPermissionType, ResourcePatternType
    from confluent_kafka.admin import ResourceType as Res

    acl_filter = AclBindingFilter(
        fields.get("restype", Res.ANY),
        fields.get("name"),
        fields.get("pattern", ResourcePatternType.ANY),
        None,
        None,
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    found = admin.describe_acls(acl_filter, request_timeout=TIMEOUT_S).result(timeout=TIMEOUT_S)
    return {
        (
            b.restype.name,
            b.name,
            b.resource_pattern_type.name,
            b.principal,
            b.host,
            b.operation.name,
            b.permission_type.name,
        )
        for b in found
    }


def test_confluent_kafka_creates_describes_and_deletes_acls_that_survive_a_restart(start_kwire):
    from confluent_kafka.admin import (
        AclBinding,
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
    )
    from confluent_kafka.admin import ResourceType as Res

    broker = start_kwire(*AUTHORIZER, *SUPER_ANONYMOUS)
    admin = _confluent_admin(broker.bootstrap)
    bindings = [
        AclBinding(
            Res.TOPIC,
            "orders",
            ResourcePatternType.LITERAL,
            "User:alice",
            "*",
            AclOperation.READ,
            AclPermissionType.ALLOW,
        ),
        AclBinding(
            Res.GROUP,
            "app-",
            ResourcePatternType.PREFIXED,
            "User:alice",
            "10.0.0.1",
            AclOperation.ALL,
            AclPermissionType.ALLOW,
        ),
        AclBinding(
            Res.TOPIC, "*", ResourcePatternType.LITERAL, "User:*", "*", AclOperation.WRITE, AclPermissionType.DENY
        ),
    ]
    for future in admin.create_acls(bindings, request_timeout=TIMEOUT_S).values():
        assert future.result(timeout=TIMEOUT_S) is None
    expected = {
        ("TOPIC", "orders", "LITERAL", "User:alice", "*", "READ", "ALLOW"),
        ("GROUP", "app-", "PREFIXED", "User:alice", "10.0.0.1", "ALL", "ALLOW"),
        ("TOPIC", "*", "LITERAL", "User:*", "*", "WRITE", "DENY"),
    }
    assert _confluent_described(admin) == expected
    # MATCH: every ACL that applies to the topic "orders" (its literal and the wildcard).
    assert {
        row[1]
        for row in _confluent_described(admin, restype=Res.TOPIC, name="orders", pattern=ResourcePatternType.MATCH)
    } == {"orders", "*"}

    broker.restart()
    admin = _confluent_admin(broker.bootstrap)
    assert _confluent_described(admin) == expected
    deny_filter = AclBindingFilter(
        Res.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY, AclPermissionType.DENY
    )
    (future,) = admin.delete_acls([deny_filter], request_timeout=TIMEOUT_S).values()
    deleted = future.result(timeout=TIMEOUT_S)
    assert [(b.name, b.permission_type.name) for b in deleted] == [("*", "DENY")]
    assert len(_confluent_described(admin)) == 2


def test_confluent_kafka_sees_an_invalid_acl_refused(start_kwire):
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AclBinding, AclOperation, AclPermissionType, ResourcePatternType
    from confluent_kafka.admin import ResourceType as Res

    broker = start_kwire(*AUTHORIZER, *SUPER_ANONYMOUS, memory=True)
    admin = _confluent_admin(broker.bootstrap)
    wrong_cluster = AclBinding(
        Res.BROKER, "mine", ResourcePatternType.LITERAL, "User:a", "*", AclOperation.ALTER, AclPermissionType.ALLOW
    )
    (future,) = admin.create_acls([wrong_cluster], request_timeout=TIMEOUT_S).values()
    with pytest.raises(KafkaException, match="The only valid name for the CLUSTER resource is kafka-cluster"):
        future.result(timeout=TIMEOUT_S)


def test_kafka_python_creates_describes_and_deletes_acls(start_kwire):
    from kafka.admin import (
        ACL,
        ACLFilter,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        KafkaAdminClient,
        ResourcePattern,
        ResourcePatternFilter,
        ResourceType,
    )

    broker = start_kwire(*AUTHORIZER, *SUPER_ANONYMOUS, memory=True)
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=10_000)
    try:
        acls = [
            ACL(
                "User:bob",
                "*",
                ACLOperation.WRITE,
                ACLPermissionType.ALLOW,
                ResourcePattern(ResourceType.TOPIC, "logs", ACLResourcePatternType.PREFIXED),
            ),
            ACL(
                "User:bob",
                "*",
                ACLOperation.DESCRIBE,
                ACLPermissionType.ALLOW,
                ResourcePattern(ResourceType.TRANSACTIONAL_ID, "tx"),
            ),
        ]
        result = admin.create_acls(acls)
        assert len(result["succeeded"]) == 2 and result["failed"] == []
        everything = ACLFilter(
            principal=None,
            host=None,
            operation=ACLOperation.ANY,
            permission_type=ACLPermissionType.ANY,
            resource_pattern=ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY),
        )
        found, error = admin.describe_acls(everything)
        assert error.errno == 0
        assert {(a.resource_pattern.resource_name, a.operation) for a in found} == {
            ("logs", ACLOperation.WRITE),
            ("tx", ACLOperation.DESCRIBE),
        }
        ((_filter, deleted, error),) = admin.delete_acls([everything])
        assert error.errno == 0 and len(deleted) == 2
        found, _error = admin.describe_acls(everything)
        assert found == []
    finally:
        admin.close()


def test_kafka_python_without_an_authorizer_gets_security_disabled(start_kwire):
    from kafka.admin import (
        ACLFilter,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        KafkaAdminClient,
        ResourcePatternFilter,
        ResourceType,
    )
    from kafka.errors import SecurityDisabledError

    broker = start_kwire(memory=True)
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=10_000)
    try:
        everything = ACLFilter(
            principal=None,
            host=None,
            operation=ACLOperation.ANY,
            permission_type=ACLPermissionType.ANY,
            resource_pattern=ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY),
        )
        with pytest.raises(SecurityDisabledError):
            admin.describe_acls(everything)
    finally:
        admin.close()
