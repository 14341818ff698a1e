"""SCRAM-SHA-256 / SCRAM-SHA-512 server (RFC 5802, RFC 7677) as Kafka's
ScramSaslServer runs it: no channel binding (gs2 header "n"), the
`tokenauth` extension refused (kwire has no delegation tokens), every
failure but a mismatched authorization id answered with Kafka's generic
message.

An unknown user gets a made-up salt and the exchange goes on to fail at the
proof, exactly as a wrong password does, so no answer tells which it was
(RFC 5802 section 9).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable

from kwire.security.credentials import MIN_ITERATIONS, SCRAM_HASHES, ScramCredential
from kwire.security.sasl.base import MechanismServer
from kwire.security.sasl.errors import AuthenticationFailed, invalid_credentials

ScramLookup = Callable[[str, str], ScramCredential | None]

# Kafka's grammar (ASCII; a name escapes "," and "=" as =2C and =3D).
_SASLNAME = r"(?:[\x01-\x2b\x2d-\x3c\x3e-\x7f]|=2C|=3D)+"
_PRINTABLE = r"[\x21-\x2b\x2d-\x7e]+"
_VALUE = r"[\x01-\x2b\x2d-\x7f]+"
_BASE64 = r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)?"
_EXTENSIONS = rf"(?:,[A-Za-z]+={_VALUE})*"
_CLIENT_FIRST = re.compile(
    rf"(?P<gs2>n,(?:a=(?P<authzid>{_SASLNAME}))?,)"
    rf"(?P<bare>n=(?P<name>{_SASLNAME}),r=(?P<nonce>{_PRINTABLE})(?P<extensions>{_EXTENSIONS}))"
)
_CLIENT_FINAL = re.compile(
    rf"(?P<without_proof>c=(?P<binding>{_BASE64}),r=(?P<nonce>{_PRINTABLE}){_EXTENSIONS}),p=(?P<proof>{_BASE64})"
)
# Salts for unknown users are derived from this per-process key: stable for a name, unrelated to real salts.
_UNKNOWN_USER_KEY = secrets.token_bytes(32)


def new_server_nonce() -> str:
    """The server's half of the nonce: printable, no comma (tests replace it to replay RFC 7677's example)."""
    return secrets.token_urlsafe(24)


def saslname_to_username(saslname: str) -> str:
    return saslname.replace("=2C", ",").replace("=3D", "=")


class ScramServer(MechanismServer):
    def __init__(self, mechanism: str, lookup: ScramLookup) -> None:
        super().__init__()
        self.mechanism = mechanism
        self._hash = SCRAM_HASHES[mechanism]
        self._lookup = lookup
        self._username = ""
        self._credential: ScramCredential | None = None
        self._known_user = False
        self._gs2_header = b""
        self._nonce = ""
        self._auth_message_start = ""  # client-first-bare "," server-first
        self._step_number = 0

    def _step(self, token: bytes) -> bytes:
        self._step_number += 1
        if self._step_number == 1:
            return self._client_first(token)
        return self._client_final(token)

    def _fail(self, detail: str) -> AuthenticationFailed:
        return invalid_credentials(self.mechanism, f"{self.mechanism}: {detail}")

    def _client_first(self, token: bytes) -> bytes:
        text = token.decode("ascii", errors="replace")
        match = _CLIENT_FIRST.fullmatch(text)
        if match is None:
            raise self._fail("invalid client first message (channel binding is not supported)")
        extensions = dict(item.split("=", 1) for item in match["extensions"].split(",")[1:])
        if extensions.get("tokenauth", "").lower() == "true":
            raise self._fail("delegation token authentication is not supported")
        username = saslname_to_username(match["name"])
        authzid = match["authzid"]
        if authzid is not None and saslname_to_username(authzid) != username:
            raise AuthenticationFailed(
                "Authentication failed: Client requested an authorization id that is different from username"
            )
        credential = self._lookup(username, self.mechanism)
        self._known_user = credential is not None and credential.iterations >= MIN_ITERATIONS
        if credential is None or not self._known_user:
            credential = self._stand_in(username)
        self._username = username
        self._credential = credential
        self._gs2_header = match["gs2"].encode()
        self._nonce = match["nonce"] + new_server_nonce()
        salt = base64.b64encode(credential.salt).decode()
        server_first = f"r={self._nonce},s={salt},i={credential.iterations}"
        self._auth_message_start = f"{match['bare']},{server_first}"
        return server_first.encode()

    def _stand_in(self, username: str) -> ScramCredential:
        """A credential no proof can match, with a salt stable for this name."""
        salt = hmac.digest(_UNKNOWN_USER_KEY, f"{self.mechanism}\0{username}".encode(), "sha256")[:16]
        size = hashlib.new(self._hash).digest_size
        return ScramCredential(
            self.mechanism, salt, MIN_ITERATIONS, secrets.token_bytes(size), secrets.token_bytes(size)
        )

    def _client_final(self, token: bytes) -> bytes:
        assert self._credential is not None
        credential, self._credential = self._credential, None  # one attempt per exchange
        match = _CLIENT_FINAL.fullmatch(token.decode("ascii", errors="replace"))
        if match is None:
            raise self._fail("invalid client final message")
        # As Kafka: the final nonce must END with the one the server sent (librdkafka 2.0.x,
        # kcat 1.7, repeats its own half in front); the proof covers whatever was sent.
        sent = match["nonce"].encode()
        expected = self._nonce.encode()
        if not hmac.compare_digest(sent[len(sent) - len(expected) :], expected):
            raise self._fail("invalid client nonce in the final client message")
        try:
            binding = base64.b64decode(match["binding"], validate=True)
            proof = base64.b64decode(match["proof"], validate=True)
        except binascii.Error:
            raise self._fail("invalid base64 in the final client message") from None
        if binding != self._gs2_header:
            raise self._fail("channel binding does not repeat the gs2 header")
        auth_message = f"{self._auth_message_start},{match['without_proof']}".encode()
        client_signature = hmac.digest(credential.stored_key, auth_message, self._hash)
        if len(proof) != len(client_signature):
            raise self._fail("client proof of the wrong length")
        client_key = bytes(a ^ b for a, b in zip(proof, client_signature))
        computed_stored_key = hashlib.new(self._hash, client_key).digest()
        if not hmac.compare_digest(computed_stored_key, credential.stored_key) or not self._known_user:
            raise self._fail(f"invalid client credentials for {self._username!r}")
        server_signature = hmac.digest(credential.server_key, auth_message, self._hash)
        self._succeed(self._username)
        return b"v=" + base64.b64encode(server_signature)
