"""OAUTHBEARER with signed tokens: kwire validates RS256 JWTs against a
JWKS file (sasl.oauthbearer.jwks.endpoint.url=file://...) with
sasl.oauthbearer.expected.audience / expected.issuer, as Kafka's broker-side
JWT validator does. Tokens come from the application (confluent-kafka's
oauth_cb, kafka-python's and aiokafka's token providers)."""

from __future__ import annotations

import pytest

from compat_tests.clients import Outgoing, consume, create_topic, produce
from compat_tests.security_kit import (
    CLIENTS,
    Identity,
    SigningKey,
    claims,
    log_on_failure,
    options,
    produce_error,
    start_secure_kwire,
    unsecured_jwt,
    write_jwks,
)

AUDIENCE = "kwire-tests"
ISSUER = "https://issuer.kwire.test"
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
pytestmark = pytest.mark.xdist_group("security-oauth")


@pytest.fixture(scope="module")
def keys():
    return {"trusted": SigningKey.generate("trusted-1"), "other": SigningKey.generate("other-1")}


@pytest.fixture(scope="module")
def kwire(tmp_path_factory, test_certificates, keys):
    directory = tmp_path_factory.mktemp("oauth")
    jwks = write_jwks(directory / "jwks.json", [keys["trusted"]])
    settings = {
        "sasl.oauthbearer.jwks.endpoint.url": jwks.as_uri(),
        "sasl.oauthbearer.expected.audience": AUDIENCE,
        "sasl.oauthbearer.expected.issuer": ISSUER,
    }
    broker = start_secure_kwire(directory, test_certificates, settings)
    yield broker
    broker.kill()


@pytest.fixture(autouse=True)
def _log_on_failure(request, kwire):
    yield
    log_on_failure(request, kwire)


def good_claims(subject: str = "alice", **changes) -> dict:
    return {**claims(subject, 600, aud=AUDIENCE, iss=ISSUER), **changes}


def bearer(make_token) -> Identity:
    return Identity("OAUTHBEARER", "alice", token=make_token)


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("protocol", ["SASL_SSL", "SASL_PLAINTEXT"])
def test_a_signed_token_is_accepted(kwire, keys, topic_name, client, protocol):
    create_topic("confluent-kafka", kwire.bootstrap(), topic_name, 1)
    extra = options(client, protocol, kwire.certs, bearer(lambda: keys["trusted"].sign(good_claims())))
    value = f"signed {client}".encode()
    produce(client, kwire.bootstrap(protocol), topic_name, [Outgoing(key=None, value=value)], **extra)
    assert [m.value for m in consume(client, kwire.bootstrap(protocol), topic_name, [0], 1, **extra)] == [value]


def _forged(keys) -> str:
    """Signed by another key under the trusted key's id."""
    other = SigningKey(keys["trusted"].kid, keys["other"].private_key)
    return other.sign(good_claims())


BAD_TOKENS = {
    "expired": lambda keys: keys["trusted"].sign({**claims("alice", -300), "aud": AUDIENCE, "iss": ISSUER}),
    "another audience": lambda keys: keys["trusted"].sign(good_claims(aud="someone-else")),
    "another issuer": lambda keys: keys["trusted"].sign(good_claims(iss="https://elsewhere.test")),
    "an unknown key id": lambda keys: keys["other"].sign(good_claims()),
    "a forged signature": _forged,
    "unsecured (alg none)": lambda keys: unsecured_jwt("alice", 600, aud=AUDIENCE, iss=ISSUER),
    "not a JWT": lambda keys: "this-is-not-a-token",
}


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
@pytest.mark.parametrize("bad", sorted(BAD_TOKENS))
def test_a_bad_token_is_refused(kwire, keys, topic_name, bad, client):
    token = BAD_TOKENS[bad](keys)
    extra = options(client, "SASL_SSL", kwire.certs, bearer(lambda: token))
    assert produce_error(client, kwire.bootstrap("SASL_SSL"), topic_name, extra) in OAUTH_REFUSED[client]


def test_aiokafka_with_an_expired_signed_token(kwire, keys, topic_name):
    token = BAD_TOKENS["expired"](keys)
    extra = options("aiokafka", "SASL_PLAINTEXT", kwire.certs, bearer(lambda: token))
    assert produce_error("aiokafka", kwire.bootstrap("SASL_PLAINTEXT"), topic_name, extra) in OAUTH_REFUSED["aiokafka"]


def test_the_other_mechanisms_still_work_beside_signed_tokens(kwire, topic_name):
    create_topic("confluent-kafka", kwire.bootstrap(), topic_name, 1)
    for client in ("confluent-kafka", "kafka-python"):
        extra = options(client, "SASL_SSL", kwire.certs, Identity("PLAIN", "alice", "alice-secret"))
        assert produce_error(client, kwire.bootstrap("SASL_SSL"), topic_name, extra) == ""
