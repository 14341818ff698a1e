"""SASL/PLAIN (RFC 4616) against the users of the listener's PlainLoginModule
JAAS entry (`user_<name>="<password>"`), with Kafka's failure messages."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from kwire.security.sasl.base import MechanismServer
from kwire.security.sasl.errors import AuthenticationFailed

_FAILED = "Authentication failed: Invalid username or password"
# Compared against when the user is unknown, so that case costs what a wrong password costs.
_NO_PASSWORD = b"\x00" * 32


class PlainServer(MechanismServer):
    mechanism = "PLAIN"

    def __init__(self, users: Mapping[str, str]) -> None:
        super().__init__()
        self._users = users

    def _step(self, token: bytes) -> bytes:
        # message = [authzid] NUL authcid NUL passwd
        try:
            text = token.decode("utf-8")
        except UnicodeDecodeError:
            raise AuthenticationFailed(_FAILED, "PLAIN message is not UTF-8") from None
        parts = text.split("\0", 3)
        if len(parts) != 3:
            raise AuthenticationFailed(f"Invalid SASL/PLAIN response: expected 3 tokens, got {len(parts)}")
        authzid, username, password = parts
        if not username:
            raise AuthenticationFailed("Authentication failed: username not specified")
        if not password:
            raise AuthenticationFailed("Authentication failed: password not specified")
        expected = self._users.get(username)
        given = password.encode()
        matches = hmac.compare_digest(given, expected.encode() if expected is not None else _NO_PASSWORD)
        if expected is None or not matches:
            raise AuthenticationFailed(
                _FAILED, f"PLAIN: {'unknown user' if expected is None else 'wrong password'} {username!r}"
            )
        if authzid and authzid != username:
            raise AuthenticationFailed(
                "Authentication failed: Client requested an authorization id that is different from username"
            )
        self._succeed(username)
        return b""
