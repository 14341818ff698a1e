"""Run-time fault injection (kwire serve --control-port) seen by real
clients: retriable errors are retried with nothing lost or duplicated,
fatal ones reach the application, latency shows in round trips, groups
survive coordinator errors, a lost acknowledgement is delivered exactly
once, closed connections are reopened, a paused partition holds produces
and fetches until resumed, and kill ends the process."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from compat_tests.clients import Outgoing, Reader, create_topic, produce
from compat_tests.group_consumers import REPO_ROOT, GroupConsumer, wait_for, wait_settled

CLIENTS = ["confluent-kafka", "kafka-python"]
IDEMPOTENT = {
    "confluent-kafka": {"enable.idempotence": True, "linger.ms": 2, "batch.num.messages": 20, "retry.backoff.ms": 50},
    "kafka-python": {"enable_idempotence": True, "linger_ms": 2, "batch_size": 1000, "retry_backoff_ms": 50},
}
COUNT = 200


@pytest.fixture
def faulty(start_kwire):
    return start_kwire("--control-port", "0", "-o", "group.min.session.timeout.ms=1000", memory=True)


def outgoing(count: int, first: int = 0) -> list[Outgoing]:
    return [Outgoing(b"k%d" % i, b"message-%06d" % i, partition=i % 2) for i in range(first, first + count)]


def stored_values(bootstrap: str, topic: str, expected: int) -> list[bytes]:
    with Reader("confluent-kafka", bootstrap).assign(topic, [0, 1]) as reader:
        return [m.value for m in reader.poll_to_end(expected)]


def applied(broker, rule_id: int) -> int:
    """How often a rule was applied; a rule whose count ran out is gone (applied fully)."""
    for rule in broker.faults("GET", "/faults"):
        if rule.get("id") == rule_id:
            return rule["applied"]
    return -1


def test_the_process_runs_this_tree(faulty):
    assert faulty.control_port is not None
    assert faulty.faults("GET", "/faults") == []


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("error", ["NOT_LEADER_OR_FOLLOWER", "REQUEST_TIMED_OUT"])
def test_retriable_produce_errors_are_retried_exactly_once(faulty, topic_name, client, error):
    create_topic("confluent-kafka", faulty.bootstrap, topic_name, 2)
    rule = faulty.add_fault("error", "Produce", error=error, count=3, topic=topic_name)
    sent = outgoing(COUNT)
    produce(client, faulty.bootstrap, topic_name, sent, **IDEMPOTENT[client])
    assert applied(faulty, rule) == -1  # all three were answered with the error
    values = stored_values(faulty.bootstrap, topic_name, COUNT)
    assert sorted(values) == sorted(m.value for m in sent)


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("kind", ["lose_response", "drop"])
def test_lost_acknowledgements_and_dropped_requests_deliver_exactly_once(faulty, topic_name, client, kind):
    create_topic("confluent-kafka", faulty.bootstrap, topic_name, 2)
    rule = faulty.add_fault(kind, "Produce", count=2, topic=topic_name, every=2)
    sent = outgoing(COUNT)
    produce(client, faulty.bootstrap, topic_name, sent, **IDEMPOTENT[client])
    assert applied(faulty, rule) == -1  # both faults happened
    values = stored_values(faulty.bootstrap, topic_name, COUNT)
    assert sorted(values) == sorted(m.value for m in sent)  # each exactly once


@pytest.mark.parametrize("client", CLIENTS)
def test_topic_authorization_failed_reaches_the_application(faulty, topic_name, client):
    create_topic("confluent-kafka", faulty.bootstrap, topic_name, 2)
    faulty.add_fault("error", "Produce", error="TOPIC_AUTHORIZATION_FAILED", topic=topic_name)
    options = {"message.timeout.ms": 10_000} if client == "confluent-kafka" else {"max_block_ms": 10_000}
    with pytest.raises(Exception) as caught:
        produce(client, faulty.bootstrap, topic_name, outgoing(3), **options)
    assert "AUTHORIZATION" in repr(caught.value).upper()
    faulty.faults("DELETE", "/faults")
    assert len(produce(client, faulty.bootstrap, topic_name, outgoing(3))) == 3


@pytest.mark.parametrize("client", CLIENTS)
def test_invalid_producer_epoch_reaches_the_application(faulty, topic_name, client):
    create_topic("confluent-kafka", faulty.bootstrap, topic_name, 2)
    faulty.add_fault("error", "Produce", error="INVALID_PRODUCER_EPOCH", topic=topic_name)
    options = dict(IDEMPOTENT[client])
    options.update({"message.timeout.ms": 10_000} if client == "confluent-kafka" else {"max_block_ms": 10_000})
    started = time.monotonic()
    with pytest.raises(Exception) as caught:
        produce(client, faulty.bootstrap, topic_name, outgoing(3), **options)
    assert time.monotonic() - started < 25
    text = repr(caught.value).upper()
    assert "INVALID_PRODUCER_EPOCH" in text or "INVALIDPRODUCEREPOCH" in text, text


@pytest.mark.parametrize("client", CLIENTS)
def test_latency_shows_in_round_trips(faulty, topic_name, client):
    create_topic("confluent-kafka", faulty.bootstrap, topic_name, 1)
    produce(client, faulty.bootstrap, topic_name, [Outgoing(b"k", b"warm-up", partition=0)])  # metadata, ids
    faulty.add_fault("latency", "Produce", ms=400, topic=topic_name)
    started = time.monotonic()
    produce(client, faulty.bootstrap, topic_name, [Outgoing(b"k", b"late", partition=0)])
    assert time.monotonic() - started >= 0.4


@pytest.mark.parametrize("client", CLIENTS)
def test_coordinator_loading_is_retried_by_a_group_consumer(faulty, consumers, topic_name, client):
    create_topic("confluent-kafka", faulty.bootstrap, topic_name, 2)
    sent = {(p, o) for p, o in produce("confluent-kafka", faulty.bootstrap, topic_name, outgoing(40))}
    find = faulty.add_fault("error", "FindCoordinator", error="COORDINATOR_LOAD_IN_PROGRESS", count=2)
    offsets = faulty.add_fault("error", "OffsetFetch", error="COORDINATOR_LOAD_IN_PROGRESS", count=2)
    consumer = GroupConsumer(client, faulty.bootstrap, f"g-{topic_name}", topic_name, session_ms=3000)
    consumers.append(consumer)
    wait_for(lambda: consumer.offsets_seen() >= sent, "every message consumed", timeout_s=30)
    assert applied(faulty, find) == -1 and applied(faulty, offsets) == -1


@pytest.mark.parametrize("client", CLIENTS)
def test_a_group_survives_rebalance_in_progress_and_not_coordinator(faulty, consumers, topic_name, client):
    create_topic("confluent-kafka", faulty.bootstrap, topic_name, 2)
    sent = {(p, o) for p, o in produce("confluent-kafka", faulty.bootstrap, topic_name, outgoing(40))}
    consumer = GroupConsumer(client, faulty.bootstrap, f"g-{topic_name}", topic_name, session_ms=3000)
    consumers.append(consumer)
    wait_settled([consumer], 2)
    wait_for(lambda: consumer.offsets_seen() >= sent, "the first messages consumed", timeout_s=30)
    rebalance = faulty.add_fault("error", "Heartbeat", error="REBALANCE_IN_PROGRESS", count=1)
    coordinator = faulty.add_fault("error", "Heartbeat", error="NOT_COORDINATOR", count=1)
    wait_for(lambda: applied(faulty, rebalance) == -1 and applied(faulty, coordinator) == -1, "both applied", 30)
    sent |= {(p, o) for p, o in produce("confluent-kafka", faulty.bootstrap, topic_name, outgoing(40, 40))}
    wait_for(lambda: consumer.offsets_seen() >= sent, "the later messages consumed", timeout_s=30)
    wait_settled([consumer], 2)


@pytest.mark.parametrize("client", CLIENTS)
def test_closed_connections_are_reopened(faulty, topic_name, client):
    create_topic("confluent-kafka", faulty.bootstrap, topic_name, 2)
    with Reader(client, faulty.bootstrap).assign(topic_name, [0, 1]) as reader:
        produce("confluent-kafka", faulty.bootstrap, topic_name, outgoing(20))
        assert len(reader.poll(20)) == 20
        closed = faulty.faults("POST", "/connections/close")["closed"]
        assert closed >= 1
        produce(client, faulty.bootstrap, topic_name, outgoing(20, 20))
        assert len(reader.poll(20)) == 20


@pytest.mark.parametrize("client", CLIENTS)
def test_a_paused_partition_holds_produces_and_fetches_until_resumed(faulty, topic_name, client):
    create_topic("confluent-kafka", faulty.bootstrap, topic_name, 1)
    faulty.faults("POST", "/faults", {"kind": "pause", "topic": topic_name, "partition": 0})
    result: dict = {}

    def send():
        started = time.monotonic()
        result["offsets"] = produce(client, faulty.bootstrap, topic_name, [Outgoing(b"k", b"held", partition=0)])
        result["took"] = time.monotonic() - started

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    with Reader(client, faulty.bootstrap).assign(topic_name, [0]) as reader:
        assert reader.poll_once(1.0) == []
        time.sleep(1.0)
        assert "offsets" not in result
        faulty.faults("POST", "/faults", {"kind": "resume", "topic": topic_name, "partition": 0})
        sender.join(30)
        assert result["offsets"] == [(0, 0)] and result["took"] >= 1.0
        assert [m.value for m in reader.poll(1)] == [b"held"]


def test_paused_produce_times_out_and_is_not_written(faulty, topic_name):
    from confluent_kafka import Producer

    create_topic("confluent-kafka", faulty.bootstrap, topic_name, 1)
    faulty.faults("POST", "/faults", {"kind": "pause", "topic": topic_name, "partition": 0})
    errors = []
    producer = Producer(
        {
            "bootstrap.servers": faulty.bootstrap,
            "request.timeout.ms": 1000,
            "message.timeout.ms": 1500,
            "enable.idempotence": False,
            "retries": 0,
        }
    )
    producer.produce(topic_name, b"never", partition=0, on_delivery=lambda error, _m: errors.append(error))
    assert producer.flush(20) == 0
    assert errors and errors[0] is not None
    faulty.faults("DELETE", "/faults")
    with Reader("confluent-kafka", faulty.bootstrap).assign(topic_name, [0]) as reader:
        assert reader.poll_to_end() == []


def kwire_fault(broker, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kwire", "fault", *args, "--control", broker.control],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_the_cli(faulty, topic_name):
    added = kwire_fault(faulty, "add", "error", "Produce", "--error", "NOT_LEADER_OR_FOLLOWER", "--count", "3")
    assert (added.returncode, added.stdout.strip()) == (0, "1")
    assert kwire_fault(faulty, "add", "latency", "Fetch", "--ms", "100", "--topic", topic_name).returncode == 0
    listing = kwire_fault(faulty, "list", "--output", "json")
    assert [rule["kind"] for rule in json.loads(listing.stdout)] == ["error", "latency"]
    header, first, second = kwire_fault(faulty, "list").stdout.splitlines()
    assert header.split() == ["ID", "KIND", "API", "DETAILS"]
    assert first.split()[:3] == ["1", "error", "Produce"] and "error=NOT_LEADER_OR_FOLLOWER" in first
    assert second.split()[:3] == ["2", "latency", "Fetch"]
    bad = kwire_fault(faulty, "add", "error", "Produce", "--error", "NOPE")
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "NOPE" in bad.stderr
    assert kwire_fault(faulty, "clear", "1").returncode == 0
    assert kwire_fault(faulty, "clear", "1").returncode == 1
    assert kwire_fault(faulty, "clear").returncode == 0
    assert json.loads(kwire_fault(faulty, "list", "--output", "json").stdout) == []
    unreachable = subprocess.run(
        [sys.executable, "-m", "kwire", "fault", "list", "--control", "127.0.0.1:1"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert unreachable.returncode == 1 and "cannot reach" in unreachable.stderr


def test_kill_ends_the_process_at_once(faulty, topic_name):
    create_topic("confluent-kafka", faulty.bootstrap, topic_name, 1)
    assert kwire_fault(faulty, "kill").returncode == 0
    assert faulty.process.wait(10) == 17
