"""`kwire users add|list|remove` and `kwire configs --entity-type users`
in-process against a node in a thread: what they print, their exit status,
and that the broker stores what the password salts to."""

import json

from kwire.admin.users import new_salt
from kwire.security.credentials import ScramCredential


def _stored(node, user, mechanism):
    # What the node's store holds (a read from this thread, between requests).
    return node._running().core.state.scram_credentials.lookup(user, mechanism)


def test_add_list_remove(kwire, node):
    assert kwire("users", "add", "u-alice", "--password", "alice-secret") == (
        0,
        "Set SCRAM-SHA-256 and SCRAM-SHA-512 credentials of user u-alice (4096 iterations).\n",
        "",
    )
    stored = _stored(node, "u-alice", "SCRAM-SHA-256")
    # The broker holds what the password salts to, with the salt the tool chose.
    assert stored == ScramCredential.from_password("SCRAM-SHA-256", "alice-secret", stored.salt, 4096)
    assert _stored(node, "u-alice", "SCRAM-SHA-512").salt != stored.salt
    assert (
        kwire("users", "add", "u-bob", "--password", "pw", "--mechanism", "SCRAM-SHA-512", "--iterations", "8192")[0]
        == 0
    )

    status, out, _ = kwire("users", "list", "u-alice", "u-bob")
    assert status == 0
    assert [line.split() for line in out.splitlines()] == [
        ["USER", "MECHANISM", "ITERATIONS"],
        ["u-alice", "SCRAM-SHA-256", "4096"],
        ["u-alice", "SCRAM-SHA-512", "4096"],
        ["u-bob", "SCRAM-SHA-512", "8192"],
    ]
    status, out, _ = kwire("users", "list", "--output", "json")
    listed = {entry["user"]: entry["credentials"] for entry in json.loads(out)}
    assert listed["u-bob"] == [{"mechanism": "SCRAM-SHA-512", "iterations": 8192}]

    assert kwire("users", "remove", "u-alice", "--mechanism", "SCRAM-SHA-512") == (
        0,
        "Removed SCRAM-SHA-512 credentials of user u-alice.\n",
        "",
    )
    assert _stored(node, "u-alice", "SCRAM-SHA-512") is None and _stored(node, "u-alice", "SCRAM-SHA-256") is not None
    assert kwire("users", "remove", "u-alice")[:2] == (0, "Removed SCRAM-SHA-256 credentials of user u-alice.\n")
    assert kwire("users", "remove", "u-bob", "--output", "json")[1] == (
        json.dumps({"user": "u-bob", "mechanisms": ["SCRAM-SHA-512"]}, indent=2) + "\n"
    )


def test_errors_are_one_line_and_exit_1(kwire):
    assert kwire("users", "list", "u-nobody") == (
        1,
        "",
        "kwire users: cannot describe SCRAM credentials of user u-nobody: RESOURCE_NOT_FOUND: "
        "Attempt to describe a user credential that does not exist: u-nobody\n",
    )
    assert kwire("users", "remove", "u-nobody", "--mechanism", "SCRAM-SHA-256") == (
        1,
        "",
        "kwire users: cannot remove SCRAM-SHA-256 credentials of user u-nobody: RESOURCE_NOT_FOUND: "
        "Attempt to delete a user credential that does not exist\n",
    )
    assert kwire("users", "add", "u-carl", "--password", "p", "--iterations", "100") == (
        1,
        "",
        "kwire users: --iterations 100: SCRAM takes 4096..16384 iterations\n",
    )
    assert kwire("users", "add", "", "--password", "p") == (
        1,
        "",
        "kwire users: cannot set SCRAM-SHA-256 credentials of user : UNACCEPTABLE_CREDENTIAL: Username must not be empty\n",
    )


def test_kafka_configs_way(kwire, node):
    added = ["configs", "alter", "--entity-type", "users", "--entity-name", "u-dana"]
    assert kwire(
        *added, "--add-config", "SCRAM-SHA-256=[iterations=8192,password=dana-secret],SCRAM-SHA-512=[password=x]"
    ) == (
        0,
        "Completed updating config for user u-dana.\n",
        "",
    )
    stored = _stored(node, "u-dana", "SCRAM-SHA-256")
    assert stored == ScramCredential.from_password("SCRAM-SHA-256", "dana-secret", stored.salt, 8192)
    described = ["configs", "describe", "--entity-type", "users", "--entity-name", "u-dana"]
    assert kwire(*described)[:2] == (
        0,
        "SCRAM credential configs for user-principal 'u-dana' are SCRAM-SHA-256=iterations=8192, "
        "SCRAM-SHA-512=iterations=4096\n",
    )
    assert kwire(*added, "--delete-config", "SCRAM-SHA-512")[0] == 0
    assert json.loads(kwire(*described, "--output", "json")[1]) == [
        {"name": "SCRAM-SHA-256", "value": "iterations=8192"}
    ]
    status, _, err = kwire(*added, "--add-config", "producer_byte_rate=1024")
    assert (status, err) == (
        1,
        "kwire configs: only SCRAM credential configs can be set for users here, not producer_byte_rate\n",
    )
    status, _, err = kwire(*added, "--add-config", "SCRAM-SHA-256=[iterations=x,password=p]")
    assert (status, err) == (1, "kwire configs: invalid credential property SCRAM-SHA-256=iterations=x,password=p\n")
    status, _, err = kwire(*added, "--add-config", "SCRAM-SHA-256=[secret]")
    assert status == 1 and "expected [iterations=N,]password=P" in err


def test_salts_are_fresh_ascii():
    salts = {new_salt() for _ in range(50)}
    assert len(salts) == 50
    assert all(salt.isalnum() and salt.isascii() and len(salt) >= 20 for salt in salts)
