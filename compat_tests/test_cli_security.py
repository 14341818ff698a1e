"""`python -m kwire topics|users ... --command-config FILE` as a user runs it
against a `kwire serve` subprocess whose only listener is SASL_SSL: the
properties file Kafka's tools take (security.protocol, the PEM truststore,
sasl.mechanism, a sasl.jaas.config continued over several lines), PLAIN and
SCRAM, and a wrong password as one line on stderr with exit status 1."""

from __future__ import annotations

import subprocess
import sys

import pytest

from compat_tests.broker import KwireProcess
from compat_tests.group_consumers import REPO_ROOT
from kwire.security.cert_maker import make_test_certificates

TIMEOUT_S = 30
BROKER_JAAS = 'org.apache.kafka.common.security.plain.PlainLoginModule required user_admin="admin-secret";'


@pytest.fixture
def secured(tmp_path):
    certificates = make_test_certificates(tmp_path / "certs")
    broker = KwireProcess(
        None,
        tmp_path / "kwire.log",
        [
            "--memory",
            "-o",
            "listeners=SASL_SSL://127.0.0.1:0",
            "-o",
            "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256",
            "-o",
            f"sasl.jaas.config={BROKER_JAAS}",
            *[item for key, value in certificates.broker_settings("none").items() for item in ("-o", f"{key}={value}")],
        ],
        bare=True,
    ).start()
    yield broker, certificates
    broker.kill()  # only the process this fixture started, by its pid


def client_config(path, certificates, mechanism: str, module: str, user: str, password: str):
    path.write_text(
        "security.protocol=SASL_SSL\n"
        f"sasl.mechanism={mechanism}\n"
        f"sasl.jaas.config=org.apache.kafka.common.security.{module} required \\\n"
        f'    username="{user}" \\\n'
        f'    password="{password}";\n'
        "ssl.truststore.type=PEM\n"
        f"ssl.truststore.location={certificates.ca}\n"
    )
    return path


def kwire(broker, config, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kwire", *args, "--bootstrap-server", broker.bootstrap, "--command-config", str(config)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


def test_topics_over_sasl_ssl_with_plain_and_scram(secured, tmp_path):
    broker, certificates = secured
    admin = client_config(
        tmp_path / "admin.properties", certificates, "PLAIN", "plain.PlainLoginModule", "admin", "admin-secret"
    )
    created = kwire(broker, admin, "topics", "create", "--topic", "secured", "--partitions", "2")
    assert (created.returncode, created.stderr) == (0, "")
    added = kwire(broker, admin, "users", "add", "bob", "--password", "bob-secret", "--mechanism", "SCRAM-SHA-256")
    assert (added.returncode, added.stderr) == (0, "")

    bob = client_config(
        tmp_path / "bob.properties", certificates, "SCRAM-SHA-256", "scram.ScramLoginModule", "bob", "bob-secret"
    )
    listed = kwire(broker, bob, "topics", "list")
    assert (listed.returncode, listed.stdout.split(), listed.stderr) == (0, ["secured"], "")

    wrong = client_config(
        tmp_path / "wrong.properties", certificates, "SCRAM-SHA-256", "scram.ScramLoginModule", "bob", "nope"
    )
    refused = kwire(broker, wrong, "topics", "list")
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr == (
        f"kwire topics: authentication to {broker.bootstrap} failed: SASL_AUTHENTICATION_FAILED: "
        "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256\n"
    )


def test_a_plaintext_client_is_told_in_one_line(secured, tmp_path):
    broker, _certificates = secured
    plain = tmp_path / "plain.properties"
    plain.write_text("security.protocol=PLAINTEXT\n")
    result = kwire(broker, plain, "topics", "list")
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and result.stderr.startswith("kwire topics: ")
