"""JSON Web Tokens as OAUTHBEARER carries them: compact serialization
splitting and the claim checks Kafka applies (its OAuthBearerUnsecuredJws
rules for `alg: none` tokens, jose4j's for signed ones).

Every problem raises InvalidToken; its text is for the broker's log, the
client only ever sees RFC 7628's status JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Collection
from typing import Any

import attrs

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")


class InvalidToken(ValueError):
    """The token is refused; `scope` is set when a required scope is missing (status insufficient_scope)."""

    def __init__(self, reason: str, scope: str | None = None) -> None:
        super().__init__(reason)
        self.scope = scope


@attrs.frozen
class ValidToken:
    principal: str
    expires_ms: int


@attrs.frozen
class Jws:
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes  # "header.payload", what the signature covers
    signature: bytes


def b64url_decode(text: str) -> bytes:
    if not _BASE64URL.fullmatch(text):
        raise InvalidToken("malformed Base64 URL encoded value")
    try:
        return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
    except (binascii.Error, ValueError):
        raise InvalidToken("malformed Base64 URL encoded value") from None


def split_jws(token: str) -> Jws:
    """The three parts of a compact JWS, header and claims decoded as JSON objects."""
    if ".." in token:
        raise InvalidToken("Malformed compact serialization contains '..'")
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("JWS compact serializations must have 3 dot-separated Base64URL-encoded values")
    header, claims = (_json_object(b64url_decode(part)) for part in parts[:2])
    return Jws(header, claims, f"{parts[0]}.{parts[1]}".encode("ascii"), b64url_decode(parts[2]))


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise InvalidToken("malformed JSON") from None
    if not isinstance(value, dict):
        raise InvalidToken("malformed JSON: not an object")
    return value


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def seconds_claim_ms(claims: dict[str, Any], name: str, required: bool) -> int | None:
    """A NumericDate claim in ms (Kafka rounds seconds * 1000); None when absent and optional."""
    value = claims.get(name)
    if value is None:
        if required:
            raise InvalidToken(f"Required claim missing: {name}")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"The {name} claim had the incorrect type: {type(value).__name__}")
    ms = value * 1000
    if not math.isfinite(ms) or abs(ms) > 2**62:
        raise InvalidToken(f"The {name} claim is out of range")
    return round(ms)


def string_claim(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if value is None:
        raise InvalidToken(f"Required claim missing: {name}")
    if not isinstance(value, str):
        raise InvalidToken(f"The {name} claim had the incorrect type: {type(value).__name__}")
    if not value.strip():
        raise InvalidToken(f"No principal name in JWT claim: {name}")
    return value


def scope_claim(claims: dict[str, Any], name: str) -> set[str]:
    """A scope claim given as one string or a list of strings, blank items dropped."""
    value = claims.get(name)
    if value is None:
        return set()
    if isinstance(value, str):
        return {value.strip()} if value.strip() else set()
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return {item.strip() for item in value if item.strip()}
    raise InvalidToken(f"The {name} claim had the incorrect type: {type(value).__name__}")


def check_times(claims: dict[str, Any], now_ms: int, skew_ms: int, require_issued_at: bool) -> int:
    """Kafka's time checks (exp required, iat and nbf not in the future, exp after iat); returns exp in ms."""
    expires_ms = seconds_claim_ms(claims, "exp", required=True)
    assert expires_ms is not None
    issued_ms = seconds_claim_ms(claims, "iat", required=require_issued_at)
    not_before_ms = seconds_claim_ms(claims, "nbf", required=False)
    if issued_ms is not None and issued_ms > now_ms + skew_ms:
        raise InvalidToken(
            f"The Issued At value ({issued_ms} ms) was after now ({now_ms} ms) plus allowable clock skew ({skew_ms} ms)"
        )
    if not_before_ms is not None and not_before_ms > now_ms + skew_ms:
        raise InvalidToken(
            f"The Not Before value ({not_before_ms} ms) was after now ({now_ms} ms) plus allowable clock skew ({skew_ms} ms)"
        )
    if now_ms - skew_ms >= expires_ms:
        raise InvalidToken(
            f"Now ({now_ms} ms) minus allowable clock skew ({skew_ms} ms) was on or after the Expiration Time ({expires_ms} ms)"
        )
    if issued_ms is not None and expires_ms <= issued_ms:
        raise InvalidToken("The Expiration Time was not after the Issued At time")
    return expires_ms


def check_scope(scope: set[str], required: Collection[str]) -> None:
    for item in required:
        if item not in scope:
            raise InvalidToken(
                f"The provided scope ({sorted(scope)}) was missing a required scope ({item})",
                scope="[" + ", ".join(required) + "]",
            )


def check_audience(claims: dict[str, Any], expected: Collection[str]) -> None:
    if not expected:
        return
    value = claims.get("aud")
    audience = [value] if isinstance(value, str) else value
    if not isinstance(audience, list) or not all(isinstance(item, str) for item in audience):
        raise InvalidToken("No or malformed Audience (aud) claim")
    if not set(audience) & set(expected):
        raise InvalidToken(
            f"Audience (aud) claim {audience} doesn't contain an acceptable identifier {sorted(expected)}"
        )


def check_issuer(claims: dict[str, Any], expected: str | None) -> None:
    if expected is not None and claims.get("iss") != expected:
        raise InvalidToken(f"Issuer (iss) claim value {claims.get('iss')!r} doesn't match expected value {expected!r}")
