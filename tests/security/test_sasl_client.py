"""The client side of PLAIN, SCRAM and OAUTHBEARER (kwire/security/sasl_client.py)
against kwire's own servers, RFC 7677's SCRAM-SHA-256 example, Kafka's
unsecured token options, and a hostile server's answers."""

from __future__ import annotations

import base64
import json
import random

import pytest

from kwire.security.sasl import AuthenticationFailed, new_server
from kwire.security.sasl_client import (
    OAuthBearerClient,
    SaslClient,
    SaslClientError,
    ScramClient,
    new_client,
    unsecured_token,
)
from tests.security.sasl.helpers import NOW_MS, settings

PLAIN = 'org.apache.kafka.common.security.plain.PlainLoginModule required username="{}" password="{}";'
SCRAM = 'org.apache.kafka.common.security.scram.ScramLoginModule required username="{}" password="{}";'
OAUTH = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required {};"


def exchange(client: SaslClient, server) -> None:
    """Run the exchange as the tools do: the server's answer to each message goes back to the client."""
    message: bytes | None = client.first_message()
    while message is not None:
        message = client.respond(server.respond(message))


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
@pytest.mark.parametrize(("user", "password"), [("alice", "alice-secret"), ("b,o=b", "bob-secret")])
def test_scram_authenticates_and_checks_the_server(mechanism, user, password):
    server = new_server(mechanism, settings())
    client = new_client(mechanism, SCRAM.format(user, password))
    exchange(client, server)
    assert client.complete and server.complete
    assert server.principal == f"User:{user}"


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_scram_wrong_password_fails_at_the_server(mechanism):
    server = new_server(mechanism, settings())
    client = new_client(mechanism, SCRAM.format("alice", "wrong"))
    with pytest.raises(AuthenticationFailed):
        exchange(client, server)
    assert not client.complete


def test_scram_sha_256_follows_rfc_7677():
    client = ScramClient("SCRAM-SHA-256", "user", "pencil", nonce=lambda: "rOprNGfwEbeRWgbNEkqO")
    assert client.first_message() == b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    server_first = b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    assert client.respond(server_first) == (
        b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    )
    assert not client.complete
    assert client.respond(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=") is None
    assert client.complete


def rfc_client() -> ScramClient:
    client = ScramClient("SCRAM-SHA-256", "user", "pencil", nonce=lambda: "abc")
    client.first_message()
    return client


@pytest.mark.parametrize(
    ("server_first", "problem"),
    [
        (b"r=xyz,s=QUJD,i=4096", "does not extend"),
        (b"r=abc,s=QUJD,i=4096", "does not extend"),  # the server added nothing
        (b"r=abcd,s=QUJD,i=10", "iterations"),
        (b"r=abcd,s=QUJD,i=99999999999999999999999", "iterations"),
        (b"r=abcd,s=QUJD,i=-1", "iterations"),
        (b"r=abcd,s=not base64!,i=4096", "not base64"),
        (b"s=QUJD,i=4096", "r=...,s=...,i=..."),
        (b"", "r=...,s=...,i=..."),
        (b"\xff\x00\x80", "r=...,s=...,i=..."),
    ],
)
def test_scram_refuses_a_bad_server_first_message(server_first, problem):
    with pytest.raises(SaslClientError, match=problem):
        rfc_client().respond(server_first)


@pytest.mark.parametrize(
    ("server_final", "problem"),
    [
        (b"e=invalid-proof", "the server says invalid-proof"),
        (b"v=" + base64.b64encode(b"\0" * 32), "signature is wrong"),
        (b"v=***", "signature is wrong"),
        (b"", "signature is wrong"),
    ],
)
def test_scram_refuses_a_server_that_cannot_prove_it_knows_the_password(server_final, problem):
    client = rfc_client()
    client.respond(b"r=abcd,s=QUJD,i=4096")
    with pytest.raises(SaslClientError, match=problem):
        client.respond(server_final)
    assert not client.complete


def test_any_bytes_from_a_server_are_a_clean_error():
    generator = random.Random(7)
    for _ in range(300):
        noise = bytes(generator.randrange(256) for _ in range(generator.randrange(60)))
        for client in (rfc_client(), new_client("PLAIN", PLAIN.format("a", "b")), OAuthBearerClient("t")):
            try:
                client.respond(noise)
                client.respond(noise)
            except SaslClientError:
                pass


def test_plain_is_one_message():
    server = new_server("PLAIN", settings())
    client = new_client("PLAIN", PLAIN.format("alice", "alice-secret"))
    assert client.first_message() == b"\0alice\0alice-secret"
    exchange(client, server)
    assert client.complete and server.principal == "User:alice"
    with pytest.raises(AuthenticationFailed, match="Invalid username or password"):
        exchange(new_client("PLAIN", PLAIN.format("alice", "nope")), new_server("PLAIN", settings()))


def decoded(token: str) -> tuple[dict, dict, str]:
    header, claims, signature = token.split(".")
    pad = lambda part: part + "=" * (-len(part) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header))),
        json.loads(base64.urlsafe_b64decode(pad(claims))),
        signature,
    )


def test_the_unsecured_token_has_kafkas_claims():
    options = {
        "unsecuredLoginStringClaim_sub": "alice",
        "unsecuredLoginNumberClaim_level": "3",
        "unsecuredLoginNumberClaim_ratio": "0.5",
        "unsecuredLoginListClaim_scope": "|read|write",
        "unsecuredLoginListClaim_empty": ",",
        "unsecuredLoginLifetimeSeconds": "60",
    }
    header, claims, signature = decoded(unsecured_token(options, now_s=NOW_MS / 1000))
    assert header == {"alg": "none"} and signature == ""
    assert claims == {
        "sub": "alice",
        "level": 3,
        "ratio": 0.5,
        "scope": ["read", "write"],
        "empty": [],
        "iat": NOW_MS / 1000,
        "exp": NOW_MS / 1000 + 60,
    }
    _, claims, _ = decoded(
        unsecured_token({"unsecuredLoginPrincipalClaimName": "who", "unsecuredLoginStringClaim_who": "bob"})
    )
    assert claims["who"] == "bob"


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({}, "unsecuredLoginStringClaim_sub"),
        ({"unsecuredLoginStringClaim_sub": ""}, "unsecuredLoginStringClaim_sub"),
        ({"unsecuredLoginStringClaim_sub": "a", "unsecuredLoginStringClaim_exp": "1"}, "iat and exp"),
        ({"unsecuredLoginStringClaim_sub": "a", "unsecuredLoginNumberClaim_n": "many"}, "not a number"),
        ({"unsecuredLoginStringClaim_sub": "a", "unsecuredLoginLifetimeSeconds": "soon"}, "whole number"),
    ],
)
def test_bad_unsecured_login_options(options, problem):
    with pytest.raises(SaslClientError, match=problem):
        unsecured_token(options)


def test_oauthbearer_authenticates_and_carries_extensions():
    jaas = OAUTH.format('unsecuredLoginStringClaim_sub="carol" unsecuredLoginExtension_traceId="123"')
    client = new_client("OAUTHBEARER", jaas)
    assert client.first_message().startswith(b"n,,\x01auth=Bearer ")
    assert b"\x01traceId=123\x01\x01" in client.first_message()
    server = new_server("OAUTHBEARER", settings(now_ms=NOW_MS))
    exchange(OAuthBearerClient(unsecured_token({"unsecuredLoginStringClaim_sub": "carol"}, NOW_MS / 1000)), server)
    assert server.principal == "User:carol"
    with pytest.raises(SaslClientError, match="letters only"):
        new_client("OAUTHBEARER", OAUTH.format('unsecuredLoginStringClaim_sub="c" unsecuredLoginExtension_auth="x"'))


def test_a_refused_token_is_acknowledged_and_the_server_fails_the_exchange():
    client = OAuthBearerClient(unsecured_token({"unsecuredLoginStringClaim_sub": "carol"}, now_s=1.0))  # long expired
    server = new_server("OAUTHBEARER", settings(now_ms=NOW_MS))
    error_json = server.respond(client.first_message())
    assert json.loads(error_json) == {"status": "invalid_token"}
    assert client.respond(error_json) == b"\x01"
    with pytest.raises(AuthenticationFailed, match="invalid_token"):
        server.respond(b"\x01")
    assert not client.complete


@pytest.mark.parametrize(
    ("mechanism", "jaas", "problem"),
    [
        ("GSSAPI", PLAIN.format("a", "b"), "not supported by the kwire tools"),
        ("PLAIN", None, "sasl.jaas.config is not set"),
        ("PLAIN", 'PlainLoginModule required password="secret-value', "sasl.jaas.config: "),
        ("PLAIN", PLAIN.format("a", "b") + PLAIN.format("c", "d"), "one login module"),
        ("PLAIN", SCRAM.format("a", "b"), "needs PlainLoginModule"),
        ("SCRAM-SHA-256", 'ScramLoginModule required username="a";', "needs username="),
    ],
)
def test_bad_jaas_is_one_line_without_the_password(mechanism, jaas, problem):
    with pytest.raises(SaslClientError, match=problem) as caught:
        new_client(mechanism, jaas)
    assert "secret-value" not in str(caught.value)
