"""What consumers see of a replicated partition: nothing past its high
watermark (Fetch, ListOffsets, DeleteRecords), while OffsetForLeaderEpoch
keeps answering from the log end, as Kafka's do."""

import pytest

from kwire.protocol.errors import ErrorCode
from kwire.protocol.record_codec import iter_all_records
from tests.handlers import requests as rq
from tests.log.follower_logs import batch, put

FETCH, LIST_OFFSETS, DELETE_RECORDS, OFFSET_FOR_LEADER_EPOCH = 1, 2, 21, 23
READ_COMMITTED = 1


@pytest.fixture
def log(client):
    """Partition t-0 holding offsets 0-5 in three batches (timestamps
    1000-1001, 1010-1011, 1020-1021), replicated up to 2."""
    client.call(19, 4, rq.create("t", 1))
    partition_log = client.core.cluster.partition("t", 0).log
    for i in range(3):
        put(partition_log, batch(2, timestamp=1_000 + 10 * i))
    partition_log.replicated = True
    partition_log.set_high_watermark(2)
    return partition_log


def fetch(client, offset, isolation_level=0, **options):
    values = rq.fetch("t", 0, offset, **options)
    values["isolation_level"] = isolation_level
    (result,) = client.call(FETCH, 12, values).responses[0].partitions
    return result


def fetched_offsets(result):
    return [record.offset for record in iter_all_records(result.records or b"")]


def test_fetch_reads_and_answers_up_to_the_high_watermark(client, log):
    result = fetch(client, 0)
    assert (result.error_code, result.high_watermark, result.last_stable_offset) == (ErrorCode.none, 2, 2)
    assert fetched_offsets(result) == [0, 1]
    log.set_high_watermark(6)
    assert fetched_offsets(fetch(client, 0, partition_max_bytes=1 << 20)) == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("offset", [2, 3, 6])
def test_a_fetch_between_the_high_watermark_and_the_log_end_is_valid_and_empty(client, log, offset):
    result = fetch(client, offset)
    assert (result.error_code, fetched_offsets(result), result.high_watermark) == (ErrorCode.none, [], 2)


def test_a_fetch_past_the_log_end_is_out_of_range(client, log):
    assert fetch(client, 7).error_code == ErrorCode.offset_out_of_range


def test_a_fetch_at_the_high_watermark_waits(client, log):
    outcome = client.raw(FETCH, 12, rq.fetch("t", 0, 2, max_wait_ms=500))
    assert isinstance(outcome, tuple)  # a long-poll, parked until data or its deadline


def test_read_committed_stops_at_the_last_stable_offset_below_the_high_watermark(client, log):
    put(log, batch(2, pid=7, seq=0, transactional=True))  # 6-7, open
    log.set_high_watermark(8)
    result = fetch(client, 0, READ_COMMITTED)
    assert (result.high_watermark, result.last_stable_offset) == (8, 6)
    assert fetched_offsets(result)[-1] < 6
    log.set_high_watermark(4)
    result = fetch(client, 0, READ_COMMITTED)
    assert (result.high_watermark, result.last_stable_offset) == (4, 4)


def list_offset(client, timestamp, isolation_level=0):
    values = rq.list_offsets("t", 0, timestamp)
    values["isolation_level"] = isolation_level
    (result,) = client.call(LIST_OFFSETS, 7, values).topics[0].partitions
    return result.error_code, result.offset


def test_list_offsets_latest_is_the_high_watermark(client, log):
    assert list_offset(client, -1) == (ErrorCode.none, 2)
    put(log, batch(2, pid=7, seq=0, transactional=True))  # 6-7, open
    log.set_high_watermark(8)
    assert list_offset(client, -1) == (ErrorCode.none, 8)
    assert list_offset(client, -1, READ_COMMITTED) == (ErrorCode.none, 6)
    assert list_offset(client, -2) == (ErrorCode.none, 0)


def test_list_offsets_by_timestamp_never_answers_past_the_high_watermark(client, log):
    assert list_offset(client, 1_000) == (ErrorCode.none, 0)
    assert list_offset(client, 1_001) == (ErrorCode.none, 1)
    assert list_offset(client, 1_010) == (ErrorCode.none, -1)  # offset 2: past it
    assert list_offset(client, -3) == (ErrorCode.none, -1)  # the max timestamp's record (5) too
    log.set_high_watermark(6)
    assert list_offset(client, 1_010) == (ErrorCode.none, 2)
    assert list_offset(client, -3) == (ErrorCode.none, 5)


def delete_records(client, offset):
    values = dict(topics=[dict(name="t", partitions=[dict(partition_index=0, offset=offset)])], timeout=1000)
    (result,) = client.call(DELETE_RECORDS, 2, values).topics[0].partitions
    return result.error_code, result.low_watermark


def test_delete_records_goes_no_further_than_the_high_watermark(client, log):
    assert delete_records(client, 3)[0] == ErrorCode.offset_out_of_range
    assert delete_records(client, -1) == (ErrorCode.none, 2)
    assert log.log_start_offset == 2


def test_offset_for_leader_epoch_still_answers_the_log_end(client, log):
    values = dict(
        replica_id=-1, topics=[dict(topic="t", partitions=[dict(partition=0, current_leader_epoch=-1, leader_epoch=0)])]
    )
    (result,) = client.call(OFFSET_FOR_LEADER_EPOCH, 4, values).topics[0].partitions
    assert (result.error_code, result.end_offset) == (ErrorCode.none, 6)
