"""SASL/OAUTHBEARER (RFC 7628) as Kafka's OAuthBearerSaslServer runs it.

The client's initial response carries `auth=Bearer <token>`. Without a JWKS
the token is an unsecured JWS (`alg: none`) checked by Kafka's
OAuthBearerUnsecuredValidatorCallbackHandler rules; with one it must be a
JWT signed by a key of the set. A refused token is answered with the RFC
7628 error JSON; the client then sends a lone 0x01 and the exchange fails
with that JSON as the message, as Kafka does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import attrs

from kwire.security.sasl import jwt
from kwire.security.sasl.base import MechanismServer
from kwire.security.sasl.errors import AuthenticationFailed, invalid_credentials
from kwire.security.sasl.jwks import Jwk, verify_signature

_SEPARATOR = "\x01"
_SASLNAME = r"(?:[\x01-\x2b\x2d-\x3c\x3e-\x7f]|=2C|=3D)+"
_KEY = r"[A-Za-z]+"
_VALUE = r"[\x21-\x7e \t\r\n]+"
_INITIAL_RESPONSE = re.compile(rf"n,(?:a=(?P<authzid>{_SASLNAME}))?,\x01(?P<pairs>(?:{_KEY}={_VALUE}\x01)*)\x01")
_AUTH = re.compile(r"(?P<scheme>\w+) +(?P<token>[-_~+/.a-zA-Z0-9]+=*)", re.ASCII)


@attrs.frozen
class OAuthSettings:
    principal_claim: str = "sub"
    scope_claim: str = "scope"
    required_scope: tuple[str, ...] = ()  # unsecured tokens only (unsecuredValidatorRequiredScope)
    unsecured_skew_ms: int = 0  # unsecuredValidatorAllowableClockSkewMs
    clock_skew_s: int = 30  # sasl.oauthbearer.clock.skew.seconds (signed tokens)
    expected_issuer: str | None = None
    expected_audience: tuple[str, ...] = ()
    jwks: tuple[Jwk, ...] | None = None  # None: unsecured JWS tokens


def validate_token(token: str, settings: OAuthSettings, now_ms: int) -> jwt.ValidToken:
    """The token's principal and expiry, or jwt.InvalidToken."""
    jws = jwt.split_jws(token)
    claims = jws.claims
    if settings.jwks is None:
        if jws.header.get("alg") != "none":
            raise jwt.InvalidToken("Unsecured JWS must have 'none' for an algorithm")
        if jws.signature:
            raise jwt.InvalidToken("Unsecured JWS must not contain a digital signature")
        scope = jwt.scope_claim(claims, settings.scope_claim)
        principal = jwt.string_claim(claims, settings.principal_claim)
        expires_ms = jwt.check_times(claims, now_ms, settings.unsecured_skew_ms, require_issued_at=False)
        jwt.check_scope(scope, settings.required_scope)
    else:
        verify_signature(jws, settings.jwks)
        expires_ms = jwt.check_times(claims, now_ms, settings.clock_skew_s * 1000, require_issued_at=True)
        jwt.check_issuer(claims, settings.expected_issuer)
        jwt.check_audience(claims, settings.expected_audience)
        jwt.scope_claim(claims, settings.scope_claim)
        principal = jwt.string_claim(claims, settings.principal_claim)
    return jwt.ValidToken(principal, expires_ms)


def error_json(problem: jwt.InvalidToken) -> str:
    """RFC 7628 section 3.2.2's error, in Kafka's layout."""
    if problem.scope is not None:
        return '{"status":"insufficient_scope", "scope":' + json.dumps(problem.scope) + "}"
    return '{"status":"invalid_token"}'


class OAuthBearerServer(MechanismServer):
    mechanism = "OAUTHBEARER"

    def __init__(self, settings: OAuthSettings, wall_clock_ms: Callable[[], int]) -> None:
        super().__init__()
        self._settings = settings
        self._wall_clock_ms = wall_clock_ms
        self._error: str | None = None  # the error JSON sent; the client's next message ends the exchange
        self.refusal: str | None = None  # why the token was refused, for the broker's log

    def _step(self, token: bytes) -> bytes:
        if self._error is not None:
            if token == b"\x01":
                raise AuthenticationFailed(self._error, "OAUTHBEARER: token refused")
            raise invalid_credentials(self.mechanism, "OAUTHBEARER: expected 0x01 after the error response")
        match = _INITIAL_RESPONSE.fullmatch(token.decode("ascii", errors="replace"))
        if match is None:
            raise invalid_credentials(self.mechanism, "Invalid OAUTHBEARER client first message")
        pairs = dict(pair.split("=", 1) for pair in match["pairs"].split(_SEPARATOR) if pair)
        auth = _AUTH.fullmatch(pairs.get("auth", ""))
        if auth is None or auth["scheme"].lower() != "bearer":
            raise invalid_credentials(self.mechanism, "Invalid OAUTHBEARER client first message: bad 'auth'")
        now_ms = self._wall_clock_ms()
        try:
            valid = validate_token(auth["token"], self._settings, now_ms)
        except jwt.InvalidToken as problem:
            self._error = error_json(problem)
            self.refusal = str(problem)
            return self._error.encode()
        authzid = match["authzid"]
        if authzid is not None and authzid != valid.principal:
            raise AuthenticationFailed(
                f"Authentication failed: Client requested an authorization id ({authzid}) that is different from the token's principal name ({valid.principal})"
            )
        # Extensions other than auth are accepted and unused, as Kafka's default validator does.
        self.session_lifetime_ms = max(0, valid.expires_ms - now_ms)
        self._succeed(valid.principal)
        return b""
