import pytest

from kwire.clock import ManualClock
from kwire.core import ProtocolViolation
from kwire.handlers.base import CLOSE_CONNECTION, NO_RESPONSE, Delayed
from kwire.protocol.errors import ErrorCode
from kwire.protocol.record_codec import Record, build_batch, iter_all_records
from tests.core_client import CoreClient, make_core
from tests.handlers import requests as rq


def produce_one(client, topic, partition, *values, version=9, acks=-1):
    response = client.call(0, version, rq.produce(topic, partition, rq.batch(*values), acks=acks))
    return response.responses[0].partition_responses[0]


def fetched_values(partition_response):
    return [(r.offset, r.value) for r in iter_all_records(partition_response.records or b"")]


@pytest.mark.parametrize("version", [3, 7, 9, 10, 12])
def test_produce_assigns_consecutive_offsets(client, version):
    client.call(19, 4, rq.create("t", 2))
    assert produce_one(client, "t", 0, b"a", b"b", version=version).base_offset == 0
    assert produce_one(client, "t", 0, b"c", version=version).base_offset == 2
    assert produce_one(client, "t", 1, b"d", version=version).base_offset == 0


def test_produce_auto_creates_topic(client):
    assert produce_one(client, "auto", 0, b"x").error_code == ErrorCode.none
    assert client.core.cluster.get("auto") is not None


def test_produce_errors(client):
    client.call(19, 4, rq.create("t", 1))
    corrupt = bytearray(rq.batch(b"hello"))
    corrupt[-1] ^= 0xFF
    result = client.call(0, 9, rq.produce("t", 0, bytes(corrupt))).responses[0].partition_responses[0]
    assert result.error_code == ErrorCode.corrupt_message
    assert client.core.cluster.partition("t", 0).log.log_end_offset == 0
    assert produce_one(client, "t", 5, b"x").error_code == ErrorCode.unknown_topic_or_partition
    big = rq.batch(b"x" * 2_000_000)
    result = client.call(0, 9, rq.produce("t", 0, big)).responses[0].partition_responses[0]
    assert result.error_code == ErrorCode.message_too_large
    result = client.call(0, 9, rq.produce("t", 0, rq.batch(b"x"), acks=2)).responses[0].partition_responses[0]
    assert result.error_code == ErrorCode.invalid_required_acks


def keyed_every_but_tenth(count=100, timestamp=1_000):
    records = [
        Record(offset_delta=i, timestamp_delta=0, key=None if i % 10 == 0 else b"k%d" % i, value=b"v%d" % i)
        for i in range(count)
    ]
    return bytes(build_batch(records, base_timestamp=timestamp))


def test_a_batch_with_keyless_records_fails_naming_each_one(client):
    client.call(19, 4, rq.create("c", 1, configs={"cleanup.policy": "compact"}))
    message = "Compacted topic cannot accept message without key in topic partition c-0"
    for version in (9, 13):
        values = rq.produce("c", 0, keyed_every_but_tenth())
        if version >= 13:
            values["topic_data"][0].update(name=None, topic_id=client.core.cluster.get("c").topic_id)
        result = client.call(0, version, values).responses[0].partition_responses[0]
        assert result.error_code == ErrorCode.invalid_record and result.base_offset == -1
        assert [(e.batch_index, e.batch_index_error_message) for e in result.record_errors] == [
            (i, message) for i in range(0, 100, 10)
        ]
        assert result.error_message == (
            "One or more records have been rejected due to 10 record errors in total, and only showing the first "
            f"three errors at most: [RecordError(batchIndex=0, message='{message}'), RecordError(batchIndex=10, "
            f"message='{message}'), RecordError(batchIndex=20, message='{message}')]"
        )
    # Before v8 the answer has no room for them: the error code alone.
    result = client.call(0, 7, rq.produce("c", 0, keyed_every_but_tenth())).responses[0].partition_responses[0]
    assert result.error_code == ErrorCode.invalid_record
    assert client.core.cluster.partition("c", 0).log.log_end_offset == 0
    assert produce_one(client, "c", 0, b"keyed").error_code == ErrorCode.none


def test_timestamps_beyond_the_topics_limits_fail_the_batch_naming_each_record():
    core = make_core(clock=ManualClock(wall_ms=10_000_000_000))
    client = CoreClient(core)
    client.call(19, 4, rq.create("t", 1))
    log = client.core.cluster.partition("t", 0).log
    ahead = 10_000_000_000 + 3_600_001  # one millisecond past message.timestamp.after.max.ms (1 hour)
    records = [
        Record(offset_delta=i, timestamp_delta=t - 10_000_000_000, key=b"k", value=b"v")
        for i, t in enumerate([10_000_000_000, ahead, 10_000_000_000, ahead])
    ]
    batch = bytes(build_batch(records, base_timestamp=10_000_000_000))
    result = client.call(0, 9, rq.produce("t", 0, batch)).responses[0].partition_responses[0]
    assert result.error_code == ErrorCode.invalid_timestamp
    assert result.error_message == "One or more records have been rejected due to invalid timestamp"
    assert [(e.batch_index, e.batch_index_error_message) for e in result.record_errors] == [
        (
            i,
            f"Timestamp {ahead} of message with offset {i} is out of range. The timestamp should be within "
            f"[{10_000_000_000 - 2**63 + 1}, {10_000_000_000 + 3_600_000}]",
        )
        for i in (1, 3)
    ]
    assert log.log_end_offset == 0
    # The limits are topic configs, read again when they change.
    client.core.cluster.alter_topic_configs("t", {"message.timestamp.after.max.ms": "7200000"})
    assert client.call(0, 9, rq.produce("t", 0, batch)).responses[0].partition_responses[0].error_code == 0
    client.core.cluster.alter_topic_configs("t", {"message.timestamp.before.max.ms": "1000"})
    result = client.call(0, 9, rq.produce("t", 0, rq.batch(b"old"))).responses[0].partition_responses[0]
    assert (result.error_code, [e.batch_index for e in result.record_errors]) == (ErrorCode.invalid_timestamp, [0])
    assert log.log_end_offset == 4
    core.close()


def test_produce_to_unknown_topic_without_auto_creation():
    core = make_core(auto_create_topics_enable=False)
    assert produce_one(CoreClient(core), "nope", 0, b"x").error_code == ErrorCode.unknown_topic_or_partition


def test_acks_zero_gets_no_response_and_a_failure_closes(client):
    client.call(19, 4, rq.create("t", 1))
    assert client.raw(0, 9, rq.produce("t", 0, rq.batch(b"x"), acks=0)) is NO_RESPONSE
    assert client.core.cluster.partition("t", 0).log.log_end_offset == 1
    corrupt = bytearray(rq.batch(b"x"))
    corrupt[-1] ^= 1
    assert client.raw(0, 9, rq.produce("t", 0, bytes(corrupt), acks=0)) is CLOSE_CONNECTION


def test_produce_v0_to_v2_are_listed_but_refused(client):
    from tests.wire import request_frame

    frame = bytearray(request_frame(0, 3, rq.produce("t", 0, rq.batch(b"x")))[4:])
    frame[2:4] = (2).to_bytes(2, "big")  # claim version 2
    with pytest.raises(ProtocolViolation):
        client.core.handle_frame(bytes(frame))


@pytest.mark.parametrize("version", [4, 7, 11, 12])
def test_fetch_returns_records_from_the_batch_holding_the_offset(client, version):
    client.call(19, 4, rq.create("t", 1))
    produce_one(client, "t", 0, b"a", b"b", b"c")
    produce_one(client, "t", 0, b"d")
    part = client.call(1, version, rq.fetch("t", 0, 1)).responses[0].partitions[0]
    assert part.error_code == ErrorCode.none
    assert part.high_watermark == 4
    assert fetched_values(part) == [(0, b"a"), (1, b"b"), (2, b"c"), (3, b"d")]


def test_fetch_by_topic_id(client):
    topic_id = client.call(19, 7, rq.create("t", 1)).topics[0].topic_id
    produce_one(client, "t", 0, b"a")
    response = client.call(1, 13, rq.fetch(None, 0, 0, topic_id=topic_id))
    assert response.responses[0].topic_id == topic_id
    assert fetched_values(response.responses[0].partitions[0]) == [(0, b"a")]
    import uuid

    unknown = client.call(1, 13, rq.fetch(None, 0, 0, topic_id=uuid.uuid4())).responses[0].partitions[0]
    assert unknown.error_code == ErrorCode.unknown_topic_id


def test_fetch_errors(client):
    client.call(19, 4, rq.create("t", 1))
    produce_one(client, "t", 0, b"a")
    assert (
        client.call(1, 12, rq.fetch("t", 0, 5)).responses[0].partitions[0].error_code == ErrorCode.offset_out_of_range
    )
    assert (
        client.call(1, 12, rq.fetch("zz", 0, 0)).responses[0].partitions[0].error_code
        == ErrorCode.unknown_topic_or_partition
    )
    assert client.call(1, 12, rq.fetch("t", 0, 1)).responses[0].partitions[0].records in (None, b"")


def test_incremental_fetch_session_is_not_found(client):
    response = client.call(1, 12, rq.fetch("t", 0, 0, session_id=77, session_epoch=3))
    assert response.error_code == ErrorCode.fetch_session_id_not_found


def test_first_batch_is_returned_even_when_larger_than_the_limit(client):
    client.call(19, 4, rq.create("t", 1))
    produce_one(client, "t", 0, b"x" * 5000)
    produce_one(client, "t", 0, b"y" * 5000)
    part = client.call(1, 12, rq.fetch("t", 0, 0, partition_max_bytes=100)).responses[0].partitions[0]
    assert fetched_values(part) == [(0, b"x" * 5000)]


def test_fetch_without_data_waits_then_completes(client):
    client.call(19, 4, rq.create("t", 1))
    outcome = client.raw(1, 12, rq.fetch("t", 0, 0, max_wait_ms=500))
    delayed, finish = outcome
    assert isinstance(delayed, Delayed)
    assert delayed.wait_keys == [("t", 0)]
    assert delayed.complete(False) is None  # still nothing
    produce_one(client, "t", 0, b"late")
    assert delayed.complete(False) is not None


def test_list_offsets(client):
    client.call(19, 4, rq.create("t", 1))
    produce_one(client, "t", 0, b"a", b"b")  # timestamps 1000, 1001
    client.call(0, 9, rq.produce("t", 0, rq.batch(b"c", b"d", timestamp=5_000)))

    def lookup(timestamp, version=7):
        part = client.call(2, version, rq.list_offsets("t", 0, timestamp)).topics[0].partitions[0]
        return part.error_code, part.offset, part.timestamp

    assert lookup(-2) == (ErrorCode.none, 0, -1)
    assert lookup(-1) == (ErrorCode.none, 4, -1)
    assert lookup(1_001)[:3] == (ErrorCode.none, 1, 1_001)
    assert lookup(3_000)[:3] == (ErrorCode.none, 2, 5_000)
    assert lookup(9_999)[:2] == (ErrorCode.none, -1)
    assert lookup(-3) == (ErrorCode.none, 3, 5_001)
    assert lookup(-1, version=1)[:2] == (ErrorCode.none, 4)
    missing = client.call(2, 7, rq.list_offsets("zz", 0, -1)).topics[0].partitions[0]
    assert missing.error_code == ErrorCode.unknown_topic_or_partition


def test_data_survives_a_restart(tmp_path):
    core = make_core(tmp_path)
    client = CoreClient(core)
    client.call(19, 4, rq.create("t", 2))
    produce_one(client, "t", 1, b"a", b"b")
    core.close()
    reopened = CoreClient(make_core(tmp_path))
    part = reopened.call(1, 12, rq.fetch("t", 1, 0)).responses[0].partitions[0]
    assert fetched_values(part) == [(0, b"a"), (1, b"b")]
    assert produce_one(reopened, "t", 1, b"c").base_offset == 2
    reopened.core.close()
