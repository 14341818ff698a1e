"""A client's TLS context from the Java client's `ssl.*` properties (what
kafka-topics.sh reads from --command-config): truststore, optional keystore
(client certificate), versions, cipher suites and host name checking.

Stores are read by the server's loaders in kwire/security/tls.py (PEM files,
PEM text in the settings, PKCS12; JKS refused with the keytool command that
converts it), so both sides take the same files and say the same things
about them. Every problem is a TlsClientError of one line naming the
property and the path.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping

from kwire.errors import StartupError
from kwire.security import tls


class TlsClientError(ValueError):
    """A client `ssl.*` property (or the file it names) that cannot be used."""


class _ClientSettings(tls.Settings):
    """The client's properties in the shape the server's loaders read."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values
        self.listener = "client"

    def get(self, name: str) -> str | None:
        value = self._values.get(name)
        return None if value is None or not value.strip() else value

    def label(self, name: str) -> str:
        return name


_KEYSTORE_SETTINGS = ("ssl.keystore.location", "ssl.keystore.certificate.chain", "ssl.keystore.key")


def client_context(values: Mapping[str, str]) -> ssl.SSLContext:
    """The TLS context a client with these properties connects with; it
    checks the broker's certificate always (against the system's CAs when no
    truststore is given, as the JVM uses its cacerts), and its host name
    unless ssl.endpoint.identification.algorithm is empty (as Kafka's clients)."""
    settings = _ClientSettings(values)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = host_name_checked(values)
    context.verify_mode = ssl.CERT_REQUIRED
    try:
        tls.set_versions(context, settings)
        if any(settings.get(name) is not None for name in _KEYSTORE_SETTINGS):
            tls.load_keystore(context, settings)
        elif settings.get("ssl.keystore.password") is not None:
            raise TlsClientError("ssl.keystore.password is set but ssl.keystore.location is not")
        tls.load_truststore(context, settings)
        tls.set_ciphers(context, settings)
    except StartupError as problem:
        raise TlsClientError(str(problem)) from None
    return context


def host_name_checked(values: Mapping[str, str]) -> bool:
    """ssl.endpoint.identification.algorithm: "https" (the default) checks
    the broker's host name against its certificate, empty does not."""
    algorithm = values.get("ssl.endpoint.identification.algorithm", "https").strip()
    if algorithm.lower() not in ("https", ""):
        raise TlsClientError(
            f"Invalid value {algorithm} for configuration ssl.endpoint.identification.algorithm: "
            "kwire's tools know https (check the host name) and the empty value (do not)"
        )
    return algorithm != ""
