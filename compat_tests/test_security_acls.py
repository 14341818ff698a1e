"""ACLs with real clients against kwire's StandardAuthorizer
(allow.everyone.if.no.acl.found=false, super.users=User:admin): READ without
WRITE, prefixed ACLs, DENY over ALLOW, super users, group READ, ACL admin
through confluent-kafka and kafka-python, ACLs across a restart, SCRAM users
managed through admin clients, Metadata hiding what a principal cannot
describe, and the certificate's principal (User:CN=...). One broker for the
module; each test its own topics and principals' ACLs."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys

import pytest

from compat_tests.clients import Outgoing, consume, produce
from compat_tests.security_kit import (
    TIMEOUT_S,
    USERS,
    Identity,
    acl_binding,
    allow,
    authorizer_settings,
    confluent_admin,
    create_acls,
    create_topic,
    describe_acls,
    log_on_failure,
    options,
    produce_error,
    set_scram_password,
    start_secure_kwire,
    user,
    visible_topics,
)

TOPIC_AUTHORIZATION_FAILED = {
    "confluent-kafka": "TOPIC_AUTHORIZATION_FAILED",
    "kafka-python": "TopicAuthorizationFailedError",
    "aiokafka": "TopicAuthorizationFailedError",
}
PROTOCOL = "SASL_PLAINTEXT"
_principals = itertools.count()

# One broker for the module: its tests stay on one xdist worker.
pytestmark = pytest.mark.xdist_group("security-acls")


@pytest.fixture(scope="module")
def kwire(tmp_path_factory, test_certificates):
    broker = start_secure_kwire(tmp_path_factory.mktemp("acls"), test_certificates, authorizer_settings())
    yield broker
    broker.kill()


@pytest.fixture(autouse=True)
def _log_on_failure(request, kwire):
    yield
    log_on_failure(request, kwire)


def as_admin(kwire) -> dict:
    return options("confluent-kafka", PROTOCOL, kwire.certs, user("admin"))


def as_(client: str, kwire, name: str, protocol: str = PROTOCOL) -> dict:
    return options(client, protocol, kwire.certs, user(name))


@pytest.fixture
def new_user(kwire):
    """A fresh SCRAM user (no ACLs yet), so tests' grants do not mix: its name."""
    name = f"user{next(_principals)}"
    set_scram_password(kwire.bootstrap(PROTOCOL), as_admin(kwire), name, f"{name}-secret")
    return name


def scram(client: str, kwire, name: str, protocol: str = PROTOCOL) -> dict:
    return options(client, protocol, kwire.certs, Identity("SCRAM-SHA-256", name, f"{name}-secret"))


def admin_topic(kwire, name: str, messages: list[bytes] = ()) -> str:
    create_topic(kwire.bootstrap(PROTOCOL), name, as_admin(kwire))
    if messages:
        produce(
            "confluent-kafka",
            kwire.bootstrap(PROTOCOL),
            name,
            [Outgoing(key=None, value=m) for m in messages],
            **as_admin(kwire),
        )
    return name


@pytest.mark.parametrize("client", ["kafka-python", "aiokafka"])
def test_read_only_consumes_but_cannot_produce(kwire, topic_name, new_user, client):
    admin_topic(kwire, topic_name, [b"from admin"])
    allow(kwire.bootstrap(PROTOCOL), as_admin(kwire), f"User:{new_user}", "READ", "TOPIC", topic_name)
    extra = scram(client, kwire, new_user)
    got = consume(client, kwire.bootstrap(PROTOCOL), topic_name, [0], 1, **extra)
    assert [m.value for m in got] == [b"from admin"]
    assert produce_error(client, kwire.bootstrap(PROTOCOL), topic_name, extra) == TOPIC_AUTHORIZATION_FAILED[client]


@pytest.mark.parametrize("client", ["kafka-python", "aiokafka"])
def test_an_idempotent_producer_needs_write_on_some_topic(kwire, topic_name, new_user, client):
    """InitProducerId without a transactional id: IdempotentWrite on the
    cluster or Write on any topic (KIP-679), else CLUSTER_AUTHORIZATION_FAILED."""
    admin_topic(kwire, topic_name)
    admin_topic(kwire, f"{topic_name}-writable")
    principal = f"User:{new_user}"
    allow(kwire.bootstrap(PROTOCOL), as_admin(kwire), principal, "READ", "TOPIC", topic_name)
    extra = {**scram(client, kwire, new_user), "enable_idempotence": True}
    refused = produce_error(client, kwire.bootstrap(PROTOCOL), topic_name, extra)
    assert refused == "ClusterAuthorizationFailedError"
    allow(kwire.bootstrap(PROTOCOL), as_admin(kwire), principal, "WRITE", "TOPIC", f"{topic_name}-writable")
    assert produce_error(client, kwire.bootstrap(PROTOCOL), f"{topic_name}-writable", extra) == ""


def test_read_only_cannot_produce_with_librdkafka(kwire, topic_name, new_user):
    admin_topic(kwire, topic_name)
    allow(kwire.bootstrap(PROTOCOL), as_admin(kwire), f"User:{new_user}", "READ", "TOPIC", topic_name)
    extra = scram("confluent-kafka", kwire, new_user)
    assert (
        produce_error("confluent-kafka", kwire.bootstrap(PROTOCOL), topic_name, extra) == "TOPIC_AUTHORIZATION_FAILED"
    )


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_a_prefixed_acl_grants_a_family_of_topics(kwire, topic_name, new_user, client):
    family = f"{topic_name}-fam-"
    for name in (f"{family}a", f"{family}b", f"{topic_name}-other"):
        admin_topic(kwire, name)
    allow(kwire.bootstrap(PROTOCOL), as_admin(kwire), f"User:{new_user}", "WRITE", "TOPIC", family, pattern="PREFIXED")
    extra = scram(client, kwire, new_user)
    assert produce_error(client, kwire.bootstrap(PROTOCOL), f"{family}a", extra) == ""
    assert produce_error(client, kwire.bootstrap(PROTOCOL), f"{family}b", extra) == ""
    other = produce_error(client, kwire.bootstrap(PROTOCOL), f"{topic_name}-other", extra)
    assert other == TOPIC_AUTHORIZATION_FAILED[client]


@pytest.mark.parametrize("client", ["confluent-kafka", "aiokafka"])
def test_deny_beats_allow(kwire, topic_name, new_user, client):
    admin_topic(kwire, f"{topic_name}-open")
    admin_topic(kwire, f"{topic_name}-shut")
    principal = f"User:{new_user}"
    create_acls(
        kwire.bootstrap(PROTOCOL),
        as_admin(kwire),
        acl_binding(principal, "ALL", "TOPIC", topic_name, pattern="PREFIXED"),
        acl_binding(principal, "WRITE", "TOPIC", f"{topic_name}-shut", permission="DENY"),
    )
    extra = scram(client, kwire, new_user)
    assert produce_error(client, kwire.bootstrap(PROTOCOL), f"{topic_name}-open", extra) == ""
    shut = produce_error(client, kwire.bootstrap(PROTOCOL), f"{topic_name}-shut", extra)
    assert shut == TOPIC_AUTHORIZATION_FAILED[client]


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python", "aiokafka"])
def test_super_users_bypass_acls(kwire, topic_name, client):
    admin_topic(kwire, topic_name)  # no ACL names it
    extra = as_(client, kwire, "admin")
    produce(client, kwire.bootstrap(PROTOCOL), topic_name, [Outgoing(key=None, value=b"super")], **extra)
    assert [m.value for m in consume(client, kwire.bootstrap(PROTOCOL), topic_name, [0], 1, **extra)] == [b"super"]
    # alice has no ACL at all: refused (so it is the super user rule that let admin in).
    assert produce_error(client, kwire.bootstrap(PROTOCOL), topic_name, as_(client, kwire, "alice")) != ""


def _kafka_python_group_consume(bootstrap: str, topic: str, group: str, extra: dict) -> list[bytes] | str:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest", **extra)
    try:
        values: list[bytes] = []
        for _ in range(40):
            for records in consumer.poll(timeout_ms=500).values():
                values.extend(r.value for r in records)
            if values:
                return values
        return values
    except Exception as error:
        return type(error).__name__
    finally:
        consumer.close()


def _confluent_group_consume(bootstrap: str, topic: str, group: str, extra: dict) -> list[bytes] | str:
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest", **extra})
    consumer.subscribe([topic])
    try:
        for _ in range(40):
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                return message.error().name()
            return [message.value()]
        return []
    finally:
        consumer.close()


GROUP_CONSUMERS = {"kafka-python": _kafka_python_group_consume, "confluent-kafka": _confluent_group_consume}
GROUP_AUTHORIZATION_FAILED = {
    "kafka-python": "GroupAuthorizationFailedError",
    "confluent-kafka": "GROUP_AUTHORIZATION_FAILED",
}


@pytest.mark.parametrize("client", ["kafka-python", "confluent-kafka"])
def test_a_group_needs_read_on_the_group(kwire, topic_name, new_user, client):
    admin_topic(kwire, topic_name, [b"for the group"])
    principal = f"User:{new_user}"
    allow(kwire.bootstrap(PROTOCOL), as_admin(kwire), principal, "READ", "TOPIC", topic_name)
    group = f"{topic_name}-group"
    consume_as_group = GROUP_CONSUMERS[client]
    extra = scram(client, kwire, new_user)
    assert consume_as_group(kwire.bootstrap(PROTOCOL), topic_name, group, extra) == GROUP_AUTHORIZATION_FAILED[client]
    allow(kwire.bootstrap(PROTOCOL), as_admin(kwire), principal, "READ", "GROUP", group)
    assert consume_as_group(kwire.bootstrap(PROTOCOL), topic_name, group, extra) == [b"for the group"]


def test_confluent_admin_creates_describes_and_deletes_acls(kwire, new_user):
    from confluent_kafka.admin import (
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    principal = f"User:{new_user}"
    bindings = [
        acl_binding(principal, "READ", "TOPIC", "acl-admin-t"),
        acl_binding(principal, "WRITE", "TOPIC", "acl-admin-", pattern="PREFIXED", permission="DENY"),
        acl_binding(principal, "DESCRIBE", "GROUP", "acl-admin-g", host="127.0.0.1"),
        acl_binding(principal, "ALTER", "CLUSTER", "kafka-cluster"),
    ]
    create_acls(kwire.bootstrap(PROTOCOL), as_admin(kwire), *bindings)
    assert describe_acls(kwire.bootstrap(PROTOCOL), as_admin(kwire), principal) == {
        (principal, "*", "READ", "ALLOW", "TOPIC", "acl-admin-t", "LITERAL"),
        (principal, "*", "WRITE", "DENY", "TOPIC", "acl-admin-", "PREFIXED"),
        (principal, "127.0.0.1", "DESCRIBE", "ALLOW", "GROUP", "acl-admin-g", "LITERAL"),
        (principal, "*", "ALTER", "ALLOW", "CLUSTER", "kafka-cluster", "LITERAL"),
    }
    topics_only = AclBindingFilter(
        ResourceType.TOPIC, None, ResourcePatternType.ANY, principal, None, AclOperation.ANY, AclPermissionType.ANY
    )
    admin = confluent_admin(kwire.bootstrap(PROTOCOL), as_admin(kwire))
    deleted = admin.delete_acls([topics_only], request_timeout=10)[topics_only].result(TIMEOUT_S)
    assert {(b.operation.name, b.name) for b in deleted} == {("READ", "acl-admin-t"), ("WRITE", "acl-admin-")}
    remaining = describe_acls(kwire.bootstrap(PROTOCOL), as_admin(kwire), principal)
    assert {(acl[2], acl[4]) for acl in remaining} == {("DESCRIBE", "GROUP"), ("ALTER", "CLUSTER")}


def test_kafka_python_admin_creates_describes_and_deletes_acls(kwire, new_user):
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

    principal = f"User:{new_user}"
    admin = KafkaAdminClient(
        bootstrap_servers=kwire.bootstrap(PROTOCOL), request_timeout_ms=10_000, **as_("kafka-python", kwire, "admin")
    )
    try:
        acls = [
            ACL(
                principal, "*", ACLOperation.READ, ACLPermissionType.ALLOW, ResourcePattern(ResourceType.TOPIC, "kp-t")
            ),
            ACL(
                principal,
                "*",
                ACLOperation.WRITE,
                ACLPermissionType.ALLOW,
                ResourcePattern(ResourceType.TOPIC, "kp-", ACLResourcePatternType.PREFIXED),
            ),
        ]
        created = admin.create_acls(acls)
        assert not created["failed"], created["failed"]
        everything = ACLFilter(
            principal,
            None,
            ACLOperation.ANY,
            ACLPermissionType.ANY,
            ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY),
        )
        found, error = admin.describe_acls(everything)
        assert error.errno == 0
        assert {(a.operation, a.resource_pattern.resource_name, a.resource_pattern.pattern_type) for a in found} == {
            (ACLOperation.READ, "kp-t", ACLResourcePatternType.LITERAL),
            (ACLOperation.WRITE, "kp-", ACLResourcePatternType.PREFIXED),
        }
        (result,) = admin.delete_acls([everything])
        _filter, matched, error = result
        assert error.errno == 0 and len(matched) == 2
        assert admin.describe_acls(everything)[0] == []
    finally:
        admin.close()


def test_only_a_principal_allowed_on_the_cluster_manages_acls(kwire):
    """CreateAcls needs ALTER on the cluster: alice gets CLUSTER_AUTHORIZATION_FAILED."""
    from confluent_kafka import KafkaException

    with pytest.raises(KafkaException) as refused:
        create_acls(
            kwire.bootstrap(PROTOCOL),
            options("confluent-kafka", PROTOCOL, kwire.certs, user("alice")),
            acl_binding("User:alice", "ALL", "TOPIC", "*"),
        )
    assert refused.value.args[0].name() == "CLUSTER_AUTHORIZATION_FAILED"


def test_metadata_hides_topics_the_principal_cannot_describe(kwire, topic_name, new_user):
    seen, hidden = admin_topic(kwire, f"{topic_name}-seen"), admin_topic(kwire, f"{topic_name}-hidden")
    allow(kwire.bootstrap(PROTOCOL), as_admin(kwire), f"User:{new_user}", "DESCRIBE", "TOPIC", seen)
    assert {seen, hidden} <= visible_topics(kwire.bootstrap(PROTOCOL), as_admin(kwire))
    confluent = visible_topics(kwire.bootstrap(PROTOCOL), scram("confluent-kafka", kwire, new_user))
    assert seen in confluent and hidden not in confluent

    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(
        bootstrap_servers=kwire.bootstrap(PROTOCOL), request_timeout_ms=10_000, **scram("kafka-python", kwire, new_user)
    )
    try:
        listed = set(admin.list_topics())
    finally:
        admin.close()
    assert seen in listed and hidden not in listed


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_scram_users_managed_through_admin_clients(kwire, topic_name, client):
    """Created, described and deleted by the super user; the new user logs in
    until its credential is deleted."""
    name = f"scram-{client}-{next(_principals)}"
    bootstrap = kwire.bootstrap(PROTOCOL)
    admin_topic(kwire, topic_name)
    allow(bootstrap, as_admin(kwire), f"User:{name}", "WRITE", "TOPIC", topic_name)
    identity = Identity("SCRAM-SHA-512", name, "s3cret")
    if client == "confluent-kafka":
        set_scram_password(bootstrap, as_admin(kwire), name, "s3cret", mechanisms=("SCRAM-SHA-512",))
        described = _confluent_scram_users(bootstrap, as_admin(kwire), name)
    else:
        described = _kafka_python_alter_scram(bootstrap, as_("kafka-python", kwire, "admin"), name, "s3cret")
    assert described == [("SCRAM-SHA-512", 4096)]
    assert produce_error("aiokafka", bootstrap, topic_name, options("aiokafka", PROTOCOL, kwire.certs, identity)) == ""

    _delete_scram(bootstrap, as_admin(kwire), name, "SCRAM-SHA-512")
    refused = produce_error("aiokafka", bootstrap, topic_name, options("aiokafka", PROTOCOL, kwire.certs, identity))
    assert refused == "SaslAuthenticationFailed"  # aiokafka's name for SASL_AUTHENTICATION_FAILED


def _confluent_scram_users(bootstrap: str, extra: dict, name: str) -> list[tuple[str, int]]:
    admin = confluent_admin(bootstrap, extra)  # kept alive until its futures are done
    futures = admin.describe_user_scram_credentials([name], request_timeout=10)
    description = futures[name].result(TIMEOUT_S)
    return [(info.mechanism.name.replace("_", "-"), info.iterations) for info in description.scram_credential_infos]


def _kafka_python_alter_scram(bootstrap: str, extra: dict, name: str, password: str) -> list[tuple[str, int]]:
    from kafka.admin import KafkaAdminClient, UserScramCredentialUpsertion

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000, **extra)
    try:
        errors = admin.alter_user_scram_credentials([UserScramCredentialUpsertion(name, "SCRAM-SHA-512", password)])
        assert not any(errors.values()), errors
        described = admin.describe_user_scram_credentials([name])
    finally:
        admin.close()
    return _kafka_python_described(described, name)


def _kafka_python_described(described: dict, name: str) -> list[tuple[str, int]]:
    entry = described[name]
    assert entry["error"] is None, entry
    return [(info["mechanism"].name.replace("_", "-"), info["iterations"]) for info in entry["credential_infos"]]


def _delete_scram(bootstrap: str, extra: dict, name: str, mechanism: str) -> None:
    from confluent_kafka.admin import ScramMechanism, UserScramCredentialDeletion

    deletion = UserScramCredentialDeletion(name, ScramMechanism[mechanism.replace("-", "_")])
    admin = confluent_admin(bootstrap, extra)  # kept alive until its futures are done
    futures = admin.alter_user_scram_credentials([deletion], request_timeout=10)
    for future in futures.values():
        future.result(TIMEOUT_S)


def test_only_the_cluster_alterer_manages_scram_users(kwire):
    from confluent_kafka import KafkaException

    with pytest.raises(KafkaException) as refused:
        set_scram_password(kwire.bootstrap(PROTOCOL), as_("confluent-kafka", kwire, "alice"), "mallory", "x")
    assert refused.value.args[0].name() == "CLUSTER_AUTHORIZATION_FAILED"


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python", "aiokafka"])
def test_the_certificates_principal(kwire, topic_name, client):
    """On SSL the principal is the certificate's subject (Kafka's DEFAULT
    mapping, User:CN=alice,...): an ACL on it lets alice's certificate in, and
    neither bob's certificate nor none at all (ANONYMOUS)."""
    admin_topic(kwire, topic_name)
    allow(kwire.bootstrap(PROTOCOL), as_admin(kwire), kwire.certs.principal("alice"), "WRITE", "TOPIC", topic_name)
    bootstrap = kwire.bootstrap("SSL")
    as_alice = options(client, "SSL", kwire.certs, Identity(certificate="alice"))
    assert produce_error(client, bootstrap, topic_name, as_alice) == ""
    as_bob = options(client, "SSL", kwire.certs, Identity(certificate="bob"))
    assert produce_error(client, bootstrap, topic_name, as_bob) == TOPIC_AUTHORIZATION_FAILED[client]
    anonymous = options(client, "SSL", kwire.certs, Identity())
    assert produce_error(client, bootstrap, topic_name, anonymous) == TOPIC_AUTHORIZATION_FAILED[client]


def test_plaintext_is_anonymous(kwire, topic_name):
    """No authentication: User:ANONYMOUS, which only an ACL can let in."""
    admin_topic(kwire, topic_name)
    assert produce_error("kafka-python", kwire.bootstrap(), topic_name, {}) == "TopicAuthorizationFailedError"
    allow(kwire.bootstrap(PROTOCOL), as_admin(kwire), "User:ANONYMOUS", "WRITE", "TOPIC", topic_name)
    assert produce_error("kafka-python", kwire.bootstrap(), topic_name, {}) == ""


def test_acls_and_scram_users_survive_a_restart(tmp_path, test_certificates, topic_name):
    broker = start_secure_kwire(tmp_path / "restart", test_certificates, authorizer_settings())
    try:
        bootstrap = broker.bootstrap(PROTOCOL)
        admin = options("confluent-kafka", PROTOCOL, broker.certs, user("admin"))
        create_topic(bootstrap, topic_name, admin)
        set_scram_password(bootstrap, admin, "dora", "dora-secret")
        allow(bootstrap, admin, "User:dora", "WRITE", "TOPIC", topic_name)
        allow(bootstrap, admin, "User:dora", "READ", "TOPIC", "dora-", pattern="PREFIXED")
        before = describe_acls(bootstrap, admin)
        assert len(before) == 2

        broker.restart()

        assert describe_acls(bootstrap, admin) == before
        for client in ("confluent-kafka", "aiokafka"):
            dora = options(client, PROTOCOL, broker.certs, Identity("SCRAM-SHA-256", "dora", "dora-secret"))
            assert produce_error(client, bootstrap, topic_name, dora) == ""
    finally:
        broker.kill()


def test_aiokafka_consumer_refused_a_topic(kwire, topic_name, new_user):
    """A consumer with no READ: aiokafka reports TopicAuthorizationFailedError."""
    admin_topic(kwire, topic_name, [b"secret"])
    allow(kwire.bootstrap(PROTOCOL), as_admin(kwire), f"User:{new_user}", "DESCRIBE", "TOPIC", topic_name)

    async def attempt() -> str:
        from aiokafka import AIOKafkaConsumer
        from aiokafka.structs import TopicPartition

        consumer = AIOKafkaConsumer(
            bootstrap_servers=kwire.bootstrap(PROTOCOL),
            auto_offset_reset="earliest",
            **scram("aiokafka", kwire, new_user),
        )
        await consumer.start()
        try:
            consumer.assign([TopicPartition(topic_name, 0)])
            await consumer.getmany(timeout_ms=5000)
            await consumer.getmany(timeout_ms=2000)
            return ""
        except Exception as error:
            return type(error).__name__
        finally:
            await consumer.stop()

    assert asyncio.run(asyncio.wait_for(attempt(), 60)) == "TopicAuthorizationFailedError"


def kwire_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kwire", *args], capture_output=True, text=True, timeout=60)


def test_the_kwire_acls_cli_as_the_super_user(kwire, topic_name, new_user, tmp_path):
    """`kwire acls add|list|remove` with kafka-acls.sh's options, connecting
    as the super user through a --command-config file of client settings."""
    admin_topic(kwire, topic_name, [b"granted by the cli"])
    settings = tmp_path / "admin.properties"
    settings.write_text(
        "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"
        "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="admin" password="{USERS["admin"]}";\n'
    )
    connection = ["--bootstrap-server", kwire.bootstrap(PROTOCOL), "--command-config", str(settings)]
    principal = f"User:{new_user}"
    added = kwire_cli(
        "acls", "add", "--allow-principal", principal, "--operation", "Read", "--topic", topic_name, *connection
    )
    assert added.returncode == 0, added.stderr
    assert describe_acls(kwire.bootstrap(PROTOCOL), as_admin(kwire), principal) == {
        (principal, "*", "READ", "ALLOW", "TOPIC", topic_name, "LITERAL")
    }
    listed = kwire_cli("acls", "list", "--topic", topic_name, *connection)
    assert listed.returncode == 0 and principal in listed.stdout, listed.stdout + listed.stderr
    got = consume(
        "kafka-python", kwire.bootstrap(PROTOCOL), topic_name, [0], 1, **scram("kafka-python", kwire, new_user)
    )
    assert [m.value for m in got] == [b"granted by the cli"]

    removed = kwire_cli(
        "acls",
        "remove",
        "--allow-principal",
        principal,
        "--operation",
        "Read",
        "--topic",
        topic_name,
        "--force",
        *connection,
    )
    assert removed.returncode == 0, removed.stderr
    assert describe_acls(kwire.bootstrap(PROTOCOL), as_admin(kwire), principal) == set()
