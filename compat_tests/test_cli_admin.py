"""The admin command line (`python -m kwire topics|groups|configs|cluster`)
run as a user runs it, against a kwire subprocess, with real clients
checking what it did: topics it creates as confluent-kafka's and
kafka-python's admins see them, offsets it resets as their consumers
resume from."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from compat_tests.clients import watermarks
from compat_tests.group_consumers import REPO_ROOT, GroupConsumer, wait_for, wait_settled
from compat_tests.test_groups import produce_spread

TIMEOUT_S = 30
CLIENTS = ["confluent-kafka", "kafka-python"]


def kwire(broker, *args: str, status: int = 0) -> str:
    """stdout of one command (on failure: stdout and stderr); its exit status must be
    `status`, and on success stderr is empty."""
    result = subprocess.run(
        [sys.executable, "-m", "kwire", *args, "--bootstrap-server", broker.bootstrap],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert result.returncode == status, result.stderr
    if status == 0 and "--dry-run" not in args:
        assert result.stderr == ""
    return result.stdout if status == 0 else result.stdout + result.stderr


def kwire_json(broker, *args: str):
    return json.loads(kwire(broker, *args, "--output", "json"))


def rows(output: str) -> list[list[str]]:
    return [line.split() for line in output.splitlines() if line.strip()]


def confluent_topic(bootstrap: str, topic: str) -> tuple[int, dict[str, str]]:
    """(partition count, dynamic configs) as confluent-kafka's admin sees the topic."""
    from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource

    admin = AdminClient({"bootstrap.servers": bootstrap})
    partitions = len(admin.list_topics(topic, timeout=10).topics[topic].partitions)
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    entries = admin.describe_configs([resource])[resource].result(TIMEOUT_S)
    dynamic = {n: e.value for n, e in entries.items() if e.source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value}
    return partitions, dynamic


def kafka_python_topic(bootstrap: str, topic: str) -> tuple[int, dict[str, str]]:
    """(partition count, dynamic configs) as kafka-python's admin sees the topic."""
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        (described,) = admin.describe_topics([topic])
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])["topic"][topic]
        return len(described["partitions"]), {name: entry["value"] for name, entry in configs.items()}
    finally:
        admin.close()


SEEN_BY = {"confluent-kafka": confluent_topic, "kafka-python": kafka_python_topic}


# --- topics ---------------------------------------------------------------------------


@pytest.mark.parametrize("client", CLIENTS)
def test_topics_the_cli_creates_and_alters_are_what_client_admins_see(shared_kwire, topic_name, client):
    created = kwire(
        shared_kwire,
        "topics", "create", "--topic", topic_name, "--partitions", "3",
        "--config", "retention.ms=123456", "--config", "cleanup.policy=delete",
    )  # fmt: skip
    assert created == f"Created topic {topic_name}.\n"
    assert SEEN_BY[client](shared_kwire.bootstrap, topic_name) == (
        3,
        {"retention.ms": "123456", "cleanup.policy": "delete"},
    )
    assert "TOPIC_ALREADY_EXISTS" in kwire(shared_kwire, "topics", "create", "--topic", topic_name, status=1)
    assert kwire(shared_kwire, "topics", "create", "--topic", topic_name, "--if-not-exists") == ""

    assert kwire(
        shared_kwire, "topics", "alter", "--topic", topic_name, "--config", "retention.ms=999", "--delete-config",
        "cleanup.policy",
    ) == f"Completed updating config for topic {topic_name}.\n"  # fmt: skip
    assert SEEN_BY[client](shared_kwire.bootstrap, topic_name) == (3, {"retention.ms": "999"})
    assert topic_name in kwire(shared_kwire, "topics", "list").splitlines()
    assert topic_name in kwire_json(shared_kwire, "topics", "list", "--exclude-internal")


def test_describe_shows_the_offsets_clients_see(shared_kwire, topic_name):
    kwire(shared_kwire, "topics", "create", "--topic", topic_name, "--partitions", "2")
    produce_spread(shared_kwire, topic_name, 2, 15)
    table = kwire(shared_kwire, "topics", "describe", "--topic", topic_name)
    topics, partitions = table.split("\n\n")
    topic_row = rows(topics)[1]
    assert topic_row[0] == topic_name and topic_row[2:] == ["2", "1", "-"]
    expected = {p: watermarks("kafka-python", shared_kwire.bootstrap, topic_name, p) for p in (0, 1)}
    assert expected == {0: (0, 8), 1: (0, 7)}
    assert rows(partitions)[1:] == [
        [topic_name, str(p), "1", "1", "1", str(low), str(high)] for p, (low, high) in expected.items()
    ]
    (described,) = kwire_json(shared_kwire, "topics", "describe", "--topic", topic_name)
    assert described["topic_id"] == rows(topics)[1][1]
    assert [(p["earliest_offset"], p["latest_offset"]) for p in described["partitions"]] == [(0, 8), (0, 7)]
    assert watermarks("confluent-kafka", shared_kwire.bootstrap, topic_name, 1) == (0, 7)


def test_topics_the_cli_deletes_are_gone_for_clients(shared_kwire, topic_name):
    from confluent_kafka.admin import AdminClient

    kwire(shared_kwire, "topics", "create", "--topic", topic_name)
    assert kwire(shared_kwire, "topics", "delete", "--topic", topic_name) == f"Deleted topic {topic_name}.\n"
    admin = AdminClient({"bootstrap.servers": shared_kwire.bootstrap})
    wait_for(lambda: topic_name not in admin.list_topics(timeout=10).topics, "the topic to go")
    assert topic_name not in kwire(shared_kwire, "topics", "list").splitlines()
    assert kwire(shared_kwire, "topics", "delete", "--topic", topic_name, status=1) == (
        f"kwire topics: Topic '{topic_name}' does not exist\n"
    )
    assert kwire(shared_kwire, "topics", "delete", "--topic", topic_name, "--if-exists") == ""


def test_partitions_the_cli_adds_are_seen_by_clients(shared_kwire, topic_name):
    kwire(shared_kwire, "topics", "create", "--topic", topic_name, "--partitions", "2")
    assert kwire(shared_kwire, "topics", "alter", "--topic", topic_name, "--partitions", "5") == (
        f"Topic {topic_name} now has 5 partitions.\n"
    )
    for client in CLIENTS:
        assert SEEN_BY[client](shared_kwire.bootstrap, topic_name)[0] == 5
    assert "INVALID_PARTITIONS" in kwire(shared_kwire, "topics", "alter", "--topic", topic_name, "--partitions", "3",
                                         status=1)  # fmt: skip


# --- configs and cluster ------------------------------------------------------------------


def test_configs_of_topics_and_brokers(shared_kwire, topic_name):
    kwire(shared_kwire, "topics", "create", "--topic", topic_name)
    entity = ["--entity-type", "topics", "--entity-name", topic_name]
    assert kwire(shared_kwire, "configs", "describe", *entity) == f"No dynamic configs for topic {topic_name}.\n"
    kwire(shared_kwire, "configs", "alter", *entity, "--add-config", "max.message.bytes=2000,segment.ms=600000")
    assert rows(kwire(shared_kwire, "configs", "describe", *entity)) == [
        ["NAME", "VALUE", "SOURCE", "READ-ONLY"],
        ["max.message.bytes", "2000", "DYNAMIC_TOPIC_CONFIG", "false"],
        ["segment.ms", "600000", "DYNAMIC_TOPIC_CONFIG", "false"],
    ]
    assert confluent_topic(shared_kwire.bootstrap, topic_name)[1] == {
        "max.message.bytes": "2000",
        "segment.ms": "600000",
    }
    kwire(shared_kwire, "configs", "alter", *entity, "--delete-config", "segment.ms")
    assert kafka_python_topic(shared_kwire.bootstrap, topic_name)[1] == {"max.message.bytes": "2000"}

    broker = kwire_json(shared_kwire, "configs", "describe", "--entity-type", "brokers", "--entity-name", "1", "--all")
    by_name = {entry["name"]: entry for entry in broker}
    assert by_name["num.partitions"]["value"] == "1"
    assert by_name["auto.create.topics.enable"]["source"] in ("DEFAULT_CONFIG", "STATIC_BROKER_CONFIG")
    assert (
        "unknown"
        in kwire(
            shared_kwire,
            "configs",
            "describe",
            "--entity-type",
            "topics",
            "--entity-name",
            "no-such-topic-here",
            status=1,
        ).lower()
    )


def test_cluster_describe(shared_kwire):
    from confluent_kafka.admin import AdminClient

    metadata = AdminClient({"bootstrap.servers": shared_kwire.bootstrap}).list_topics(timeout=10)
    lines = kwire(shared_kwire, "cluster", "describe").splitlines()
    assert lines[0] == f"Cluster ID: {metadata.cluster_id}"
    assert lines[1] == f"Controller: {metadata.controller_id}"
    assert rows(lines[3]) == [["BROKER-ID", "HOST", "PORT", "RACK"]]
    assert rows(lines[4]) == [["1", "127.0.0.1", str(shared_kwire.port), "-"]]
    described = kwire_json(shared_kwire, "cluster", "describe")
    assert described["brokers"] == [{"id": 1, "host": "127.0.0.1", "port": shared_kwire.port, "rack": None}]
    assert described["cluster_id"] == metadata.cluster_id


def test_errors_are_one_line_and_exit_1(shared_kwire):
    result = subprocess.run(
        [sys.executable, "-m", "kwire", "topics", "list", "--bootstrap-server", "127.0.0.1:1"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert result.returncode == 1 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("kwire topics: cannot connect")
    for command in ("topics", "groups", "configs", "cluster"):
        help_text = subprocess.run(
            [sys.executable, "-m", "kwire", command, "--help"], cwd=REPO_ROOT, capture_output=True, text=True,
            timeout=TIMEOUT_S,
        )  # fmt: skip
        assert help_text.returncode == 0 and help_text.stdout.startswith(f"usage: kwire {command}")


# --- groups ---------------------------------------------------------------------------------


@pytest.mark.parametrize("client", [*CLIENTS, "aiokafka"])
def test_reset_offsets_plans_then_commits_where_a_consumer_resumes(start_kwire, topic_name, client):
    broker = start_kwire(memory=True)
    group = f"reset-{client}"
    kwire(broker, "topics", "create", "--topic", topic_name, "--partitions", "3")
    produced = produce_spread(broker, topic_name, 3, 30)
    first = GroupConsumer(client, broker.bootstrap, group, topic_name)
    try:
        wait_settled([first], 3)
        wait_for(lambda: first.offsets_seen() >= produced, "the consumer to read everything")
        assert first.commit() == {0: 10, 1: 10, 2: 10}

        # The members view, and a live group's offsets cannot be reset, dry run or not.
        (member,) = rows(kwire(broker, "groups", "describe", "--group", group, "--members", "--verbose"))[1:]
        assert member[-2:] == ["3", f"{topic_name}(0,1,2)"]
        state = rows(kwire(broker, "groups", "describe", "--group", group, "--state"))[1]
        assert state[0] == group and state[-2:] == ["Stable", "1"]
        reset = ["groups", "reset-offsets", "--group", group, "--topic", topic_name]
        assert kwire(broker, *reset, "--to-earliest", "--dry-run", status=1) == (
            f"kwire groups: Assignments can only be reset if the group '{group}' is inactive, "
            "but the current state is Stable.\n"
        )
        first.close()
    finally:
        first.stop()
    wait_for(lambda: kwire_json(broker, "groups", "describe", "--group", group)[0]["state"] == "Empty", "Empty")

    def plan(*target: str) -> list[list[str]]:
        return rows(kwire(broker, *reset, *target, "--dry-run"))

    header = ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"]
    assert plan("--to-offset", "4") == [header, *[[group, topic_name, str(p), "4"] for p in range(3)]]
    assert plan("--shift-by", "-7") == [header, *[[group, topic_name, str(p), "3"] for p in range(3)]]
    assert plan("--shift-by", "100") == [header, *[[group, topic_name, str(p), "10"] for p in range(3)]]
    assert plan("--by-duration", "P1D") == [header, *[[group, topic_name, str(p), "0"] for p in range(3)]]
    assert plan("--to-datetime", "2999-01-01T00:00:00.000Z") == [
        header,
        *[[group, topic_name, str(p), "10"] for p in range(3)],
    ]
    assert [row[2:] for row in plan("--to-current")[1:]] == [["0", "10"], ["1", "10"], ["2", "10"]]
    # A dry run changed nothing.
    offsets = kwire_json(broker, "groups", "describe", "--group", group)[0]["offsets"]
    assert [(o["partition"], o["current_offset"], o["lag"]) for o in offsets] == [(p, 10, 0) for p in range(3)]

    executed = kwire_json(broker, "groups", "reset-offsets", "--group", group, "--topic", f"{topic_name}:0,2",
                          "--to-offset", "4", "--execute")  # fmt: skip
    assert [(r["partition"], r["new_offset"]) for r in executed] == [(0, 4), (2, 4)]
    lag = rows(kwire(broker, "groups", "describe", "--group", group))
    assert [row[2:6] for row in lag[2:]] == [["0", "4", "10", "6"], ["1", "10", "10", "0"], ["2", "4", "10", "6"]]

    second = GroupConsumer(client, broker.bootstrap, group, topic_name)
    try:
        expected = {(p, o) for p in (0, 2) for o in range(4, 10)}
        wait_for(lambda: second.offsets_seen() >= expected, "the consumer to resume at the new offsets")
        assert second.offsets_seen() == expected
    finally:
        second.stop()


def test_delete_offsets_and_groups(start_kwire, topic_name):
    from confluent_kafka.admin import AdminClient

    broker = start_kwire(memory=True)
    kwire(broker, "topics", "create", "--topic", topic_name, "--partitions", "2")
    produce_spread(broker, topic_name, 2, 10)
    for group in ("keep", "drop"):
        kwire(broker, "groups", "reset-offsets", "--group", group, "--topic", topic_name, "--to-latest", "--execute")
    assert rows(kwire(broker, "groups", "list", "--state")) == [
        ["GROUP", "STATE"],
        ["drop", "Empty"],
        ["keep", "Empty"],
    ]

    deleted = kwire(broker, "groups", "delete-offsets", "--group", "keep", "--topic", f"{topic_name}:1")
    assert rows(deleted) == [["TOPIC", "PARTITION", "STATUS"], [topic_name, "1", "Successful"]]
    offsets = kwire_json(broker, "groups", "describe", "--group", "keep")[0]["offsets"]
    assert [(o["partition"], o["current_offset"]) for o in offsets] == [(0, 5)]

    assert kwire(broker, "groups", "delete", "--group", "drop") == (
        "Deletion of requested consumer groups ('drop') was successful.\n"
    )
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    assert [g.group_id for g in admin.list_consumer_groups().result(TIMEOUT_S).valid] == ["keep"]
    assert kwire(broker, "groups", "delete", "--group", "drop", status=1) == (
        "Deletion of some consumer groups failed:\n* Group 'drop' could not be deleted due to: GROUP_ID_NOT_FOUND\n"
    )
