import ssl
import subprocess
import sys

import pytest
import trio
import trio.testing

from kwire.security.cert_maker import make_test_certificates
from kwire.security.tls import principal_of, server_context
from tests.security.tls_helpers import client_context, config_with, handshake


def test_a_pem_keystore_serves_a_verifying_client_and_names_its_certificate(certificates):
    context = server_context(config_with(certificates.broker_settings("required")), "SSL")
    client = client_context(certificates.ca, *certificates.clients["client"])
    server_side = handshake(context, client)
    assert server_side.version() == "TLSv1.3"
    assert principal_of(server_side.getpeercert(), "DEFAULT") == "User:CN=client"
    assert principal_of(server_side.getpeercert(binary_form=True), "DEFAULT") == "User:CN=client"
    assert principal_of(server_side.getpeercert(), "RULE:^CN=(.*)$/$1/U") == "User:CLIENT"


def test_the_broker_certificate_covers_localhost_and_the_loopback_addresses(certificates):
    context = server_context(config_with(certificates.broker_settings("none")), "SSL")
    for host in ("localhost", "127.0.0.1", "::1"):
        handshake(context, client_context(certificates.ca), host=host)
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(context, client_context(certificates.ca), host="elsewhere.example")


def test_client_auth_required_refuses_a_client_without_a_certificate(certificates):
    context = server_context(config_with(certificates.broker_settings("required")), "SSL")
    with pytest.raises(ssl.SSLError, match="CERTIFICATE"):
        handshake(context, client_context(certificates.ca))


def test_client_auth_requested_lets_a_client_without_a_certificate_in_as_anonymous(certificates):
    context = server_context(config_with(certificates.broker_settings("requested")), "SSL")
    anonymous = handshake(context, client_context(certificates.ca))
    assert principal_of(anonymous.getpeercert(), "DEFAULT") == "User:ANONYMOUS"
    named = handshake(context, client_context(certificates.ca, *certificates.clients["other"]))
    assert principal_of(named.getpeercert(), "DEFAULT") == "User:CN=other"


def test_client_auth_none_asks_for_no_certificate(certificates):
    context = server_context(config_with(certificates.broker_settings("none")), "SSL")
    server_side = handshake(context, client_context(certificates.ca, *certificates.clients["client"]))
    assert principal_of(server_side.getpeercert(), "DEFAULT") == "User:ANONYMOUS"


def test_a_client_certificate_from_another_ca_is_refused(certificates, tmp_path):
    stranger = make_test_certificates(tmp_path, clients=("stranger",))
    context = server_context(config_with(certificates.broker_settings("required")), "SSL")
    with pytest.raises(ssl.SSLError, match="CERTIFICATE"):
        handshake(context, client_context(certificates.ca, *stranger.clients["stranger"]))


def test_a_pkcs12_keystore(certificates):
    context = server_context(config_with(certificates.broker_p12_settings("required")), "SSL")
    server_side = handshake(context, client_context(certificates.ca, *certificates.clients["client"]))
    assert principal_of(server_side.getpeercert(), "DEFAULT") == "User:CN=client"


def test_a_pkcs12_file_under_kafkas_default_type_jks_is_read_as_pkcs12(certificates):
    settings = certificates.broker_p12_settings("none")
    del settings["ssl.keystore.type"]  # Kafka's default, JKS
    handshake(server_context(config_with(settings), "SSL"), client_context(certificates.ca))


def test_a_pem_keystore_given_as_setting_text(certificates):
    chain = certificates.broker_certificate.read_text()
    key = certificates.broker_key.read_text()
    settings = {
        "ssl.keystore.type": "PEM",
        "ssl.keystore.certificate.chain": chain,
        "ssl.keystore.key": key,
        "ssl.truststore.type": "PEM",
        "ssl.truststore.certificates": certificates.ca.read_text(),
        "ssl.client.auth": "required",
    }
    server_side = handshake(
        server_context(config_with(settings), "SSL"), client_context(certificates.ca, *certificates.clients["client"])
    )
    assert principal_of(server_side.getpeercert(), "DEFAULT") == "User:CN=client"


def test_a_pem_keystore_with_the_key_first_and_encrypted(certificates, tmp_path):
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(certificates.broker_key.read_bytes(), None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"s3cret")
    )
    keystore = tmp_path / "keystore.pem"
    keystore.write_bytes(encrypted + certificates.broker_certificate.read_bytes())
    settings = {"ssl.keystore.type": "PEM", "ssl.keystore.location": str(keystore), "ssl.key.password": "s3cret"}
    handshake(server_context(config_with(settings), "SSL"), client_context(certificates.ca))


def test_tls_1_2_only(certificates):
    settings = certificates.broker_settings("required") | {"ssl.enabled.protocols": "TLSv1.2"}
    context = server_context(config_with(settings), "SSL")
    server_side = handshake(context, client_context(certificates.ca, *certificates.clients["client"]))
    assert server_side.version() == "TLSv1.2"
    assert principal_of(server_side.getpeercert(), "DEFAULT") == "User:CN=client"
    tls13_only = client_context(certificates.ca)
    tls13_only.minimum_version = ssl.TLSVersion.TLSv1_3
    with pytest.raises(ssl.SSLError):
        handshake(context, tls13_only)


def test_tls_1_3_only_refuses_a_tls_1_2_client(certificates):
    settings = certificates.broker_settings("none") | {"ssl.enabled.protocols": "TLSv1.3"}
    tls12_only = client_context(certificates.ca)
    tls12_only.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(ssl.SSLError):
        handshake(server_context(config_with(settings), "SSL"), tls12_only)


def test_java_cipher_suite_names_pick_the_suite(certificates):
    settings = certificates.broker_settings("none") | {"ssl.cipher.suites": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"}
    server_side = handshake(server_context(config_with(settings), "SSL"), client_context(certificates.ca))
    # No TLS 1.3 suite listed, so (as on a JVM) no TLS 1.3.
    assert server_side.version() == "TLSv1.2"
    assert server_side.cipher()[0] == "ECDHE-ECDSA-AES256-GCM-SHA384"


def test_only_tls_1_3_suites_listed_means_tls_1_3(certificates):
    settings = certificates.broker_settings("none") | {"ssl.cipher.suites": "TLS_AES_128_GCM_SHA256"}
    server_side = handshake(server_context(config_with(settings), "SSL"), client_context(certificates.ca))
    assert server_side.version() == "TLSv1.3"


def test_listener_settings_override_the_broker_wide_ones(certificates):
    settings = certificates.broker_settings("required") | {"listener.name.internal.ssl.client.auth": "none"}
    config = config_with(settings)
    handshake(server_context(config, "INTERNAL"), client_context(certificates.ca))
    with pytest.raises(ssl.SSLError):
        handshake(server_context(config, "EXTERNAL"), client_context(certificates.ca))


async def test_a_trio_ssl_stream_pair_over_memory_streams(certificates):
    context = server_context(config_with(certificates.broker_settings("required")), "SSL")
    client = client_context(certificates.ca, *certificates.clients["client"])
    client_stream, server_stream = trio.testing.memory_stream_pair()
    client_tls = trio.SSLStream(client_stream, client, server_hostname="localhost")
    server_tls = trio.SSLStream(server_stream, context, server_side=True)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client_tls.send_all, b"hello")
            assert await server_tls.receive_some(5) == b"hello"
    assert principal_of(server_tls.getpeercert(binary_form=True), "DEFAULT") == "User:CN=client"


def test_loading_a_pem_context_imports_no_cryptography(certificates):
    # Start-up time of `kwire serve`: cryptography is only for PKCS12 files.
    probe = (
        "import sys; from kwire.config import BrokerConfig; from kwire.security.tls import server_context; "
        "c = BrokerConfig(); "
        f"[c.apply_override(k, v) for k, v in {certificates.broker_settings()!r}.items()]; "
        "server_context(c, 'SSL'); print('cryptography' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.split() == ["False"]


def test_a_sasl_ssl_listener_asks_for_certificates_only_when_its_own_setting_says_so(certificates, caplog):
    config = config_with(certificates.broker_settings("required"))
    anonymous = handshake(server_context(config, "SASL_SSL", "SASL_SSL"), client_context(certificates.ca))
    assert anonymous.getpeercert() is None
    assert "listener.name.sasl_ssl.ssl.client.auth" in caplog.text
    config.listener_overrides["listener.name.sasl_ssl.ssl.client.auth"] = "required"
    with pytest.raises(ssl.SSLError, match="CERTIFICATE"):
        handshake(server_context(config, "SASL_SSL", "SASL_SSL"), client_context(certificates.ca))
