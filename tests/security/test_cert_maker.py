import ipaddress
import subprocess
import sys

import pytest
from cryptography import x509

from kwire import cli
from kwire.security.cert_maker import make_test_certificates
from kwire.security.tls import principal_of, server_context
from tests.security.tls_helpers import client_context, config_with, handshake


def test_the_files_and_what_they_hold(tmp_path):
    made = make_test_certificates(
        tmp_path / "new", hosts=["broker.example", "10.1.2.3"], clients=("alice", "bob"), days=3
    )
    names = {path.name for path in (tmp_path / "new").iterdir()}
    assert {"ca.pem", "broker.pem", "broker-key.pem", "broker.p12", "alice.pem", "alice-key.pem", "bob.pem"} <= names
    broker = x509.load_pem_x509_certificate(made.broker.read_bytes())
    alternative = broker.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(alternative.get_values_for_type(x509.DNSName)) == {"localhost", "broker.example"}
    assert set(alternative.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address(address) for address in ("127.0.0.1", "::1", "10.1.2.3")
    }
    assert (broker.not_valid_after_utc - broker.not_valid_before_utc).days == 3
    assert b"PRIVATE KEY" in made.broker.read_bytes() and b"CERTIFICATE" in made.broker.read_bytes()
    alice = x509.load_pem_x509_certificate(made.clients["alice"][0].read_bytes())
    assert alice.subject.rfc4514_string() == "CN=alice"
    assert made.broker_key.stat().st_mode & 0o077 == 0


def test_the_pem_and_pkcs12_keystores_serve_the_clients(tmp_path):
    made = make_test_certificates(tmp_path, hosts=["broker.example"], clients=("alice",))
    for settings in (made.broker_settings(), made.broker_p12_settings()):
        context = server_context(config_with(settings), "SSL")
        server_side = handshake(context, client_context(made.ca, *made.clients["alice"]), host="broker.example")
        assert principal_of(server_side.getpeercert(), "DEFAULT") == "User:CN=alice"


@pytest.mark.parametrize("bad", ["", "a/b", ".hidden"])
def test_a_client_name_that_cannot_be_a_file_name(tmp_path, bad):
    with pytest.raises(ValueError):
        make_test_certificates(tmp_path, clients=(bad,))


def test_kwire_certs_prints_settings_that_load(tmp_path, capsys):
    assert cli.main(["certs", str(tmp_path), "--host", "kafka.local", "--client", "svc", "--days", "2"]) == 0
    out = capsys.readouterr().out
    sections = [block for block in out.split("\n\n") if block.startswith("# Broker")]
    assert len(sections) == 2
    for section in sections:
        settings = dict(line.split("=", 1) for line in section.splitlines() if not line.startswith("#"))
        context = server_context(config_with(settings), "SSL")
        handshake(context, client_context(tmp_path / "ca.pem", tmp_path / "svc.pem", tmp_path / "svc-key.pem"))
    assert "ssl.certificate.location=" + str(tmp_path / "svc.pem") in out
    rules = next(line for line in out.splitlines() if line.startswith("ssl.principal.mapping.rules="))
    assert principal_of(_der(tmp_path / "svc.pem"), rules.split("=", 1)[1]) == "User:svc"


def _der(path):
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(Encoding.DER)


def test_kwire_certs_refuses_bad_arguments_in_one_line(tmp_path, capsys):
    assert cli.main(["certs", str(tmp_path), "--days", "0"]) == 2
    (tmp_path / "file").write_text("")
    assert cli.main(["certs", str(tmp_path / "file" / "sub")]) == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and all(line.startswith("kwire certs: ") for line in errors)


def test_kwire_certs_runs_without_the_admin_commands(tmp_path):
    probe = (
        "import sys; from kwire import cli; "
        f"cli.main(['certs', {str(tmp_path)!r}]); "
        "print('kwire.admin.wire_client' in sys.modules, file=sys.stderr)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert result.stderr.split() == ["False"]
