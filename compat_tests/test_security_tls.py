"""TLS with real clients: the SSL listener without and with client
certificates, ssl.client.auth=required refusing a client without one (or with
one from a CA the broker does not trust), and SASL_SSL left to SASL under a
broker-wide ssl.client.auth (Kafka applies it to SSL listeners only; a
SASL_SSL listener asks for certificates only with
listener.name.<listener>.ssl.client.auth). Two brokers for the module:
ssl.client.auth=requested and =required."""

from __future__ import annotations

import socket
import ssl

import pytest

from compat_tests.clients import Outgoing, Reader, consume, create_topic, produce
from compat_tests.raw import SOCKET_TIMEOUT_S
from compat_tests.security_kit import (
    CLIENTS,
    Identity,
    log_on_failure,
    make_foreign_client,
    options,
    produce_error,
    start_secure_kwire,
    user,
)
from tests.wire import decode_response, request_frame

# One broker for the module: its tests stay on one xdist worker.
pytestmark = pytest.mark.xdist_group("security-tls")


@pytest.fixture(scope="module")
def requested(tmp_path_factory, test_certificates):
    broker = start_secure_kwire(
        tmp_path_factory.mktemp("requested"), test_certificates, {"ssl.client.auth": "requested"}
    )
    yield broker
    broker.kill()


@pytest.fixture(scope="module")
def required(tmp_path_factory, test_certificates):
    broker = start_secure_kwire(tmp_path_factory.mktemp("required"), test_certificates, {"ssl.client.auth": "required"})
    yield broker
    broker.kill()


@pytest.fixture(autouse=True)
def _log_on_failure(request, requested, required):
    yield
    log_on_failure(request, requested, required)


def round_trip(client: str, broker, protocol: str, topic: str, identity: Identity) -> None:
    extra = options(client, protocol, broker.certs, identity)
    value = f"{client} over {protocol}".encode()
    produce(client, broker.bootstrap(protocol), topic, [Outgoing(key=b"k", value=value)], **extra)
    with Reader(client, broker.bootstrap(protocol), **extra).assign(topic, [0]) as reader:
        got = reader.poll_to_end(at_least=1, timeout=15)
    assert got and got[-1].value == value  # (a test may write to its topic over several listeners)


@pytest.mark.parametrize("client", CLIENTS)
def test_ssl_without_a_client_certificate(requested, topic_name, client):
    create_topic("confluent-kafka", requested.bootstrap(), topic_name, 1)
    round_trip(client, requested, "SSL", topic_name, Identity())


@pytest.mark.parametrize("client", CLIENTS)
def test_ssl_with_a_client_certificate_when_requested(requested, topic_name, client):
    create_topic("confluent-kafka", requested.bootstrap(), topic_name, 1)
    round_trip(client, requested, "SSL", topic_name, Identity(certificate="alice"))


@pytest.mark.parametrize("client", CLIENTS)
def test_ssl_with_a_client_certificate_when_required(required, topic_name, client):
    create_topic("confluent-kafka", required.bootstrap(), topic_name, 1)
    round_trip(client, required, "SSL", topic_name, Identity(certificate="bob"))


@pytest.mark.parametrize("client", CLIENTS)
def test_required_refuses_a_client_without_a_certificate(required, topic_name, client):
    create_topic("confluent-kafka", required.bootstrap(), topic_name, 1)
    extra = options(client, "SSL", required.certs, Identity())
    assert produce_error(client, required.bootstrap("SSL"), topic_name, extra, timeout_s=8) != ""
    round_trip("confluent-kafka", required, "SSL", topic_name, Identity(certificate="alice"))  # others carry on


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_required_refuses_a_certificate_from_an_unknown_ca(required, topic_name, tmp_path, client):
    create_topic("confluent-kafka", required.bootstrap(), topic_name, 1)
    foreign = Identity(foreign_certificate=make_foreign_client(tmp_path, "alice"))
    extra = options(client, "SSL", required.certs, foreign)
    assert produce_error(client, required.bootstrap("SSL"), topic_name, extra, timeout_s=8) != ""


def tls_api_versions(broker, identity: Identity, foreign=None) -> str:
    """A TLS connection to the SSL listener, then ApiVersions v0: "answered",
    or how it failed ("refused: <reason>")."""
    context = ssl.create_default_context(cafile=str(broker.certs.ca))
    if identity.certificate:
        context.load_cert_chain(
            broker.certs.client_cert(identity.certificate), broker.certs.client_key(identity.certificate)
        )
    if foreign:
        context.load_cert_chain(*foreign)
    raw = socket.create_connection(broker.address("SSL"), timeout=SOCKET_TIMEOUT_S)
    try:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
            sock.sendall(request_frame(18, 0, {}, correlation_id=9))
            # TLS 1.3: a refused certificate shows up as an alert on the first read.
            data = sock.recv(4)
            if len(data) < 4:
                return "refused: closed"
            size = int.from_bytes(data, "big")
            payload = b""
            while len(payload) < size:
                chunk = sock.recv(size - len(payload))
                if not chunk:
                    return "refused: closed mid-answer"
                payload += chunk
            correlation, response = decode_response(18, 0, payload)
            assert correlation == 9 and response.error_code == 0
            return "answered"
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError) as error:
        return f"refused: {error}"
    finally:
        raw.close()


def test_required_at_the_tls_level(required, tmp_path):
    assert tls_api_versions(required, Identity(certificate="alice")) == "answered"
    assert tls_api_versions(required, Identity()).startswith("refused")
    assert tls_api_versions(required, Identity(), make_foreign_client(tmp_path, "alice")).startswith("refused")
    assert required.alive()


def test_requested_at_the_tls_level(requested, tmp_path):
    assert tls_api_versions(requested, Identity(certificate="alice")) == "answered"
    assert tls_api_versions(requested, Identity()) == "answered"
    # requested: a certificate that is sent is still checked.
    assert tls_api_versions(requested, Identity(), make_foreign_client(tmp_path, "alice")).startswith("refused")


@pytest.mark.parametrize("client", ["confluent-kafka", "aiokafka"])
def test_sasl_ssl_is_not_asked_for_certificates_by_the_broker_wide_setting(required, topic_name, client):
    create_topic("confluent-kafka", required.bootstrap(), topic_name, 1)
    round_trip(client, required, "SASL_SSL", topic_name, user("alice", "PLAIN"))


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_a_listener_prefixed_client_auth_applies_to_sasl_ssl(tmp_path, test_certificates, topic_name, client):
    broker = start_secure_kwire(
        tmp_path / "prefixed", test_certificates, {"listener.name.sasl_ssl.ssl.client.auth": "required"}
    )
    try:
        create_topic("confluent-kafka", broker.bootstrap(), topic_name, 1)
        without = options(client, "SASL_SSL", broker.certs, user("alice", "PLAIN"))
        assert produce_error(client, broker.bootstrap("SASL_SSL"), topic_name, without, timeout_s=8) != ""
        certified = Identity("PLAIN", "alice", "alice-secret", certificate="alice")
        round_trip(client, broker, "SASL_SSL", topic_name, certified)
        round_trip(client, broker, "SSL", topic_name, Identity())  # the SSL listener still only requests one
    finally:
        broker.kill()


def test_plaintext_beside_tls(requested, topic_name):
    """The PLAINTEXT listener of the same broker is untouched by TLS."""
    create_topic("kafka-python", requested.bootstrap(), topic_name, 1)
    produce("kafka-python", requested.bootstrap(), topic_name, [Outgoing(key=None, value=b"plain")])
    got = consume(
        "aiokafka", requested.bootstrap("SSL"), topic_name, [0], 1, **options("aiokafka", "SSL", requested.certs)
    )
    assert [m.value for m in got] == [b"plain"]


def test_the_files_kwire_certs_writes(tmp_path, topic_name):
    """`kwire certs DIR --client NAME` gives what server.properties and the clients need."""
    import subprocess
    import sys

    from compat_tests.security_kit import Certificates

    made = subprocess.run(
        [sys.executable, "-m", "kwire", "certs", str(tmp_path / "certs"), "--client", "carol"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    folder = tmp_path / "certs"
    certs = Certificates(
        folder / "ca.pem", folder / "broker.pem", {"carol": (folder / "carol.pem", folder / "carol-key.pem")}
    )
    broker = start_secure_kwire(tmp_path / "broker", certs, {"ssl.client.auth": "required"})
    try:
        create_topic("confluent-kafka", broker.bootstrap(), topic_name, 1)
        for client in ("confluent-kafka", "kafka-python"):
            extra = options(client, "SSL", certs, Identity(certificate="carol"))
            assert produce_error(client, broker.bootstrap("SSL"), topic_name, extra) == ""
    finally:
        broker.kill()
