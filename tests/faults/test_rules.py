"""The rule table: matching, counts, every/after, expiry on the node's clock."""

import logging
import threading

import pytest

from kwire.clock import ManualClock
from kwire.faults import FaultError, FaultInjector
from kwire.faults.rules import ERROR, LATENCY, RuleTable, parse_api, parse_error
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode

PRODUCE = ApiKey.PRODUCE


@pytest.mark.parametrize("name", ["Produce", "PRODUCE", "produce", 0, "0", ApiKey.PRODUCE])
def test_api_names(name):
    assert parse_api(name) == ApiKey.PRODUCE


def test_api_names_in_camel_case():
    assert parse_api("FindCoordinator") == ApiKey.FIND_COORDINATOR
    assert parse_api("InitProducerId") == ApiKey.INIT_PRODUCER_ID
    for bad in ("Nope", 999, "", None, True, -1):
        with pytest.raises(FaultError):
            parse_api(bad)


def test_error_names():
    assert parse_error("NOT_LEADER_OR_FOLLOWER") == ErrorCode.not_leader_or_follower
    assert parse_error("not_leader_or_follower") == ErrorCode.not_leader_or_follower
    assert parse_error(6) == parse_error("6") == ErrorCode.not_leader_or_follower
    for bad in ("NOPE", 0, "NONE", 12345, None, 1.5, True):
        with pytest.raises(FaultError):
            parse_error(bad)


def test_count_then_gone(caplog):
    caplog.set_level(logging.INFO, "kwire.faults")
    table = RuleTable()
    rule = table.add(ERROR, "Produce", now=0, error="NOT_LEADER_OR_FOLLOWER", count=2)
    assert "fault added" in caplog.text
    assert table.match(ApiKey.FETCH, None, [], 0) is None
    assert table.match(PRODUCE, None, [], 0) is rule
    assert table.match(PRODUCE, None, [], 0) is rule
    assert table.match(PRODUCE, None, [], 0) is None
    assert table.rules == []


def test_filters():
    table = RuleTable()
    table.add(ERROR, "Produce", now=0, error=6, topic="t", partition=1, client_id="me")
    assert table.match(PRODUCE, "me", [("t", 0)], 0) is None
    assert table.match(PRODUCE, "other", [("t", 1)], 0) is None
    assert table.match(PRODUCE, "me", [("u", 1)], 0) is None
    assert table.match(PRODUCE, "me", [("u", 1), ("t", 1)], 0) is not None
    # A request that names the topic without partitions (e.g. Metadata) matches a partition filter.
    assert table.match(PRODUCE, "me", [("t", None)], 0) is not None


def test_every_and_after():
    table = RuleTable()
    table.add(LATENCY, "Fetch", now=0, latency_ms=5, every=3, after=1)
    hits = [table.match(ApiKey.FETCH, None, [], 0) is not None for _ in range(8)]
    assert hits == [False, False, False, True, False, False, True, False]


def test_expiry_on_the_clock(caplog):
    clock = ManualClock()
    faults = FaultInjector(clock)
    faults.add_latency("Fetch", ms=10, duration_ms=1000)
    assert faults.armed
    assert faults.list()[0]["expires_in_ms"] == 1000
    clock.advance(0.5)
    assert faults.match(ApiKey.FETCH, None, []) is not None
    clock.advance(0.5)
    with caplog.at_level(logging.INFO, "kwire.faults"):
        assert faults.match(ApiKey.FETCH, None, []) is None
    assert "fault expired" in caplog.text
    assert not faults.armed
    assert faults.list() == []


def test_first_matching_rule_wins_and_clear():
    faults = FaultInjector(ManualClock())
    first = faults.inject_error("Produce", "REQUEST_TIMED_OUT", topic="t")
    second = faults.add_latency("Produce", ms=5)
    assert faults.match(PRODUCE, None, [("t", 0)]).id == first
    assert faults.match(PRODUCE, None, [("u", 0)]).id == second
    assert faults.clear(first) == 1
    with pytest.raises(FaultError):
        faults.clear(first)
    faults.pause_partition("t", 0)
    assert [rule["kind"] for rule in faults.list()] == ["latency", "pause"]
    assert faults.clear() == 2
    assert not faults.armed and faults.paused == frozenset()


@pytest.mark.parametrize(
    "kind, options",
    [
        ("nope", {}),
        ("error", {}),
        ("error", {"error": "NOPE"}),
        ("error", {"error": 6, "count": 0}),
        ("error", {"error": 6, "count": "3"}),
        ("latency", {"latency_ms": 0}),
        ("latency", {"latency_ms": 10, "duration_ms": -1}),
        ("drop", {"partition": -2}),
        ("drop", {"topic": ""}),
        ("drop", {"every": 0}),
    ],
)
def test_bad_rules(kind, options):
    faults = FaultInjector(ManualClock())
    with pytest.raises(FaultError):
        faults.add_rule(kind, "Produce", **options)
    assert not faults.armed


def test_kill_and_crash_refused_for_an_embedded_node():
    faults = FaultInjector(ManualClock())
    with pytest.raises(FaultError):
        faults.kill()
    with pytest.raises(FaultError):
        faults.crash_after("Produce")


def test_start_up_flags_are_rules():
    faults = FaultInjector(ManualClock())
    faults.install_startup_flags(drop_produce_responses_every=3, exit_after_produce=5)
    kinds = [(rule["kind"], rule["every"], rule["after"], rule["count"]) for rule in faults.list()]
    assert kinds == [("lose_response", 3, 0, None), ("crash", 1, 4, 1)]
    assert [faults.match(PRODUCE, None, []) is not None for _ in range(3)] == [False, False, True]


def test_thread_safety():
    faults = FaultInjector(ManualClock())

    def add_and_clear():
        for _ in range(200):
            rule = faults.inject_error("Produce", 6, count=1)
            faults.list()
            try:
                faults.clear(rule)
            except FaultError:
                pass  # taken by the matcher first

    threads = [threading.Thread(target=add_and_clear) for _ in range(3)]
    for thread in threads:
        thread.start()
    for _ in range(2000):
        faults.match(PRODUCE, None, [])
    for thread in threads:
        thread.join(timeout=30)
    assert faults.list() == []
    assert not faults.armed
