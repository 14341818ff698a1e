"""The command line's view of a Kafka cluster (kwire's or Apache Kafka's):
bootstrap servers as Kafka's tools take them, the API versions each broker
speaks, and a connection to the node a request must go to — a partition's
leader, a group's coordinator, or any broker.

Connections are secured as the client settings say (kwire/admin/client_security.py:
TLS, then a SASL exchange after ApiVersions, as Kafka's clients do).

Blocking and single-threaded: one short-lived command, one cluster client.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kwire.admin.client_security import PLAINTEXT, ClientSecurity, client_security
from kwire.admin.errors import ClusterError as ClusterError  # where the commands import it from
from kwire.admin.wire_client import WireClient, WireError
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode

DEFAULT_TIMEOUT_S = 30.0
# KIP-368: re-authenticate when this share of the session the broker granted has passed (Kafka's clients: 85-95 %).
_REAUTHENTICATE_AT = 0.85
_NOT_TLS = ("UNEXPECTED_EOF_WHILE_READING", "WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE")


def parse_bootstrap(servers: str) -> list[tuple[str, int]]:
    """`host:port[,host:port…]` (IPv6 hosts in brackets) as Kafka's tools take it."""
    found = []
    for entry in servers.split(","):
        entry = entry.strip()
        if not entry:
            continue
        host, sep, port = entry.rpartition(":")
        if not sep or not port.isdigit() or not host:
            raise ClusterError(f"bootstrap server {entry!r} is not host:port")
        found.append((host.strip("[]"), int(port)))
    if not found:
        raise ClusterError("no bootstrap server given")
    return found


def read_command_config(path: str) -> dict[str, str]:
    """Client settings from a properties file (`--command-config`), read with
    Java's properties syntax as Kafka's tools read it (continuation lines,
    escapes); the security settings are checked when a ClusterClient takes them."""
    from kwire.config import ConfigError
    from kwire.config_files import read_properties

    try:
        return {entry.key: entry.value for entry in read_properties(Path(path))}
    except ConfigError as problem:
        raise ClusterError(str(problem)) from None


def _timeout_s(value: str | None) -> float:
    if value is None:
        return DEFAULT_TIMEOUT_S
    if not value.strip().isdigit() or int(value) == 0:
        raise ClusterError(f"Invalid value {value} for configuration request.timeout.ms: a positive whole number of ms")
    return int(value) / 1000


class Connection:
    """One broker connection that knows which versions the broker serves."""

    def __init__(
        self,
        host: str,
        port: int,
        timeout_s: float,
        client_id: str,
        security: ClientSecurity = PLAINTEXT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.address = f"{host}:{port}"
        self._security = security
        self._clock = clock
        self._reauthenticate_at: float | None = None  # a SASL session the broker ends (KIP-368) is renewed then
        try:
            self._wire = WireClient(
                host, port, timeout_s=timeout_s, client_id=client_id, ssl_context=security.ssl_context
            )
        except ssl.SSLCertVerificationError as exc:
            raise ClusterError(f"TLS handshake with {self.address} failed: {exc.verify_message or exc}") from None
        except ssl.SSLError as exc:
            # A plaintext listener closes on, or answers, the ClientHello with something that is not TLS.
            not_tls = isinstance(exc, ssl.SSLEOFError) or exc.reason in _NOT_TLS
            hint = " (is it a TLS listener?)" if not_tls else ""
            raise ClusterError(f"TLS handshake with {self.address} failed: {exc.reason or exc}{hint}") from None
        except OSError as exc:
            raise ClusterError(f"cannot connect to {self.address}: {exc.strerror or exc}") from None
        self.node_id: int | None = None  # set once the cluster's metadata names this broker
        self._versions: dict[int, tuple[int, int]] = {}
        try:
            answer = self._call(ApiKey.API_VERSIONS, 0, {})
            if answer.error_code != ErrorCode.none:
                raise ClusterError(f"{self.address} refused ApiVersions: {ErrorCode(answer.error_code).name}")
            self._versions = {entry.api_key: (entry.min_version, entry.max_version) for entry in answer.api_keys}
            if security.sasl_mechanism is not None:
                self._authenticate()
        except BaseException:
            self._wire.close()
            raise

    def _authenticate(self) -> None:
        """SaslHandshake v1, then SaslAuthenticate until the mechanism is done;
        a refusal is ClusterError naming the broker's error and message. Also
        how a session is renewed (KIP-368) before the broker would end it."""
        from kwire.security.sasl_client import SaslClientError

        client = self._security.new_sasl_client()
        started = self._clock()
        version = self.version(ApiKey.SASL_HANDSHAKE, 1, 1)  # v0 would send the tokens as bare frames
        answer = self._call(ApiKey.SASL_HANDSHAKE, version, dict(mechanism=client.mechanism))
        if answer.error_code == ErrorCode.unsupported_sasl_mechanism:
            raise ClusterError(
                f"authentication to {self.address} failed: UNSUPPORTED_SASL_MECHANISM: the broker offers "
                f"{', '.join(answer.mechanisms) or 'no mechanism'}, not {client.mechanism}"
            )
        if answer.error_code != ErrorCode.none:
            hint = " (is it a SASL listener?)" if answer.error_code == ErrorCode.illegal_sasl_state else ""
            raise ClusterError(
                f"authentication to {self.address} failed: {ErrorCode(answer.error_code).name.upper()}{hint}"
            )
        version = self.version(ApiKey.SASL_AUTHENTICATE, 2, 0)
        message: bytes | None = client.first_message()
        while message is not None:
            answer = self._call(ApiKey.SASL_AUTHENTICATE, version, dict(auth_bytes=message))
            if answer.error_code != ErrorCode.none:
                name = ErrorCode(answer.error_code).name.upper()
                said = " ".join((answer.error_message or "").split())  # one line whatever the broker sent
                raise ClusterError(f"authentication to {self.address} failed: {name}" + (f": {said}" if said else ""))
            try:
                message = client.respond(bytes(answer.auth_bytes))
            except SaslClientError as problem:
                raise ClusterError(f"authentication to {self.address} failed: {problem}") from None
        if not client.complete:
            raise ClusterError(f"authentication to {self.address} failed: the broker ended the exchange early")
        lifetime = getattr(answer, "session_lifetime", None)  # SaslAuthenticate v1+; zero: no limit
        seconds = lifetime.total_seconds() if lifetime is not None else 0.0
        self._reauthenticate_at = started + seconds * _REAUTHENTICATE_AT if seconds > 0 else None

    def _renew_session_if_due(self) -> None:
        if self._reauthenticate_at is not None and self._clock() >= self._reauthenticate_at:
            self._reauthenticate_at = None
            self._authenticate()

    def version(self, api_key: ApiKey, newest_spoken: int, oldest_spoken: int = 0) -> int:
        """The newest version both sides speak; ClusterError if there is none."""
        low, high = self._versions.get(api_key, (0, -1))
        version = min(high, newest_spoken)
        if version < max(low, oldest_spoken):
            raise ClusterError(f"the broker at {self.address} does not serve {api_key.name} as this tool needs it")
        return version

    def call(self, api_key: ApiKey, values: dict[str, Any], newest_spoken: int, oldest_spoken: int = 0) -> Any:
        """Send at the best common version; returns (version, response)."""
        version = self.version(api_key, newest_spoken, oldest_spoken)
        self._renew_session_if_due()
        return version, self._call(api_key, version, values)

    def send(self, api_key: ApiKey, values: dict[str, Any], newest_spoken: int, oldest_spoken: int = 0) -> int:
        """Send a request the broker does not answer (a produce with acks=0); returns the version."""
        version = self.version(api_key, newest_spoken, oldest_spoken)
        self._renew_session_if_due()
        try:
            self._wire.send(api_key, version, values)
        except OSError as exc:
            raise ClusterError(f"{api_key.name} to {self.address} failed: {exc}") from None
        return version

    def _call(self, api_key: ApiKey, version: int, values: dict[str, Any]) -> Any:
        try:
            return self._wire.call(api_key, version, values)
        except (OSError, WireError) as exc:
            raise ClusterError(f"{api_key.name} to {self.address} failed: {exc}") from None

    def close(self) -> None:
        self._wire.close()


class ClusterClient:
    """Connections to a cluster's brokers, opened as needed and kept until close()."""

    def __init__(
        self,
        bootstrap_servers: str,
        settings: dict[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = dict(settings or {})
        self._clock = clock  # monotonic seconds, for renewing SASL sessions
        self.timeout_s = _timeout_s(self.settings.get("request.timeout.ms"))
        self.client_id = self.settings.get("client.id", "kwire-cli")
        self.security = client_security(self.settings)
        self._bootstrap = parse_bootstrap(bootstrap_servers)
        self._by_node: dict[int, Connection] = {}
        self._any: Connection | None = None
        self._brokers: dict[int, tuple[str, int]] = {}

    def any(self) -> Connection:
        """A connection to some broker of the cluster (the first bootstrap server that answers)."""
        if self._any is None:
            errors = []
            for host, port in self._bootstrap:
                try:
                    self._any = Connection(host, port, self.timeout_s, self.client_id, self.security, self._clock)
                    break
                except ClusterError as exc:
                    errors.append(str(exc))
            else:
                raise ClusterError("; ".join(errors))
        return self._any

    def metadata(self, topics: list[str] | None, allow_auto_create: bool = False) -> Any:
        """A Metadata response for `topics` (None: every topic); remembers the brokers."""
        connection = self.any()
        version = connection.version(ApiKey.METADATA, 12, 1)
        wanted = None if topics is None else [dict(name=name, topic_id=None) for name in topics]
        values: dict[str, Any] = dict(
            topics=wanted,
            allow_auto_topic_creation=allow_auto_create,
            include_cluster_authorized_operations=False,
            include_topic_authorized_operations=False,
        )
        _version, answer = connection.call(ApiKey.METADATA, values, version)
        self._brokers = {broker.node_id: (broker.host, broker.port) for broker in answer.brokers}
        return answer

    def node(self, node_id: int) -> Connection:
        """A connection to broker `node_id` (as the last Metadata answer placed it)."""
        if node_id not in self._brokers:
            self.metadata([])
        if node_id not in self._brokers:
            raise ClusterError(f"broker {node_id} is not in the cluster's metadata")
        if node_id not in self._by_node:
            host, port = self._brokers[node_id]
            self._by_node[node_id] = Connection(host, port, self.timeout_s, self.client_id, self.security, self._clock)
            self._by_node[node_id].node_id = node_id
        return self._by_node[node_id]

    def coordinator(self, group_id: str) -> Connection:
        """A connection to the coordinator of consumer group `group_id`."""
        connection = self.any()
        version = connection.version(ApiKey.FIND_COORDINATOR, 3)  # one key per request, any broker
        _version, answer = connection.call(ApiKey.FIND_COORDINATOR, dict(key=group_id, key_type=0), version)
        if answer.error_code != ErrorCode.none:
            raise ClusterError(f"no coordinator for group {group_id}: {ErrorCode(answer.error_code).name}")
        self._brokers.setdefault(answer.node_id, (answer.host, answer.port))
        return self.node(answer.node_id)

    def close(self) -> None:
        for connection in {id(c): c for c in [*self._by_node.values(), *([self._any] if self._any else [])]}.values():
            connection.close()
        self._by_node.clear()
        self._any = None

    def __enter__(self) -> ClusterClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
