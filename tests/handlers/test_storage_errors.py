"""What clients are told when the disk refuses a write, as Kafka tells them:
produce KAFKA_STORAGE_ERROR; offset commits and transaction state
NOT_COORDINATOR; CreateTopics KAFKA_STORAGE_ERROR with nothing created; an
offline partition answers KAFKA_STORAGE_ERROR everywhere, other partitions
carry on."""

import errno

import pytest

from kwire.coordinator.offsets import partition_for
from kwire.handlers.base import CLOSE_CONNECTION
from kwire.protocol.errors import ErrorCode as E
from kwire.protocol.record_codec import iter_all_records
from tests.core_client import CoreClient, make_core
from tests.handlers import requests as rq
from tests.handlers.test_transactions import transactional_batch
from tests.log.faults import FailingWrites

PRODUCE, FETCH, LIST_OFFSETS, METADATA, OFFSET_COMMIT, OFFSET_FETCH = 0, 1, 2, 3, 8, 9
CREATE_TOPICS, INIT_PRODUCER_ID, ADD_PARTITIONS, END_TXN = 19, 22, 24, 26
SEGMENT = "00000000000000000000.log"


@pytest.fixture
def disk_client(tmp_path):
    core = make_core(tmp_path)
    client = CoreClient(core)
    assert client.call(CREATE_TOPICS, 7, rq.create("t", partitions=2)).topics[0].error_code == 0
    yield client
    core.close()


def produce(client, partition, *values, acks=-1, version=9):
    response = client.call(PRODUCE, version, rq.produce("t", partition, rq.batch(*values), acks=acks))
    return response.responses[0].partition_responses[0]


def fetched(client, partition, version=12):
    result = client.call(FETCH, version, rq.fetch("t", partition, 0)).responses[0].partitions[0]
    return result.error_code, [r.value for r in iter_all_records(result.records or b"")]


def test_a_full_disk_answers_kafka_storage_error_and_reads_carry_on(disk_client, monkeypatch):
    assert produce(disk_client, 0, b"a", b"b").error_code == E.none
    faults = FailingWrites(monkeypatch, f"t-0/{SEGMENT}")
    refused = produce(disk_client, 0, b"c")
    assert refused.error_code == E.kafka_storage_error and "No space left" in refused.error_message
    assert disk_client.raw(PRODUCE, 9, rq.produce("t", 0, rq.batch(b"c"), acks=0)) is CLOSE_CONNECTION
    assert fetched(disk_client, 0) == (E.none, [b"a", b"b"])
    assert produce(disk_client, 1, b"elsewhere").error_code == E.none  # another file, not full
    faults.failing = False
    assert produce(disk_client, 0, b"c").base_offset == 2  # no hole where the refused ones were
    assert fetched(disk_client, 0) == (E.none, [b"a", b"b", b"c"])


def test_an_offline_partition_answers_kafka_storage_error_everywhere(disk_client, monkeypatch):
    assert produce(disk_client, 0, b"a").error_code == E.none
    FailingWrites(monkeypatch, f"t-0/{SEGMENT}", errno.EIO)
    assert produce(disk_client, 0, b"b").error_code == E.kafka_storage_error
    monkeypatch.undo()
    assert produce(disk_client, 0, b"b").error_code == E.kafka_storage_error  # until restart
    assert fetched(disk_client, 0)[0] == E.kafka_storage_error
    assert fetched(disk_client, 0, version=4)[0] == E.not_leader_or_follower  # as Kafka for fetch v5 and older
    listed = disk_client.call(LIST_OFFSETS, 7, rq.list_offsets("t", 0, -1)).topics[0].partitions[0]
    assert listed.error_code == E.kafka_storage_error
    partitions = disk_client.call(METADATA, 12, rq.metadata("t")).topics[0].partitions
    assert [(p.error_code, list(p.offline_replicas)) for p in partitions] == [
        (E.kafka_storage_error, [1]),
        (E.none, []),
    ]
    assert produce(disk_client, 1, b"fine").error_code == E.none
    assert fetched(disk_client, 1) == (E.none, [b"fine"])


def test_an_offset_commit_the_log_refuses_answers_not_coordinator(disk_client, monkeypatch):
    commit = rq.offset_commit("g", "t", 0, 5)
    assert disk_client.call(OFFSET_COMMIT, 8, commit).topics[0].partitions[0].error_code == E.none  # makes the topic
    faults = FailingWrites(monkeypatch, f"__consumer_offsets-{partition_for('g', 50)}/{SEGMENT}")
    commit["topics"][0]["partitions"][0]["committed_offset"] = 9
    assert disk_client.call(OFFSET_COMMIT, 8, commit).topics[0].partitions[0].error_code == E.not_coordinator
    fetch = dict(group_id="g", topics=[dict(name="t", partition_indexes=[0])], require_stable=False)
    assert disk_client.call(OFFSET_FETCH, 7, fetch).topics[0].partitions[0].committed_offset == 5
    faults.failing = False
    assert disk_client.call(OFFSET_COMMIT, 8, commit).topics[0].partitions[0].error_code == E.none
    assert disk_client.call(OFFSET_FETCH, 7, fetch).topics[0].partitions[0].committed_offset == 9


def test_create_topics_the_metadata_log_refuses_leaves_nothing(disk_client, monkeypatch, tmp_path):
    faults = FailingWrites(monkeypatch, f"__cluster_metadata-0/{SEGMENT}")
    result = disk_client.call(CREATE_TOPICS, 7, rq.create("new", partitions=3)).topics[0]
    assert result.error_code == E.kafka_storage_error and result.error_message
    assert disk_client.core.cluster.get("new") is None
    assert not list(tmp_path.glob("new-*"))
    faults.failing = False
    assert disk_client.call(CREATE_TOPICS, 7, rq.create("new", partitions=3)).topics[0].error_code == E.none


def test_an_idempotent_producer_id_that_cannot_be_recorded_is_not_handed_out(tmp_path, monkeypatch):
    core = make_core(tmp_path)
    client = CoreClient(core)
    FailingWrites(monkeypatch, f"__cluster_metadata-0/{SEGMENT}")
    init = client.call(
        INIT_PRODUCER_ID, 4, dict(transactional_id=None, transaction_timeout=60_000, producer_id=-1, producer_epoch=-1)
    )
    assert (init.error_code, init.producer_id) == (E.coordinator_load_in_progress, -1)
    monkeypatch.undo()
    assert (
        client.call(
            INIT_PRODUCER_ID,
            4,
            dict(transactional_id=None, transaction_timeout=60_000, producer_id=-1, producer_epoch=-1),
        ).error_code
        == E.none
    )
    core.close()


def test_a_commit_whose_marker_cannot_be_written_finishes_once_it_can(disk_client, monkeypatch):
    client = disk_client
    init = client.call(
        INIT_PRODUCER_ID, 4, dict(transactional_id="tx", transaction_timeout=60_000, producer_id=-1, producer_epoch=-1)
    )
    pid, epoch = init.producer_id, init.producer_epoch
    client.call(
        ADD_PARTITIONS,
        3,
        dict(
            v3_and_below_transactional_id="tx",
            v3_and_below_producer_id=pid,
            v3_and_below_producer_epoch=epoch,
            v3_and_below_topics=[dict(name="t", partitions=[0])],
        ),
    )
    body = rq.produce("t", 0, transactional_batch(pid, epoch, 0, b"in"))
    body["transactional_id"] = "tx"
    assert client.call(PRODUCE, 9, body).responses[0].partition_responses[0].error_code == E.none
    faults = FailingWrites(monkeypatch, "t-0/*.log")  # (the marker, stamped now, rolls the segment)
    end = client.call(END_TXN, 3, dict(transactional_id="tx", producer_id=pid, producer_epoch=epoch, committed=True))
    assert end.error_code == E.none  # decided: PrepareCommit is written
    log = client.core.cluster.partition("t", 0).log
    assert log.last_stable_offset == 0  # but the marker is not in the log yet
    again = client.call(
        INIT_PRODUCER_ID, 4, dict(transactional_id="tx", transaction_timeout=60_000, producer_id=-1, producer_epoch=-1)
    )
    assert again.error_code == E.concurrent_transactions
    faults.failing = False
    client.core.transactions.tick()
    assert log.last_stable_offset == 2  # the commit marker landed
    assert client.core.transactions.transaction("tx").state.name == "COMPLETE_COMMIT"
