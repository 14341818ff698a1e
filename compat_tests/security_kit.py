"""Shared pieces of the security compat tests (compat_tests/test_security_*.py):
test certificates, a kwire started from a Kafka-style server.properties with
PLAINTEXT, SSL, SASL_PLAINTEXT and SASL_SSL listeners, each real client's
options for a protocol and an identity, JWTs (unsecured and RS256-signed with
a JWKS file), and admin calls (topics, ACLs, SCRAM users) made as a given
identity."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime
import json
import logging
import random
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from compat_tests.broker import KwireProcess

TIMEOUT_S = 20
PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")
SCRAM_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")
MECHANISMS = ("PLAIN", *SCRAM_MECHANISMS, "OAUTHBEARER")
CLIENTS = ("kafka-python", "confluent-kafka", "aiokafka")

# PLAIN users from the JAAS line; the same names get SCRAM credentials.
USERS = {"admin": "admin-secret", "alice": "alice-secret", "bob": "bob-secret"}
SUPER_USER = "admin"
STANDARD_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"


def plain_jaas(users: dict[str, str] = USERS) -> str:
    options = " ".join(f'user_{name}="{password}"' for name, password in users.items())
    return f"org.apache.kafka.common.security.plain.PlainLoginModule required {options};"


def free_ports(count: int) -> list[int]:
    """`count` distinct ports free just now on 127.0.0.1."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def free_port_block(count: int, attempts: int = 200) -> int:
    """A port P with P..P+count-1 all bindable just now, below the usual
    ephemeral range (so no client's outgoing connection, nor its TIME_WAIT,
    sits in the block): for a cluster whose nodes take a listener's port + 0..N-1."""
    rng = random.Random()
    for _ in range(attempts):
        base = rng.randrange(20000, 32000 - count)
        sockets = []
        try:
            for port in range(base, base + count):
                probe = socket.socket()
                sockets.append(probe)
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the broker binds
                probe.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for probe in sockets:
                probe.close()
    raise RuntimeError(f"no {count} consecutive free ports found")


# --- certificates --------------------------------------------------------------------


@dataclass
class Certificates:
    """PEM files: the CA that signed everything (ssl.truststore.location),
    the broker's chain and key (ssl.keystore.location), and per client name
    a certificate and its key."""

    ca: Path
    broker: Path
    clients: dict[str, tuple[Path, Path]]

    def client_cert(self, name: str) -> Path:
        return self.clients[name][0]

    def client_key(self, name: str) -> Path:
        return self.clients[name][1]

    def principal(self, name: str) -> str:
        """The client certificate's principal under Kafka's DEFAULT mapping:
        User: and the subject as an RFC 2253 string (CN first)."""
        from cryptography import x509

        subject = x509.load_pem_x509_certificate(self.client_cert(name).read_bytes()).subject
        return f"User:{subject.rfc4514_string()}"


def make_certificates(directory: Path, clients: tuple[str, ...] = ("alice", "bob")) -> Certificates:
    """A CA, a broker certificate for 127.0.0.1 / localhost and one client
    certificate per name, all in `directory`: kwire's own test certificates
    (kwire.security.cert_maker, what `kwire certs` writes) where kwire has
    them, else made here."""
    try:
        from kwire.security.cert_maker import make_test_certificates
    except ImportError:
        return _make_certificates(directory, clients)
    made = make_test_certificates(directory, clients=clients)
    return Certificates(made.ca, made.broker, dict(made.clients))


def _make_certificates(directory: Path, clients: tuple[str, ...]) -> Certificates:
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = _self_signed_ca("kwire test CA")
    _write(directory / "ca.pem", _cert_pem(ca_cert))
    broker_key, broker_cert = _issued(ca_key, ca_cert, "localhost", server=True)
    _write(directory / "broker.pem", _cert_pem(broker_cert) + _cert_pem(ca_cert) + _key_pem(broker_key))
    made = {}
    for name in clients:
        key, cert = _issued(ca_key, ca_cert, name, server=False)
        made[name] = (directory / f"{name}-cert.pem", directory / f"{name}-key.pem")
        _write(made[name][0], _cert_pem(cert))
        _write(made[name][1], _key_pem(key))
    return Certificates(directory / "ca.pem", directory / "broker.pem", made)


def make_foreign_client(directory: Path, name: str) -> tuple[Path, Path]:
    """A client certificate (CN=name) signed by a CA the broker does not trust."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = _self_signed_ca("not the broker's CA")
    key, cert = _issued(ca_key, ca_cert, name, server=False)
    cert_path, key_path = directory / f"{name}-cert.pem", directory / f"{name}-key.pem"
    _write(cert_path, _cert_pem(cert))
    _write(key_path, _key_pem(key))
    return cert_path, key_path


def _write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def _new_key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _validity(builder):
    now = datetime.datetime.now(datetime.UTC)
    return builder.not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))


def _self_signed_ca(common_name: str):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
    builder = _validity(builder).serial_number(x509.random_serial_number())
    builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    builder = builder.add_extension(
        x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
    )
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    return key, builder.sign(key, hashes.SHA256())


def _issued(ca_key, ca_cert, common_name: str, server: bool):
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = _new_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject)
    builder = _validity(builder.public_key(key.public_key())).serial_number(x509.random_serial_number())
    builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
    )
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server:
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def _cert_pem(cert) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


# --- JWTs (OAUTHBEARER) -----------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64_json(value: dict) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def claims(subject: str, lifetime_s: float = 3600, **more: Any) -> dict[str, Any]:
    """sub, iat and exp (now + lifetime_s; negative: already expired), plus `more`."""
    now = int(time.time())
    return {"sub": subject, "iat": now - 60 if lifetime_s < 0 else now, "exp": int(now + lifetime_s), **more}


def unsecured_jwt(subject: str, lifetime_s: float = 3600, **more: Any) -> str:
    """An unsecured JWS (alg none, empty signature), as Kafka's default
    OAUTHBEARER validator takes when no JWKS is configured."""
    return f"{_b64_json({'alg': 'none'})}.{_b64_json(claims(subject, lifetime_s, **more))}."


@dataclass
class SigningKey:
    """An RSA key for RS256 tokens and its JWKS entry."""

    kid: str
    private_key: Any = field(repr=False)

    @classmethod
    def generate(cls, kid: str) -> SigningKey:
        from cryptography.hazmat.primitives.asymmetric import rsa

        return cls(kid, rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def jwk(self) -> dict[str, str]:
        numbers = self.private_key.public_key().public_numbers()

        def as_b64(value: int) -> str:
            return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))

        return {
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "alg": "RS256",
            "n": as_b64(numbers.n),
            "e": as_b64(numbers.e),
        }

    def sign(self, payload: dict[str, Any]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        signing_input = f"{_b64_json({'alg': 'RS256', 'typ': 'JWT', 'kid': self.kid})}.{_b64_json(payload)}"
        signature = self.private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64(signature)}"


def write_jwks(path: Path, keys: list[SigningKey]) -> Path:
    path.write_text(json.dumps({"keys": [key.jwk() for key in keys]}))
    return path


# --- identities and each client's options -----------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """Who a client is: a SASL mechanism with a user and password, or a
    token maker for OAUTHBEARER (None: the client's own unsecured token for
    `user`), and/or a client certificate by name."""

    mechanism: str | None = None
    user: str | None = None
    password: str | None = None
    token: Callable[[], str] | None = None
    certificate: str | None = None
    foreign_certificate: tuple[Path, Path] | None = None  # (cert, key) from an untrusted CA


def user(name: str, mechanism: str = "PLAIN", password: str | None = None) -> Identity:
    """A user of USERS by mechanism (OAUTHBEARER: an unsecured token for the name)."""
    if mechanism == "OAUTHBEARER":
        return Identity("OAUTHBEARER", name)  # confluent-kafka: librdkafka's own unsecured token
    return Identity(mechanism, name, USERS[name] if password is None else password)


ANONYMOUS = Identity()


def options(client: str, protocol: str, certs: Certificates | None, identity: Identity = ANONYMOUS) -> dict[str, Any]:
    """The extra options (clients.py's **extra) that make `client` speak
    `protocol` as `identity`."""
    if client == "confluent-kafka":
        return _confluent_options(protocol, certs, identity)
    if client == "kafka-python":
        return _kafka_python_options(protocol, certs, identity)
    return _aiokafka_options(protocol, certs, identity)


def _certificate_files(certs: Certificates | None, identity: Identity) -> tuple[str, str] | None:
    if identity.foreign_certificate is not None:
        return str(identity.foreign_certificate[0]), str(identity.foreign_certificate[1])
    if identity.certificate is None:
        return None
    assert certs is not None
    return str(certs.client_cert(identity.certificate)), str(certs.client_key(identity.certificate))


def _confluent_options(protocol: str, certs: Certificates | None, identity: Identity) -> dict[str, Any]:
    config: dict[str, Any] = {"security.protocol": protocol}
    if "SSL" in protocol:
        assert certs is not None
        config["ssl.ca.location"] = str(certs.ca)
        files = _certificate_files(certs, identity)
        if files:
            config["ssl.certificate.location"], config["ssl.key.location"] = files
    if protocol.startswith("SASL"):
        config["sasl.mechanism"] = identity.mechanism
        if identity.mechanism == "OAUTHBEARER":
            if identity.token is None:
                config["enable.sasl.oauthbearer.unsecure.jwt"] = True
                config["sasl.oauthbearer.config"] = f"principal={identity.user}"
            else:
                make = identity.token
                # librdkafka wants the token's lifetime too; an hour, whatever the token says,
                # so that an expired token is still sent and the broker is the one refusing it.
                config["oauth_cb"] = lambda _config: (make(), time.time() + 3600)
        else:
            config["sasl.username"], config["sasl.password"] = identity.user, identity.password
    return config


def _kafka_python_options(protocol: str, certs: Certificates | None, identity: Identity) -> dict[str, Any]:
    config: dict[str, Any] = {"security_protocol": protocol}
    if "SSL" in protocol:
        assert certs is not None
        config["ssl_cafile"] = str(certs.ca)
        files = _certificate_files(certs, identity)
        if files:
            config["ssl_certfile"], config["ssl_keyfile"] = files
    if protocol.startswith("SASL"):
        config["sasl_mechanism"] = identity.mechanism
        if identity.mechanism == "OAUTHBEARER":
            config["sasl_oauth_token_provider"] = _kafka_python_token_provider(identity)
        else:
            config["sasl_plain_username"], config["sasl_plain_password"] = identity.user, identity.password
    return config


def _kafka_python_token_provider(identity: Identity):
    from kafka.net.sasl.oauth import AbstractTokenProvider

    make = identity.token or (lambda: unsecured_jwt(identity.user or ""))

    class Provider(AbstractTokenProvider):
        def token(self) -> str:
            return make()

    return Provider()


def aiokafka_ssl_context(certs: Certificates, identity: Identity = ANONYMOUS) -> ssl.SSLContext:
    from aiokafka.helpers import create_ssl_context

    files = _certificate_files(certs, identity)
    if files:
        return create_ssl_context(cafile=str(certs.ca), certfile=files[0], keyfile=files[1])
    return create_ssl_context(cafile=str(certs.ca))


def _aiokafka_options(protocol: str, certs: Certificates | None, identity: Identity) -> dict[str, Any]:
    config: dict[str, Any] = {"security_protocol": protocol}
    if "SSL" in protocol:
        assert certs is not None
        config["ssl_context"] = aiokafka_ssl_context(certs, identity)
    if protocol.startswith("SASL"):
        config["sasl_mechanism"] = identity.mechanism
        if identity.mechanism == "OAUTHBEARER":
            from aiokafka.abc import AbstractTokenProvider

            make = identity.token or (lambda: unsecured_jwt(identity.user or ""))

            class Provider(AbstractTokenProvider):
                async def token(self) -> str:
                    return make()

            config["sasl_oauth_token_provider"] = Provider()
        else:
            config["sasl_plain_username"], config["sasl_plain_password"] = identity.user, identity.password
    return config


@pytest.fixture(scope="session")
def test_certificates(tmp_path_factory) -> Certificates:
    """One CA, broker and client (alice, bob) certificates for the whole session."""
    return make_certificates(tmp_path_factory.mktemp("certificates"))


# --- the broker ------------------------------------------------------------------------------


@dataclass
class SecureKwire:
    """A `kwire serve --config server.properties` with one listener per
    security protocol (PROTOCOLS), each under its protocol's name."""

    process: KwireProcess
    ports: dict[str, int]
    certs: Certificates
    properties: Path

    def bootstrap(self, protocol: str = "PLAINTEXT") -> str:
        return f"127.0.0.1:{self.ports[protocol]}"

    def address(self, protocol: str) -> tuple[str, int]:
        return "127.0.0.1", self.ports[protocol]

    def alive(self) -> bool:
        return self.process.alive()

    def restart(self) -> SecureKwire:
        self.process.restart()
        return self

    def kill(self) -> None:
        self.process.kill()

    def log_tail(self, chars: int = 5000) -> str:
        return self.process.log_path.read_text(errors="replace")[-chars:]


def server_properties(
    directory: Path, ports: dict[str, int], certs: Certificates, settings: dict[str, str] | None = None
) -> str:
    """A Kafka server.properties for one node with every listener of PROTOCOLS
    (its data in directory/data), TLS from `certs`, PLAIN users USERS on both
    SASL listeners, and `settings` on top (a value of None leaves a key out)."""
    jaas = plain_jaas()
    values: dict[str, str | None] = {
        "node.id": "1",
        "listeners": ",".join(f"{protocol}://127.0.0.1:{ports[protocol]}" for protocol in PROTOCOLS),
        "log.dirs": str(directory / "data"),
        "num.partitions": "1",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "group.initial.rebalance.delay.ms": "0",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(certs.broker),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(certs.ca),
        "ssl.client.auth": "requested",
        "sasl.enabled.mechanisms": ",".join(MECHANISMS),
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": jaas,
        "listener.name.sasl_ssl.plain.sasl.jaas.config": jaas,
    }
    values.update(settings or {})
    return "".join(f"{key}={value}\n" for key, value in values.items() if value is not None)


def authorizer_settings(super_users: str = f"User:{SUPER_USER}") -> dict[str, str]:
    return {
        "authorizer.class.name": STANDARD_AUTHORIZER,
        "super.users": super_users,
        "allow.everyone.if.no.acl.found": "false",
    }


def start_secure_kwire(directory: Path, certs: Certificates, settings: dict[str, str] | None = None) -> SecureKwire:
    """Start kwire as a user would with server_properties(...) in
    directory/server.properties; the caller kills it."""
    directory.mkdir(parents=True, exist_ok=True)
    ports = dict(zip(PROTOCOLS, free_ports(len(PROTOCOLS)), strict=True))
    path = directory / "server.properties"
    path.write_text(server_properties(directory, ports, certs, settings))
    process = KwireProcess(None, directory / "kwire.log", ["--config", str(path)], bare=True).start()
    return SecureKwire(process, ports, certs, path)


@contextlib.contextmanager
def secure_kwire_with_users(
    directory: Path, certs: Certificates, settings: dict[str, str] | None = None
) -> Iterator[SecureKwire]:
    """A started kwire whose USERS also have SCRAM credentials (set over
    PLAINTEXT: no authorizer), killed when the block ends."""
    broker = start_secure_kwire(directory, certs, settings)
    try:
        for name, password in USERS.items():
            set_scram_password(broker.bootstrap(), {}, name, password)
        yield broker
    finally:
        broker.kill()


def log_on_failure(request: Any, *brokers: SecureKwire) -> None:
    """Print the brokers' log tails if the test that just ran failed (an
    autouse fixture's teardown, see compat_tests/conftest.py's rep_call_failed)."""
    if getattr(request.node, "rep_call_failed", False):
        for broker in brokers:
            print(f"--- {broker.process.log_path}\n{broker.log_tail()}")


# --- admin calls as an identity --------------------------------------------------------------


def confluent_admin(bootstrap: str, extra: dict[str, Any]):
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap, **extra})


def create_topic(bootstrap: str, name: str, extra: dict[str, Any], partitions: int = 1, replication: int = 1) -> None:
    """As whoever confluent-kafka `extra` says (confluent options)."""
    from confluent_kafka.admin import NewTopic

    topic = NewTopic(name, partitions, replication)
    admin = confluent_admin(bootstrap, extra)  # kept alive until its futures are done
    futures = admin.create_topics([topic], request_timeout=10)
    futures[name].result(TIMEOUT_S)


def broker_ports(bootstrap: str, extra: dict[str, Any]) -> dict[int, int]:
    """Node id -> the port Metadata tells confluent-kafka for it."""
    metadata = confluent_admin(bootstrap, extra).list_topics(timeout=TIMEOUT_S)
    return {broker.id: broker.port for broker in metadata.brokers.values()}


def visible_topics(bootstrap: str, extra: dict[str, Any]) -> set[str]:
    metadata = confluent_admin(bootstrap, extra).list_topics(timeout=TIMEOUT_S)
    return set(metadata.topics)


# confluent-kafka calls Kafka's CLUSTER resource type BROKER (the same wire code, 4).
_CONFLUENT_RESOURCE_TYPES = {"CLUSTER": "BROKER"}


def acl_binding(
    principal: str,
    operation: str,
    resource_type: str,
    name: str,
    pattern: str = "LITERAL",
    permission: str = "ALLOW",
    host: str = "*",
):
    """A confluent-kafka AclBinding from Kafka's names (operation READ,
    resource type TOPIC, pattern LITERAL / PREFIXED, permission ALLOW / DENY)."""
    from confluent_kafka.admin import AclBinding, AclOperation, AclPermissionType, ResourcePatternType, ResourceType

    return AclBinding(
        ResourceType[_CONFLUENT_RESOURCE_TYPES.get(resource_type, resource_type)],
        name,
        ResourcePatternType[pattern],
        principal,
        host,
        AclOperation[operation],
        AclPermissionType[permission],
    )


def create_acls(bootstrap: str, extra: dict[str, Any], *bindings) -> None:
    admin = confluent_admin(bootstrap, extra)  # kept alive until its futures are done
    futures = admin.create_acls(list(bindings), request_timeout=10)
    for future in futures.values():
        future.result(TIMEOUT_S)


def allow(bootstrap: str, extra: dict[str, Any], principal: str, operation: str, resource_type: str, name: str, **kw):
    create_acls(bootstrap, extra, acl_binding(principal, operation, resource_type, name, **kw))


def describe_acls(bootstrap: str, extra: dict[str, Any], principal: str | None = None) -> set[tuple]:
    """Every ACL (of `principal`, or all) as (principal, host, operation,
    permission, resource type, name, pattern) tuples of Kafka's names."""
    from confluent_kafka.admin import (
        AclBindingFilter,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    everything = AclBindingFilter(
        ResourceType.ANY, None, ResourcePatternType.ANY, principal, None, AclOperation.ANY, AclPermissionType.ANY
    )
    admin = confluent_admin(bootstrap, extra)  # kept alive until its futures are done
    found = admin.describe_acls(everything, request_timeout=10).result(TIMEOUT_S)
    return {_acl_tuple(binding) for binding in found}


def _acl_tuple(binding) -> tuple:
    return (
        binding.principal,
        binding.host,
        binding.operation.name,
        binding.permission_type.name,
        "CLUSTER" if binding.restype.name == "BROKER" else binding.restype.name,
        binding.name,
        binding.resource_pattern_type.name,
    )


def set_scram_password(
    bootstrap: str, extra: dict[str, Any], name: str, password: str, mechanisms=SCRAM_MECHANISMS
) -> None:
    """Create or replace SCRAM credentials (confluent-kafka AlterUserScramCredentials)."""
    from confluent_kafka.admin import ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion

    admin = confluent_admin(bootstrap, extra)  # kept alive until its futures are done
    # One request per mechanism: Kafka refuses a user named twice in one
    # request (DUPLICATE_RESOURCE), even for two mechanisms.
    for mechanism in mechanisms:
        info = ScramCredentialInfo(ScramMechanism[mechanism.replace("-", "_")], 4096)
        upsert = UserScramCredentialUpsertion(name, info, password.encode())
        futures = admin.alter_user_scram_credentials([upsert], request_timeout=10)
        for future in futures.values():
            future.result(TIMEOUT_S)


# --- what a client reports --------------------------------------------------------------------


class _LoggedErrors(logging.Handler):
    """What kafka-python and aiokafka log on the way (they log an
    authentication failure, then raise a generic connection error)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.names: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        self.names.extend(type(arg).__name__ for arg in args if isinstance(arg, BaseException))
        self.names.extend(re.findall(r"\b(\w+(?:Error|Failed))\b", record.getMessage()))


GENERIC_ERRORS = ("NoBrokersAvailable", "KafkaConnectionError", "KafkaTimeoutError", "TimeoutError")


def _reported(raised: BaseException, logged: _LoggedErrors) -> str:
    """The raised error's class name; for a generic connection error, the
    last authentication or authorization error the client logged (if any)."""
    name = type(raised).__name__
    if name in GENERIC_ERRORS or name == "KafkaError":  # KafkaError: kafka-python's "Unexpected error in ..."
        said = re.findall(r"\b(\w+(?:Error|Failed))\b", str(raised))
        specific = [n for n in logged.names + said if "Authentication" in n or "Authorization" in n]
        if specific:
            return specific[-1]
    return name


def produce_error(client: str, bootstrap: str, topic: str, extra: dict[str, Any], timeout_s: float = 10) -> str:
    """Try to produce one message; the name of the error the client reports
    ("" when it was delivered): confluent-kafka's KafkaError name (its
    delivery error, else the first error_cb one), kafka-python's and
    aiokafka's exception class name (see _reported)."""
    if client == "confluent-kafka":
        return _confluent_produce_error(bootstrap, topic, extra, timeout_s)
    logged = _LoggedErrors()
    logger = logging.getLogger("kafka" if client == "kafka-python" else "aiokafka")
    logger.addHandler(logged)
    try:
        if client == "kafka-python":
            return _kafka_python_produce_error(bootstrap, topic, extra, timeout_s, logged)
        return asyncio.run(_aiokafka_produce_error(bootstrap, topic, extra, timeout_s, logged))
    finally:
        logger.removeHandler(logged)


def _kafka_python_produce_error(bootstrap, topic, extra, timeout_s, logged) -> str:
    from kafka import KafkaProducer

    try:
        # Not idempotent unless asked: an idempotent producer also needs
        # IdempotentWrite on the cluster or Write on some topic (InitProducerId).
        settings = {"enable_idempotence": False, **extra}
        # kafka-python retries a refused bootstrap until its timeout and logs
        # why: 2 s is ample for a local TLS and SASL exchange, and a refusal
        # is then read from the log without waiting longer.
        producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            max_block_ms=int(min(timeout_s * 500, 2000)),
            bootstrap_timeout_ms=int(min(timeout_s * 500, 2000)),
            request_timeout_ms=10_000,
            **settings,
        )
    except Exception as error:
        return _reported(error, logged)
    try:
        producer.send(topic, b"x").get(timeout_s)
        return ""
    except Exception as error:
        return _reported(error, logged)
    finally:
        producer.close(5)


async def _aiokafka_produce_error(bootstrap, topic, extra, timeout_s, logged) -> str:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=10_000, **extra)
    try:
        await asyncio.wait_for(producer.start(), timeout_s)
        await asyncio.wait_for(producer.send_and_wait(topic, b"x"), timeout_s)
        return ""
    except Exception as error:
        return _reported(error, logged)
    finally:
        await producer.stop()


# librdkafka errors (error_cb) after which nothing will be delivered.
_CONFLUENT_GIVE_UP = ("_AUTHENTICATION", "_SSL", "_ALL_BROKERS_DOWN", "_FATAL")


def _confluent_produce_error(bootstrap: str, topic: str, extra: dict[str, Any], timeout_s: float) -> str:
    from confluent_kafka import Producer

    errors: list[Any] = []
    delivery: list[Any] = []
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "message.timeout.ms": int(timeout_s * 1000),
            "error_cb": errors.append,
            **extra,
        }
    )
    producer.produce(topic, b"x", on_delivery=lambda error, _message: delivery.append(error))
    deadline = time.monotonic() + timeout_s + 5
    while not delivery and time.monotonic() < deadline:
        producer.poll(0.1)
        # An authentication or TLS failure is reported here; the delivery would only time out.
        given_up = [e.name() for e in errors if e.name() in _CONFLUENT_GIVE_UP]
        if given_up:
            return given_up[0]
    if delivery and delivery[0] is None:
        return ""
    if delivery:
        return delivery[0].name()
    return errors[0].name() if errors else "not delivered"


def confluent_errors(bootstrap: str, extra: dict[str, Any], timeout_s: float = 10) -> list[Any]:
    """The errors (KafkaError) librdkafka reports through error_cb while
    asking for metadata as `extra`."""
    from confluent_kafka.admin import AdminClient

    errors: list[Any] = []
    admin = AdminClient({"bootstrap.servers": bootstrap, "error_cb": errors.append, **extra})
    try:
        admin.list_topics(timeout=timeout_s)
    except Exception as error:
        errors.append(error.args[0] if error.args else error)
    admin.poll(0)
    return errors


# --- raw SASL over a socket (compat_tests/raw.py) ----------------------------------------------

SASL_HANDSHAKE, SASL_AUTHENTICATE = 17, 36
SASL_AUTHENTICATION_FAILED, UNSUPPORTED_SASL_MECHANISM = 58, 33


def sasl_handshake(sock: socket.socket, mechanism: str, version: int = 1, correlation_id: int = 1):
    from compat_tests.raw import call

    return call(sock, SASL_HANDSHAKE, version, {"mechanism": mechanism}, correlation_id)


def sasl_authenticate(sock: socket.socket, auth_bytes: bytes, version: int = 2, correlation_id: int = 2):
    from compat_tests.raw import call

    return call(sock, SASL_AUTHENTICATE, version, {"auth_bytes": auth_bytes}, correlation_id)


def plain_login(sock: socket.socket, name: str, password: str, version: int = 2):
    """SaslHandshake PLAIN then one SaslAuthenticate; the SaslAuthenticate response."""
    assert sasl_handshake(sock, "PLAIN").error_code == 0
    return sasl_authenticate(sock, b"\0" + name.encode() + b"\0" + password.encode(), version)


class ScramClient:
    """The client side of SCRAM (RFC 5802) for one exchange; `forge=True`
    sends a proof made from a wrong password."""

    def __init__(self, mechanism: str, name: str, password: str) -> None:
        import hashlib
        import os

        self.hash = {"SCRAM-SHA-256": hashlib.sha256, "SCRAM-SHA-512": hashlib.sha512}[mechanism]
        self.hash_name = self.hash().name
        self.name, self.password = name, password
        self.nonce = base64.b64encode(os.urandom(18)).decode()
        self.first_bare = f"n={name},r={self.nonce}"

    def client_first(self) -> bytes:
        return f"n,,{self.first_bare}".encode()

    def client_final(self, server_first: bytes, forge: bool = False, nonce_prefix: str = "") -> bytes:
        """`nonce_prefix` goes before the server's nonce in r= (librdkafka
        2.0.2 repeats its own nonce there; Kafka checks only that r= ends
        with the nonce it sent)."""
        import hashlib
        import hmac

        fields = dict(item.split("=", 1) for item in server_first.decode().split(","))
        assert fields["r"].startswith(self.nonce)
        password = (self.password + "-forged" if forge else self.password).encode()
        salted = hashlib.pbkdf2_hmac(self.hash_name, password, base64.b64decode(fields["s"]), int(fields["i"]))
        client_key = hmac.new(salted, b"Client Key", self.hash).digest()
        stored_key = self.hash(client_key).digest()
        without_proof = f"c=biws,r={nonce_prefix}{fields['r']}"
        message = f"{self.first_bare},{server_first.decode()},{without_proof}".encode()
        signature = hmac.new(stored_key, message, self.hash).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()
