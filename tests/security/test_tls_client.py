"""The client's TLS context from the Java client's `ssl.*` properties
(kwire/security/tls_client.py): what it checks, which stores it takes, and
one-line errors naming the property."""

from __future__ import annotations

import ssl

import pytest

from kwire.security.cert_maker import make_test_certificates
from kwire.security.tls_client import TlsClientError, client_context, host_name_checked


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    return make_test_certificates(tmp_path_factory.mktemp("certs"))


def test_the_broker_certificate_and_host_name_are_checked_by_default(certificates):
    context = client_context({"ssl.truststore.type": "PEM", "ssl.truststore.location": str(certificates.ca)})
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    unchecked = client_context(
        {"ssl.truststore.location": str(certificates.ca), "ssl.endpoint.identification.algorithm": ""}
    )
    assert unchecked.verify_mode == ssl.CERT_REQUIRED and not unchecked.check_hostname
    assert client_context({"ssl.enabled.protocols": "TLSv1.3"}).minimum_version == ssl.TLSVersion.TLSv1_3


def test_host_name_checking_takes_kafkas_two_values():
    assert host_name_checked({}) and host_name_checked({"ssl.endpoint.identification.algorithm": "HTTPS"})
    assert not host_name_checked({"ssl.endpoint.identification.algorithm": " "})
    with pytest.raises(TlsClientError, match="ssl.endpoint.identification.algorithm"):
        host_name_checked({"ssl.endpoint.identification.algorithm": "ldap"})


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        (
            {"ssl.truststore.location": "/nonexistent/ca.pem"},
            "ssl.truststore.location /nonexistent/ca.pem does not exist",
        ),
        ({"ssl.keystore.password": "x"}, "ssl.keystore.password is set but ssl.keystore.location is not"),
        ({"ssl.keystore.certificate.chain": "-----BEGIN CERTIFICATE-----"}, "ssl.keystore.key"),
        ({"ssl.truststore.type": "JKS", "ssl.truststore.location": "JKS"}, "Java keystore"),
        ({"ssl.enabled.protocols": "SSLv3"}, "ssl.enabled.protocols"),
        ({"ssl.truststore.type": "BCFKS"}, "ssl.truststore.type"),
    ],
)
def test_unusable_settings_are_one_line(certificates, tmp_path, settings, problem):
    if settings.get("ssl.truststore.location") == "JKS":
        store = tmp_path / "store.jks"
        store.write_bytes(b"\xfe\xed\xfe\xed" + bytes(60))
        settings = settings | {"ssl.truststore.location": str(store)}
    with pytest.raises(TlsClientError, match=problem) as caught:
        client_context(settings)
    assert "\n" not in str(caught.value)
