"""DeleteTopics and CreatePartitions through BrokerCore: Kafka's checks and
errors, and what a deletion takes with it (offsets, transactions, waiting
fetches, cached metadata)."""

import logging
import uuid

import pytest

from kwire.clock import ManualClock
from kwire.coordinator.offsets import CommittedOffset
from kwire.handlers.base import Delayed
from kwire.protocol.errors import ErrorCode as E
from tests.core_client import CoreClient, make_core
from tests.handlers import requests as rq

PRODUCE, FETCH, METADATA, CREATE_TOPICS, DELETE_TOPICS, CREATE_PARTITIONS = 0, 1, 3, 19, 20, 37


def delete_by_name(*names, version=6):
    if version < 6:
        return dict(topic_names=list(names), timeout=1000)
    return dict(topics=[dict(name=n, topic_id=None) for n in names], timeout=1000)


def delete_by_id(*ids):
    return dict(topics=[dict(name=None, topic_id=i) for i in ids], timeout=1000)


def grow(name, count, assignments=None, validate_only=False):
    wire = None if assignments is None else [dict(broker_ids=ids) for ids in assignments]
    return dict(topics=[dict(name=name, count=count, assignments=wire)], timeout=1000, validate_only=validate_only)


def results_by_key(response):
    return {(r.name, r.topic_id): (r.error_code, getattr(r, "error_message", None)) for r in response.responses}


def topic_names(client):
    return sorted(t.name for t in client.call(METADATA, 12, rq.metadata(None)).topics)


@pytest.fixture
def disk_client(tmp_path):
    core = make_core(tmp_path)
    yield CoreClient(core)
    core.close()


@pytest.mark.parametrize("version", [1, 2, 3, 4, 5, 6])
def test_delete_by_name_every_version(client, version):
    client.call(CREATE_TOPICS, 7, rq.create("doomed", 2))
    client.call(CREATE_TOPICS, 7, rq.create("kept", 1))
    response = client.call(DELETE_TOPICS, version, delete_by_name("doomed", "absent", version=version))
    codes = {r.name: r.error_code for r in response.responses}
    assert codes == {"doomed": E.none, "absent": E.unknown_topic_or_partition}
    assert topic_names(client) == ["kept"]
    assert client.core.cluster.get("doomed") is None


def test_delete_by_id_and_unknown_id(client):
    created = client.call(CREATE_TOPICS, 7, rq.create("by-id", 1)).topics[0]
    stranger = uuid.uuid4()
    response = client.call(DELETE_TOPICS, 6, delete_by_id(created.topic_id, stranger))
    by_id = {r.topic_id: (r.name, r.error_code) for r in response.responses}
    assert by_id[created.topic_id] == ("by-id", E.none)
    assert by_id[stranger] == (None, E.unknown_topic_id)
    assert client.core.cluster.topics_by_id.get(created.topic_id) is None


def test_malformed_and_duplicate_entries(client):
    a = client.call(CREATE_TOPICS, 7, rq.create("a", 1)).topics[0].topic_id
    b = client.call(CREATE_TOPICS, 7, rq.create("b", 1)).topics[0].topic_id
    client.call(CREATE_TOPICS, 7, rq.create("c", 1))
    values = dict(
        topics=[
            dict(name=None, topic_id=None),  # neither
            dict(name="c", topic_id=uuid.uuid4()),  # both
            dict(name="a", topic_id=None),
            dict(name="a", topic_id=None),  # a duplicate name
            dict(name=None, topic_id=b),
            dict(name="b", topic_id=None),  # maps to an id already given
        ],
        timeout=1000,
    )
    results = client.call(DELETE_TOPICS, 6, values).responses
    messages = sorted((r.error_code, r.error_message) for r in results)
    assert messages == sorted(
        [
            (E.invalid_request, "Neither topic name nor id were specified."),
            (E.invalid_request, "You may not specify both topic name and topic id."),
            (E.invalid_request, "Duplicate topic name."),
            (E.invalid_request, "The provided topic name maps to an ID that was already supplied."),
        ]
    )
    assert topic_names(client) == ["a", "b", "c"]  # nothing was deleted
    assert a != b


@pytest.mark.parametrize(
    "version, error",
    [(1, E.invalid_request), (2, E.invalid_request), (3, E.topic_deletion_disabled), (6, E.topic_deletion_disabled)],
)
def test_deletion_disabled(version, error):
    core = make_core(delete_topic_enable=False)
    client = CoreClient(core)
    client.call(CREATE_TOPICS, 7, rq.create("stays", 1))
    response = client.call(DELETE_TOPICS, version, delete_by_name("stays", "absent", version=version))
    assert {r.name: r.error_code for r in response.responses} == {"stays": error, "absent": error}
    assert core.cluster.get("stays") is not None


def test_internal_topics_are_refused(client):
    client.core.groups.commit("g", {("t", 0): CommittedOffset(1, -1, "", 0)})  # creates __consumer_offsets
    response = client.call(DELETE_TOPICS, 6, delete_by_name("__consumer_offsets"))
    (result,) = response.responses
    assert result.error_code == E.invalid_topic_exception and "internal" in result.error_message
    assert client.core.cluster.get("__consumer_offsets") is not None


def test_deletion_is_logged_with_the_client(client, caplog):
    client.call(CREATE_TOPICS, 7, rq.create("logged", 1))
    with caplog.at_level(logging.INFO, logger="kwire.admin"):
        client.call(DELETE_TOPICS, 6, delete_by_name("logged", "absent"))
    (line,) = [r.getMessage() for r in caplog.records if "DeleteTopics" in r.getMessage()]
    assert "logged: deleted" in line and "absent: UNKNOWN_TOPIC_OR_PARTITION" in line


def test_a_recreated_topic_is_new(disk_client):
    client = disk_client
    core = client.core
    old_id = client.call(CREATE_TOPICS, 7, rq.create("again", 1)).topics[0].topic_id
    for _ in range(3):
        client.call(PRODUCE, 9, rq.produce("again", 0, rq.batch(b"old")))
    core.groups.commit("g", {("again", 0): CommittedOffset(3, -1, "", 0), ("other", 0): CommittedOffset(7, -1, "", 0)})
    client.call(DELETE_TOPICS, 6, delete_by_name("again"))
    assert core.groups.committed("g") == {("other", 0): CommittedOffset(7, -1, "", 0)}

    new_id = client.call(CREATE_TOPICS, 7, rq.create("again", 1)).topics[0].topic_id
    assert new_id != old_id
    partition = core.cluster.partition("again", 0)
    assert (partition.log.log_start_offset, partition.log.log_end_offset) == (0, 0)
    fetched = client.call(FETCH, 12, rq.fetch("again", 0, 3)).responses[0].partitions[0]
    assert fetched.error_code == E.offset_out_of_range
    produced = client.call(PRODUCE, 9, rq.produce("again", 0, rq.batch(b"new")))
    assert produced.responses[0].partition_responses[0].base_offset == 0


def test_offsets_of_a_deleted_topic_stay_gone_after_restart(tmp_path):
    core = make_core(tmp_path)
    client = CoreClient(core)
    client.call(CREATE_TOPICS, 7, rq.create("gone", 2))
    core.groups.commit("g", {("gone", 0): CommittedOffset(5, -1, "", 0), ("gone", 1): CommittedOffset(6, -1, "", 0)})
    client.call(DELETE_TOPICS, 6, delete_by_name("gone"))
    core.close()
    again = make_core(tmp_path)
    try:
        assert again.groups.committed("g") == {}
        assert again.cluster.get("gone") is None
    finally:
        again.close()


def test_pending_transactional_offsets_and_transaction_partitions_are_forgotten(client):
    core = client.core
    client.call(CREATE_TOPICS, 7, rq.create("txn-topic", 2))
    error, producer_id, epoch = core.transactions.init_producer_id("tx", 60_000, -1, -1)
    assert error == E.none
    assert core.transactions.add_partitions("tx", producer_id, epoch, [("txn-topic", 0), ("kept", 0)]) == E.none
    core.groups.commit_transactional("g", {("txn-topic", 0): CommittedOffset(1, -1, "", 0)}, producer_id, epoch)
    client.call(DELETE_TOPICS, 6, delete_by_name("txn-topic"))
    assert core.transactions.transaction("tx").partitions == {("kept", 0)}
    assert core.groups.pending_offsets("g") == set()


def test_a_waiting_fetch_is_answered_when_its_topic_goes(client):
    client.call(CREATE_TOPICS, 7, rq.create("polled", 1))
    outcome = client.raw(FETCH, 12, rq.fetch("polled", 0, 0, max_wait_ms=30_000))
    delayed, finish = outcome
    assert isinstance(delayed, Delayed) and delayed.complete(False) is None
    woken = []

    class Waiter:
        def wake(self):
            woken.append(True)

    client.core.add_waiter(delayed.wait_keys, Waiter())
    client.call(DELETE_TOPICS, 6, delete_by_name("polled"))
    assert woken  # the long-poll is woken...
    answer = delayed.complete(False)  # ...and answers at once
    assert answer is not None
    payload = b"".join(bytes(part) for part in finish(answer))
    from tests.wire import decode_response

    _correlation, response = decode_response(FETCH, 12, payload[4:])
    assert response.responses[0].partitions[0].error_code == E.unknown_topic_or_partition


def test_cached_metadata_moves_with_a_deletion(client):
    client.call(CREATE_TOPICS, 7, rq.create("cached", 1))
    assert "cached" in topic_names(client)
    assert "cached" in topic_names(client)  # (from the cache)
    client.call(DELETE_TOPICS, 6, delete_by_name("cached"))
    assert "cached" not in topic_names(client)


# --- CreatePartitions -----------------------------------------------------------


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_create_partitions_every_version(client, version):
    client.call(CREATE_TOPICS, 7, rq.create("grows", 2))
    (result,) = client.call(CREATE_PARTITIONS, version, grow("grows", 5)).results
    assert (result.name, result.error_code, result.error_message) == ("grows", E.none, None)
    (topic,) = client.call(METADATA, 12, rq.metadata("grows")).topics
    assert [p.partition_index for p in topic.partitions] == [0, 1, 2, 3, 4]
    produced = client.call(PRODUCE, 9, rq.produce("grows", 4, rq.batch(b"new")))
    assert produced.responses[0].partition_responses[0].error_code == E.none


@pytest.mark.parametrize(
    "count, assignments, error, message",
    [
        (3, None, E.invalid_partitions, "Topic already has 3 partition(s)."),
        (2, None, E.invalid_partitions, "The topic t currently has 3 partition(s); 2 would not be an increase."),
        (
            5,
            [[1]],
            E.invalid_replica_assignment,
            "Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified.",
        ),
        (4, [[]], E.invalid_replica_assignment, "The manual partition assignment includes an empty replica list."),
        (
            4,
            [[2]],
            E.invalid_replica_assignment,
            "The manual partition assignment includes broker 2, but no such broker is registered.",
        ),
        (
            4,
            [[1, 1]],
            E.invalid_replica_assignment,
            "The manual partition assignment includes the broker 1 more than once.",
        ),
        (20_000, None, E.invalid_partitions, None),
    ],
)
def test_create_partitions_errors(client, count, assignments, error, message):
    client.call(CREATE_TOPICS, 7, rq.create("t", 3))
    (result,) = client.call(CREATE_PARTITIONS, 3, grow("t", count, assignments)).results
    assert result.error_code == error
    if message is not None:
        assert result.error_message == message
    assert len(client.core.cluster.get("t").partitions) == 3


def test_create_partitions_with_assignments_validate_only_unknown_and_duplicates(client):
    client.call(CREATE_TOPICS, 7, rq.create("t", 1))
    (ok,) = client.call(CREATE_PARTITIONS, 3, grow("t", 3, [[1], [1]])).results
    assert ok.error_code == E.none and len(client.core.cluster.get("t").partitions) == 3
    (dry,) = client.call(CREATE_PARTITIONS, 3, grow("t", 6, validate_only=True)).results
    assert dry.error_code == E.none and len(client.core.cluster.get("t").partitions) == 3
    (unknown,) = client.call(CREATE_PARTITIONS, 3, grow("absent", 2)).results
    assert unknown.error_code == E.unknown_topic_or_partition
    values = grow("t", 4)
    values["topics"] = values["topics"] * 2
    (duplicate,) = client.call(CREATE_PARTITIONS, 3, values).results
    assert (duplicate.error_code, duplicate.error_message) == (E.invalid_request, "Duplicate topic name.")
    assert len(client.core.cluster.get("t").partitions) == 3


def test_internal_topics_do_not_grow(client):
    client.core.groups.commit("g", {("t", 0): CommittedOffset(1, -1, "", 0)})
    (result,) = client.call(CREATE_PARTITIONS, 3, grow("__consumer_offsets", 60)).results
    assert result.error_code == E.invalid_topic_exception


def test_new_partitions_persist(tmp_path):
    core = make_core(tmp_path, clock=ManualClock())
    client = CoreClient(core)
    client.call(CREATE_TOPICS, 7, rq.create("t", 1))
    client.call(CREATE_PARTITIONS, 3, grow("t", 4))
    client.call(PRODUCE, 9, rq.produce("t", 3, rq.batch(b"a", b"b")))
    core.close()
    again = make_core(tmp_path)
    try:
        assert len(again.cluster.get("t").partitions) == 4
        assert again.cluster.partition("t", 3).log.log_end_offset == 2
        assert (tmp_path / "t-3" / "partition.metadata").exists()
    finally:
        again.close()
