"""Re-authentication (KIP-368) under a short connections.max.reauth.ms: the
broker tells the session lifetime in SaslAuthenticate (v1+), closes a
connection whose session expired when it next sends anything but a
SaslHandshake, and lets a client re-authenticate on the same connection.
librdkafka (and kafka-python) re-authenticate by themselves: a producer that
keeps producing across several session lifetimes keeps working on the
connections it has.

The tests wait for sessions to expire: that passing of time is what they
test, so each wait is the lifetime plus a margin, never a guess at when
something else is done."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest

from compat_tests.clients import consume, create_topic
from compat_tests.raw import call, closed_by_peer, connect
from compat_tests.security_kit import (
    USERS,
    log_on_failure,
    options,
    plain_login,
    secure_kwire_with_users,
    user,
)

LIFETIME_MS = 2500
MARGIN_S = 0.5
METADATA = (3, 1, {"topics": None})  # Metadata v1: every topic

# One broker for the module: its tests stay on one xdist worker.
pytestmark = pytest.mark.xdist_group("security-reauth")


@pytest.fixture(scope="module")
def kwire(tmp_path_factory, test_certificates):
    settings = {"connections.max.reauth.ms": str(LIFETIME_MS)}
    with secure_kwire_with_users(tmp_path_factory.mktemp("reauth"), test_certificates, settings) as broker:
        yield broker


@pytest.fixture(autouse=True)
def _log_on_failure(request, kwire):
    yield
    log_on_failure(request, kwire)


def test_the_session_lifetime_is_told(kwire):
    sock = connect(kwire.bootstrap("SASL_PLAINTEXT"))
    answer = plain_login(sock, "alice", USERS["alice"], version=1)
    assert answer.error_code == 0
    assert answer.session_lifetime == timedelta(milliseconds=LIFETIME_MS)


def test_an_expired_session_is_closed_and_a_renewed_one_is_not(kwire):
    lifetime_s = LIFETIME_MS / 1000
    expiring, renewing = connect(kwire.bootstrap("SASL_PLAINTEXT")), connect(kwire.bootstrap("SASL_PLAINTEXT"))
    started = time.monotonic()
    assert plain_login(expiring, "alice", USERS["alice"]).error_code == 0
    assert plain_login(renewing, "bob", USERS["bob"]).error_code == 0
    assert call(expiring, *METADATA).brokers  # served while the session lasts

    time.sleep(lifetime_s / 3)
    renewed = plain_login(renewing, "bob", USERS["bob"])  # re-authentication on the same connection
    assert renewed.error_code == 0 and renewed.session_lifetime == timedelta(milliseconds=LIFETIME_MS)
    renewed_at = time.monotonic()

    time.sleep(max(0.0, started + lifetime_s + MARGIN_S - time.monotonic()))
    expiring.sendall(_metadata_frame())
    assert closed_by_peer(expiring)  # no answer: closed
    assert call(renewing, *METADATA, correlation_id=5).brokers  # past the first session, inside the second

    time.sleep(max(0.0, renewed_at + lifetime_s + MARGIN_S - time.monotonic()))
    renewing.sendall(_metadata_frame())
    assert closed_by_peer(renewing)
    assert kwire.alive()


def _metadata_frame() -> bytes:
    from tests.wire import request_frame

    return request_frame(*METADATA, correlation_id=77)


class SteadyProducer(threading.Thread):
    """confluent-kafka producing one message every 20 ms until stopped, with
    librdkafka's statistics every 500 ms."""

    def __init__(self, bootstrap: str, topic: str, extra: dict) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.extra = bootstrap, topic, extra
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.sent: list[bytes] = []
        self.delivered: list[bytes] = []
        self.stats: dict = {}

    def run(self) -> None:
        from confluent_kafka import Producer

        producer = Producer(
            {
                "bootstrap.servers": self.bootstrap,
                "linger.ms": 0,
                "statistics.interval.ms": 500,
                "stats_cb": self._stats,
                "error_cb": lambda error: self.errors.append(str(error)),
                **self.extra,
            }
        )
        while not self.stop.is_set():
            value = b"m%05d" % len(self.sent)
            producer.produce(self.topic, value, partition=0, on_delivery=self._delivered)
            self.sent.append(value)
            producer.poll(0.02)
        if producer.flush(30):
            self.errors.append("not flushed")
        producer.poll(0.6)  # one more statistics report after the last request

    def _delivered(self, error, message) -> None:
        if error is not None:
            self.errors.append(f"delivery: {error}")
        else:
            self.delivered.append(message.value())

    def _stats(self, text: str) -> None:
        self.stats = json.loads(text)


MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]


def test_librdkafka_reauthenticates_and_keeps_producing(kwire, topic_name):
    """Every mechanism on both SASL listeners at once (eight producers side by
    side for the same three session lifetimes, rather than one after another)."""
    producers = {}
    for protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
        for mechanism in MECHANISMS:
            topic = f"{topic_name}-{protocol}-{mechanism}".lower()
            create_topic("kafka-python", kwire.bootstrap(), topic, 1)
            extra = options("confluent-kafka", protocol, kwire.certs, user("alice", mechanism))
            producers[(protocol, mechanism)] = SteadyProducer(kwire.bootstrap(protocol), topic, extra)
    for producer in producers.values():
        producer.start()
    time.sleep(3 * LIFETIME_MS / 1000 + MARGIN_S)  # three session lifetimes of producing
    for producer in producers.values():
        producer.stop.set()
    for producer in producers.values():
        producer.join(60)
    for (protocol, mechanism), producer in producers.items():
        label = f"{protocol} {mechanism}"
        assert not producer.is_alive(), label
        assert not producer.errors, (label, producer.errors[:5])
        assert producer.delivered == producer.sent, label
        brokers = [b for b in producer.stats["brokers"].values() if b["nodeid"] == 1]
        assert brokers, (label, producer.stats["brokers"].keys())
        (broker,) = brokers
        assert broker["disconnects"] == 0, (label, broker)  # never closed for an expired session
        assert broker["req"].get("SaslAuthenticate", 0) >= 3, (label, broker["req"])
        got = consume("kafka-python", kwire.bootstrap(), producer.topic, [0], len(producer.sent))
        assert [m.value for m in got] == producer.sent, label


def test_kafka_python_keeps_producing_across_sessions(kwire, topic_name):
    from kafka import KafkaProducer

    create_topic("kafka-python", kwire.bootstrap(), topic_name, 1)
    extra = options("kafka-python", "SASL_SSL", kwire.certs, user("bob", "SCRAM-SHA-512"))
    producer = KafkaProducer(bootstrap_servers=kwire.bootstrap("SASL_SSL"), linger_ms=0, **extra)
    sent = []
    try:
        deadline = time.monotonic() + 3 * LIFETIME_MS / 1000 + MARGIN_S
        while time.monotonic() < deadline:
            value = b"kp%05d" % len(sent)
            producer.send(topic_name, value, partition=0).get(10)  # each one delivered before the next
            sent.append(value)
            time.sleep(0.02)
    finally:
        producer.close(10)
    got = consume("confluent-kafka", kwire.bootstrap(), topic_name, [0], len(sent))
    assert [m.value for m in got] == sent
