"""The admin commands (`kwire topics|groups|configs|cluster`) run in-process
against a node in a thread: what they print, as tables and as JSON, and
their exit status. compat_tests/test_cli_admin.py runs them as subprocesses
beside real clients."""

import json

import pytest

from kwire import cli


def test_a_topic_created_listed_described_and_altered(kwire):
    assert kwire("topics", "create", "--topic", "cli-a", "--partitions", "2", "--config", "retention.ms=60000") == (
        0,
        "Created topic cli-a.\n",
        "",
    )
    status, out, err = kwire("topics", "create", "--topic", "cli-a")
    assert (status, out) == (1, "")
    assert err == "kwire topics: cannot create topic cli-a: TOPIC_ALREADY_EXISTS: Topic 'cli-a' already exists.\n"
    assert kwire("topics", "create", "--topic", "cli-a", "--if-not-exists") == (0, "", "")
    assert "cli-a" in kwire("topics", "list")[1].splitlines()

    status, out, _ = kwire("topics", "describe", "--topic", "cli-a")
    assert status == 0
    topics, partitions = out.split("\n\n")
    header, row = topics.splitlines()
    assert header.split() == ["TOPIC", "TOPIC-ID", "PARTITIONS", "REPLICATION-FACTOR", "CONFIGS"]
    assert row.split()[2:] == ["2", "1", "retention.ms=60000"]
    assert [line.split() for line in partitions.splitlines()] == [
        ["TOPIC", "PARTITION", "LEADER", "REPLICAS", "ISR", "EARLIEST-OFFSET", "LATEST-OFFSET"],
        ["cli-a", "0", "1", "1", "1", "0", "0"],
        ["cli-a", "1", "1", "1", "1", "0", "0"],
    ]

    altered = [
        "topics",
        "alter",
        "--topic",
        "cli-a",
        "--config",
        "segment.ms=100000",
        "--delete-config",
        "retention.ms",
    ]
    assert kwire(*altered) == (0, "Completed updating config for topic cli-a.\n", "")
    (described,) = json.loads(kwire("topics", "describe", "--topic", "cli-a", "--output", "json")[1])
    assert described["configs"] == {"segment.ms": "100000"}
    assert [p["partition"] for p in described["partitions"]] == [0, 1]
    assert described["partition_count"] == 2 and described["replication_factor"] == 1


def test_an_unknown_topic_is_one_line_and_exit_1(kwire):
    assert kwire("topics", "describe", "--topic", "never-made") == (
        1,
        "",
        "kwire topics: Topic 'never-made' does not exist\n",
    )


def test_topic_configs_through_kwire_configs(kwire):
    assert kwire("topics", "create", "--topic", "cli-c")[0] == 0
    assert kwire("configs", "describe", "--entity-type", "topics", "--entity-name", "cli-c")[1] == (
        "No dynamic configs for topic cli-c.\n"
    )
    assert kwire(
        "configs",
        "alter",
        "--entity-type",
        "topics",
        "--entity-name",
        "cli-c",
        "--add-config",
        "cleanup.policy=[compact,delete],retention.ms=1000",
    ) == (0, "Completed updating config for topic cli-c.\n", "")
    status, out, _ = kwire("configs", "describe", "--entity-type", "topics", "--entity-name", "cli-c")
    assert [line.split() for line in out.splitlines()] == [
        ["NAME", "VALUE", "SOURCE", "READ-ONLY"],
        ["cleanup.policy", "compact,delete", "DYNAMIC_TOPIC_CONFIG", "false"],
        ["retention.ms", "1000", "DYNAMIC_TOPIC_CONFIG", "false"],
    ]
    assert (
        kwire(
            "configs", "alter", "--entity-type", "topics", "--entity-name", "cli-c", "--delete-config", "retention.ms"
        )[0]
        == 0
    )
    entries = json.loads(
        kwire("configs", "describe", "--entity-type", "topics", "--entity-name", "cli-c", "--output", "json")[1]
    )
    assert [(e["name"], e["value"], e["source"]) for e in entries] == [
        ("cleanup.policy", "compact,delete", "DYNAMIC_TOPIC_CONFIG")
    ]
    with_defaults = json.loads(
        kwire("configs", "describe", "--entity-type", "topics", "--entity-name", "cli-c", "--all", "--output", "json")[
            1
        ]
    )
    assert {
        "name": "retention.ms",
        "value": "604800000",
        "source": "DEFAULT_CONFIG",
        "sensitive": False,
        "read_only": False,
    } in with_defaults
    status, _, err = kwire(
        "configs", "alter", "--entity-type", "topics", "--entity-name", "cli-c", "--add-config", "retention.ms=soon"
    )
    assert status == 1 and err.startswith("kwire configs: cannot alter configs of cli-c: INVALID_CONFIG")


def test_broker_configs_are_described(kwire):
    assert kwire("configs", "describe", "--entity-type", "brokers", "--entity-name", "1") == (
        0,
        "No dynamic configs for broker 1.\n",
        "",
    )
    entries = json.loads(
        kwire("configs", "describe", "--entity-type", "brokers", "--entity-name", "1", "--all", "--output", "json")[1]
    )
    assert {"name": "num.partitions", "value": "1"}.items() <= next(
        e for e in entries if e["name"] == "num.partitions"
    ).items()
    # The cluster-wide default level holds only what was set there, as in Kafka.
    assert kwire("configs", "alter", "--entity-type", "brokers", "--entity-default",
                 "--add-config", "log.retention.ms=1234")[0] == 0  # fmt: skip
    defaults = json.loads(
        kwire("configs", "describe", "--entity-type", "brokers", "--entity-default", "--output", "json")[1]
    )
    assert [(e["name"], e["value"]) for e in defaults] == [("log.retention.ms", "1234")]
    assert kwire("configs", "alter", "--entity-type", "brokers", "--entity-default",
                 "--delete-config", "log.retention.ms")[0] == 0  # fmt: skip
    assert kwire("configs", "describe", "--entity-type", "brokers", "--entity-default", "--output", "json")[1] == "[]\n"
    status, _, err = kwire("configs", "describe", "--entity-type", "brokers", "--entity-name", "x")
    assert (status, err) == (1, "kwire configs: --entity-name 'x': a broker is named by its id\n")


def test_the_cluster_is_described(kwire, node):
    status, out, _ = kwire("cluster", "describe")
    port = node.bootstrap_servers.rsplit(":", 1)[1]
    lines = out.splitlines()
    assert status == 0 and lines[1] == "Controller: 1"
    assert lines[0].startswith("Cluster ID: ")
    assert lines[3].split() == ["BROKER-ID", "HOST", "PORT", "RACK"]
    assert lines[4].split() == ["1", "127.0.0.1", port, "-"]
    data = json.loads(kwire("cluster", "describe", "--output", "json")[1])
    assert data["brokers"] == [{"id": 1, "host": "127.0.0.1", "port": int(port), "rack": None}]
    assert data["controller_id"] == 1 and data["cluster_id"]


def test_offsets_of_a_new_group_are_planned_then_committed(kwire):
    assert kwire("topics", "create", "--topic", "cli-g", "--partitions", "2")[0] == 0
    plan = ["groups", "reset-offsets", "--group", "cli-group", "--topic", "cli-g:1", "--to-earliest"]
    status, out, err = kwire(*plan)
    assert status == 0 and "WARN: No action will be performed as the --execute option is missing." in err
    assert [line.split() for line in out.splitlines()] == [
        ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"],
        ["cli-group", "cli-g", "1", "0"],
    ]
    status, out, _ = kwire("groups", "describe", "--group", "cli-group")
    assert (status, out) == (1, "")
    assert kwire(*plan, "--execute")[0] == 0
    status, out, _ = kwire("groups", "describe", "--group", "cli-group")
    assert out.splitlines()[0] == "Consumer group 'cli-group' has no active members."
    assert out.splitlines()[3].split() == ["cli-group", "cli-g", "1", "0", "0", "0", "-", "-", "-"]
    assert "cli-group" in kwire("groups", "list")[1].splitlines()
    listed = json.loads(kwire("groups", "list", "--output", "json")[1])
    assert {"group": "cli-group", "state": "Empty", "protocol_type": None} in listed
    status, out, _ = kwire("groups", "describe", "--group", "cli-group", "--state")
    assert out.splitlines()[1].split()[0] == "cli-group" and out.splitlines()[1].split()[-2:] == ["Empty", "0"]
    assert (
        kwire("groups", "reset-offsets", "--group", "cli-group", "--topic", "cli-g", "--to-latest", "--execute")[0] == 0
    )
    status, out, _ = kwire("groups", "delete-offsets", "--group", "cli-group", "--topic", "cli-g:0")
    assert [line.split() for line in out.splitlines()] == [
        ["TOPIC", "PARTITION", "STATUS"],
        ["cli-g", "0", "Successful"],
    ]
    offsets = json.loads(kwire("groups", "describe", "--group", "cli-group", "--output", "json")[1])[0]["offsets"]
    assert [(o["partition"], o["current_offset"]) for o in offsets] == [(1, 0)]
    assert kwire("groups", "delete", "--group", "cli-group") == (
        0,
        "Deletion of requested consumer groups ('cli-group') was successful.\n",
        "",
    )
    status, out, _ = kwire("groups", "delete", "--group", "cli-group")
    assert status == 1 and "* Group 'cli-group' could not be deleted due to: GROUP_ID_NOT_FOUND" in out


def test_bad_reset_targets_are_one_line(kwire):
    assert kwire("topics", "create", "--topic", "cli-r")[0] == 0
    base = ["groups", "reset-offsets", "--group", "cli-r-group", "--topic", "cli-r"]
    assert kwire(*base, "--by-duration", "1h")[2] == (
        "kwire groups: --by-duration '1h' is not an ISO-8601 duration such as PT1H30M or P1DT2H\n"
    )
    assert kwire(*base, "--shift-by", "2", "--dry-run")[2] == (
        "kwire groups: Cannot shift offset for partition(s) cli-r-0: no committed offset\n"
    )
    assert kwire("groups", "reset-offsets", "--group", "g", "--topic", "no-such-topic", "--to-latest")[2] == (
        "kwire groups: Topic 'no-such-topic' does not exist\n"
    )


def test_an_unreachable_broker_is_one_line(capsys):
    assert cli.main(["topics", "list", "--bootstrap-server", "127.0.0.1:1"]) == 1
    assert capsys.readouterr().err.startswith("kwire topics: cannot connect to 127.0.0.1:1:")


def test_the_bootstrap_server_may_come_from_the_environment(node, monkeypatch, capsys):
    monkeypatch.setenv("KWIRE_BOOTSTRAP_SERVER", node.bootstrap_servers)
    assert cli.main(["cluster", "describe", "--output", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["controller_id"] == 1
    monkeypatch.delenv("KWIRE_BOOTSTRAP_SERVER")
    with pytest.raises(SystemExit) as exit_:
        cli.main(["cluster", "describe"])
    assert exit_.value.code == 2 and "--bootstrap-server" in capsys.readouterr().err


def test_command_config_sets_the_client_id(node, tmp_path, capsys):
    settings = tmp_path / "client.properties"
    settings.write_text("client.id=from-file\n")
    status = cli.main(
        ["cluster", "describe", "--bootstrap-server", node.bootstrap_servers, "--command-config", str(settings)]
    )
    assert status == 0
    settings.write_text("security.protocol=SSL\n")
    status = cli.main(
        ["cluster", "describe", "--bootstrap-server", node.bootstrap_servers, "--command-config", str(settings)]
    )
    assert status == 1
    err = capsys.readouterr().err  # OpenSSL names the failure; the rest of the line is kwire's
    assert err.startswith(f"kwire cluster: TLS handshake with {node.bootstrap_servers} failed: ")
    assert err.endswith(" (is it a TLS listener?)\n") and err.count("\n") == 1
