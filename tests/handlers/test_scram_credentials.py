"""DescribeUserScramCredentials and AlterUserScramCredentials, in process:
Kafka's checks and answers, the admin log, authorization, and credentials
that survive a restart and reach every node of a cluster."""

import hashlib
import logging

import pytest

from kwire.protocol.errors import ErrorCode
from kwire.security.credentials import ScramCredential
from tests.cluster_cores import ClusterCores
from tests.core_client import CoreClient, make_core

DESCRIBE, ALTER = 50, 51
SHA256, SHA512 = 1, 2


def upsertion(user, mechanism=SHA256, iterations=4096, password="secret", salt=b"salt-of-" + b"x" * 8):
    name = {SHA256: "sha256", SHA512: "sha512"}.get(mechanism, "sha256")
    salted = hashlib.pbkdf2_hmac(name, password.encode(), salt, max(iterations, 1))
    return dict(name=user, mechanism=mechanism, iterations=iterations, salt=salt, salted_password=salted)


def alter(client, deletions=(), upsertions=()):
    response = client.call(
        ALTER,
        0,
        dict(
            deletions=[dict(name=user, mechanism=mechanism) for user, mechanism in deletions],
            upsertions=list(upsertions),
        ),
    )
    return {r.user: (r.error_code, r.error_message) for r in response.results}


def describe(client, users=None):
    request = dict(users=None if users is None else [dict(name=user) for user in users])
    return client.call(DESCRIBE, 0, request)


def described(client, users=None):
    response = describe(client, users)
    assert response.error_code == ErrorCode.none and response.error_message is None
    return {
        r.user: [(c.mechanism, c.iterations) for c in r.credential_infos] if r.error_code == 0 else r.error_code
        for r in response.results
    }


OK = (ErrorCode.none, None)


def test_set_describe_delete(client, caplog):
    caplog.set_level(logging.INFO, logger="kwire.admin")
    assert alter(client, upsertions=[upsertion("alice", iterations=8192)]) == {"alice": OK}
    assert alter(client, upsertions=[upsertion("alice", SHA512), upsertion("bob")]) == {"alice": OK, "bob": OK}
    assert described(client) == {"alice": [(SHA256, 8192), (SHA512, 4096)], "bob": [(SHA256, 4096)]}
    assert described(client, []) == described(client)
    assert described(client, ["bob"]) == {"bob": [(SHA256, 4096)]}
    assert alter(client, deletions=[("alice", SHA256)]) == {"alice": OK}
    assert described(client) == {"alice": [(SHA512, 4096)], "bob": [(SHA256, 4096)]}
    # The admin log names users and mechanisms, never what the credential holds.
    assert "AlterUserScramCredentials from client" in caplog.text
    assert "SCRAM credentials of user 'alice' (set SCRAM-SHA-256 (8192 iterations)): ok" in caplog.text
    assert "SCRAM credentials of user 'alice' (delete SCRAM-SHA-256): ok" in caplog.text
    assert "salt" not in caplog.text.lower()


def test_the_stored_credential_is_what_the_client_salted(client):
    wanted = upsertion("carol", SHA512, 4096, password="pw", salt=b"0123456789")
    alter(client, upsertions=[wanted])
    stored = client.core.state.scram_credentials.lookup("carol", "SCRAM-SHA-512")
    assert stored == ScramCredential.from_password("SCRAM-SHA-512", "pw", b"0123456789", 4096)
    assert client.core.state.scram_credentials.lookup("carol", "SCRAM-SHA-256") is None
    assert client.core.state.scram_credentials.lookup("nobody", "SCRAM-SHA-512") is None


def test_kafkas_checks(client):
    alter(client, upsertions=[upsertion("dave")])
    assert alter(
        client,
        upsertions=[
            upsertion("few", iterations=4095),
            upsertion("many", iterations=16385),
            upsertion("odd", mechanism=3),
            upsertion("", SHA256),
            upsertion("edge-low", iterations=4096),
            upsertion("edge-high", iterations=16384),
        ],
    ) == {
        "few": (ErrorCode.unacceptable_credential, "Too few iterations"),
        "many": (ErrorCode.unacceptable_credential, "Too many iterations"),
        "odd": (ErrorCode.unsupported_sasl_mechanism, "Unknown SCRAM mechanism"),
        "": (ErrorCode.unacceptable_credential, "Username must not be empty"),
        "edge-low": OK,
        "edge-high": OK,
    }
    twice = (ErrorCode.duplicate_resource, "A user credential cannot be altered twice in the same request")
    # One user once per request, whatever the mechanisms; the rest still applies.
    assert alter(client, deletions=[("dave", SHA256)], upsertions=[upsertion("dave", SHA512), upsertion("erin")]) == {
        "dave": twice,
        "erin": OK,
    }
    assert alter(client, upsertions=[upsertion("frank"), upsertion("frank", SHA512)]) == {"frank": twice}
    assert alter(client, deletions=[("dave", SHA256), ("dave", SHA512)]) == {"dave": twice}
    assert alter(client, deletions=[("dave", SHA512), ("nobody", SHA256)]) == {
        "dave": (ErrorCode.resource_not_found, "Attempt to delete a user credential that does not exist"),
        "nobody": (ErrorCode.resource_not_found, "Attempt to delete a user credential that does not exist"),
    }
    assert alter(client, deletions=[("dave", 0)]) == {
        "dave": (ErrorCode.unsupported_sasl_mechanism, "Unknown SCRAM mechanism")
    }
    assert described(client) == {
        "dave": [(SHA256, 4096)],
        "edge-high": [(SHA256, 16384)],
        "edge-low": [(SHA256, 4096)],
        "erin": [(SHA256, 4096)],
    }
    assert "frank" not in described(client)


def test_describe_errors(client):
    alter(client, upsertions=[upsertion("gina")])
    response = describe(client, ["gina", "nobody", "gina", "gina"])
    assert response.error_code == ErrorCode.none
    assert [(r.user, r.error_code, r.error_message) for r in response.results] == [
        (
            "gina",
            ErrorCode.duplicate_resource,
            "Cannot describe SCRAM credentials for the same user twice in a single request: gina",
        ),
        ("nobody", ErrorCode.resource_not_found, "Attempt to describe a user credential that does not exist: nobody"),
    ]


def test_an_empty_salted_password_is_refused(client):
    wanted = dict(upsertion("hal"), salted_password=b"")
    assert alter(client, upsertions=[wanted])["hal"][0] == ErrorCode.unacceptable_credential
    assert described(client) == {}


class _Refuse:
    def __init__(self, refused):
        self.refused = refused

    def authorize(self, principal, host, operation, resource_type, name):
        return (operation.name, resource_type.name, name) not in self.refused


@pytest.mark.parametrize("refused", ["DESCRIBE", "ALTER"])
def test_cluster_authorization(client, refused, caplog):
    alter(client, upsertions=[upsertion("ivan")])
    client.core.state.authorizer = _Refuse({(refused, "CLUSTER", "kafka-cluster")})
    caplog.set_level(logging.INFO, logger="kwire.authorizer")
    failed = (ErrorCode.cluster_authorization_failed, "Cluster authorization failed.")
    if refused == "ALTER":
        assert alter(client, deletions=[("ivan", SHA256)], upsertions=[upsertion("judy")]) == {
            "ivan": failed,
            "judy": failed,
        }
        assert described(client) == {"ivan": [(SHA256, 4096)]}
    else:
        response = describe(client, ["ivan"])
        assert (response.error_code, response.error_message) == failed
        assert [(r.error_code, r.credential_infos) for r in response.results] == [(failed[0], ())]
        assert alter(client, upsertions=[upsertion("judy")]) == {"judy": OK}
    assert f"is Denied operation = {refused} " in caplog.text


def test_credentials_survive_a_restart(tmp_path):
    core = make_core(tmp_path)
    alter(CoreClient(core), upsertions=[upsertion("kim", SHA512, 8192), upsertion("lee")])
    alter(CoreClient(core), deletions=[("lee", SHA256)])
    before = core.state.scram_credentials.lookup("kim", "SCRAM-SHA-512")
    core.close()
    core = make_core(tmp_path)
    try:
        assert core.state.scram_credentials.lookup("kim", "SCRAM-SHA-512") == before is not None
        assert described(CoreClient(core)) == {"kim": [(SHA512, 8192)]}
    finally:
        core.close()


def test_every_node_of_a_cluster_sees_them_also_after_a_restart(tmp_path):
    cores = ClusterCores(3, tmp_path)
    try:
        assert alter(CoreClient(cores.cores[2]), upsertions=[upsertion("mia")]) == {"mia": OK}
        for node_id in (1, 2, 3):
            assert cores.cores[node_id].state.scram_credentials.lookup("mia", "SCRAM-SHA-256") is not None
            assert described(CoreClient(cores.cores[node_id])) == {"mia": [(SHA256, 4096)]}
        cores.stop(3)
        assert alter(CoreClient(cores.cores[1]), deletions=[("mia", SHA256)], upsertions=[]) == {"mia": OK}
        cores.start(3)  # catches up with what changed while it was away
        assert cores.cores[3].state.scram_credentials.lookup("mia", "SCRAM-SHA-256") is None
        assert alter(CoreClient(cores.cores[3]), upsertions=[upsertion("nia", SHA512)]) == {"nia": OK}
    finally:
        cores.close()
    cores = ClusterCores(2, tmp_path)
    try:
        for node_id in (1, 2):
            assert described(CoreClient(cores.cores[node_id])) == {"nia": [(SHA512, 4096)]}
    finally:
        cores.close()
