"""What every mechanism's server shares: the SaslServer protocol and the
state rules (no step after success or failure; any failure is final)."""

from __future__ import annotations

import logging
from typing import Protocol

from kwire.security.sasl.errors import AuthenticationFailed, invalid_credentials

log = logging.getLogger("kwire.security.sasl")


class SaslServer(Protocol):
    mechanism: str
    complete: bool  # True once the exchange succeeded
    principal: str  # "User:<name>" once complete
    session_lifetime_ms: int | None  # OAUTHBEARER: ms until the token expires; else None

    def respond(self, token: bytes) -> bytes:
        """The next server message (b"" when none); raises AuthenticationFailed."""
        ...


class MechanismServer:
    """Runs one exchange: subclasses implement `_step`; this class refuses
    steps after the end and makes every failure final."""

    mechanism = ""

    def __init__(self) -> None:
        self.complete = False
        self.failed = False
        self.principal = ""
        self.session_lifetime_ms: int | None = None

    def respond(self, token: bytes) -> bytes:
        if self.complete or self.failed:
            self.failed = True
            raise invalid_credentials(self.mechanism, "SASL message after the exchange ended")
        try:
            return self._step(bytes(token))
        except AuthenticationFailed:
            self.failed = True
            raise
        except Exception as unexpected:  # a bug here must not escape to the connection as anything else
            self.failed = True
            log.exception("SASL/%s server failed on unexpected input", self.mechanism)
            raise invalid_credentials(self.mechanism, f"internal error: {unexpected!r}") from unexpected

    def _succeed(self, username: str) -> None:
        self.complete = True
        self.principal = f"User:{username}"

    def _step(self, token: bytes) -> bytes:
        raise NotImplementedError
