"""Throwaway certificates for trying TLS listeners: a CA, a broker certificate
for localhost and the given host names, and client certificates (CN=<name>).

For tests and laptops only: keys are written unencrypted (EC P-256, fast to
make). `kwire certs DIR` calls `make_test_certificates` and prints the
`ssl.*` settings that use the files.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

DEFAULT_DAYS = 365


@attrs.frozen
class TestCertificates:
    """Where `make_test_certificates` put each file."""

    directory: Path
    ca: Path  # ca.pem: the CA certificate, the truststore of both sides
    ca_key: Path  # ca-key.pem
    broker: Path  # broker.pem: certificate chain then private key (Kafka's PEM keystore)
    broker_key: Path  # broker-key.pem: the private key alone
    broker_certificate: Path  # broker-cert.pem: the certificate chain alone
    broker_p12: Path  # broker.p12: the same, PKCS12, encrypted with p12_password
    p12_password: str
    clients: dict[str, tuple[Path, Path]]  # name -> (<name>.pem certificate, <name>-key.pem key); subject CN=<name>

    def broker_settings(self, client_auth: str = "required") -> dict[str, str]:
        """`ssl.*` settings for a broker using the PEM files."""
        return {
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.broker),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.ca),
            "ssl.client.auth": client_auth,
        }

    def broker_p12_settings(self, client_auth: str = "required") -> dict[str, str]:
        """`ssl.*` settings for a broker using the PKCS12 keystore."""
        return {
            "ssl.keystore.type": "PKCS12",
            "ssl.keystore.location": str(self.broker_p12),
            "ssl.keystore.password": self.p12_password,
            "ssl.key.password": self.p12_password,
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.ca),
            "ssl.client.auth": client_auth,
        }

    def client_settings(self, name: str) -> dict[str, str]:
        """librdkafka-style client settings (confluent-kafka) for client `name`."""
        certificate, key = self.clients[name]
        return {
            "security.protocol": "SSL",
            "ssl.ca.location": str(self.ca),
            "ssl.certificate.location": str(certificate),
            "ssl.key.location": str(key),
        }


def make_test_certificates(
    directory: str | os.PathLike[str],
    hosts: Iterable[str] = (),
    clients: Iterable[str] = ("client",),
    days: int = DEFAULT_DAYS,
    p12_password: str | None = None,
) -> TestCertificates:
    """A fresh CA, broker and client certificates written into `directory`
    (created if needed; existing files of the same names are replaced)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    if days < 1:
        raise ValueError("days must be at least 1")
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)  # clocks drift a little
    until = now + datetime.timedelta(days=days)

    def name(common_name: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kwire test"),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )

    def builder(subject: x509.Name, issuer: x509.Name, key: Any) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(until)
        )

    def key_pem(key: Any) -> bytes:
        return bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )

    def write(path: Path, data: bytes, private: bool = False) -> Path:
        path.write_bytes(data)
        if private:
            path.chmod(0o600)
        return path

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kwire test"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"kwire test CA {secrets.token_hex(4)}"),
        ]
    )
    ca_certificate = (
        builder(ca_name, ca_name, ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # keyCertSign, cRLSign
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca_certificate.public_bytes(serialization.Encoding.PEM)

    def leaf(
        common_name: str, usage: Any, alternative: list[x509.GeneralName] | None, subject: x509.Name | None = None
    ) -> tuple[Any, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        made = (
            builder(subject or name(common_name), ca_name, key)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, False, False, True, False, False, False, False), critical=True
            )  # digitalSignature, keyAgreement
            .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        )
        if alternative:
            made = made.add_extension(x509.SubjectAlternativeName(alternative), critical=False)
        return key, made.sign(ca_key, hashes.SHA256())

    host_names = list(dict.fromkeys(["localhost", "127.0.0.1", "::1", *hosts]))
    alternative: list[x509.GeneralName] = []
    for host in host_names:
        try:
            alternative.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alternative.append(x509.DNSName(host))
    broker_key, broker_certificate = leaf(
        host_names[3] if len(host_names) > 3 else "localhost",
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],  # brokers are clients of each other
        alternative,
    )
    broker_chain = broker_certificate.public_bytes(serialization.Encoding.PEM) + ca_pem
    password = p12_password if p12_password is not None else secrets.token_urlsafe(12)
    p12 = pkcs12.serialize_key_and_certificates(
        b"broker",
        broker_key,
        broker_certificate,
        [ca_certificate],
        serialization.BestAvailableEncryption(password.encode("utf-8")),
    )
    made_clients: dict[str, tuple[Path, Path]] = {}
    for client in dict.fromkeys(clients):
        if not client or "/" in client or client.startswith("."):
            raise ValueError(f"client name {client!r} cannot be a file name")
        client_key, client_certificate = leaf(
            client,
            [ExtendedKeyUsageOID.CLIENT_AUTH],
            None,
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, client)]),
        )
        made_clients[client] = (
            write(folder / f"{client}.pem", client_certificate.public_bytes(serialization.Encoding.PEM)),
            write(folder / f"{client}-key.pem", key_pem(client_key), private=True),
        )
    return TestCertificates(
        directory=folder,
        ca=write(folder / "ca.pem", ca_pem),
        ca_key=write(folder / "ca-key.pem", key_pem(ca_key), private=True),
        broker=write(folder / "broker.pem", broker_chain + key_pem(broker_key), private=True),
        broker_key=write(folder / "broker-key.pem", key_pem(broker_key), private=True),
        broker_certificate=write(folder / "broker-cert.pem", broker_chain),
        broker_p12=write(folder / "broker.p12", p12, private=True),
        p12_password=password,
        clients=made_clients,
    )


def settings_text(made: TestCertificates) -> str:
    """What `kwire certs` prints: broker settings (PEM and PKCS12) and client settings."""
    lines = ["# Broker, PEM keystore (e.g. kwire serve -o ...):"]
    lines += [f"{key}={value}" for key, value in made.broker_settings().items()]
    lines += ["", "# Broker, PKCS12 keystore instead:"]
    lines += [f"{key}={value}" for key, value in made.broker_p12_settings().items()]
    for client in made.clients:
        lines += ["", f"# Client {client!r} (librdkafka / confluent-kafka), principal User:CN={client}:"]
        lines += [f"{key}={value}" for key, value in made.client_settings(client).items()]
    lines += ["", "# To name clients User:<CN> instead of User:CN=<CN>, add to the broker:"]
    lines += ["ssl.principal.mapping.rules=RULE:^CN=([^,]+)(,.*)?$/$1/,DEFAULT"]
    lines += ["", f"# PKCS12 password of {made.broker_p12}: {made.p12_password}"]
    return "\n".join(lines) + "\n"
