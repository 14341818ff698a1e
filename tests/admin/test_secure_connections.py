"""kwire's command-line tools over TLS and SASL (kwire/admin/client_security.py,
cluster_client.py) against an in-process node with SSL, SASL_PLAINTEXT and
SASL_SSL listeners: every mechanism, client certificates, and the one-line
errors of a wrong password, an unknown mechanism, a bad truststore path and
an unchecked host name."""

from __future__ import annotations

import pytest

from kwire import cli
from kwire.admin.cluster_client import ClusterClient, ClusterError
from kwire.clock import ManualClock
from kwire.config import BrokerConfig
from kwire.security.cert_maker import make_test_certificates
from kwire.server.node_thread import start_node_in_thread

BROKER_JAAS = 'org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";'
PLAIN = 'org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="{}";'
SCRAM = 'org.apache.kafka.common.security.scram.ScramLoginModule required username="carol" password="{}";'
OAUTH = (
    'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="{}";'
)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    return make_test_certificates(tmp_path_factory.mktemp("certs"), clients=("admin",))


@pytest.fixture(scope="module")
def node(certificates):
    config = BrokerConfig(port=0, data_dir=None, sasl_jaas_config=BROKER_JAAS)
    config.listener_specs = (
        ("PLAINTEXT", "PLAINTEXT", "127.0.0.1", 0),
        ("SSL", "SSL", "127.0.0.1", 0),
        ("SASL_PLAINTEXT", "SASL_PLAINTEXT", "127.0.0.1", 0),
        ("SASL_SSL", "SASL_SSL", "127.0.0.1", 0),
    )
    config.ssl_keystore_type = "PEM"
    config.ssl_keystore_location = str(certificates.broker)
    config.ssl_truststore_type = "PEM"
    config.ssl_truststore_location = str(certificates.ca)
    config.listener_overrides = {"listener.name.ssl.ssl.client.auth": "required"}
    with start_node_in_thread(config) as running:
        ports = running._running().ports
        plaintext = f"127.0.0.1:{ports['PLAINTEXT']}"
        assert cli.main(["users", "add", "carol", "--password", "carol-secret", "--bootstrap-server", plaintext]) == 0
        yield running


def address(node, listener: str) -> str:
    return f"127.0.0.1:{node._running().ports[listener]}"


def trust(certificates) -> dict[str, str]:
    return {"ssl.truststore.type": "PEM", "ssl.truststore.location": str(certificates.ca)}


def client_certificate(certificates) -> dict[str, str]:
    certificate, key = certificates.clients["admin"]
    return {
        "ssl.keystore.type": "PEM",
        "ssl.keystore.certificate.chain": certificate.read_text(),
        "ssl.keystore.key": key.read_text(),
    }


def sasl(mechanism: str, jaas: str, protocol: str = "SASL_PLAINTEXT") -> dict[str, str]:
    return {"security.protocol": protocol, "sasl.mechanism": mechanism, "sasl.jaas.config": jaas}


def brokers_seen(node, listener: str, settings: dict[str, str]) -> list[tuple[str, int]]:
    """The brokers a Metadata request over that listener names (its own address when all went well)."""
    with ClusterClient(address(node, listener), settings) as cluster:
        return [(broker.host, broker.port) for broker in cluster.metadata([]).brokers]


def failure(node, listener: str, settings: dict[str, str]) -> str:
    with pytest.raises(ClusterError) as caught:
        brokers_seen(node, listener, settings)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("mechanism", "jaas"),
    [
        ("PLAIN", PLAIN.format("alice-secret")),
        ("SCRAM-SHA-256", SCRAM.format("carol-secret")),
        ("SCRAM-SHA-512", SCRAM.format("carol-secret")),
        ("OAUTHBEARER", OAUTH.format("dave")),
    ],
)
@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_every_mechanism_over_both_sasl_listeners(node, certificates, mechanism, jaas, protocol):
    settings = sasl(mechanism, jaas, protocol)
    if protocol == "SASL_SSL":
        settings |= trust(certificates)
    assert brokers_seen(node, protocol, settings) == [("127.0.0.1", node._running().ports[protocol])]


def test_tls_with_a_client_certificate(node, certificates):
    settings = {"security.protocol": "SSL", **trust(certificates)}
    # TLS 1.3 sends the refusal of a missing client certificate after the handshake: either line will do.
    assert failure(node, "SSL", settings).startswith(("TLS handshake with", "API_VERSIONS to"))
    settings |= client_certificate(certificates)
    assert brokers_seen(node, "SSL", settings) == [("127.0.0.1", node._running().ports["SSL"])]
    certificate, key = certificates.clients["admin"]
    combined = certificates.directory / "admin-keystore.pem"
    combined.write_text(certificate.read_text() + key.read_text())
    from_file = {"security.protocol": "SSL", "ssl.keystore.type": "PEM", "ssl.keystore.location": str(combined)}
    assert brokers_seen(node, "SSL", from_file | trust(certificates))


def test_pkcs12_truststore_and_pem_text_truststore(node, certificates):
    p12 = {
        "ssl.truststore.type": "PKCS12",
        "ssl.truststore.location": str(certificates.broker_p12),
        "ssl.truststore.password": certificates.p12_password,
    }
    # broker.p12 holds the broker's certificate and the CA above it, so it can serve as a truststore.
    settings = sasl("PLAIN", PLAIN.format("alice-secret"), "SASL_SSL")
    assert brokers_seen(node, "SASL_SSL", settings | p12)
    text = {"ssl.truststore.type": "PEM", "ssl.truststore.certificates": certificates.ca.read_text()}
    assert brokers_seen(node, "SASL_SSL", settings | text)


def test_a_wrong_password_is_the_brokers_error_in_one_line(node, certificates):
    message = failure(node, "SASL_PLAINTEXT", sasl("PLAIN", PLAIN.format("wrong")))
    assert message.endswith("failed: SASL_AUTHENTICATION_FAILED: Authentication failed: Invalid username or password")
    for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
        settings = sasl(mechanism, SCRAM.format("wrong"), "SASL_SSL") | trust(certificates)
        message = failure(node, "SASL_SSL", settings)
        assert (
            f"SASL_AUTHENTICATION_FAILED: Authentication failed during authentication due to invalid credentials with SASL mechanism {mechanism}"
            in message
        )


def test_a_refused_token_is_the_brokers_error(node):
    # An empty principal claim is refused by the broker's validator, not by the client.
    jaas = OAUTH.format("x").replace('"x"', '" "')
    message = failure(node, "SASL_PLAINTEXT", sasl("OAUTHBEARER", jaas))
    assert 'SASL_AUTHENTICATION_FAILED: {"status":"invalid_token"}' in message


def test_cli_errors_are_one_line_with_exit_1(node, certificates, tmp_path, capsys):
    config = tmp_path / "client.properties"
    config.write_text(
        "security.protocol=SASL_SSL\n"
        "sasl.mechanism=SCRAM-SHA-512\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n"
        '    username="carol" \\\n'
        '    password="nope";\n'
        f"ssl.truststore.type=PEM\nssl.truststore.location={certificates.ca}\n"
    )
    server = address(node, "SASL_SSL")
    assert cli.main(["topics", "list", "--bootstrap-server", server, "--command-config", str(config)]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith(f"kwire topics: authentication to {server} failed: SASL_AUTHENTICATION_FAILED: ")

    config.write_text(config.read_text().replace("nope", "carol-secret"))
    assert cli.main(["topics", "list", "--bootstrap-server", server, "--command-config", str(config)]) == 0
    capsys.readouterr()

    config.write_text(
        f"security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location={tmp_path}/missing.pem\n"
    )
    assert cli.main(["groups", "list", "--bootstrap-server", server, "--command-config", str(config)]) == 1
    assert capsys.readouterr().err == f"kwire groups: ssl.truststore.location {tmp_path}/missing.pem does not exist\n"


def test_the_command_config_can_come_from_the_environment(node, certificates, tmp_path, capsys, monkeypatch):
    config = tmp_path / "client.properties"
    config.write_text(
        f"security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.jaas.config={PLAIN.format('alice-secret')}\n"
    )
    monkeypatch.setenv("KWIRE_BOOTSTRAP_SERVER", address(node, "SASL_PLAINTEXT"))
    monkeypatch.setenv("KWIRE_COMMAND_CONFIG", str(config))
    assert cli.main(["topics", "create", "--topic", "secured-topic", "--partitions", "2"]) == 0
    capsys.readouterr()
    assert cli.main(["topics", "list"]) == 0
    assert "secured-topic" in capsys.readouterr().out


def test_mistakes_in_the_settings_are_told_before_connecting(certificates):
    unreachable = "127.0.0.1:1"
    cases = {
        "Invalid value TLS for configuration security.protocol": {"security.protocol": "TLS"},
        "sasl.mechanism=GSSAPI is not supported": {"security.protocol": "SASL_PLAINTEXT"},
        "sasl.jaas.config is not set": {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN"},
        "needs ScramLoginModule": sasl("SCRAM-SHA-256", PLAIN.format("x")),
        "needs username=": sasl("PLAIN", "org.apache.kafka.common.security.plain.PlainLoginModule required;"),
        "sasl.jaas.config: ": sasl("PLAIN", 'PlainLoginModule required password="unterminated'),
        "needs unsecuredLoginStringClaim_sub": sasl(
            "OAUTHBEARER", "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;"
        ),
        "ssl.endpoint.identification.algorithm": {
            "security.protocol": "SSL",
            "ssl.endpoint.identification.algorithm": "ldap",
        },
        "request.timeout.ms: a positive": {"request.timeout.ms": "soon"},
        "is a directory": {"security.protocol": "SSL", "ssl.truststore.location": str(certificates.directory)},
        "holds no PEM certificate": {
            "security.protocol": "SSL",
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(certificates.clients["admin"][1]),
        },
    }
    for expected, settings in cases.items():
        with pytest.raises(ClusterError, match=expected) as caught:
            ClusterClient(unreachable, settings)
        assert "unterminated" not in str(caught.value) and "\n" not in str(caught.value)


def test_host_names_are_checked_unless_the_algorithm_is_empty(node, certificates):
    # The broker's certificate names localhost and 127.0.0.1; "127.1" reaches the same socket but is not named.
    port = node._running().ports["SASL_SSL"]
    settings = sasl("PLAIN", PLAIN.format("alice-secret"), "SASL_SSL") | trust(certificates)
    with pytest.raises(ClusterError, match="TLS handshake with 127.1:.* failed: .*(mismatch|match)"):
        ClusterClient(f"127.1:{port}", settings).any()
    unchecked = settings | {"ssl.endpoint.identification.algorithm": ""}
    with ClusterClient(f"127.1:{port}", unchecked) as cluster:
        assert cluster.any().address == f"127.1:{port}"


def test_the_wrong_protocol_for_a_listener_is_one_error(node, certificates):
    message = failure(node, "SASL_PLAINTEXT", {"security.protocol": "SSL"} | trust(certificates))
    assert message.startswith(f"TLS handshake with {address(node, 'SASL_PLAINTEXT')} failed")
    message = failure(node, "PLAINTEXT", sasl("PLAIN", PLAIN.format("alice-secret")))
    assert "ILLEGAL_SASL_STATE (is it a SASL listener?)" in message
    config = sasl("SCRAM-SHA-256", SCRAM.format("carol-secret"))
    assert brokers_seen(node, "SASL_PLAINTEXT", config)


def test_a_session_the_broker_limits_is_renewed_before_it_ends(certificates):
    """KIP-368: with connections.max.reauth.ms the broker closes a connection used after
    its session ended; the tools re-authenticate on the same connection before that."""
    broker_clock = ManualClock()
    client_now = [0.0]
    config = BrokerConfig(port=0, data_dir=None, sasl_jaas_config=BROKER_JAAS, connections_max_reauth_ms=60_000)
    config.listener_specs = (("SASL_PLAINTEXT", "SASL_PLAINTEXT", "127.0.0.1", 0),)
    with start_node_in_thread(config, clock=broker_clock) as running:
        settings = sasl("PLAIN", PLAIN.format("alice-secret"))
        with ClusterClient(running.bootstrap_servers, settings, clock=lambda: client_now[0]) as cluster:
            connection = cluster.any()
            assert cluster.metadata([]).brokers
            broker_clock.advance(50)  # within the session, and not yet 85 % of it: no renewal needed
            client_now[0] += 50
            assert cluster.metadata([]).brokers
            broker_clock.advance(20)  # the broker's session has ended; the client renews it first
            client_now[0] += 20
            assert cluster.metadata([]).brokers
            assert cluster.any() is connection
        with ClusterClient(running.bootstrap_servers, settings, clock=lambda: 0.0) as stale:
            stale.metadata([])
            broker_clock.advance(61)  # a client that did not renew is cut off, as Kafka does
            with pytest.raises(ClusterError, match="connection closed by the broker"):
                stale.metadata([])


def test_a_pkcs12_keystore_is_a_client_certificate(node, certificates):
    keystore = {
        "security.protocol": "SSL",
        "ssl.keystore.type": "PKCS12",
        "ssl.keystore.location": str(certificates.broker_p12),
        "ssl.keystore.password": certificates.p12_password,
    }
    assert brokers_seen(node, "SSL", keystore | trust(certificates))
    wrong = keystore | {"ssl.keystore.password": "not-it"}
    with pytest.raises(ClusterError, match="ssl.keystore.password does not open"):
        ClusterClient(address(node, "SSL"), wrong | trust(certificates))
