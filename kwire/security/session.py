"""One connection's security facts: the listener it came in on, its
security protocol, and (once known) who it is."""

from __future__ import annotations

from typing import Any

import attrs

from kwire.security import ANONYMOUS

SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})
TLS_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})


@attrs.define
class Session:
    """Mutable per connection: the SASL exchange moves it from
    unauthenticated to authenticated (and re-authentication, KIP-368,
    renews it). PLAINTEXT and SSL connections are authenticated from the start."""

    listener: str = "PLAINTEXT"
    protocol: str = "PLAINTEXT"
    principal: str = ANONYMOUS
    client_ip: str = ""  # the peer's address, as ACL hosts name it ("127.0.0.1")
    authenticated: bool = True
    # The SASL exchange in progress (kwire/security/sasl/), once SaslHandshake chose a mechanism.
    mechanism: str | None = None
    sasl_server: Any = None
    # SaslHandshake v0: the tokens that follow come as bare size-prefixed frames, not SaslAuthenticate requests.
    raw_tokens: bool = False
    # Monotonic second after which the session has expired (connections.max.reauth.ms, a token's
    # lifetime); None: never. A request after it closes the connection, as Kafka does.
    expires_at: float | None = None
    # The listener's prepared security (kwire/security/listener_security.py): mechanisms, TLS, rules.
    security: Any = None
    # Answer the current request, then close (a failed or refused authentication, as Kafka does).
    close_after_response: bool = False

    @property
    def uses_sasl(self) -> bool:
        return self.protocol in SASL_PROTOCOLS

    @classmethod
    def for_listener(cls, listener: str, protocol: str, client_ip: str) -> Session:
        return cls(listener, protocol, ANONYMOUS, client_ip, authenticated=protocol not in SASL_PROTOCOLS)
