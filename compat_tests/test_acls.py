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


def test_a_sasl_user_needs_an_acl_on_the_cluster_to_manage_acls(start_kwire):
    """The principal SASL authenticates is the one ACLs name: alice (PLAIN)
    may neither create nor list ACLs until the super user grants her
    DESCRIBE on the cluster, and then only list them. (librdkafka's
    describe_acls hands back an empty list for a refusal; kafka-python
    raises the broker's error, so the refused listing is checked with it.)"""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import (
        AclBinding,
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        AdminClient,
        ResourcePatternType,
    )
    from confluent_kafka.admin import ResourceType as Res
    from kafka.admin import (
        ACLFilter,
        ACLOperation,
        ACLPermissionType,
        ACLResourcePatternType,
        KafkaAdminClient,
        ResourcePatternFilter,
        ResourceType,
    )
    from kafka.errors import ClusterAuthorizationFailedError

    jaas = (
        'org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-pw" user_alice="alice-pw";'
    )
    broker = start_kwire(
        *AUTHORIZER,
        *("-o", "super.users=User:admin"),
        *("-o", "listeners=SASL_PLAINTEXT://127.0.0.1:0"),
        *("-o", "sasl.enabled.mechanisms=PLAIN"),
        *("-o", f"sasl.jaas.config={jaas}"),
        memory=True,
    )

    def admin_as(user: str, password: str):
        return AdminClient(
            {
                "bootstrap.servers": broker.bootstrap,
                "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism": "PLAIN",
                "sasl.username": user,
                "sasl.password": password,
            }
        )

    grant = AclBinding(
        Res.BROKER,
        "kafka-cluster",
        ResourcePatternType.LITERAL,
        "User:alice",
        "*",
        AclOperation.DESCRIBE,
        AclPermissionType.ALLOW,
    )
    alice, admin = admin_as("alice", "alice-pw"), admin_as("admin", "admin-pw")
    (future,) = alice.create_acls([grant], request_timeout=TIMEOUT_S).values()
    with pytest.raises(KafkaException, match="CLUSTER_AUTHORIZATION_FAILED"):
        future.result(timeout=TIMEOUT_S)
    alice_python = KafkaAdminClient(
        bootstrap_servers=broker.bootstrap,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_plain_username="alice",
        sasl_plain_password="alice-pw",
        request_timeout_ms=10_000,
    )
    try:
        everything_python = ACLFilter(
            principal=None,
            host=None,
            operation=ACLOperation.ANY,
            permission_type=ACLPermissionType.ANY,
            resource_pattern=ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY),
        )
        with pytest.raises(ClusterAuthorizationFailedError):
            alice_python.describe_acls(everything_python)
        (future,) = admin.create_acls([grant], request_timeout=TIMEOUT_S).values()
        assert future.result(timeout=TIMEOUT_S) is None
        found, error = alice_python.describe_acls(everything_python)
        assert error.errno == 0
        assert [(a.principal, a.operation) for a in found] == [("User:alice", ACLOperation.DESCRIBE)]
    finally:
        alice_python.close()
    everything = AclBindingFilter(
        Res.ANY, None, ResourcePatternType.ANY, None, None, AclOperation.ANY, AclPermissionType.ANY
    )
    found = alice.describe_acls(everything, request_timeout=TIMEOUT_S).result(timeout=TIMEOUT_S)
    assert [(b.principal, b.operation.name) for b in found] == [("User:alice", "DESCRIBE")]
    # DESCRIBE is not ALTER: alice still may not create ACLs.
    (future,) = alice.create_acls([grant], request_timeout=TIMEOUT_S).values()
    with pytest.raises(KafkaException, match="CLUSTER_AUTHORIZATION_FAILED"):
        future.result(timeout=TIMEOUT_S)
