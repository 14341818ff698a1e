"""A listener's TLS server context built from Kafka's `ssl.*` settings, and the
principal a client certificate names.

Keystores and truststores are read as Kafka's default SSL engine factory reads
them (PEM files, PEM text in the settings, PKCS12), with its rules about which
settings go together; a JKS file cannot be read here and is refused with the
keytool command that converts it. Every problem is a StartupError of one line
naming the setting and the path.

`cryptography` (PKCS12) is imported only when a PKCS12 file is met, so the
common PEM case costs `kwire serve` nothing at start-up.
"""

from __future__ import annotations

import logging
import os
import re
import ssl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kwire.config import BrokerConfig
from kwire.errors import StartupError
from kwire.security.ssl_principal import PrincipalMappingError, principal_of, validate_rules

__all__ = ["PrincipalMappingError", "principal_of", "server_context", "validate_rules"]

log = logging.getLogger("kwire.security.tls")

_CLIENT_AUTH = {"required": ssl.CERT_REQUIRED, "requested": ssl.CERT_OPTIONAL, "none": ssl.CERT_NONE}
_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}
_STORE_TYPES = ("JKS", "PKCS12", "PEM")
# The first bytes of Java's own keystore formats (JKS, JCEKS).
_JAVA_KEYSTORE_MAGIC = (b"\xfe\xed\xfe\xed", b"\xce\xce\xce\xce")
_PEM_MARK = b"-----BEGIN "
_MAX_STORE_BYTES = 16 << 20  # a keystore is kilobytes; a bigger file is a wrong path


class Settings:
    """One listener's `ssl.*` values, and the name to blame for each (the
    `listener.name.<l>.` form when that is the one in effect)."""

    def __init__(self, config: BrokerConfig, listener: str) -> None:
        self._config = config
        self.listener = listener

    def get(self, name: str) -> str | None:
        value = self._config.listener_setting(self.listener, name)
        return None if value is None or value == "" else value

    def label(self, name: str) -> str:
        key = f"listener.name.{self.listener.lower()}.{name}"
        return key if key in self._config.listener_overrides else name


def server_context(config: BrokerConfig, listener: str, protocol: str = "SSL") -> ssl.SSLContext:
    """The TLS server context for `listener` (a listener name such as "SSL"),
    whose security protocol is `protocol` (SSL or SASL_SSL); raises
    StartupError (one line naming the setting and path) when a setting, file
    or password is wrong."""
    settings = Settings(config, listener)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    set_versions(context, settings)
    load_keystore(context, settings)
    _set_client_auth(context, settings, protocol)
    load_truststore(context, settings)
    set_ciphers(context, settings)
    rules = settings.get("ssl.principal.mapping.rules") or "DEFAULT"
    validate_rules(rules, settings.label("ssl.principal.mapping.rules"))
    return context


def _choice(settings: Settings, name: str, choices: tuple[str, ...], default: str) -> str:
    value = (settings.get(name) or default).strip()
    for choice in choices:
        if value.lower() == choice.lower():
            return choice
    raise StartupError(
        f"Invalid value {value} for configuration {settings.label(name)}: must be one of {', '.join(choices)}"
    )


def _listed(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def set_versions(context: ssl.SSLContext, settings: Settings) -> None:
    # ssl.protocol names the JVM's SSLContext; on a Java 11+ broker the
    # versions actually offered are ssl.enabled.protocols, so that decides.
    _choice(settings, "ssl.protocol", ("TLS", "TLSv1.2", "TLSv1.3"), "TLSv1.3")
    label = settings.label("ssl.enabled.protocols")
    names = _listed(settings.get("ssl.enabled.protocols") or "TLSv1.2,TLSv1.3")
    unknown = [name for name in names if name not in _VERSIONS]
    if unknown or not names:
        raise StartupError(
            f"Invalid value {','.join(names)} for configuration {label}: kwire supports TLSv1.2 and TLSv1.3"
        )
    versions = sorted(_VERSIONS[name] for name in names)
    context.minimum_version, context.maximum_version = versions[0], versions[-1]


def _set_client_auth(context: ssl.SSLContext, settings: Settings, protocol: str) -> None:
    mode = _choice(settings, "ssl.client.auth", tuple(_CLIENT_AUTH), "none")
    if protocol.upper() == "SASL_SSL" and settings.label("ssl.client.auth") == "ssl.client.auth":
        # As Kafka: a SASL_SSL listener asks for client certificates only when
        # its own listener.name.<l>.ssl.client.auth says so; SASL names the client.
        if mode != "none":
            log.warning(
                "ssl.client.auth=%s does not apply to SASL_SSL listener %s; set listener.name.%s.ssl.client.auth "
                "to ask its clients for certificates",
                mode,
                settings.listener,
                settings.listener.lower(),
            )
        mode = "none"
    context.verify_mode = _CLIENT_AUTH[mode]


# --- keystore ---------------------------------------------------------------


def load_keystore(context: ssl.SSLContext, settings: Settings) -> None:
    store_type = _choice(settings, "ssl.keystore.type", _STORE_TYPES, "JKS")
    location = settings.get("ssl.keystore.location")
    password = settings.get("ssl.keystore.password")
    key_password = settings.get("ssl.key.password")
    key_text = settings.get("ssl.keystore.key")
    chain_text = settings.get("ssl.keystore.certificate.chain")
    if key_text is not None or chain_text is not None:
        _load_pem_text_keystore(context, settings, store_type, location, password, key_password, key_text, chain_text)
        return
    location_label = settings.label("ssl.keystore.location")
    if location is None:
        raise StartupError(
            f"{location_label} is not set: an SSL listener needs a keystore "
            "(ssl.keystore.location, or ssl.keystore.certificate.chain and ssl.keystore.key)"
        )
    if store_type == "PEM" and password is not None:
        raise StartupError(
            f"{settings.label('ssl.keystore.password')} cannot be given with a PEM keystore ({location}); "
            "give the private key's password as ssl.key.password"
        )
    data = _read_store(location_label, location)
    kind = _kind_of(data, store_type, location_label, location)
    if kind == "PEM":
        _load_chain(
            context, data, key_password or password, settings.label("ssl.key.password"), f"{location_label} {location}"
        )
        return
    if password is None:
        raise StartupError(f"{settings.label('ssl.keystore.password')} is not set: it is needed to open {location}")
    pem = _pkcs12_as_pem(data, password, key_password, settings.label("ssl.keystore.password"), location)
    _load_chain(context, pem, None, settings.label("ssl.keystore.password"), f"{location_label} {location}")


def _load_pem_text_keystore(
    context: ssl.SSLContext,
    settings: Settings,
    store_type: str,
    location: str | None,
    password: str | None,
    key_password: str | None,
    key_text: str | None,
    chain_text: str | None,
) -> None:
    key_label, chain_label = settings.label("ssl.keystore.key"), settings.label("ssl.keystore.certificate.chain")
    if key_text is None:
        raise StartupError(f"{chain_label} is set but {key_label} (the private key) is not")
    if chain_text is None:
        raise StartupError(f"{key_label} is set but {chain_label} is not")
    if store_type != "PEM":
        raise StartupError(f"{key_label} needs ssl.keystore.type=PEM, but the keystore type is {store_type}")
    if location is not None:
        raise StartupError(f"{key_label} and {settings.label('ssl.keystore.location')} ({location}) are both set")
    if password is not None:
        raise StartupError(
            f"{settings.label('ssl.keystore.password')} cannot be given with a PEM keystore; "
            "give the private key's password as ssl.key.password"
        )
    if _PEM_MARK not in key_text.encode("utf-8", "replace"):
        raise StartupError(f"{key_label} holds no PEM private key (-----BEGIN ...)")
    if _PEM_MARK + b"CERTIFICATE" not in chain_text.encode("utf-8", "replace"):
        raise StartupError(f"{chain_label} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    data = (chain_text.strip() + "\n" + key_text.strip() + "\n").encode("utf-8")
    _load_chain(context, data, key_password, settings.label("ssl.key.password"), f"{chain_label}/{key_label}")


_KEY_BLOCK = re.compile(rb"-----BEGIN (?:ENCRYPTED |RSA |EC |DSA )?PRIVATE KEY-----")


def _load_chain(context: ssl.SSLContext, data: bytes, password: str | None, password_label: str, shown: str) -> None:
    """Certificates and private key from PEM text (Kafka's PEM keystore
    layout: the chain, leaf first, and one private key, in either order);
    `shown` names the setting and path in errors."""
    encrypted = b"ENCRYPTED PRIVATE KEY" in data or b"Proc-Type: 4,ENCRYPTED" in data
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise StartupError(f"{shown} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    if not _KEY_BLOCK.search(data):
        raise StartupError(f"{shown} holds no PEM private key (-----BEGIN PRIVATE KEY-----)")
    if encrypted and not password:
        raise StartupError(f"{password_label} is not set, but the private key in {shown} is encrypted")
    with _secret_file(data) as path:
        try:
            context.load_cert_chain(path, password=password or "")
        except ssl.SSLError as error:
            reason = str(error.reason or error)
            if "KEY_VALUES_MISMATCH" in reason.upper():
                raise StartupError(f"the private key in {shown} does not belong to its first certificate") from None
            if encrypted:
                raise StartupError(f"{password_label} does not decrypt the private key in {shown}") from None
            raise StartupError(f"{shown} holds a certificate or key that cannot be read ({reason})") from None


# --- truststore -------------------------------------------------------------


def load_truststore(context: ssl.SSLContext, settings: Settings) -> None:
    store_type = _choice(settings, "ssl.truststore.type", _STORE_TYPES, "JKS")
    location = settings.get("ssl.truststore.location")
    password = settings.get("ssl.truststore.password")
    certificates = settings.get("ssl.truststore.certificates")
    location_label, password_label = (
        settings.label("ssl.truststore.location"),
        settings.label("ssl.truststore.password"),
    )
    if certificates is not None:
        label = settings.label("ssl.truststore.certificates")
        if store_type != "PEM":
            raise StartupError(f"{label} needs ssl.truststore.type=PEM, but the truststore type is {store_type}")
        if location is not None:
            raise StartupError(f"{label} and {location_label} ({location}) are both set")
        if password is not None:
            raise StartupError(f"{password_label} cannot be given with PEM trust certificates")
        _trust_pem(context, certificates, label)
        return
    if location is None:
        if password is not None:
            raise StartupError(f"{password_label} is set but {location_label} is not")
        if context.verify_mode != ssl.CERT_NONE:
            context.load_default_certs(ssl.Purpose.CLIENT_AUTH)  # as the JVM falls back to its cacerts
        return
    if store_type == "PEM" and password is not None:
        raise StartupError(f"{password_label} cannot be given with a PEM truststore ({location})")
    data = _read_store(location_label, location)
    kind = _kind_of(data, store_type, location_label, location)
    if kind == "PEM":
        _trust_pem(context, data.decode("utf-8", "replace"), f"{location_label} ({location})")
        return
    _trust_pem(
        context, _pkcs12_certificates(data, password, password_label, location), f"{location_label} ({location})"
    )


def _trust_pem(context: ssl.SSLContext, pem: str, shown: str) -> None:
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise StartupError(f"{shown} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    try:
        context.load_verify_locations(cadata=pem)
    except (ssl.SSLError, ValueError) as error:
        raise StartupError(f"{shown} holds a certificate that cannot be read: {error}") from None


# --- files ------------------------------------------------------------------


def _read_store(label: str, location: str) -> bytes:
    path = Path(location)
    try:
        if path.is_dir():
            raise StartupError(f"{label} {location} is a directory, not a keystore file")
        if path.stat().st_size > _MAX_STORE_BYTES:
            raise StartupError(f"{label} {location} is too big to be a keystore")
        return path.read_bytes()
    except FileNotFoundError:
        raise StartupError(f"{label} {location} does not exist") from None
    except PermissionError:
        raise StartupError(f"{label} {location} cannot be read: permission denied") from None
    except OSError as error:
        raise StartupError(f"{label} {location} cannot be read: {error.strerror or error}") from None


def _kind_of(data: bytes, declared: str, label: str, location: str) -> str:
    """ "PEM" or "PKCS12", by what the file holds; JKS (Kafka's default type)
    files that really are PEM or PKCS12 are read as what they are."""
    if data[:4] in _JAVA_KEYSTORE_MAGIC:
        raise StartupError(
            f"{label} {location} is a Java keystore (JKS), which kwire cannot read: convert it with "
            f"keytool -importkeystore -srckeystore {location} -destkeystore store.p12 -deststoretype PKCS12 "
            "and set the type to PKCS12"
        )
    kind = "PEM" if _PEM_MARK in data else "PKCS12" if data[:1] == b"\x30" else None
    if kind is None:
        raise StartupError(f"{label} {location} is neither a PEM nor a PKCS12 file")
    if declared != "JKS" and declared != kind:
        raise StartupError(f"{label} {location} is a {kind} file, but its type is set to {declared}")
    return kind


@contextmanager
def _secret_file(data: bytes) -> Iterator[str]:
    """`data` (may hold a private key) in a file only this user can read, for
    the ssl module, which loads certificate chains from files only."""
    descriptor, path = tempfile.mkstemp(prefix="kwire-tls-", suffix=".pem")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        yield path
    finally:
        os.unlink(path)


def _pkcs12_as_pem(data: bytes, password: str, key_password: str | None, label: str, location: str) -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    store = None
    for candidate in dict.fromkeys([password, key_password or password]):
        try:
            store = pkcs12.load_pkcs12(data, candidate.encode("utf-8"))
            break
        except ValueError:
            continue
        except Exception as error:  # a damaged file may fail deeper in the parser
            raise StartupError(f"{label}: {location} is not a readable PKCS12 file ({error})") from None
    if store is None:
        raise StartupError(f"{label} does not open {location} (wrong password, or not a PKCS12 file)")
    if store.key is None or store.cert is None:
        raise StartupError(
            f"{location} ({label.replace('password', 'location')}) holds no private key with its certificate"
        )
    parts = [store.cert.certificate.public_bytes(serialization.Encoding.PEM)]
    parts += [extra.certificate.public_bytes(serialization.Encoding.PEM) for extra in store.additional_certs]
    key = store.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return b"".join(parts) + key


def _pkcs12_certificates(data: bytes, password: str | None, label: str, location: str) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    try:
        store = pkcs12.load_pkcs12(data, None if password is None else password.encode("utf-8"))
    except ValueError:
        raise StartupError(
            f"{label} does not open {location} (wrong or missing password, or not a PKCS12 file)"
        ) from None
    except Exception as error:
        raise StartupError(f"{label}: {location} is not a readable PKCS12 file ({error})") from None
    certificates = ([store.cert] if store.cert is not None else []) + list(store.additional_certs)
    if not certificates:
        raise StartupError(f"{location} ({label.replace('password', 'location')}) holds no certificate")
    return "".join(item.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii") for item in certificates)


# --- cipher suites ----------------------------------------------------------

_KEY_EXCHANGES = {"ECDHE_ECDSA": "ECDHE-ECDSA-", "ECDHE_RSA": "ECDHE-RSA-", "DHE_RSA": "DHE-RSA-", "RSA": ""}
_BULK = {
    "AES_128_GCM": "AES128-GCM",
    "AES_256_GCM": "AES256-GCM",
    "AES_128_CBC": "AES128",
    "AES_256_CBC": "AES256",
    "AES_128_CCM": "AES128-CCM",
    "AES_256_CCM": "AES256-CCM",
    "CHACHA20_POLY1305": "CHACHA20-POLY1305",
}


def _openssl_name(suite: str) -> str:
    """A Java (IANA) TLS 1.2 suite name as OpenSSL spells it, e.g.
    TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 -> ECDHE-RSA-AES128-GCM-SHA256;
    other names are returned unchanged (OpenSSL names are taken too)."""
    if not suite.startswith("TLS_") or "_WITH_" not in suite:
        return suite
    exchange, _, rest = suite[4:].partition("_WITH_")
    for bulk, spelled in _BULK.items():
        if rest.startswith(bulk) and exchange in _KEY_EXCHANGES:
            mac = rest[len(bulk) :].lstrip("_")
            if bulk == "CHACHA20_POLY1305" and mac == "SHA256" or bulk.endswith("CCM") and not mac:
                mac = ""
            return _KEY_EXCHANGES[exchange] + spelled + (f"-{mac}" if mac else "")
    return suite


def set_ciphers(context: ssl.SSLContext, settings: Settings) -> None:
    suites = _listed(settings.get("ssl.cipher.suites"))
    if not suites:
        return
    label = settings.label("ssl.cipher.suites")
    scratch = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    scratch.set_ciphers("ALL:@SECLEVEL=0")
    known = {cipher["name"] for cipher in scratch.get_ciphers()}
    tls13 = {cipher["name"] for cipher in scratch.get_ciphers() if cipher["protocol"] == "TLSv1.3"}
    wanted_12: list[str] = []
    wanted_13: list[str] = []
    for suite in suites:
        name = _openssl_name(suite)
        if name not in known:
            raise StartupError(
                f"Invalid value {suite} for configuration {label}: not a cipher suite this TLS library has"
            )
        (wanted_13 if name in tls13 else wanted_12).append(name)
    # Python's ssl module cannot narrow the TLS 1.3 suites; what it can do is
    # keep a version off when none of its suites were listed, as Java would.
    if not wanted_13:
        if context.minimum_version > ssl.TLSVersion.TLSv1_2:
            raise StartupError(f"{label} lists no TLS 1.3 suite but ssl.enabled.protocols allows only TLSv1.3")
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    if not wanted_12:
        if context.maximum_version < ssl.TLSVersion.TLSv1_3:
            raise StartupError(f"{label} lists no TLS 1.2 suite but ssl.enabled.protocols allows only TLSv1.2")
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        return
    context.set_ciphers(":".join(wanted_12))
