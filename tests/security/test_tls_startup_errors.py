"""Every bad keystore, truststore, password or setting: one StartupError line
naming the setting (and the path when there is one)."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509 import load_pem_x509_certificate

from kwire.errors import StartupError
from kwire.security.tls import server_context
from tests.security.tls_helpers import config_with


def startup_error(settings: dict[str, str], listener: str = "SSL") -> str:
    with pytest.raises(StartupError) as caught:
        server_context(config_with(settings), listener)
    text = str(caught.value)
    assert "\n" not in text and text.strip() == text and text
    return text


def pem(location: object, **more: str) -> dict[str, str]:
    return {"ssl.keystore.type": "PEM", "ssl.keystore.location": str(location), **more}


@pytest.fixture
def encrypted_keystore(certificates, tmp_path):
    key = serialization.load_pem_private_key(certificates.broker_key.read_bytes(), None)
    path = tmp_path / "encrypted.pem"
    path.write_bytes(
        certificates.broker_certificate.read_bytes()
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"right"),
        )
    )
    return path


def test_no_keystore_at_all():
    assert "ssl.keystore.location" in startup_error({})


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x00" * 40,
        b"hello, not a keystore\n",
        b"\x30\x82\x01\x00garbage-der",
        b"-----BEGIN CERTIFICATE-----\nAAAA\n",
    ],
    ids=["empty", "zeros", "text", "bad-der", "bad-pem"],
)
@pytest.mark.parametrize("store_type", ["PEM", "PKCS12", "JKS"])
def test_a_keystore_that_is_not_one(tmp_path, content, store_type):
    path = tmp_path / "keystore"
    path.write_bytes(content)
    settings = {"ssl.keystore.type": store_type, "ssl.keystore.location": str(path)}
    if store_type != "PEM":
        settings["ssl.keystore.password"] = "secret"
    text = startup_error(settings)
    assert "ssl.keystore" in text and str(path) in text


def test_a_missing_keystore_file(tmp_path):
    text = startup_error(pem(tmp_path / "nowhere.pem"))
    assert text == f"ssl.keystore.location {tmp_path / 'nowhere.pem'} does not exist"


def test_a_directory_as_keystore(tmp_path):
    assert str(tmp_path) in startup_error(pem(tmp_path))


def test_an_unreadable_keystore(tmp_path, certificates):
    path = tmp_path / "locked.pem"
    path.write_bytes(certificates.broker.read_bytes())
    path.chmod(0)
    try:
        with open(path, "rb"):
            pytest.skip("running as root: permissions do not stop reads")
    except PermissionError:
        pass
    assert "permission denied" in startup_error(pem(path))


def test_a_real_jks_file_is_refused_with_the_command_that_converts_it(tmp_path):
    path = tmp_path / "server.keystore.jks"
    path.write_bytes(b"\xfe\xed\xfe\xed\x00\x00\x00\x02" + b"\x00" * 64)
    text = startup_error({"ssl.keystore.location": str(path), "ssl.keystore.password": "changeit"})
    assert "keytool -importkeystore" in text and "PKCS12" in text and str(path) in text


def test_a_jks_truststore_too(tmp_path, certificates):
    path = tmp_path / "server.truststore.jks"
    path.write_bytes(b"\xfe\xed\xfe\xed" + b"\x00" * 64)
    settings = pem(certificates.broker, **{"ssl.truststore.location": str(path)})
    text = startup_error(settings)
    assert "ssl.truststore.location" in text and "keytool" in text


def test_a_pem_keystore_without_a_key(certificates):
    text = startup_error(pem(certificates.broker_certificate))
    assert str(certificates.broker_certificate) in text and "key" in text


def test_a_pem_keystore_without_a_certificate(certificates):
    assert str(certificates.broker_key) in startup_error(pem(certificates.broker_key))


def test_a_key_that_does_not_belong_to_the_certificate(certificates, tmp_path):
    path = tmp_path / "mismatch.pem"
    path.write_bytes(certificates.broker_certificate.read_bytes() + certificates.clients["client"][1].read_bytes())
    assert str(path) in startup_error(pem(path))


def test_an_encrypted_key_with_the_wrong_password(encrypted_keystore):
    text = startup_error(pem(encrypted_keystore, **{"ssl.key.password": "wrong"}))
    assert "ssl.key.password" in text and str(encrypted_keystore) in text


def test_an_encrypted_key_without_a_password(encrypted_keystore):
    text = startup_error(pem(encrypted_keystore))
    assert "ssl.key.password" in text and str(encrypted_keystore) in text


def test_a_pem_keystore_with_a_keystore_password(certificates):
    text = startup_error(pem(certificates.broker, **{"ssl.keystore.password": "x"}))
    assert "ssl.keystore.password" in text and "ssl.key.password" in text


def test_pkcs12_with_the_wrong_password(certificates):
    settings = certificates.broker_p12_settings() | {"ssl.keystore.password": "wrong", "ssl.key.password": "wrong"}
    text = startup_error(settings)
    assert "ssl.keystore.password" in text and str(certificates.broker_p12) in text


def test_pkcs12_without_a_password(certificates):
    settings = certificates.broker_p12_settings()
    del settings["ssl.keystore.password"], settings["ssl.key.password"]
    text = startup_error(settings)
    assert "ssl.keystore.password" in text and str(certificates.broker_p12) in text


def test_a_pkcs12_keystore_without_a_key(certificates, tmp_path):
    ca = load_pem_x509_certificate(certificates.ca.read_bytes())
    path = tmp_path / "certs-only.p12"
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(None, None, None, [ca], serialization.BestAvailableEncryption(b"pw"))
    )
    text = startup_error(
        {"ssl.keystore.type": "PKCS12", "ssl.keystore.location": str(path), "ssl.keystore.password": "pw"}
    )
    assert str(path) in text and "private key" in text


def test_a_pem_file_declared_pkcs12(certificates):
    settings = {
        "ssl.keystore.type": "PKCS12",
        "ssl.keystore.location": str(certificates.broker),
        "ssl.keystore.password": "x",
    }
    text = startup_error(settings)
    assert "PEM" in text and str(certificates.broker) in text


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        (
            {"ssl.keystore.type": "PEM", "ssl.keystore.key": "-----BEGIN PRIVATE KEY-----"},
            "ssl.keystore.certificate.chain",
        ),
        ({"ssl.keystore.type": "PEM", "ssl.keystore.certificate.chain": "x"}, "ssl.keystore.key"),
        ({"ssl.keystore.key": "k", "ssl.keystore.certificate.chain": "c"}, "ssl.keystore.type=PEM"),
        (
            {"ssl.keystore.type": "PEM", "ssl.keystore.key": "not pem", "ssl.keystore.certificate.chain": "c"},
            "ssl.keystore.key",
        ),
    ],
)
def test_pem_text_settings_that_do_not_go_together(settings, named):
    assert named in startup_error(settings)


def test_pem_text_with_a_bad_key(certificates):
    settings = {
        "ssl.keystore.type": "PEM",
        "ssl.keystore.certificate.chain": certificates.broker_certificate.read_text(),
        "ssl.keystore.key": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    }
    assert "ssl.keystore.key" in startup_error(settings)


def test_pem_text_and_a_location_both(certificates):
    settings = pem(
        certificates.broker,
        **{
            "ssl.keystore.key": certificates.broker_key.read_text(),
            "ssl.keystore.certificate.chain": certificates.broker_certificate.read_text(),
        },
    )
    text = startup_error(settings)
    assert "ssl.keystore.location" in text and str(certificates.broker) in text


def test_a_missing_truststore(certificates, tmp_path):
    text = startup_error(pem(certificates.broker, **{"ssl.truststore.location": str(tmp_path / "ca.pem")}))
    assert text.startswith("ssl.truststore.location ") and str(tmp_path / "ca.pem") in text


def test_a_truststore_without_certificates(certificates):
    settings = pem(
        certificates.broker, **{"ssl.truststore.type": "PEM", "ssl.truststore.location": str(certificates.broker_key)}
    )
    text = startup_error(settings)
    assert "ssl.truststore.location" in text and str(certificates.broker_key) in text


def test_truststore_certificates_text_that_is_not_pem(certificates):
    settings = pem(certificates.broker, **{"ssl.truststore.type": "PEM", "ssl.truststore.certificates": "nonsense"})
    assert "ssl.truststore.certificates" in startup_error(settings)


def test_a_pem_truststore_with_a_password(certificates):
    settings = pem(
        certificates.broker,
        **{
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(certificates.ca),
            "ssl.truststore.password": "x",
        },
    )
    assert "ssl.truststore.password" in startup_error(settings)


def test_a_pkcs12_truststore_with_the_wrong_password(certificates, tmp_path):
    ca = load_pem_x509_certificate(certificates.ca.read_bytes())
    path = tmp_path / "trust.p12"
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(None, None, None, [ca], serialization.BestAvailableEncryption(b"pw"))
    )
    settings = pem(certificates.broker, **{"ssl.truststore.location": str(path), "ssl.truststore.password": "nope"})
    text = startup_error(settings)
    assert "ssl.truststore.password" in text and str(path) in text
    # and with the right one it loads
    server_context(config_with(settings | {"ssl.truststore.password": "pw"}), "SSL")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ssl.client.auth", "always"),
        ("ssl.enabled.protocols", "TLSv1.1"),
        ("ssl.enabled.protocols", " , "),
        ("ssl.protocol", "SSLv3"),
        ("ssl.keystore.type", "JCEKS"),
        ("ssl.cipher.suites", "TLS_NOT_A_SUITE"),
        ("ssl.principal.mapping.rules", "RULE:^CN=(.*$/$1/"),
        ("ssl.principal.mapping.rules", "rule:x/y/"),
    ],
)
def test_bad_values_given_for_one_listener_name_the_listener_setting(certificates, name, value):
    settings = certificates.broker_settings() | {f"listener.name.secure.{name}": value}
    text = startup_error(settings, listener="SECURE")
    assert f"listener.name.secure.{name}" in text


def test_cipher_suites_that_leave_no_enabled_version(certificates):
    settings = certificates.broker_settings() | {
        "ssl.enabled.protocols": "TLSv1.3",
        "ssl.cipher.suites": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    }
    assert "ssl.cipher.suites" in startup_error(settings)
