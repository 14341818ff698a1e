"""Each fault kind as the dispatcher applies it (BrokerCore without sockets)."""

import logging

import pytest

from kwire.handlers.base import DROP_CONNECTION, Delayed, Late
from kwire.protocol.errors import ErrorCode
from kwire.protocol.record_codec import iter_all_records
from tests.core_client import CoreClient, make_core
from tests.handlers import requests as rq
from tests.handlers.test_groups_and_offsets import commit_values, fetch_values, join_values

PRODUCE, FETCH, LIST_OFFSETS, METADATA = 0, 1, 2, 3
OFFSET_COMMIT, OFFSET_FETCH, FIND_COORDINATOR, JOIN, HEARTBEAT, SYNC = 8, 9, 10, 11, 12, 14
INIT_PRODUCER_ID, CREATE_TOPICS = 22, 19


@pytest.fixture
def client():
    core = make_core()
    client = CoreClient(core)
    client.call(CREATE_TOPICS, 4, rq.create("t", 2))
    yield client
    core.close()


def end_offset(client, partition=0):
    return client.core.cluster.partition("t", partition).log.log_end_offset


def produce(client, version=9, partition=0, value=b"v", acks=-1):
    return client.call(PRODUCE, version, rq.produce("t", partition, rq.batch(value), acks=acks))


@pytest.mark.parametrize("version", [3, 7, 9, 11])
def test_produce_error_is_per_partition_and_nothing_is_written(client, version):
    client.core.state.faults.inject_error("Produce", "NOT_LEADER_OR_FOLLOWER", count=1)
    result = produce(client, version).responses[0]
    assert result.name == "t"
    assert [(p.index, p.error_code) for p in result.partition_responses] == [(0, ErrorCode.not_leader_or_follower)]
    assert end_offset(client) == 0
    assert produce(client, version).responses[0].partition_responses[0].error_code == ErrorCode.none
    assert end_offset(client) == 1


def test_topic_and_client_filters(client):
    faults = client.core.state.faults
    faults.inject_error("Produce", "TOPIC_AUTHORIZATION_FAILED", topic="t", partition=1)
    assert produce(client, partition=0).responses[0].partition_responses[0].error_code == ErrorCode.none
    assert (
        produce(client, partition=1).responses[0].partition_responses[0].error_code
        == ErrorCode.topic_authorization_failed
    )
    faults.clear()
    faults.inject_error("Produce", 7, client_id="someone-else")
    assert produce(client).responses[0].partition_responses[0].error_code == ErrorCode.none


@pytest.mark.parametrize("version", [4, 11, 12])
def test_fetch_error(client, version):
    client.core.state.faults.inject_error("Fetch", "NOT_LEADER_OR_FOLLOWER", count=1)
    response = client.call(FETCH, version, rq.fetch("t", 1, 0))
    partition = response.responses[0].partitions[0]
    assert (partition.partition_index, partition.error_code) == (1, ErrorCode.not_leader_or_follower)


@pytest.mark.parametrize(
    "api, version, values, errors",
    [
        (LIST_OFFSETS, 5, rq.list_offsets("t", 1, -1), lambda r: [r.topics[0].partitions[0].error_code]),
        (METADATA, 9, rq.metadata("t"), lambda r: [r.topics[0].error_code]),
        (FIND_COORDINATOR, 3, dict(key="g", key_type=0), lambda r: [r.error_code]),
        (
            FIND_COORDINATOR,
            4,
            dict(key_type=0, coordinator_keys=["a", "b"]),
            lambda r: [c.error_code for c in r.coordinators] + [len(r.coordinators) == 2],
        ),
        (JOIN, 7, join_values(), lambda r: [r.error_code]),
        (
            HEARTBEAT,
            4,
            dict(group_id="g", generation_id=1, member_id="m", group_instance_id=None),
            lambda r: [r.error_code],
        ),
        (
            OFFSET_COMMIT,
            8,
            commit_values("g", -1, "", {("t", 1): (10, "")}),
            lambda r: [r.topics[0].partitions[0].error_code, r.topics[0].partitions[0].partition_index == 1],
        ),
        (
            OFFSET_FETCH,
            7,
            fetch_values("g", {"t": [0]}),
            lambda r: [r.error_code, r.topics[0].partitions[0].error_code],
        ),
        (
            INIT_PRODUCER_ID,
            4,
            dict(transactional_id=None, transaction_timeout=60000, producer_id=-1, producer_epoch=-1),
            lambda r: [r.error_code],
        ),
    ],
)
def test_error_responses_of_other_apis(client, api, version, values, errors):
    client.core.state.faults.inject_error(api, "COORDINATOR_LOAD_IN_PROGRESS", count=1)
    found = errors(client.call(api, version, values))
    assert [e for e in found if e is not True] == [ErrorCode.coordinator_load_in_progress] * (
        len([e for e in found if e is not True])
    )
    assert all(e is not False for e in found)


def test_an_api_without_a_generic_error_response_closes_the_connection(client, monkeypatch):
    import kwire.dispatch

    def fails(*args):
        raise TypeError("no")

    monkeypatch.setattr(kwire.dispatch, "error_response", fails)
    client.core.state.faults.inject_error("Metadata", 3, count=1)
    assert client.raw(METADATA, 9, rq.metadata("t")) is DROP_CONNECTION


def test_latency(client):
    client.core.state.faults.add_latency("Produce", ms=250, count=1)
    assert produce(client).responses[0].partition_responses[0].error_code == ErrorCode.none
    assert client.late_ms == 250
    assert end_offset(client) == 1
    produce(client)
    assert client.late_ms == 0


def test_latency_on_a_long_poll(client):
    client.core.state.faults.add_latency("Fetch", ms=100)
    outcome = client.raw(FETCH, 12, rq.fetch("t", 0, 0, max_wait_ms=500))
    assert isinstance(outcome, Late) and isinstance(outcome.outcome[0], Delayed)


def test_drop_connection_does_not_handle(client, caplog):
    caplog.set_level(logging.INFO, "kwire.faults")
    client.core.state.faults.drop_connection("Produce", count=1)
    assert client.raw(PRODUCE, 9, rq.produce("t", 0, rq.batch(b"x"))) is DROP_CONNECTION
    assert end_offset(client) == 0
    applied, done = [r.getMessage() for r in caplog.records if r.getMessage().startswith("fault ")][-2:]
    assert applied == "fault applied: rule 1 (drop) to a Produce request from client kwire (1 so far)"
    assert done == "fault done: rule 1 (drop) applied 1 times"  # logged after the application it follows


def test_lose_response_handles_then_drops(client):
    client.core.state.faults.lose_response("Produce", count=1)
    assert client.raw(PRODUCE, 9, rq.produce("t", 0, rq.batch(b"x"))) is DROP_CONNECTION
    assert end_offset(client) == 1
    assert produce(client).responses[0].partition_responses[0].base_offset == 1


def test_lose_response_of_a_long_poll(client):
    client.core.state.faults.lose_response("Fetch", count=1)
    delayed, finish = client.raw(FETCH, 12, rq.fetch("t", 0, 0, max_wait_ms=500))
    assert finish(delayed.complete(True)) is DROP_CONNECTION


def test_paused_partition_fetch_sees_no_new_data(client):
    produce(client, value=b"a")
    faults = client.core.state.faults
    faults.pause_partition("t", 0)
    outcome = client.raw(FETCH, 12, rq.fetch("t", 0, 0, max_wait_ms=500))
    assert isinstance(outcome, tuple)  # waits, as with no new data
    response = client.call(FETCH, 12, rq.fetch("t", 0, 0, max_wait_ms=500))
    partition = response.responses[0].partitions[0]
    assert (partition.error_code, partition.high_watermark, bool(partition.records)) == (ErrorCode.none, 0, False)
    faults.resume_partition("t", 0)
    partition = client.call(FETCH, 12, rq.fetch("t", 0, 0)).responses[0].partitions[0]
    assert [r.value for r in iter_all_records(partition.records)] == [b"a"]


def test_paused_partition_produce_waits_then_times_out_unwritten(client):
    faults = client.core.state.faults
    faults.pause_partition("t", 0)
    assert produce(client, partition=1).responses[0].partition_responses[0].error_code == ErrorCode.none
    delayed, finish = client.raw(PRODUCE, 9, rq.produce("t", 0, rq.batch(b"x")))
    assert delayed.max_wait_ms == 1000  # the request's timeout_ms
    assert delayed.complete(False) is None
    timed_out = client.call(PRODUCE, 9, rq.produce("t", 0, rq.batch(b"x")))
    assert timed_out.responses[0].partition_responses[0].error_code == ErrorCode.request_timed_out
    assert end_offset(client) == 0
    faults.resume_partition("t", 0)
    framed = finish(delayed.complete(False))
    assert isinstance(framed, list)
    assert end_offset(client) == 1


def test_no_fault_means_not_armed(client):
    faults = client.core.state.faults
    assert not faults.armed
    rule = faults.inject_error("Produce", 6)
    assert faults.armed
    faults.clear(rule)
    assert not faults.armed


def test_close_connections_without_a_server_closes_nothing(client):
    assert client.core.state.faults.close_connections() == 0
