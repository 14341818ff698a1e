"""The client side of Kafka's SASL mechanisms, sans-IO: PLAIN, SCRAM-SHA-256,
SCRAM-SHA-512 (RFC 5802, no channel binding) and OAUTHBEARER (RFC 7628) with
the unsecured token Kafka's OAuthBearerUnsecuredLoginCallbackHandler makes.

`client = new_client(mechanism, jaas_text)` reads the credentials from a
`sasl.jaas.config` value (one exchange per client: SCRAM's nonce is fresh).
`client.first_message()` is the first SaslAuthenticate's bytes; each
answer's bytes go to `client.respond(...)`, which returns the next message
or None once the exchange is over on the client's side. Problems (bad JAAS,
a server that breaks the protocol or cannot prove it knows the password)
raise SaslClientError, whose text never holds a password.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping

from kwire.security.credentials import MAX_ITERATIONS, MIN_ITERATIONS, SCRAM_HASHES, ScramCredential, salted_password
from kwire.security.sasl.jaas import JaasSyntaxError, parse_jaas

CLIENT_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")
_DEFAULT_TOKEN_LIFETIME_S = 3600
_EXTENSION_NAME = re.compile(r"[A-Za-z]+")
_EXTENSION_VALUE = re.compile(r"[\x21-\x7e \t\r\n]+")


class SaslClientError(ValueError):
    """Why the client side cannot (go on to) authenticate; one line, no secrets."""


class SaslClient:
    """One exchange of one mechanism."""

    mechanism = ""

    def __init__(self) -> None:
        self.complete = False

    def first_message(self) -> bytes:
        raise NotImplementedError

    def respond(self, challenge: bytes) -> bytes | None:
        """The next message for the server's `challenge`, or None when the exchange is done."""
        raise NotImplementedError


class PlainClient(SaslClient):
    mechanism = "PLAIN"

    def __init__(self, username: str, password: str) -> None:
        super().__init__()
        self._message = f"\0{username}\0{password}".encode()

    def first_message(self) -> bytes:
        return self._message

    def respond(self, challenge: bytes) -> bytes | None:
        self.complete = True  # PLAIN is one message; the server's verdict is the error code
        return None


def saslname(username: str) -> str:
    """A user name as SCRAM carries it (RFC 5802: "," and "=" escaped)."""
    return username.replace("=", "=3D").replace(",", "=2C")


class ScramClient(SaslClient):
    def __init__(
        self, mechanism: str, username: str, password: str, nonce: Callable[[], str] = lambda: secrets.token_urlsafe(24)
    ) -> None:
        super().__init__()
        self.mechanism = mechanism
        self._hash = SCRAM_HASHES[mechanism]
        self._password = password
        self._client_nonce = nonce()  # printable, no comma
        self._client_first_bare = f"n={saslname(username)},r={self._client_nonce}"
        self._server_signature: bytes | None = None

    def first_message(self) -> bytes:
        return b"n,," + self._client_first_bare.encode()

    def respond(self, challenge: bytes) -> bytes | None:
        if self._server_signature is None:
            return self._client_final(challenge)
        self._verify_server_final(challenge)
        return None

    def _client_final(self, challenge: bytes) -> bytes:
        server_first = challenge.decode("ascii", errors="replace")
        fields = _scram_fields(server_first)
        nonce, salt_text, iterations_text = fields.get("r"), fields.get("s"), fields.get("i")
        if nonce is None or salt_text is None or iterations_text is None:
            raise SaslClientError(f"{self.mechanism}: the server's first message is not r=...,s=...,i=...")
        if not nonce.startswith(self._client_nonce) or len(nonce) == len(self._client_nonce):
            raise SaslClientError(f"{self.mechanism}: the server's nonce does not extend the client's")
        if not iterations_text.isdigit() or not MIN_ITERATIONS <= int(iterations_text) <= MAX_ITERATIONS:
            raise SaslClientError(
                f"{self.mechanism}: the server asks for {iterations_text[:20]} iterations "
                f"(Kafka allows {MIN_ITERATIONS} to {MAX_ITERATIONS})"
            )
        try:
            salt = base64.b64decode(salt_text, validate=True)
        except binascii.Error:
            raise SaslClientError(f"{self.mechanism}: the server's salt is not base64") from None
        salted = salted_password(self.mechanism, self._password, salt, int(iterations_text))
        keys = ScramCredential.from_salted_password(self.mechanism, salt, salted, int(iterations_text))
        client_key = hmac.digest(salted, b"Client Key", self._hash)
        without_proof = f"c={base64.b64encode(b'n,,').decode()},r={nonce}"
        auth_message = f"{self._client_first_bare},{server_first},{without_proof}".encode()
        signature = hmac.digest(keys.stored_key, auth_message, self._hash)
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        self._server_signature = hmac.digest(keys.server_key, auth_message, self._hash)
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def _verify_server_final(self, challenge: bytes) -> None:
        assert self._server_signature is not None
        fields = _scram_fields(challenge.decode("ascii", errors="replace"))
        if "e" in fields:
            raise SaslClientError(f"{self.mechanism}: the server says {fields['e'][:200]}")
        try:
            signature = base64.b64decode(fields.get("v", ""), validate=True)
        except binascii.Error:
            signature = b""
        if not hmac.compare_digest(signature, self._server_signature):
            raise SaslClientError(f"{self.mechanism}: the server's signature is wrong (it does not know the password)")
        self.complete = True


def _scram_fields(message: str) -> dict[str, str]:
    """`k=v,k=v` attributes; the first of each name counts."""
    fields: dict[str, str] = {}
    for part in message.split(","):
        name, sep, value = part.partition("=")
        if sep and len(name) == 1:
            fields.setdefault(name, value)
    return fields


class OAuthBearerClient(SaslClient):
    mechanism = "OAUTHBEARER"

    def __init__(self, token: str, extensions: Mapping[str, str] | None = None) -> None:
        super().__init__()
        pairs = [f"auth=Bearer {token}", *(f"{name}={value}" for name, value in (extensions or {}).items())]
        self._message = ("n,,\x01" + "".join(pair + "\x01" for pair in pairs) + "\x01").encode()
        self._refused = False

    def first_message(self) -> bytes:
        return self._message

    def respond(self, challenge: bytes) -> bytes | None:
        if challenge and not self._refused:
            # RFC 7628: an error JSON; the client acknowledges with 0x01 and the server then fails the exchange.
            self._refused = True
            return b"\x01"
        self.complete = not self._refused
        return None


def unsecured_token(options: Mapping[str, str], now_s: float | None = None) -> str:
    """An unsecured JWS (`alg: none`) from the unsecuredLogin* JAAS options, as
    Kafka's OAuthBearerUnsecuredLoginCallbackHandler makes it."""
    issued = time.time() if now_s is None else now_s
    lifetime = options.get("unsecuredLoginLifetimeSeconds", str(_DEFAULT_TOKEN_LIFETIME_S))
    if not lifetime.strip().isdigit():
        raise SaslClientError("unsecuredLoginLifetimeSeconds is not a whole number")
    claims: dict[str, object] = {}
    for option, value in options.items():
        kind, sep, claim = option.partition("Claim_")
        if not sep or kind not in ("unsecuredLoginString", "unsecuredLoginNumber", "unsecuredLoginList"):
            continue
        if not claim or claim in ("iat", "exp"):
            raise SaslClientError(f"{option}: iat and exp are set by the login module")
        claims[claim] = _claim_value(kind, option, value)
    principal_claim = options.get("unsecuredLoginPrincipalClaimName", "sub")
    if not isinstance(claims.get(principal_claim), str) or not claims[principal_claim]:
        raise SaslClientError(
            f"the unsecured OAUTHBEARER login needs unsecuredLoginStringClaim_{principal_claim} (the principal)"
        )
    issued_ms = int(issued * 1000)  # truncated, so the broker never sees it in its future
    claims["iat"] = issued_ms / 1000
    claims["exp"] = (issued_ms + int(lifetime) * 1000) / 1000
    return f"{_b64url({'alg': 'none'})}.{_b64url(claims)}."


def _claim_value(kind: str, option: str, value: str) -> object:
    if kind == "unsecuredLoginString":
        return value
    if kind == "unsecuredLoginNumber":
        try:
            number = float(value)
        except ValueError:
            raise SaslClientError(f"{option} is not a number") from None
        return int(number) if number.is_integer() else number
    # A list: its first character separates the items ("|a|b"); empty items are dropped.
    return [item for item in value[1:].split(value[0]) if item] if value else []


def _b64url(value: object) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _extensions(options: Mapping[str, str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for option, value in options.items():
        if not option.startswith("unsecuredLoginExtension_"):
            continue
        name = option.removeprefix("unsecuredLoginExtension_")
        if not _EXTENSION_NAME.fullmatch(name) or name == "auth":
            raise SaslClientError(f"{option}: an extension name is letters only, and not 'auth'")
        if not _EXTENSION_VALUE.fullmatch(value):
            raise SaslClientError(f"{option}: an extension value is printable ASCII")
        found[name] = value
    return found


_LOGIN_MODULES = {
    "PLAIN": "PlainLoginModule",
    "SCRAM-SHA-256": "ScramLoginModule",
    "SCRAM-SHA-512": "ScramLoginModule",
    "OAUTHBEARER": "OAuthBearerLoginModule",
}


def new_client(mechanism: str, jaas_text: str | None) -> SaslClient:
    """A client for one exchange of `mechanism` with the credentials of
    `jaas_text` (a `sasl.jaas.config` value); SaslClientError when they are missing or malformed."""
    if mechanism not in CLIENT_MECHANISMS:
        raise SaslClientError(
            f"sasl.mechanism={mechanism} is not supported by the kwire tools (they speak {', '.join(CLIENT_MECHANISMS)})"
        )
    if not jaas_text:
        raise SaslClientError(f"sasl.jaas.config is not set: SASL mechanism {mechanism} needs a login module")
    try:
        entries = parse_jaas(jaas_text)
    except JaasSyntaxError as problem:
        raise SaslClientError(f"sasl.jaas.config: {problem}") from None
    if len(entries) != 1:
        raise SaslClientError(f"sasl.jaas.config must hold one login module, not {len(entries)}")
    entry = entries[0]
    if entry.module_simple_name != _LOGIN_MODULES[mechanism]:
        raise SaslClientError(
            f"sasl.jaas.config names {entry.module_simple_name}, but sasl.mechanism={mechanism} "
            f"needs {_LOGIN_MODULES[mechanism]}"
        )
    options = entry.options
    if mechanism == "OAUTHBEARER":
        return OAuthBearerClient(unsecured_token(options), _extensions(options))
    username, password = options.get("username"), options.get("password")
    if not username or password is None:
        raise SaslClientError(f'sasl.jaas.config: {entry.module_simple_name} needs username="..." password="..."')
    if mechanism == "PLAIN":
        return PlainClient(username, password)
    return ScramClient(mechanism, username, password)
