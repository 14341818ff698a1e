"""Consumer groups through real clients: partitions shared within a group,
every group gets everything, committed offsets, rebalances, assignors,
static membership. Each consumer runs in its own process."""

from __future__ import annotations

import subprocess
import sys

import pytest

from compat_tests.clients import Outgoing, create_topic, produce
from compat_tests.group_consumers import REPO_ROOT, GroupConsumer, all_offsets, describe, wait_for, wait_settled

ALL_CLIENTS = ["confluent-kafka", "kafka-python", "aiokafka"]
# Short sessions so a killed consumer is noticed in about two seconds.
FAST_SESSIONS = ("-o", "group.min.session.timeout.ms=1000")


def start(consumers, client, broker, group, topic, **options) -> GroupConsumer:
    consumer = GroupConsumer(client, broker.bootstrap, group, topic, **options)
    consumers.append(consumer)
    return consumer


def produce_spread(broker, topic, partitions, count, first=0) -> set[tuple[int, int]]:
    """`count` messages spread evenly over the partitions; their (partition, offset)s."""
    messages = [Outgoing(b"k%d" % i, b"m%d" % i, partition=i % partitions) for i in range(first, first + count)]
    return set(produce("confluent-kafka", broker.bootstrap, topic, messages))


def members_and_state(broker, group) -> tuple[int, str]:
    """(number of members, state) as the broker reports them."""
    description = describe(broker.bootstrap, group)
    return len(description.members), description.state


@pytest.mark.parametrize("client", ALL_CLIENTS)
def test_members_share_partitions_and_no_message_is_lost(start_kwire, consumers, topic_name, client):
    broker = start_kwire(*FAST_SESSIONS, memory=True)
    create_topic("confluent-kafka", broker.bootstrap, topic_name, partitions=6)
    produced = produce_spread(broker, topic_name, 6, 600)
    group = [start(consumers, client, broker, "shared", topic_name, session_ms=2000) for _ in range(3)]
    wait_settled(group, 6)
    assert all(len(c.assignment) == 2 for c in group), group
    wait_for(lambda: all_offsets(group) >= produced, "every message consumed")

    # A fourth member: the group rebalances, still one owner per partition.
    group.append(start(consumers, client, broker, "shared", topic_name, session_ms=2000))
    wait_settled(group, 6)
    assert all(c.assignment for c in group), group
    produced |= produce_spread(broker, topic_name, 6, 120, first=600)

    # One leaves cleanly, one dies: their partitions move, nothing is lost.
    leaving, dying = group[0], group[1]
    leaving.close()
    wait_settled(group[1:], 6)
    dying.kill()
    survivors = group[2:]
    wait_settled(survivors, 6)
    produced |= produce_spread(broker, topic_name, 6, 120, first=720)
    wait_for(lambda: all_offsets(group) >= produced, "every message consumed after the rebalances")
    assert members_and_state(broker, "shared") == (2, "Stable")


@pytest.mark.parametrize("client", ALL_CLIENTS)
def test_extra_members_stay_idle(start_kwire, consumers, topic_name, client):
    broker = start_kwire(memory=True)
    create_topic("confluent-kafka", broker.bootstrap, topic_name, partitions=2)
    group = [start(consumers, client, broker, "idle", topic_name) for _ in range(3)]
    wait_settled(group, 2)
    assert sorted(len(c.assignment) for c in group) == [0, 1, 1]
    idle = next(c for c in group if not c.assignment)
    seen_by_idle = len(idle.messages)  # it may have held partitions before the last join
    produced = produce_spread(broker, topic_name, 2, 40)
    wait_for(lambda: all_offsets(group) >= produced, "every message consumed")
    assert len(idle.messages) == seen_by_idle
    wait_settled(group, 2)


@pytest.mark.parametrize("clients", [("confluent-kafka", "kafka-python"), ("aiokafka", "confluent-kafka")])
def test_every_group_gets_every_message(start_kwire, consumers, topic_name, clients):
    broker = start_kwire(memory=True)
    create_topic("confluent-kafka", broker.bootstrap, topic_name, partitions=3)
    produced = produce_spread(broker, topic_name, 3, 300)
    groups = {
        "first": [start(consumers, clients[0], broker, "first", topic_name) for _ in range(2)],
        "second": [start(consumers, clients[1], broker, "second", topic_name)],
    }
    for members in groups.values():
        wait_settled(members, 3)
        wait_for(lambda: all_offsets(members) >= produced, "a group to read everything")
        assert len(all_offsets(members)) == 300


def kwire_groups(broker, *args) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "kwire", "groups", *args, "--bootstrap-server", broker.bootstrap],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def lag_rows(output: str) -> dict[int, tuple[str, str, str]]:
    """partition -> (current offset, log end offset, lag) from `kwire groups describe`."""
    rows = {}
    for line in output.splitlines():
        cells = line.split()
        if len(cells) >= 6 and cells[2].isdigit():
            rows[int(cells[2])] = (cells[3], cells[4], cells[5])
    return rows


@pytest.mark.parametrize(
    "clients",
    [
        ("kafka-python", "confluent-kafka"),
        ("confluent-kafka", "aiokafka"),
        ("aiokafka", "kafka-python"),
    ],
)
def test_commit_close_and_resume_after_the_last_commit(start_kwire, consumers, topic_name, clients):
    broker = start_kwire(memory=True)
    create_topic("confluent-kafka", broker.bootstrap, topic_name, partitions=3)
    produced = produce_spread(broker, topic_name, 3, 300)
    first = start(consumers, clients[0], broker, "resume", topic_name)
    wait_for(lambda: first.offsets_seen() >= produced, "the first consumer to read everything")
    assert first.commit() == {0: 100, 1: 100, 2: 100}
    assert lag_rows(kwire_groups(broker, "describe", "resume")) == {p: ("100", "100", "0") for p in range(3)}
    first.close()

    newer = produce_spread(broker, topic_name, 3, 90, first=300)
    assert lag_rows(kwire_groups(broker, "describe", "resume")) == {p: ("100", "130", "30") for p in range(3)}
    assert "resume" in kwire_groups(broker, "list")
    second = start(consumers, clients[1], broker, "resume", topic_name)
    wait_for(lambda: second.offsets_seen() >= newer, "the second consumer to read the new messages")
    assert second.offsets_seen() == newer  # nothing before the committed offsets
    assert sorted(m[2] for m in second.messages) == sorted(f"m{i}" for i in range(300, 390))


@pytest.mark.parametrize("client", ALL_CLIENTS)
def test_auto_offset_reset_for_a_new_group(start_kwire, consumers, topic_name, client):
    broker = start_kwire(memory=True)
    create_topic("confluent-kafka", broker.bootstrap, topic_name, partitions=1)
    old = produce_spread(broker, topic_name, 1, 50)
    earliest = start(consumers, client, broker, "from-earliest", topic_name, reset="earliest")
    latest = start(consumers, client, broker, "from-latest", topic_name, reset="latest")
    wait_for(lambda: earliest.offsets_seen() == old, "earliest to read the old messages")
    wait_settled([latest], 1)
    # The latest consumer fixes its position on its first fetch; keep
    # producing until it sees something, then check it saw nothing old.
    first = 50
    for _attempt in range(40):
        produce_spread(broker, topic_name, 1, 5, first=first)
        first += 5
        try:
            wait_for(lambda: latest.messages, "latest to read a new message", timeout_s=0.5)
            break
        except AssertionError:
            continue
    assert latest.messages and min(o for _p, o, _v in latest.messages) >= 50


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_committed_offsets_survive_a_broker_restart(start_kwire, consumers, topic_name, client):
    broker = start_kwire()
    create_topic("confluent-kafka", broker.bootstrap, topic_name, partitions=3)
    produced = produce_spread(broker, topic_name, 3, 60)
    reader = start(consumers, client, broker, "durable", topic_name)
    wait_for(lambda: reader.offsets_seen() >= produced, "everything consumed")
    assert reader.commit() == {0: 20, 1: 20, 2: 20}
    reader.close()
    broker.kill()  # SIGKILL: only what was written survives
    broker.start()
    assert lag_rows(kwire_groups(broker, "describe", "durable")) == {p: ("20", "20", "0") for p in range(3)}
    newer = produce_spread(broker, topic_name, 3, 30, first=60)
    again = start(consumers, client, broker, "durable", topic_name)
    wait_for(lambda: again.offsets_seen() >= newer, "the new messages after the restart")
    assert again.offsets_seen() == newer


@pytest.mark.parametrize(
    "client,assignor",
    [
        ("confluent-kafka", "range"),
        ("confluent-kafka", "roundrobin"),
        ("confluent-kafka", "cooperative-sticky"),
        ("kafka-python", "roundrobin"),
        ("kafka-python", "sticky"),
        ("kafka-python", "cooperative-sticky"),
        ("aiokafka", "roundrobin"),
    ],
)
def test_assignors_and_incremental_rebalance(start_kwire, consumers, topic_name, client, assignor):
    broker = start_kwire(memory=True)
    create_topic("confluent-kafka", broker.bootstrap, topic_name, partitions=6)
    produced = produce_spread(broker, topic_name, 6, 60)
    group = [start(consumers, client, broker, "assignors", topic_name, assignor=assignor) for _ in range(2)]
    wait_settled(group, 6)
    before = {id(c): set(c.assignment) for c in group}
    revocations_before = [len(c.revocations) for c in group]
    group.append(start(consumers, client, broker, "assignors", topic_name, assignor=assignor))
    wait_settled(group, 6)
    assert sorted(len(c.assignment) for c in group) == [2, 2, 2]
    wait_for(lambda: all_offsets(group) >= produced, "every message consumed")
    assert describe(broker.bootstrap, "assignors").protocol == assignor
    for consumer, count in zip(group[:2], revocations_before):
        revoked = [set(r) for r in consumer.revocations[count:] if r]
        if assignor == "cooperative-sticky":
            # Incremental: a member gives up only what moves, and keeps the rest.
            assert revoked and all(r < before[id(consumer)] for r in revoked), consumer.revocations
            assert set(consumer.assignment) <= before[id(consumer)]
        else:
            assert before[id(consumer)] in revoked  # eager: everything goes back first


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python", "aiokafka"])
def test_static_member_restarts_without_a_rebalance(start_kwire, consumers, topic_name, client):
    broker = start_kwire("--log-level", "DEBUG", memory=True)
    create_topic("confluent-kafka", broker.bootstrap, topic_name, partitions=4)
    members = {
        name: start(consumers, client, broker, "static", topic_name, instance_id=name, session_ms=10_000)
        for name in ("alpha", "beta")
    }
    wait_settled(list(members.values()), 4)
    generation_events = {name: len(c.assignments) for name, c in members.items()}
    for name in ("alpha", "beta"):  # restart each in turn: follower and leader
        other = next(n for n in members if n != name)
        before = members[name].assignment
        members[name].kill()
        members[name] = start(consumers, client, broker, "static", topic_name, instance_id=name, session_ms=10_000)
        wait_for(lambda: members[name].assignment is not None, f"{name} to be back")
        assert members[name].assignment == before
        assert len(members[other].assignments) == generation_events[other], "the other member rebalanced"
        generation_events[name] = len(members[name].assignments)
    produced = produce_spread(broker, topic_name, 4, 40)
    wait_for(lambda: all_offsets(list(members.values())) >= produced, "both members still consuming")
    assert members_and_state(broker, "static") == (2, "Stable")
