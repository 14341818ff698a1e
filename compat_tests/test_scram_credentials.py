"""SCRAM credentials through real admin clients: confluent-kafka's
(librdkafka) and kafka-python's alter_user_scram_credentials /
describe_user_scram_credentials against a kwire subprocess, credentials
surviving a restart, and every node of a cluster answering the same."""

from __future__ import annotations

import pytest

TIMEOUT_S = 20


def _confluent_admin(bootstrap: str):
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 10_000})


def _confluent_described(admin, users=None) -> dict[str, list[tuple[str, int]]]:
    """{user: [(mechanism name, iterations)]}; raises the user's error."""
    answer = admin.describe_user_scram_credentials(users, request_timeout=TIMEOUT_S)
    if users is None:
        descriptions = answer.result(timeout=TIMEOUT_S)
    else:
        descriptions = {user: future.result(timeout=TIMEOUT_S) for user, future in answer.items()}
    return {
        user: sorted((info.mechanism.name.replace("_", "-"), info.iterations) for info in d.scram_credential_infos)
        for user, d in descriptions.items()
    }


def test_confluent_kafka_admin_alters_and_describes(start_kwire):
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import (
        ScramCredentialInfo,
        ScramMechanism,
        UserScramCredentialDeletion,
        UserScramCredentialUpsertion,
    )

    broker = start_kwire()
    admin = _confluent_admin(broker.bootstrap)
    sha256 = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 8192)
    results = admin.alter_user_scram_credentials(
        [
            UserScramCredentialUpsertion("alice", sha256, b"alice-secret", b"some-salt"),
            UserScramCredentialUpsertion("bob", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), b"pw"),
        ],
        request_timeout=TIMEOUT_S,
    )
    for future in results.values():
        assert future.result(timeout=TIMEOUT_S) is None
    expected = {"alice": [("SCRAM-SHA-256", 8192)], "bob": [("SCRAM-SHA-512", 4096)]}
    assert _confluent_described(admin) == expected
    assert _confluent_described(admin, ["bob"]) == {"bob": [("SCRAM-SHA-512", 4096)]}
    with pytest.raises(KafkaException, match="does not exist"):
        _confluent_described(admin, ["nobody"])

    too_few = admin.alter_user_scram_credentials(
        [UserScramCredentialUpsertion("carol", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4000), b"pw")],
        request_timeout=TIMEOUT_S,
    )
    with pytest.raises(KafkaException, match="Too few iterations"):
        too_few["carol"].result(timeout=TIMEOUT_S)
    deleted = admin.alter_user_scram_credentials(
        [UserScramCredentialDeletion("bob", ScramMechanism.SCRAM_SHA_512)], request_timeout=TIMEOUT_S
    )
    assert deleted["bob"].result(timeout=TIMEOUT_S) is None
    del expected["bob"]
    broker.restart()
    assert _confluent_described(_confluent_admin(broker.bootstrap)) == expected
    log = broker.log_path.read_text()
    assert "SCRAM credentials of user 'alice' (set SCRAM-SHA-256 (8192 iterations)): ok" in log
    assert "alice-secret" not in log and "some-salt" not in log


def test_kafka_python_admin_alters_and_describes(start_kwire):
    from kafka.admin import KafkaAdminClient, ScramMechanism, UserScramCredentialDeletion, UserScramCredentialUpsertion

    broker = start_kwire(memory=True)
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=10_000)
    try:
        assert admin.alter_user_scram_credentials(
            [
                UserScramCredentialUpsertion("dave", "SCRAM-SHA-512", "pw", iterations=16384),
                UserScramCredentialUpsertion("erin", ScramMechanism.SCRAM_SHA_256, "pw"),
                UserScramCredentialUpsertion("", ScramMechanism.SCRAM_SHA_256, "pw"),
            ]
        ) == {"dave": None, "erin": None, "": "Username must not be empty"}
        described = admin.describe_user_scram_credentials()
        assert {user: d["credential_infos"] for user, d in described.items()} == {
            "dave": [{"mechanism": ScramMechanism.SCRAM_SHA_512, "iterations": 16384}],
            "erin": [{"mechanism": ScramMechanism.SCRAM_SHA_256, "iterations": 4096}],
        }
        assert admin.alter_user_scram_credentials(
            [UserScramCredentialDeletion("erin", ScramMechanism.SCRAM_SHA_512)]
        ) == {"erin": "Attempt to delete a user credential that does not exist"}
        assert admin.describe_user_scram_credentials(["erin", "erin"]) == {
            "erin": {
                "error": "Cannot describe SCRAM credentials for the same user twice in a single request: erin",
                "credential_infos": [],
            }
        }
    finally:
        admin.close()


def test_every_node_of_a_cluster_answers_the_same(start_cluster):
    from confluent_kafka.admin import ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion

    from kwire.admin.cluster_client import ClusterClient
    from kwire.admin.users import describe_credentials

    cluster = start_cluster(brokers=3)
    admin = _confluent_admin(cluster.addresses[2])
    upsertion = UserScramCredentialUpsertion("frank", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096), b"pw")
    assert admin.alter_user_scram_credentials([upsertion], request_timeout=TIMEOUT_S)["frank"].result(TIMEOUT_S) is None
    for node_id in (1, 2, 3):
        # Asked of each node itself (the kwire tool asks the first bootstrap server).
        with ClusterClient(cluster.addresses[node_id]) as one_node:
            assert describe_credentials(one_node, ["frank"]) == {"frank": {"SCRAM-SHA-256": 4096}}
