"""`kwire acls add|list|remove` run in-process against a node in a thread:
what they print, as tables and as JSON, and their exit status."""

import json

import pytest

from kwire import cli
from kwire.admin.acls import parse_operation
from kwire.admin.cluster_client import ClusterError
from kwire.config import BrokerConfig
from kwire.security.resources import AclOperation
from kwire.server.node_thread import start_node_in_thread

AUTHORIZER = "kafka.security.authorizer.AclAuthorizer"


@pytest.fixture(scope="module")
def node():
    config = BrokerConfig(port=0, data_dir=None, authorizer_class_name=AUTHORIZER, super_users="User:ANONYMOUS")
    with start_node_in_thread(config) as running:
        yield running


@pytest.fixture(scope="module")
def open_node():
    with start_node_in_thread(BrokerConfig(port=0, data_dir=None)) as running:
        yield running


def runner(node, capsys):
    def run(*args: str) -> tuple[int, str, str]:
        status = cli.main(["acls", *args, "--bootstrap-server", node.bootstrap_servers])
        out, err = capsys.readouterr()
        return status, out, err

    return run


@pytest.fixture
def acls(node, capsys):
    """acls(*args) -> (exit status, stdout, stderr) of one `kwire acls` command."""
    run = runner(node, capsys)
    yield run
    # Every test starts with no ACLs.
    for listed in json.loads(run("list", "--output", "json")[1]):
        flag = {"TOPIC": "--topic", "GROUP": "--group", "TRANSACTIONAL_ID": "--transactional-id"}.get(
            listed["resource_type"]
        )
        if flag:
            run("remove", flag, listed["name"], "--resource-pattern-type", "any")
        else:
            run("remove", "--cluster", "--resource-pattern-type", "any")


def listed(acls, *options):
    status, out, err = acls("list", *options, "--output", "json")
    assert (status, err) == (0, "")
    return {
        (r["resource_type"], r["name"], r["pattern_type"], r["principal"], r["host"], r["operation"], r["permission"])
        for r in json.loads(out)
    }


def test_add_list_and_remove(acls):
    status, out, err = acls(
        "add",
        "--allow-principal",
        "User:alice",
        "--operation",
        "Read",
        "--operation",
        "describe_configs",
        "--topic",
        "orders",
        "--group",
        "billing",
    )
    assert (status, err) == (0, ""), err
    header, *rows = out.splitlines()
    assert header.split() == ["RESOURCE-TYPE", "NAME", "PATTERN-TYPE", "PRINCIPAL", "HOST", "OPERATION", "PERMISSION"]
    assert len(rows) == 4
    status, out, err = acls(
        "add",
        "--deny-principal",
        "User:bob",
        "--deny-host",
        "10.0.0.9",
        "--topic",
        "ord",
        "--resource-pattern-type",
        "prefixed",
    )
    assert (status, err) == (0, "")
    assert listed(acls) == {
        ("TOPIC", "orders", "LITERAL", "User:alice", "*", "READ", "ALLOW"),
        ("TOPIC", "orders", "LITERAL", "User:alice", "*", "DESCRIBE_CONFIGS", "ALLOW"),
        ("GROUP", "billing", "LITERAL", "User:alice", "*", "READ", "ALLOW"),
        ("GROUP", "billing", "LITERAL", "User:alice", "*", "DESCRIBE_CONFIGS", "ALLOW"),
        ("TOPIC", "ord", "PREFIXED", "User:bob", "10.0.0.9", "ALL", "DENY"),
    }
    # Filters: a literal resource by default, `match` for everything that applies to it, a principal.
    assert len(listed(acls, "--topic", "orders")) == 2
    assert len(listed(acls, "--topic", "orders", "--resource-pattern-type", "match")) == 3
    assert {row[3] for row in listed(acls, "--principal", "User:bob")} == {"User:bob"}
    # Remove one entry, then everything left on the group.
    status, out, err = acls(
        "remove", "--allow-principal", "User:alice", "--operation", "Read", "--topic", "orders", "--output", "json"
    )
    assert (status, err) == (0, "")
    assert [(r["name"], r["operation"]) for r in json.loads(out)] == [("orders", "READ")]
    assert acls("remove", "--group", "billing", "--force")[0] == 0
    assert {row[1] for row in listed(acls)} == {"orders", "ord"}
    status, out, _err = acls("remove", "--topic", "nothing-here")
    assert (status, out) == (0, "No ACLs matched: nothing removed.\n")


def test_cluster_and_transactional_id_resources(acls):
    assert acls("add", "--allow-principal", "User:ops", "--operation", "Alter", "--cluster")[0] == 0
    assert acls("add", "--allow-principal", "User:app", "--operation", "Write", "--transactional-id", "tx-1")[0] == 0
    assert listed(acls, "--cluster") == {("CLUSTER", "kafka-cluster", "LITERAL", "User:ops", "*", "ALTER", "ALLOW")}
    assert listed(acls, "--transactional-id", "tx-1") == {
        ("TRANSACTIONAL_ID", "tx-1", "LITERAL", "User:app", "*", "WRITE", "ALLOW")
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("add", "--topic", "t"), "kwire acls: add needs --allow-principal or --deny-principal\n"),
        (("add", "--allow-principal", "User:a"), "kwire acls: add needs a resource: --topic, --group, --cluster"),
        (("add", "--allow-principal", "alice", "--topic", "t"), "kwire acls: 'alice' is not a principal"),
        (("add", "--allow-principal", "User:a", "--topic", "t", "--operation", "Fly"), "kwire acls: --operation 'Fly'"),
        (
            ("add", "--allow-principal", "User:a", "--group", "g", "--operation", "Write"),
            "kwire acls: ResourceType GROUP only supports operations ",
        ),
        (
            ("add", "--allow-principal", "User:a", "--topic", "t", "--resource-pattern-type", "match"),
            "kwire acls: --resource-pattern-type: ACLs are added as literal or prefixed\n",
        ),
        (("remove", "--allow-principal", "User:a"), "kwire acls: remove needs a resource"),
        (("add", "--allow-principal", "User:a", "--topic", ""), "kwire acls: --topic needs a name\n"),
    ],
)
def test_bad_options_are_one_line(acls, args, message):
    status, out, err = acls(*args)
    assert (status, out) == (1, "")
    assert err.startswith(message) and err.count("\n") == 1


def test_a_broker_refusal_is_one_line(open_node, capsys):
    run = runner(open_node, capsys)
    assert run("list") == (
        1,
        "",
        "kwire acls: cannot list ACLs: SECURITY_DISABLED: No Authorizer is configured on the broker\n",
    )
    status, out, err = run("add", "--allow-principal", "User:a", "--topic", "t")
    assert (status, out) == (1, "")
    assert err == (
        "kwire acls: cannot add ALLOW ALL for User:a on TOPIC t: SECURITY_DISABLED: No Authorizer is configured.\n"
    )


def test_operation_spellings():
    assert parse_operation("DescribeConfigs") == AclOperation.DESCRIBE_CONFIGS
    assert parse_operation("describe_configs") == AclOperation.DESCRIBE_CONFIGS
    assert parse_operation("ALL") == AclOperation.ALL
    assert parse_operation("IdempotentWrite") == AclOperation.IDEMPOTENT_WRITE
    with pytest.raises(ClusterError):
        parse_operation("Any")
