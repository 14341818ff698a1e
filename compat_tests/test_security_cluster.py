"""A three-broker kwire (`kwire serve --brokers 3 --config server.properties`)
with PLAINTEXT, SSL, SASL_PLAINTEXT and SASL_SSL listeners and the
StandardAuthorizer: each node takes each listener's port plus its id - 1,
Metadata advertises every broker's port of the listener the client came in
on, real clients produce and consume over SASL_SSL across the nodes, and
SCRAM credentials and ACLs made through one node hold on every node."""

from __future__ import annotations

import subprocess

import pytest

from compat_tests.clients import Outgoing, consume, produce
from compat_tests.cluster import KwireCluster
from compat_tests.security_kit import (
    PROTOCOLS,
    USERS,
    Identity,
    allow,
    authorizer_settings,
    broker_ports,
    create_topic,
    free_port_block,
    options,
    produce_error,
    server_properties,
    set_scram_password,
    user,
)

BROKERS = 3
SPACING = BROKERS  # each listener's ports P..P+2, the next listener's from P+3

pytestmark = pytest.mark.xdist_group("security-cluster")


class SecureCluster:
    def __init__(self, cluster: KwireCluster, ports: dict[str, int], certs) -> None:
        self.cluster, self.ports, self.certs = cluster, ports, certs

    def port(self, protocol: str, node_id: int) -> int:
        return self.ports[protocol] + node_id - 1

    def bootstrap(self, protocol: str, node_id: int | None = None) -> str:
        nodes = [node_id] if node_id else range(1, BROKERS + 1)
        return ",".join(f"127.0.0.1:{self.port(protocol, n)}" for n in nodes)


@pytest.fixture(scope="module")
def secure_cluster(tmp_path_factory, test_certificates):
    directory = tmp_path_factory.mktemp("secure-cluster")
    base = free_port_block(len(PROTOCOLS) * SPACING)
    ports = {protocol: base + index * SPACING for index, protocol in enumerate(PROTOCOLS)}
    settings = {**authorizer_settings(), "node.id": None, "log.dirs": None}
    path = directory / "server.properties"
    path.write_text(server_properties(directory, ports, test_certificates, settings))
    cluster = KwireCluster(
        directory / "data", directory / "kwire.log", ["--config", str(path)], BROKERS, ports["PLAINTEXT"]
    )
    cluster.start()
    try:
        secure = SecureCluster(cluster, ports, test_certificates)
        admin = options("confluent-kafka", "SASL_PLAINTEXT", test_certificates, user("admin"))
        for name, password in USERS.items():
            set_scram_password(secure.bootstrap("SASL_PLAINTEXT", 1), admin, name, password)
        yield secure
    finally:
        cluster.kill()


def as_admin(secure: SecureCluster) -> dict:
    return options("confluent-kafka", "SASL_SSL", secure.certs, user("admin", "SCRAM-SHA-256"))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_metadata_advertises_each_brokers_port_of_the_listener_used(secure_cluster, protocol):
    identity = user("admin", "SCRAM-SHA-512") if protocol.startswith("SASL") else Identity(certificate="alice")
    expected = {n: secure_cluster.port(protocol, n) for n in range(1, BROKERS + 1)}
    for node_id in (1, 3):  # whichever node answers
        extra = options("confluent-kafka", protocol, secure_cluster.certs, identity)
        assert broker_ports(secure_cluster.bootstrap(protocol, node_id), extra) == expected


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python", "aiokafka"])
def test_produce_and_consume_over_sasl_ssl(secure_cluster, topic_name, client):
    create_topic(
        secure_cluster.bootstrap("SASL_SSL"), topic_name, as_admin(secure_cluster), partitions=3, replication=3
    )
    extra = options(client, "SASL_SSL", secure_cluster.certs, user("admin", "SCRAM-SHA-512"))
    messages = [Outgoing(key=None, value=f"{client}-{p}".encode(), partition=p) for p in range(3)]
    produced = produce(client, secure_cluster.bootstrap("SASL_SSL", 2), topic_name, messages, **extra)
    assert sorted(partition for partition, _offset in produced) == [0, 1, 2]
    got = consume(client, secure_cluster.bootstrap("SASL_SSL", 3), topic_name, [0, 1, 2], 3, **extra)
    assert sorted(m.value for m in got) == sorted(m.value for m in messages)
    for p in range(3):  # replicated to the whole ISR (acks=all)
        secure_cluster.cluster.wait_replicated(topic_name, p)


@pytest.mark.parametrize("client", ["confluent-kafka", "aiokafka"])
def test_acls_and_scram_users_made_through_one_node_hold_on_every_node(secure_cluster, topic_name, client):
    create_topic(
        secure_cluster.bootstrap("SASL_SSL", 1), topic_name, as_admin(secure_cluster), partitions=3, replication=3
    )
    name = f"cluster-{client}"
    set_scram_password(secure_cluster.bootstrap("SASL_SSL", 1), as_admin(secure_cluster), name, "pw")
    allow(
        secure_cluster.bootstrap("SASL_SSL", 1), as_admin(secure_cluster), f"User:{name}", "WRITE", "TOPIC", topic_name
    )
    identity = Identity("SCRAM-SHA-256", name, "pw")
    extra = options(client, "SASL_SSL", secure_cluster.certs, identity)
    # Bootstrapped on node 3, writing to every partition (led by each node in turn).
    messages = [Outgoing(key=None, value=b"v", partition=p) for p in range(3)]
    produced = produce(client, secure_cluster.bootstrap("SASL_SSL", 3), topic_name, messages, **extra)
    assert sorted(p for p, _ in produced) == [0, 1, 2]
    others = options(client, "SASL_SSL", secure_cluster.certs, user("alice", "SCRAM-SHA-256"))
    assert produce_error(client, secure_cluster.bootstrap("SASL_SSL", 2), topic_name, others) != ""


def test_kcat_lists_the_sasl_ssl_brokers(secure_cluster):
    listed = subprocess.run(
        [
            "kcat",
            *("-b", secure_cluster.bootstrap("SASL_SSL", 2)),
            *("-X", "security.protocol=SASL_SSL", "-X", "sasl.mechanisms=PLAIN"),
            *("-X", "sasl.username=admin", "-X", f"sasl.password={USERS['admin']}"),
            *("-X", f"ssl.ca.location={secure_cluster.certs.ca}"),
            "-L",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    for node_id in range(1, BROKERS + 1):
        assert f"broker {node_id} at 127.0.0.1:{secure_cluster.port('SASL_SSL', node_id)}" in listed.stdout
