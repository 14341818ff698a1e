import json

import pytest

from kwire.security.sasl import AuthenticationFailed, new_server
from kwire.security.sasl.jwks import load_jwks
from kwire.security.sasl.oauthbearer import OAuthSettings
from tests.security.sasl.helpers import NOW_MS, settings
from tests.security.sasl.tokens import SigningKey, initial_response, unsecured

NOW = NOW_MS // 1000
INVALID = b'{"status":"invalid_token"}'


def claims(**changes):
    base = {"sub": "alice", "iat": NOW - 10, "exp": NOW + 3600}
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


def refused(server, message, expected_reply=INVALID):
    """The server answers the error JSON, then fails on the client's 0x01 with that JSON as the message."""
    assert server.respond(message) == expected_reply
    assert not server.complete
    with pytest.raises(AuthenticationFailed) as failure:
        server.respond(b"\x01")
    assert str(failure.value) == expected_reply.decode()


def test_unsecured_token_authenticates_with_session_lifetime():
    server = new_server("OAUTHBEARER", settings())
    assert server.respond(initial_response(unsecured(claims()))) == b""
    assert server.complete
    assert server.principal == "User:alice"
    assert server.session_lifetime_ms == 3600 * 1000


def test_extensions_and_matching_authzid_are_accepted():
    server = new_server("OAUTHBEARER", settings())
    server.respond(initial_response(unsecured(claims()), authzid="alice", extensions="\x01traceId=123"))
    assert server.principal == "User:alice"


def test_authzid_other_than_the_principal_fails_with_kafkas_message():
    server = new_server("OAUTHBEARER", settings())
    with pytest.raises(AuthenticationFailed) as failure:
        server.respond(initial_response(unsecured(claims()), authzid="admin"))
    assert str(failure.value) == (
        "Authentication failed: Client requested an authorization id (admin) that is different from the token's principal name (alice)"
    )


def test_principal_claim_name_is_configurable():
    server = new_server("OAUTHBEARER", settings(OAuthSettings(principal_claim="client_id")))
    server.respond(initial_response(unsecured(claims(sub=None, client_id="svc"))))
    assert server.principal == "User:svc"


@pytest.mark.parametrize(
    "token",
    [
        unsecured(claims(exp=None)),  # exp required
        unsecured(claims(exp=NOW)),  # expired
        unsecured(claims(exp="soon")),
        unsecured(claims(exp=True)),
        unsecured(claims(exp=1e300)),
        unsecured(claims(sub=None)),
        unsecured(claims(sub="  ")),
        unsecured(claims(sub=42)),
        unsecured(claims(iat=NOW + 60)),  # issued in the future (no skew by default, as Kafka)
        unsecured(claims(nbf=NOW + 60)),
        unsecured(claims(iat=NOW + 10, exp=NOW + 5)),
        unsecured(claims(scope=7)),
        unsecured(claims(), header={"alg": "HS256"}),
        unsecured(claims()) + "c2ln",  # a signature on an unsecured token
        unsecured(claims()).replace(".", "..", 1),
        unsecured(claims())[:-1],  # two parts
        "bm90IGpzb24.bm90IGpzb24.",  # not JSON
        "W10.W10.",  # JSON, not objects
        "a.b.c.d",
    ],
)
def test_bad_unsecured_tokens_are_refused_with_rfc7628_json(token):
    refused(new_server("OAUTHBEARER", settings()), initial_response(token))


def test_skew_option_admits_small_clock_differences():
    for token in (unsecured(claims(iat=NOW + 5)), unsecured(claims(iat=NOW - 60, exp=NOW - 5))):
        refused(new_server("OAUTHBEARER", settings()), initial_response(token))
        server = new_server("OAUTHBEARER", settings(OAuthSettings(unsecured_skew_ms=10_000)))
        server.respond(initial_response(token))
        assert server.complete


def test_required_scope():
    scoped = OAuthSettings(required_scope=("read", "write"))
    ok = new_server("OAUTHBEARER", settings(scoped))
    ok.respond(initial_response(unsecured(claims(scope=["read", "write", "admin"]))))
    assert ok.complete
    expected = json.dumps({"status": "insufficient_scope", "scope": "[read, write]"}, separators=(",", ":"))
    expected = expected.replace(',"scope"', ', "scope"').encode()
    refused(new_server("OAUTHBEARER", settings(scoped)), initial_response(unsecured(claims(scope="read"))), expected)


def test_anything_but_0x01_after_the_error_fails_too():
    server = new_server("OAUTHBEARER", settings())
    assert server.respond(initial_response(unsecured(claims(exp=None)))) == INVALID
    with pytest.raises(AuthenticationFailed):
        server.respond(initial_response(unsecured(claims())))
    assert not server.complete


@pytest.mark.parametrize(
    "message",
    [
        b"",
        b"\x01",  # 0x01 before any error
        b"n,,\x01auth=Bearer abc\x01",  # no closing 0x01
        b"n,,\x01\x01",  # no auth
        b"n,,\x01auth=Basic abc\x01\x01",
        b"n,,\x01auth=Bearer\x01\x01",
        b"y,,\x01auth=Bearer abc\x01\x01",
        b"n,,\x01auth=Bearer a b\x01\x01",
        b"n,,\x01auth=Bearer \xff\x01\x01",
    ],
)
def test_malformed_initial_responses_fail_generically(message):
    with pytest.raises(AuthenticationFailed) as failure:
        new_server("OAUTHBEARER", settings()).respond(message)
    assert str(failure.value) == (
        "Authentication failed during authentication due to invalid credentials with SASL mechanism OAUTHBEARER"
    )


# Signed tokens against a JWKS file.

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]


@pytest.fixture(scope="module")
def keys():
    rsa = SigningKey("RS256", "rsa-1")
    made = {alg: rsa for alg in ALGORITHMS if not alg.startswith("ES")}
    made.update({alg: SigningKey(alg, f"ec-{alg}") for alg in ("ES256", "ES384", "ES512")})
    made["other-rsa"] = SigningKey("RS256", "rsa-2")
    return made


@pytest.fixture
def jwks_settings(keys, tmp_path):
    path = tmp_path / "jwks.json"
    unique = {key.kid: key.jwk() for key in keys.values()}
    path.write_text(json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0"}, *unique.values()]}))

    def make(**options):
        return settings(OAuthSettings(jwks=load_jwks(path.as_uri()), **options))

    return make


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_signed_tokens_verify(keys, jwks_settings, alg):
    server = new_server("OAUTHBEARER", jwks_settings())
    assert server.respond(initial_response(keys[alg].sign(claims(), alg=alg))) == b""
    assert server.principal == "User:alice"
    assert server.session_lifetime_ms == 3600 * 1000


def test_signed_token_checks_issuer_and_audience(keys, jwks_settings):
    expecting = jwks_settings(expected_issuer="https://idp", expected_audience=("kafka", "other"))
    good = keys["RS256"].sign(claims(iss="https://idp", aud=["x", "kafka"]))
    server = new_server("OAUTHBEARER", expecting)
    server.respond(initial_response(good))
    assert server.complete
    for bad in (
        claims(iss="https://evil", aud="kafka"),
        claims(aud="kafka"),
        claims(iss="https://idp", aud="x"),
        claims(iss="https://idp"),
    ):
        refused(new_server("OAUTHBEARER", expecting), initial_response(keys["RS256"].sign(bad)))


def test_signed_token_skew(keys, jwks_settings):
    future = keys["ES256"].sign(claims(iat=NOW + 20, nbf=NOW + 20))
    expired = keys["ES256"].sign(claims(iat=NOW - 60, exp=NOW - 20))
    for token in (future, expired):
        server = new_server("OAUTHBEARER", jwks_settings(clock_skew_s=30))
        server.respond(initial_response(token))
        assert server.complete
        refused(new_server("OAUTHBEARER", jwks_settings(clock_skew_s=10)), initial_response(token))
    assert server.session_lifetime_ms == 0  # expired within the skew: no time left


def test_unsigned_token_refused_when_jwks_given(jwks_settings):
    refused(new_server("OAUTHBEARER", jwks_settings()), initial_response(unsecured(claims())))


def forge(token):
    head, body, signature = token.split(".")
    return f"{head}.{body}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}"


@pytest.mark.parametrize(
    "make",
    [
        lambda keys: forge(keys["RS256"].sign(claims())),
        lambda keys: forge(keys["PS512"].sign(claims(), alg="PS512")),
        lambda keys: forge(keys["ES384"].sign(claims())),
        # another key's signature under a known key's id
        lambda keys: keys["other-rsa"].sign(claims(), header={"alg": "RS256", "kid": "rsa-1"}),
        lambda keys: keys["RS256"].sign(claims(), header={"alg": "RS256", "kid": "unknown"}),
        # algorithm and key type disagree
        lambda keys: keys["RS256"].sign(claims(), header={"alg": "ES256", "kid": "rsa-1"}, alg="RS256"),
        lambda keys: keys["ES256"].sign(claims(), header={"alg": "ES384", "kid": "ec-ES256"}, alg="ES256"),
        lambda keys: keys["RS256"].sign(claims(), header={"alg": "HS256", "kid": "rsa-1"}, alg="RS256"),
        lambda keys: keys["RS256"].sign(claims(iat=None)),  # signed tokens need iat
        lambda keys: keys["RS256"].sign(claims(exp=NOW - 3600)),
        lambda keys: keys["RS256"].sign(claims(nbf=NOW + 3600)),
        lambda keys: keys["RS256"].sign(claims(sub=None)),
        lambda keys: keys["RS256"].sign(claims())[:-40],
    ],
)
def test_bad_signed_tokens_are_refused(keys, jwks_settings, make):
    refused(new_server("OAUTHBEARER", jwks_settings()), initial_response(make(keys)))


def test_token_without_kid_uses_any_fitting_key(keys, jwks_settings):
    token = keys["other-rsa"].sign(claims(), header={"alg": "RS256"})
    server = new_server("OAUTHBEARER", jwks_settings())
    server.respond(initial_response(token))
    assert server.complete
