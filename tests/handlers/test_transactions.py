"""Transactional produce through the handlers: a batch may open a transaction
in a partition only when the coordinator has that partition in the
producer's transaction (KIP-890 part 1), and clients never write markers."""

import pytest

from kwire.protocol.control_batches import build_marker
from kwire.protocol.errors import ErrorCode
from kwire.protocol.record_codec import Record, build_batch
from tests.core_client import CoreClient, make_core
from tests.handlers import requests as rq

PRODUCE, INIT_PRODUCER_ID, ADD_PARTITIONS, END_TXN = 0, 22, 24, 26


def transactional_batch(producer_id, epoch, sequence, *values):
    records = [Record(offset_delta=i, timestamp_delta=0, key=None, value=v, headers=()) for i, v in enumerate(values)]
    return bytes(
        build_batch(
            records,
            base_timestamp=1_000,
            producer_id=producer_id,
            producer_epoch=epoch,
            base_sequence=sequence,
            is_transactional=True,
        )
    )


def produce(client, records, transactional_id="tx", partition=0):
    body = rq.produce("t", partition, records)
    body["transactional_id"] = transactional_id
    return client.call(PRODUCE, 9, body).responses[0].partition_responses[0]


def add_partitions(client, producer_id, epoch, *partitions):
    response = client.call(
        ADD_PARTITIONS,
        3,
        dict(
            v3_and_below_transactional_id="tx",
            v3_and_below_producer_id=producer_id,
            v3_and_below_producer_epoch=epoch,
            v3_and_below_topics=[dict(name="t", partitions=list(partitions))],
        ),
    )
    return {
        r.partition_index: r.partition_error_code
        for t in response.results_by_topic_v3_and_below
        for r in t.results_by_partition
    }


def end_txn(client, producer_id, epoch, commit=True):
    return client.call(
        END_TXN, 3, dict(transactional_id="tx", producer_id=producer_id, producer_epoch=epoch, committed=commit)
    ).error_code


@pytest.fixture
def txn_client():
    core = make_core()
    client = CoreClient(core)
    client.call(19, 7, rq.create("t", partitions=2))
    init = client.call(
        INIT_PRODUCER_ID, 4, dict(transactional_id="tx", transaction_timeout=60_000, producer_id=-1, producer_epoch=-1)
    )
    assert init.error_code == 0
    yield client, init.producer_id, init.producer_epoch
    core.close()


def test_a_batch_for_a_partition_added_to_the_transaction_is_written(txn_client):
    client, pid, epoch = txn_client
    assert add_partitions(client, pid, epoch, 0) == {0: ErrorCode.none}
    first = produce(client, transactional_batch(pid, epoch, 0, b"a", b"b"))
    second = produce(client, transactional_batch(pid, epoch, 2, b"c"))
    assert (first.error_code, first.base_offset, second.error_code, second.base_offset) == (0, 0, 0, 2)


def test_a_partition_outside_the_transaction_is_refused_and_nothing_is_stored(txn_client):
    client, pid, epoch = txn_client
    add_partitions(client, pid, epoch, 0)
    refused = produce(client, transactional_batch(pid, epoch, 0, b"stray"), partition=1)
    assert refused.error_code == ErrorCode.invalid_txn_state
    assert client.core.cluster.partition("t", 1).log.log_end_offset == 0


def test_a_late_batch_after_the_commit_cannot_open_a_hanging_transaction(txn_client):
    client, pid, epoch = txn_client
    add_partitions(client, pid, epoch, 0)
    assert produce(client, transactional_batch(pid, epoch, 0, b"in")).error_code == 0
    assert end_txn(client, pid, epoch) == 0
    late = produce(client, transactional_batch(pid, epoch, 1, b"late"))
    assert late.error_code == ErrorCode.invalid_txn_state
    assert client.core.cluster.partition("t", 0).log.last_stable_offset == 2  # batch + marker, nothing open


def test_a_retry_of_a_written_batch_still_gets_its_offset_after_the_commit(txn_client):
    client, pid, epoch = txn_client
    add_partitions(client, pid, epoch, 0)
    batch = transactional_batch(pid, epoch, 0, b"once")
    assert produce(client, batch).base_offset == 0
    assert end_txn(client, pid, epoch) == 0
    retry = produce(client, batch)
    assert (retry.error_code, retry.base_offset) == (0, 0)


def test_unknown_or_fenced_producers_are_refused(txn_client):
    client, pid, epoch = txn_client
    add_partitions(client, pid, epoch, 0)
    assert produce(client, transactional_batch(pid + 1, 0, 0, b"x")).error_code == ErrorCode.invalid_producer_epoch
    assert (
        produce(client, transactional_batch(pid, epoch, 0, b"x"), transactional_id="other").error_code
        == ErrorCode.invalid_producer_epoch
    )
    assert (
        produce(client, transactional_batch(pid, epoch, 0, b"x"), transactional_id=None).error_code
        == ErrorCode.transactional_id_authorization_failed
    )
    # The same once a transaction is open in the partition: the request itself lacks its id.
    assert produce(client, transactional_batch(pid, epoch, 0, b"in")).error_code == ErrorCode.none
    assert (
        produce(client, transactional_batch(pid, epoch, 1, b"x"), transactional_id=None).error_code
        == ErrorCode.transactional_id_authorization_failed
    )


def test_verification_can_be_switched_off():
    core = make_core(transaction_partition_verification_enable=False)
    client = CoreClient(core)
    client.call(19, 7, rq.create("t"))
    init = client.call(
        INIT_PRODUCER_ID, 4, dict(transactional_id="tx", transaction_timeout=60_000, producer_id=-1, producer_epoch=-1)
    )
    written = produce(client, transactional_batch(init.producer_id, init.producer_epoch, 0, b"unverified"))
    assert (written.error_code, written.base_offset) == (0, 0)
    core.close()


def test_clients_may_not_write_control_batches(txn_client):
    client, pid, epoch = txn_client
    add_partitions(client, pid, epoch, 0)
    refused = produce(client, bytes(build_marker(pid, epoch, True, 1_000)))
    assert refused.error_code == ErrorCode.invalid_record
    assert client.core.cluster.partition("t", 0).log.log_end_offset == 0
