"""What each listener needs to admit a client, prepared once at start-up so
that a bad certificate, JAAS option or JWKS file stops `kwire serve` with one
line rather than failing the first client: the TLS context (SSL, SASL_SSL),
the SASL mechanisms and their settings (SASL_PLAINTEXT, SASL_SSL), and the
rules that turn a client certificate into a principal."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from typing import Any

import attrs

from kwire.config import BrokerConfig, ListenerSpec
from kwire.security.credentials import ScramCredential
from kwire.security.session import SASL_PROTOCOLS, TLS_PROTOCOLS, Session

log = logging.getLogger(__name__)


@attrs.frozen
class ListenerSecurity:
    spec: ListenerSpec
    ssl_context: ssl.SSLContext | None = None
    mechanisms: tuple[str, ...] = ()
    sasl_settings: Any = None  # kwire.security.sasl.SaslSettings on a SASL listener
    principal_rules: str = "DEFAULT"
    max_receive_size: int = 524288  # sasl.server.max.receive.size: a bigger frame before authentication closes

    def new_session(self, client_ip: str) -> Session:
        session = Session.for_listener(self.spec.name, self.spec.protocol, client_ip)
        session.security = self
        return session

    def principal_of_certificate(self, certificate: bytes | None) -> str:
        """The principal a client certificate (DER) names, by ssl.principal.mapping.rules;
        raises PrincipalMappingError when no rule matches (Kafka then refuses the client)."""
        from kwire.security.tls import principal_of

        return principal_of(certificate, self.principal_rules)


class ScramLookup:
    """The node's SCRAM credentials for the SASL mechanisms, which are
    prepared before the node's data (where the credentials live) is opened."""

    def __init__(self) -> None:
        self.state: Any = None  # the node's BrokerState, once open

    def lookup(self, username: str, mechanism: str) -> ScramCredential | None:
        store = getattr(self.state, "scram_credentials", None)
        found: ScramCredential | None = None if store is None else store.lookup(username, mechanism)
        return found


def prepare(
    config: BrokerConfig,
    scram_lookup: Callable[[str, str], ScramCredential | None],
    wall_clock_ms: Callable[[], int],
) -> dict[str, ListenerSecurity]:
    """Each listener's security by name; raises StartupError / ConfigError naming the setting at fault."""
    prepared = {}
    for spec in config.listeners():
        context = None
        rules = config.listener_setting(spec.name, "ssl.principal.mapping.rules") or "DEFAULT"
        if spec.protocol in TLS_PROTOCOLS:
            from kwire.security.tls import server_context, validate_rules

            validate_rules(rules)
            context = server_context(config, spec.name, spec.protocol)
        mechanisms: tuple[str, ...] = ()
        settings = None
        if spec.protocol in SASL_PROTOCOLS:
            from kwire.security.sasl import enabled_mechanisms, sasl_settings

            mechanisms = tuple(enabled_mechanisms(config, spec.name))
            settings = sasl_settings(config, spec.name, scram_lookup, wall_clock_ms)
            if "PLAIN" in mechanisms and not settings.plain_users:
                log.warning(
                    'listener %s offers PLAIN but no sasl.jaas.config names its users (user_NAME="password"): '
                    "every PLAIN login there will fail",
                    spec.name,
                )
        prepared[spec.name] = ListenerSecurity(
            spec, context, mechanisms, settings, rules, config.sasl_server_max_receive_size
        )
    return prepared
