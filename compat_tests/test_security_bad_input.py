"""Hostile bytes on the security listeners: a TLS handshake of garbage, a
SASL exchange that stops half way, requests before authentication, a forged
SCRAM proof, a 100 MB SaslAuthenticate frame, and mutated
SaslHandshake/SaslAuthenticate frames (the mutation fuzzer of
test_frame_fuzz.py). Each closes that one connection (after Kafka's error
answer where Kafka gives one) while an authenticated connection and real
clients on other connections carry on."""

from __future__ import annotations

import os
import random
import socket
import ssl
import struct
import time

import pytest

from compat_tests.clients import Outgoing, consume, create_topic, produce
from compat_tests.raw import call, closed_by_peer, connect, read_frame
from compat_tests.security_kit import (
    SASL_AUTHENTICATE,
    SASL_AUTHENTICATION_FAILED,
    SASL_HANDSHAKE,
    UNSUPPORTED_SASL_MECHANISM,
    USERS,
    ScramClient,
    log_on_failure,
    options,
    plain_login,
    sasl_authenticate,
    sasl_handshake,
    secure_kwire_with_users,
    user,
)
from compat_tests.test_frame_fuzz import HealthCheck, LiveClient, Outcomes, send_all
from tests.frame_mutations import Mutator, every_extreme, frame_length_fields
from tests.wire import request_frame

SASL_FUZZ_FRAMES = int(os.environ.get("KWIRE_SASL_FUZZ_FRAMES", "5000"))
SEED = int(os.environ.get("KWIRE_FUZZ_SEED", "20250509"))
METADATA = (3, 1, {"topics": None})

# One broker for the module: its tests stay on one xdist worker.
pytestmark = pytest.mark.xdist_group("security-bad-input")


@pytest.fixture(scope="module")
def kwire(tmp_path_factory, test_certificates):
    with secure_kwire_with_users(tmp_path_factory.mktemp("bad-input"), test_certificates) as broker:
        yield broker


@pytest.fixture(autouse=True)
def _log_on_failure(request, kwire):
    yield
    log_on_failure(request, kwire)


@pytest.fixture
def bystander(kwire):
    """An authenticated SASL_PLAINTEXT connection opened before the hostile one; it must stay served."""
    sock = connect(kwire.bootstrap("SASL_PLAINTEXT"))
    assert plain_login(sock, "alice", USERS["alice"]).error_code == 0
    return sock


def still_serves(kwire, bystander, topic: str) -> None:
    assert kwire.alive()
    assert call(bystander, *METADATA, correlation_id=40).brokers
    extra = options("confluent-kafka", "SASL_SSL", kwire.certs, user("bob", "SCRAM-SHA-256"))
    produce("confluent-kafka", kwire.bootstrap("SASL_SSL"), topic, [Outgoing(key=None, value=b"still here")], **extra)
    reader = options("kafka-python", "SASL_PLAINTEXT", kwire.certs, user("alice", "PLAIN"))
    got = consume("kafka-python", kwire.bootstrap("SASL_PLAINTEXT"), topic, [0], 1, start="earliest", **reader)
    assert [m.value for m in got][-1:] == [b"still here"]


@pytest.fixture
def topic(kwire, topic_name):
    create_topic("confluent-kafka", kwire.bootstrap(), topic_name, 1)
    return topic_name


# --- TLS -------------------------------------------------------------------------------------


def client_hello_prefix() -> bytes:
    """The first bytes a real TLS client sends (a ClientHello record), from a memory BIO."""
    context = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


TLS_GARBAGE = {
    "random bytes": random.Random(7).randbytes(4096),
    "a Kafka request in clear": request_frame(18, 0, {}),
    "a ClientHello cut in half": client_hello_prefix()[:60],
    "a ClientHello with a corrupted body": (lambda hello: hello[:11] + bytes(b ^ 0x5A for b in hello[11:]))(
        client_hello_prefix()
    ),
    "a TLS record header claiming 16 KB then nothing": b"\x16\x03\x01\x40\x00",
}


@pytest.mark.parametrize("protocol", ["SSL", "SASL_SSL"])
@pytest.mark.parametrize("name", sorted(TLS_GARBAGE))
def test_a_garbage_tls_handshake_closes_only_its_connection(kwire, bystander, topic, name, protocol):
    sock = connect(kwire.bootstrap(protocol))
    sock.sendall(TLS_GARBAGE[name])
    sock.shutdown(socket.SHUT_WR)
    assert closed_by_peer(sock)
    still_serves(kwire, bystander, topic)


def test_a_tls_handshake_stopped_half_way_leaves_the_rest_served(kwire, bystander, topic):
    """A ClientHello and then silence: the broker waits on that connection
    only; the others are served meanwhile and it closes when the peer goes."""
    sock = connect(kwire.bootstrap("SSL"))
    sock.sendall(client_hello_prefix())
    still_serves(kwire, bystander, topic)
    sock.shutdown(socket.SHUT_WR)
    assert closed_by_peer(sock)


# --- SASL --------------------------------------------------------------------------------------


def test_a_sasl_exchange_stopped_half_way(kwire, bystander, topic):
    scram = ScramClient("SCRAM-SHA-256", "alice", USERS["alice"])
    sock = connect(kwire.bootstrap("SASL_PLAINTEXT"))
    assert sasl_handshake(sock, "SCRAM-SHA-256").error_code == 0
    server_first = sasl_authenticate(sock, scram.client_first())
    assert server_first.error_code == 0 and server_first.auth_bytes.startswith(b"r=")
    still_serves(kwire, bystander, topic)  # the half-done exchange holds up nobody
    sock.shutdown(socket.SHUT_WR)
    assert closed_by_peer(sock)


def test_a_sasl_exchange_interrupted_by_another_request_is_closed(kwire, bystander, topic):
    scram = ScramClient("SCRAM-SHA-512", "alice", USERS["alice"])
    sock = connect(kwire.bootstrap("SASL_PLAINTEXT"))
    assert sasl_handshake(sock, "SCRAM-SHA-512").error_code == 0
    assert sasl_authenticate(sock, scram.client_first()).error_code == 0
    sock.sendall(request_frame(*METADATA, correlation_id=3))
    assert closed_by_peer(sock)
    still_serves(kwire, bystander, topic)


@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_metadata_before_authentication_is_closed(kwire, bystander, topic, protocol):
    sock = connect(kwire.bootstrap(protocol))
    if protocol == "SASL_SSL":
        context = ssl.create_default_context(cafile=str(kwire.certs.ca))
        sock = context.wrap_socket(sock, server_hostname="127.0.0.1")
    # ApiVersions is allowed before SaslHandshake (clients ask which versions to use) ...
    assert call(sock, 18, 0, {}).error_code == 0
    # ... anything else is not.
    sock.sendall(request_frame(*METADATA, correlation_id=2))
    try:
        assert closed_by_peer(sock)
    except ssl.SSLError:  # closed under TLS without a close_notify
        pass
    finally:
        sock.close()
    still_serves(kwire, bystander, topic)


def test_metadata_between_handshake_and_authenticate_is_closed(kwire, bystander, topic):
    sock = connect(kwire.bootstrap("SASL_PLAINTEXT"))
    assert sasl_handshake(sock, "PLAIN").error_code == 0
    sock.sendall(request_frame(*METADATA, correlation_id=2))
    assert closed_by_peer(sock)
    still_serves(kwire, bystander, topic)


def test_sasl_authenticate_without_a_handshake_is_closed(kwire, bystander, topic):
    sock = connect(kwire.bootstrap("SASL_PLAINTEXT"))
    sock.sendall(request_frame(SASL_AUTHENTICATE, 2, {"auth_bytes": b"\0alice\0alice-secret"}))
    assert closed_by_peer(sock)
    still_serves(kwire, bystander, topic)


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_a_forged_scram_proof_is_refused(kwire, bystander, topic, mechanism):
    scram = ScramClient(mechanism, "alice", USERS["alice"])
    sock = connect(kwire.bootstrap("SASL_PLAINTEXT"))
    assert sasl_handshake(sock, mechanism).error_code == 0
    server_first = sasl_authenticate(sock, scram.client_first())
    assert server_first.error_code == 0
    refused = sasl_authenticate(sock, scram.client_final(server_first.auth_bytes, forge=True), correlation_id=3)
    assert refused.error_code == SASL_AUTHENTICATION_FAILED
    assert refused.error_message.startswith("Authentication failed"), refused.error_message
    assert closed_by_peer(sock)
    still_serves(kwire, bystander, topic)


def test_a_genuine_scram_exchange_byte_by_byte(kwire):
    """The same raw client succeeds with the right password (so the forged test is about the proof)."""
    scram = ScramClient("SCRAM-SHA-256", "bob", USERS["bob"])
    sock = connect(kwire.bootstrap("SASL_PLAINTEXT"))
    assert sasl_handshake(sock, "SCRAM-SHA-256").error_code == 0
    server_first = sasl_authenticate(sock, scram.client_first())
    final = sasl_authenticate(sock, scram.client_final(server_first.auth_bytes), correlation_id=3)
    assert final.error_code == 0 and final.auth_bytes.startswith(b"v=")
    assert call(sock, *METADATA, correlation_id=4).brokers


def test_a_final_nonce_that_ends_with_the_servers_is_accepted(kwire):
    """librdkafka 2.0.2 (kcat 1.7) sends its own nonce twice in the
    client-final r=; Kafka accepts any r= that ends with the nonce it sent."""
    scram = ScramClient("SCRAM-SHA-512", "bob", USERS["bob"])
    sock = connect(kwire.bootstrap("SASL_PLAINTEXT"))
    assert sasl_handshake(sock, "SCRAM-SHA-512").error_code == 0
    server_first = sasl_authenticate(sock, scram.client_first(), version=0)
    final = scram.client_final(server_first.auth_bytes, nonce_prefix=scram.nonce)
    answer = sasl_authenticate(sock, final, version=0, correlation_id=3)
    assert answer.error_code == 0, answer.error_message
    assert call(sock, *METADATA, correlation_id=4).brokers


def test_a_wrong_plain_password_is_refused_with_kafkas_error(kwire, bystander, topic):
    sock = connect(kwire.bootstrap("SASL_PLAINTEXT"))
    refused = plain_login(sock, "alice", "wrong")
    assert refused.error_code == SASL_AUTHENTICATION_FAILED
    assert refused.error_message.startswith("Authentication failed"), refused.error_message
    assert closed_by_peer(sock)
    still_serves(kwire, bystander, topic)


@pytest.mark.parametrize("auth_bytes", [b"", b"no separators", b"\0\0", b"\xff" * 300, b"\0alice"])
def test_malformed_plain_auth_bytes_are_refused(kwire, auth_bytes):
    sock = connect(kwire.bootstrap("SASL_PLAINTEXT"))
    assert sasl_handshake(sock, "PLAIN").error_code == 0
    assert sasl_authenticate(sock, auth_bytes).error_code == SASL_AUTHENTICATION_FAILED
    assert closed_by_peer(sock)


def test_an_unsupported_mechanism_is_answered_with_the_enabled_ones(kwire):
    sock = connect(kwire.bootstrap("SASL_PLAINTEXT"))
    answer = sasl_handshake(sock, "GSSAPI")
    assert answer.error_code == UNSUPPORTED_SASL_MECHANISM
    assert sorted(answer.mechanisms) == sorted(["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"])
    assert closed_by_peer(sock)


@pytest.mark.parametrize("when", ["after the handshake", "before the handshake"])
def test_a_100_mb_sasl_authenticate_frame_is_closed(kwire, bystander, topic, when):
    sock = connect(kwire.bootstrap("SASL_PLAINTEXT"))
    if when == "after the handshake":
        assert sasl_handshake(sock, "PLAIN").error_code == 0
    header = struct.pack(">hhih", SASL_AUTHENTICATE, 2, 9, 3) + b"raw" + b"\x00"
    sock.sendall(struct.pack(">i", 100 * 1024 * 1024) + header + b"\x00" * 1000)
    started = time.monotonic()
    assert closed_by_peer(sock)  # without waiting for 100 MB (sasl.server.max.receive.size)
    assert time.monotonic() - started < 10
    still_serves(kwire, bystander, topic)


# --- the mutation fuzzer on SaslHandshake / SaslAuthenticate --------------------------------


def sasl_corpus() -> tuple[list[bytes], list[bytes]]:
    """Well-formed SaslHandshake frames (v0 and v1, each mechanism) and
    SaslAuthenticate frames (v0-v2: PLAIN, SCRAM client-first, OAUTHBEARER),
    without size prefixes."""
    handshakes = [
        request_frame(SASL_HANDSHAKE, version, {"mechanism": mechanism})[4:]
        for version in (0, 1)
        for mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI")
    ]
    payloads = [
        b"\0alice\0alice-secret",
        b"authzid\0alice\0wrong",
        ScramClient("SCRAM-SHA-256", "alice", "x").client_first(),
        b"n,,\x01auth=Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.\x01\x01",
    ]
    authenticates = [
        request_frame(SASL_AUTHENTICATE, version, {"auth_bytes": payload})[4:]
        for version in (0, 1, 2)
        for payload in payloads
    ]
    return handshakes, authenticates


def sized(body: bytes) -> bytes:
    return struct.pack(">i", len(body)) + body


def sasl_fuzz_frames(count: int, seed: int) -> list[bytes]:
    """Each item is what one fuzz connection sends: a mutated SaslHandshake;
    or a valid SaslHandshake v1 for PLAIN followed by a mutated
    SaslAuthenticate; plus every extreme value in every length field."""
    handshakes, authenticates = sasl_corpus()
    valid_handshake = request_frame(SASL_HANDSHAKE, 1, {"mechanism": "PLAIN"})
    served = {SASL_HANDSHAKE: [0, 1], SASL_AUTHENTICATE: [0, 1, 2]}
    rng = random.Random(seed)
    mutator = Mutator(rng, served)
    out = [sized(body) for frame in handshakes for body in every_extreme(frame, frame_length_fields(frame))]
    out += [
        valid_handshake + sized(body)
        for frame in authenticates
        for body in every_extreme(frame, frame_length_fields(frame))
    ]
    for _ in range(count):
        if rng.random() < 0.4:
            frame = rng.choice(handshakes)
            out.append(mutator.size_prefix(body := mutator.mutate(frame, frame_length_fields(frame))) + body)
        else:
            frame = rng.choice(authenticates)
            body = mutator.mutate(frame, frame_length_fields(frame))
            out.append(valid_handshake + mutator.size_prefix(body) + body)
    return out


def test_mutated_sasl_frames_never_stop_the_broker(kwire, topic):
    frames = sasl_fuzz_frames(SASL_FUZZ_FRAMES, SEED)
    health = HealthCheck(kwire.bootstrap("PLAINTEXT"))
    live = LiveClient(kwire.bootstrap("PLAINTEXT"))
    health.start()
    live.start()
    outcomes = Outcomes()
    try:
        send_all(kwire.address("SASL_PLAINTEXT"), frames, outcomes)
    finally:
        health.done.set()
        live.done.set()
    assert kwire.alive(), f"the broker died after {outcomes.sent} frames:\n{kwire.log_tail()}"
    health.join(30)
    live.join(180)
    print(
        f"\nsasl fuzz: {outcomes.sent} connections: {outcomes.answered} answered, {outcomes.closed} closed, "
        f"{len(outcomes.hangs)} hangs; {health.checks} health checks; live client {len(live.produced)} produced"
    )
    assert not outcomes.refused, outcomes.refused[:3]
    assert outcomes.sent == len(frames)
    assert not outcomes.hangs, [data[:80].hex() for data in outcomes.hangs[:5]]
    assert not health.failures, health.failures
    assert not live.is_alive() and not live.errors, live.errors[:5]
    assert [value for _offset, value in live.consumed] == live.produced
    # Authentication still works afterwards, with the real clients.
    sock = connect(kwire.bootstrap("SASL_PLAINTEXT"))
    assert plain_login(sock, "alice", USERS["alice"]).error_code == 0
    still_serves(kwire, sock, topic)


def test_the_fuzz_corpus_is_well_formed(kwire):
    """Every corpus frame, sent whole after its handshake, gets an answer (so
    mutations start from requests kwire understands)."""
    handshakes, authenticates = sasl_corpus()
    for frame in handshakes:
        sock = connect(kwire.bootstrap("SASL_PLAINTEXT"))
        sock.sendall(sized(frame))
        assert read_frame(sock)[:4] == frame[4:8]  # the correlation id comes back
    for frame in authenticates:
        sock = connect(kwire.bootstrap("SASL_PLAINTEXT"))
        assert sasl_handshake(sock, "PLAIN").error_code == 0
        sock.sendall(sized(frame))
        assert read_frame(sock)[:4] == frame[4:8]
