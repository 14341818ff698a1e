"""How the command line's connections are secured, from the Java client's
properties as `--command-config` gives them (kafka-topics.sh's names):
security.protocol, the `ssl.*` stores and host name check, sasl.mechanism
and sasl.jaas.config.

Everything is checked when the settings are read, so a wrong path or a
malformed JAAS line is one error before any connection is tried. The TLS
and SASL client code is imported only when the protocol needs it.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING

import attrs

from kwire.admin.errors import ClusterError

if TYPE_CHECKING:
    from kwire.security.sasl_client import SaslClient

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
DEFAULT_SASL_MECHANISM = "GSSAPI"  # Kafka's client default, which kwire's tools cannot speak


@attrs.frozen
class ClientSecurity:
    protocol: str = "PLAINTEXT"
    ssl_context: ssl.SSLContext | None = None  # SSL and SASL_SSL
    sasl_mechanism: str | None = None  # SASL_PLAINTEXT and SASL_SSL
    sasl_jaas_config: str | None = attrs.field(default=None, repr=False)  # holds a password

    def new_sasl_client(self) -> SaslClient:
        """A fresh client side of one SASL exchange (each connection needs its own)."""
        from kwire.security.sasl_client import SaslClientError, new_client

        assert self.sasl_mechanism is not None
        try:
            return new_client(self.sasl_mechanism, self.sasl_jaas_config)
        except SaslClientError as problem:
            raise ClusterError(str(problem)) from None


PLAINTEXT = ClientSecurity()


def client_security(settings: Mapping[str, str]) -> ClientSecurity:
    """The security of every connection these client settings make; ClusterError (one line) when unusable."""
    protocol = settings.get("security.protocol", "PLAINTEXT").strip().upper()
    if protocol not in SECURITY_PROTOCOLS:
        raise ClusterError(
            f"Invalid value {protocol} for configuration security.protocol: must be one of "
            + ", ".join(SECURITY_PROTOCOLS)
        )
    context = _tls_context(settings) if protocol in ("SSL", "SASL_SSL") else None
    if not protocol.startswith("SASL_"):
        return ClientSecurity(protocol, context)
    mechanism = settings.get("sasl.mechanism", DEFAULT_SASL_MECHANISM).strip().upper()
    security = ClientSecurity(protocol, context, mechanism, settings.get("sasl.jaas.config"))
    security.new_sasl_client()  # so a missing or malformed sasl.jaas.config is told now
    return security


def _tls_context(settings: Mapping[str, str]) -> ssl.SSLContext:
    from kwire.security.tls_client import TlsClientError, client_context

    try:
        return client_context(settings)
    except TlsClientError as problem:
        raise ClusterError(str(problem)) from None
