"""SASL with real clients: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and
OAUTHBEARER (unsecured tokens) over SASL_PLAINTEXT and SASL_SSL, wrong
passwords and expired tokens refused with SASL_AUTHENTICATION_FAILED, and
Metadata naming the listener each client came in on. One broker for the
module, no authorizer: this is authentication only."""

from __future__ import annotations

import subprocess
import sys

import pytest

from compat_tests.clients import Outgoing, consume, create_topic, produce
from compat_tests.security_kit import (
    CLIENTS,
    MECHANISMS,
    PROTOCOLS,
    SASL_PROTOCOLS,
    SCRAM_MECHANISMS,
    USERS,
    Identity,
    broker_ports,
    confluent_errors,
    log_on_failure,
    options,
    produce_error,
    secure_kwire_with_users,
    unsecured_jwt,
    user,
)

# The error each client reports when the broker answers SaslAuthenticate with
# SASL_AUTHENTICATION_FAILED (58).
AUTHENTICATION_FAILED = {
    "confluent-kafka": "_AUTHENTICATION",
    "kafka-python": "SaslAuthenticationFailedError",
    "aiokafka": "SaslAuthenticationFailed",
}
# aiokafka does not answer an OAUTHBEARER error challenge ({"status":"invalid_token"})
# with the %x01 that would fetch the error: it sends its next request, and the
# broker closes the connection (as Kafka does); aiokafka then reports a
# connection error (the socket's IncompleteReadError when it logged one).
OAUTH_REFUSED = {
    **{client: (error,) for client, error in AUTHENTICATION_FAILED.items()},
    "aiokafka": ("KafkaConnectionError", "IncompleteReadError"),
}

# One broker for the module: its tests stay on one xdist worker.
pytestmark = pytest.mark.xdist_group("security-sasl")


@pytest.fixture(scope="module")
def kwire(tmp_path_factory, test_certificates):
    with secure_kwire_with_users(tmp_path_factory.mktemp("sasl"), test_certificates) as broker:
        yield broker


@pytest.fixture(autouse=True)
def _log_on_failure(request, kwire):
    yield
    log_on_failure(request, kwire)


@pytest.fixture
def topic(kwire, topic_name):
    create_topic("confluent-kafka", kwire.bootstrap(), topic_name, 1)
    return topic_name


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.parametrize("protocol", SASL_PROTOCOLS)
def test_produce_and_consume(kwire, topic, protocol, mechanism, client):
    extra = options(client, protocol, kwire.certs, user("alice", mechanism))
    value = f"{client} {mechanism} {protocol}".encode()
    produce(client, kwire.bootstrap(protocol), topic, [Outgoing(key=b"k", value=value)], **extra)
    got = consume(client, kwire.bootstrap(protocol), topic, [0], 1, timeout=15, **extra)
    assert [m.value for m in got] == [value]


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("mechanism", ["PLAIN", *SCRAM_MECHANISMS])
def test_a_wrong_password_is_refused(kwire, topic, mechanism, client):
    wrong = Identity(mechanism, "alice", "not-alice-secret")
    error = produce_error(
        client, kwire.bootstrap("SASL_PLAINTEXT"), topic, options(client, "SASL_PLAINTEXT", None, wrong)
    )
    assert error == AUTHENTICATION_FAILED[client]


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
@pytest.mark.parametrize("mechanism", ["PLAIN", *SCRAM_MECHANISMS])
def test_an_unknown_user_is_refused_over_sasl_ssl(kwire, topic, mechanism, client):
    stranger = Identity(mechanism, "mallory", "guess")
    extra = options(client, "SASL_SSL", kwire.certs, stranger)
    assert produce_error(client, kwire.bootstrap("SASL_SSL"), topic, extra) == AUTHENTICATION_FAILED[client]


def test_librdkafka_shows_the_brokers_reason(kwire):
    """librdkafka reports the broker's error message with its _AUTHENTICATION error."""
    wrong = Identity("SCRAM-SHA-256", "alice", "nope")
    errors = confluent_errors(
        kwire.bootstrap("SASL_PLAINTEXT"), options("confluent-kafka", "SASL_PLAINTEXT", None, wrong)
    )
    reported = [e for e in errors if getattr(e, "name", lambda: "")() == "_AUTHENTICATION"]
    assert reported, errors
    assert "Authentication failed" in reported[0].str(), reported[0].str()


@pytest.mark.parametrize("client", CLIENTS)
def test_an_expired_token_is_refused(kwire, topic, client):
    expired = Identity("OAUTHBEARER", "alice", token=lambda: unsecured_jwt("alice", lifetime_s=-120))
    extra = options(client, "SASL_PLAINTEXT", None, expired)
    assert produce_error(client, kwire.bootstrap("SASL_PLAINTEXT"), topic, extra) in OAUTH_REFUSED[client]


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_a_token_given_by_a_provider_is_accepted(kwire, topic, client):
    """A token from the application (oauth_cb / token provider), not the client's own."""
    identity = Identity("OAUTHBEARER", "alice", token=lambda: unsecured_jwt("alice", lifetime_s=600))
    extra = options(client, "SASL_SSL", kwire.certs, identity)
    produce(client, kwire.bootstrap("SASL_SSL"), topic, [Outgoing(key=None, value=b"by token")], **extra)
    assert [m.value for m in consume(client, kwire.bootstrap("SASL_SSL"), topic, [0], 1, **extra)] == [b"by token"]


def _kafka_python_broker_ports(bootstrap: str, extra: dict) -> dict[int, int]:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000, **extra)
    try:
        return {broker["broker_id"]: broker["port"] for broker in admin.describe_cluster()["brokers"]}
    finally:
        admin.close()


def _identity_for(protocol: str) -> Identity:
    return user("alice", "SCRAM-SHA-512") if protocol.startswith("SASL") else Identity()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_metadata_advertises_the_listener_the_client_came_in_on(kwire, protocol):
    confluent = options("confluent-kafka", protocol, kwire.certs, _identity_for(protocol))
    assert broker_ports(kwire.bootstrap(protocol), confluent) == {1: kwire.ports[protocol]}
    kafka_python = options("kafka-python", protocol, kwire.certs, _identity_for(protocol))
    assert _kafka_python_broker_ports(kwire.bootstrap(protocol), kafka_python) == {1: kwire.ports[protocol]}


def kcat(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["kcat", *args], input=stdin, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("mechanism", ["PLAIN", *SCRAM_MECHANISMS])
def test_kcat_over_sasl_ssl(kwire, topic, mechanism):
    settings = [
        *("-b", kwire.bootstrap("SASL_SSL")),
        *("-X", "security.protocol=SASL_SSL", "-X", f"sasl.mechanisms={mechanism}"),
        *("-X", "sasl.username=bob", "-X", f"sasl.password={USERS['bob']}"),
        *("-X", f"ssl.ca.location={kwire.certs.ca}"),
    ]
    produced = kcat(*settings, "-P", "-t", topic, "-p", "0", stdin="one\ntwo\n")
    assert produced.returncode == 0, produced.stderr
    consumed = kcat(*settings, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q")
    assert consumed.returncode == 0, consumed.stderr
    assert consumed.stdout.splitlines() == ["one", "two"]
    metadata = kcat(*settings, "-L")
    assert metadata.returncode == 0, metadata.stderr
    assert f"broker 1 at 127.0.0.1:{kwire.ports['SASL_SSL']}" in metadata.stdout, metadata.stdout


def test_kcat_with_a_wrong_password_fails(kwire, topic):
    settings = [
        *("-b", kwire.bootstrap("SASL_SSL")),
        *("-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanisms=SCRAM-SHA-256"),
        *("-X", "sasl.username=bob", "-X", "sasl.password=wrong", "-X", f"ssl.ca.location={kwire.certs.ca}"),
        *("-m", "10"),
    ]
    listed = kcat(*settings, "-L")
    assert listed.returncode != 0
    assert "Authentication failed" in listed.stderr, listed.stderr


def test_a_scram_user_added_with_the_cli_logs_in(kwire, topic):
    result = subprocess.run(
        [sys.executable, "-m", "kwire", "users", "add", "carol", "--password", "carol-secret"]
        + ["--bootstrap-server", kwire.bootstrap()],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    for client in ("confluent-kafka", "aiokafka"):
        extra = options(client, "SASL_SSL", kwire.certs, Identity("SCRAM-SHA-256", "carol", "carol-secret"))
        assert produce_error(client, kwire.bootstrap("SASL_SSL"), topic, extra) == ""
