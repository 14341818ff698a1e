"""The server side of Kafka's SASL mechanisms, sans-IO: PLAIN, SCRAM-SHA-256,
SCRAM-SHA-512 and OAUTHBEARER.

At start-up, per SASL listener: `enabled_mechanisms(config, listener)` and
`settings = sasl_settings(config, listener, scram_lookup, wall_clock_ms)`.
Per SaslHandshake: `server = new_server(mechanism, settings)`; then each
SaslAuthenticate's bytes go to `server.respond(...)`, whose return value is
the reply; AuthenticationFailed (str: the client's error message) ends the
exchange; `server.complete` and `server.principal` say who authenticated.
"""

from __future__ import annotations

from kwire.security.sasl.base import SaslServer
from kwire.security.sasl.errors import AuthenticationFailed
from kwire.security.sasl.oauthbearer import OAuthBearerServer
from kwire.security.sasl.plain import PlainServer
from kwire.security.sasl.scram import ScramServer
from kwire.security.sasl.settings import SUPPORTED_MECHANISMS, SaslSettings, enabled_mechanisms, sasl_settings

__all__ = [
    "SUPPORTED_MECHANISMS",
    "AuthenticationFailed",
    "SaslServer",
    "SaslSettings",
    "enabled_mechanisms",
    "new_server",
    "sasl_settings",
]


def new_server(mechanism: str, settings: SaslSettings) -> SaslServer:
    """A fresh server for one exchange; ValueError for a mechanism kwire lacks
    (the handshake checks the enabled list first)."""
    if mechanism == "PLAIN":
        return PlainServer(settings.plain_users)
    if mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
        return ScramServer(mechanism, settings.scram_lookup)
    if mechanism == "OAUTHBEARER":
        return OAuthBearerServer(settings.oauth, settings.wall_clock_ms)
    raise ValueError(f"Unsupported SASL mechanism {mechanism}")
