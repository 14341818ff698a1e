"""Whatever a client sends, at any step, a mechanism answers or raises
AuthenticationFailed: never another exception, never a logged internal error."""

import base64
import json
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka.net.sasl.scram import ScramClient

from kwire.security.sasl import AuthenticationFailed, new_server
from kwire.security.sasl.jwks import load_jwks
from kwire.security.sasl.oauthbearer import OAuthSettings
from tests.security.sasl import helpers
from tests.security.sasl.tokens import SigningKey, b64, initial_response, unsecured

MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]
SLOW_OK = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def mutated(valid: bytes):
    """A valid message with a few bytes changed, cut or added."""
    return st.tuples(st.integers(0, max(0, len(valid) - 1)), st.binary(max_size=4), st.integers(0, 3)).map(
        lambda change: valid[: change[0]] + change[1] + valid[change[0] + change[2] :]
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)
claim_sets = st.dictionaries(
    st.sampled_from(["sub", "exp", "iat", "nbf", "scope", "aud", "iss", "x"]), json_values, max_size=6
)
headers = st.dictionaries(
    st.sampled_from(["alg", "kid", "typ"]), json_values | st.sampled_from(["none", "RS256", "ES256", "PS512", "k1"])
)


def step_all(server, messages):
    for message in messages:
        try:
            reply = server.respond(message)
        except AuthenticationFailed as failure:
            assert str(failure)
            return
        assert isinstance(reply, bytes)


@pytest.fixture
def no_internal_errors(caplog):
    caplog.set_level(logging.ERROR, logger="kwire.security.sasl")
    yield
    assert not [record for record in caplog.records if record.name.startswith("kwire.security.sasl")]


@SLOW_OK
@given(mechanism=st.sampled_from(MECHANISMS), messages=st.lists(st.binary(max_size=200), min_size=1, max_size=4))
def test_random_bytes_at_every_step(no_internal_errors, mechanism, messages):
    step_all(new_server(mechanism, helpers.settings()), messages)


@SLOW_OK
@given(data=st.data(), mechanism=st.sampled_from(["SCRAM-SHA-256", "SCRAM-SHA-512"]))
def test_scram_mutated_messages(no_internal_errors, data, mechanism):
    server = new_server(mechanism, helpers.settings())
    client = ScramClient("alice", "alice-secret", mechanism)
    first = data.draw(mutated(client.first_message()) | st.just(client.first_message()))
    try:
        server_first = server.respond(first)
    except AuthenticationFailed:
        return
    if first == client.first_message():
        client.process_server_first_message(server_first)
        final = data.draw(mutated(client.final_message()))
    else:
        final = data.draw(st.binary(max_size=200))
    step_all(server, [final, data.draw(st.binary(max_size=20))])


@SLOW_OK
@given(header=headers, claims=claim_sets, extra=st.binary(max_size=4), tail=st.binary(max_size=3))
def test_oauthbearer_unsecured_odd_tokens(no_internal_errors, header, claims, extra, tail):
    token = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}.{b64(extra)}"
    step_all(new_server("OAUTHBEARER", helpers.settings()), [initial_response(token), tail])


@pytest.fixture(scope="module")
def jwks_oauth(tmp_path_factory):
    keys = [SigningKey("RS256", "k1"), SigningKey("ES256", "k2")]
    path = tmp_path_factory.mktemp("jwks") / "jwks.json"
    path.write_text(json.dumps({"keys": [key.jwk() for key in keys]}))
    return keys, OAuthSettings(jwks=load_jwks(str(path)), expected_audience=("kafka",), expected_issuer="idp")


@SLOW_OK
@given(header=headers, claims=claim_sets, signature=st.binary(max_size=140), key_index=st.sampled_from([0, 1, None]))
def test_oauthbearer_signed_odd_tokens(no_internal_errors, jwks_oauth, header, claims, signature, key_index):
    keys, oauth = jwks_oauth
    if key_index is None:
        token = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}.{b64(signature)}"
    else:
        token = keys[key_index].sign(claims)  # a good signature over odd claims
    step_all(new_server("OAUTHBEARER", helpers.settings(oauth)), [initial_response(token), b"\x01"])


@SLOW_OK
@given(data=st.data())
def test_oauthbearer_mutated_initial_response(no_internal_errors, data):
    valid = initial_response(unsecured({"sub": "alice", "exp": helpers.NOW_MS // 1000 + 60}))
    step_all(new_server("OAUTHBEARER", helpers.settings()), [data.draw(mutated(valid)), b"\x01"])


def test_base64_standard_alphabet_in_a_token_is_refused_cleanly():
    # "+" and "/" pass the auth syntax but are not base64url.
    token = b64(b'{"alg":"none"}') + "." + base64.b64encode(b"\xfb\xff\xfe").decode() + "."
    server = new_server("OAUTHBEARER", helpers.settings())
    assert server.respond(initial_response(token)) == b'{"status":"invalid_token"}'
