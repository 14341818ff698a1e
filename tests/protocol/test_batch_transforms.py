"""Topic-driven changes to produced batches: LogAppendTime, recompression,
keys required by compaction."""

import pytest

from kwire.log.config import LogConfig
from kwire.protocol.batch_transforms import (
    CODECS,
    RefusedRecord,
    needs_transform,
    rebuild_batch,
    recompress,
    refusal_of_batch,
    refused_records,
    set_log_append_time,
    transform_for_topic,
)
from kwire.protocol.errors import ErrorCode
from kwire.protocol.record_codec import Record, RecordDecodeError, build_batch, iter_records
from kwire.protocol.records import HEADER_SIZE, TIMESTAMP_TYPE_BIT, crc_matches, parse_header


def a_batch(codec=0, keys=(b"a", b"b", b"c")):
    records = [
        Record(offset_delta=i, timestamp_delta=10 * i, key=k, value=b"value-%d" % i, headers=(("h", b"1"),))
        for i, k in enumerate(keys)
    ]
    return build_batch(
        records,
        base_offset=40,
        base_timestamp=5_000,
        compression=codec,
        producer_id=7,
        producer_epoch=2,
        base_sequence=11,
    )


def records_of(batch):
    return [(r.offset, r.timestamp, r.key, r.value, r.headers) for r in iter_records(batch)]


def test_log_append_time_keeps_the_crc_valid_and_rewrites_timestamps():
    batch = a_batch()
    set_log_append_time(batch, 99_999)
    header = parse_header(batch)
    assert crc_matches(batch, 0, header.size, header.crc)
    assert header.attributes & TIMESTAMP_TYPE_BIT and header.max_timestamp == 99_999
    assert header.base_timestamp == 5_000
    assert {r.timestamp for r in iter_records(batch)} == {99_999}


@pytest.mark.parametrize("source", sorted(CODECS))
@pytest.mark.parametrize("target", sorted(CODECS))
def test_recompression_keeps_records_offsets_and_producer_fields(source, target):
    original = a_batch(CODECS[source])
    rebuilt = recompress(original, CODECS[target])
    before, after = parse_header(original), parse_header(rebuilt)
    assert after.compression == CODECS[target]
    assert crc_matches(rebuilt, 0, after.size, after.crc)
    assert records_of(rebuilt) == records_of(original)
    for field in (
        "base_offset",
        "last_offset_delta",
        "base_timestamp",
        "max_timestamp",
        "producer_id",
        "producer_epoch",
        "base_sequence",
        "records_count",
    ):
        assert getattr(after, field) == getattr(before, field), field


def test_the_default_topic_needs_no_transform():
    assert not needs_transform(LogConfig())
    assert needs_transform(LogConfig(compression_type="zstd"))
    assert needs_transform(LogConfig(log_append_time=True))
    assert needs_transform(LogConfig(cleanup_policy=frozenset({"compact"})))


NOW = 1_700_000_000_000
HOUR = 3_600_000
COMPACTED = LogConfig(cleanup_policy=frozenset({"compact"}))


def timed_batch(timestamps, codec=0, keys=None, timestamp_type=0):
    keys = keys or [b"k%d" % i for i in range(len(timestamps))]
    records = [
        Record(offset_delta=i, timestamp_delta=t - timestamps[0], key=k, value=b"v%d" % i)
        for i, (t, k) in enumerate(zip(timestamps, keys))
    ]
    return build_batch(records, base_timestamp=timestamps[0], compression=codec, timestamp_type=timestamp_type)


def refused(batch, rules, now=NOW):
    return refused_records(batch, parse_header(batch), rules, now, "t-0")


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_compacted_topics_refuse_each_keyless_record_by_its_index(codec):
    keys = [None if i % 10 == 0 else b"key-%d" % i for i in range(100)]
    batch = timed_batch([NOW] * 100, CODECS[codec], keys)
    assert refused(batch, COMPACTED) == [
        RefusedRecord(
            i, ErrorCode.invalid_record, "Compacted topic cannot accept message without key in topic partition t-0"
        )
        for i in range(0, 100, 10)
    ]
    assert refused(timed_batch([NOW] * 3), COMPACTED) == []
    assert refused(batch, LogConfig()) == []  # keys matter only when compacted


def test_records_stamped_too_far_ahead_are_refused_and_the_limit_is_a_topic_config():
    batch = timed_batch([NOW, NOW + HOUR, NOW + HOUR + 1, NOW - 10 * HOUR])
    assert refused(batch, LogConfig()) == [
        RefusedRecord(
            2,
            ErrorCode.invalid_timestamp,
            f"Timestamp {NOW + HOUR + 1} of message with offset 2 is out of range. "
            f"The timestamp should be within [{NOW - 2**63 + 1}, {NOW + HOUR}]",
        )
    ]
    assert refused(batch, LogConfig(timestamp_after_max_ms=2 * HOUR)) == []
    too_old = refused(batch, LogConfig(timestamp_before_max_ms=HOUR, timestamp_after_max_ms=2 * HOUR))
    assert [(r.batch_index, r.error_code) for r in too_old] == [(3, ErrorCode.invalid_timestamp)]
    assert too_old[0].message.endswith(f"should be within [{NOW - HOUR}, {NOW + 2 * HOUR}]")


def test_a_compacted_topic_reports_the_key_before_the_timestamp():
    batch = timed_batch([NOW + 2 * HOUR, NOW + 2 * HOUR], keys=[None, b"k"])
    assert [(r.batch_index, r.error_code) for r in refused(batch, COMPACTED)] == [
        (0, ErrorCode.invalid_record),
        (1, ErrorCode.invalid_timestamp),
    ]


def test_log_append_time_topics_ignore_the_producers_timestamps_but_not_its_stamp():
    log_append_time = LogConfig(log_append_time=True)
    assert refused(timed_batch([NOW + 5 * HOUR, 0]), log_append_time) == []
    stamped = timed_batch([NOW, NOW + 1], timestamp_type=1)
    assert refused(stamped, log_append_time) == [
        RefusedRecord(
            i,
            ErrorCode.invalid_timestamp,
            f"Invalid timestamp type in message DefaultRecord(offset={i}, timestamp={NOW + 1}, key=2 bytes, "
            "value=2 bytes). Producer should not set timestamp type to LogAppendTime.",
        )
        for i in range(2)
    ]
    # CreateTime topic: a producer's LogAppendTime stamp is range-checked like a CreateTime one.
    assert refused(stamped, LogConfig()) == []


def test_an_in_range_batch_of_a_default_topic_is_not_decoded():
    batch = timed_batch([NOW, NOW + 1])
    batch[HEADER_SIZE:] = b"\xff" * (len(batch) - HEADER_SIZE)  # records that cannot be decoded
    assert refused(batch, LogConfig()) == []
    with pytest.raises(RecordDecodeError):
        refused(batch, COMPACTED)
    with pytest.raises(RecordDecodeError):
        refused(batch, LogConfig(timestamp_before_max_ms=HOUR))


def test_the_batch_error_is_kafkas():
    keyless = [RefusedRecord(i, ErrorCode.invalid_record, f"no key {i}") for i in range(5)]
    assert refusal_of_batch(keyless) == (
        ErrorCode.invalid_record,
        "One or more records have been rejected due to 5 record errors in total, and only showing the first three "
        "errors at most: [RecordError(batchIndex=0, message='no key 0'), RecordError(batchIndex=1, message='no key 1'), "
        "RecordError(batchIndex=2, message='no key 2')]",
    )
    late = RefusedRecord(7, ErrorCode.invalid_timestamp, "late")
    assert refusal_of_batch(keyless + [late]) == (
        ErrorCode.invalid_timestamp,
        "One or more records have been rejected due to invalid timestamp",
    )


def test_compacted_topics_keep_keyed_batches_as_they_are():
    config = LogConfig(cleanup_policy=frozenset({"compact"}))
    keyed = a_batch()
    assert transform_for_topic(keyed, parse_header(keyed), config, 0)[0] == keyed


def test_transform_recompresses_then_stamps():
    config = LogConfig(compression_type="lz4", log_append_time=True)
    batch = a_batch(CODECS["gzip"])
    stored, header = transform_for_topic(batch, parse_header(batch), config, 123)
    assert header.compression == CODECS["lz4"] and header.max_timestamp == 123
    assert crc_matches(stored, 0, header.size, header.crc)


@pytest.mark.parametrize("codec", [0, 1, 4])
def test_a_rebuilt_batch_keeps_its_header_but_the_count_length_and_crc(codec):
    batch = a_batch(codec=codec, keys=(b"a", b"b", b"c", b"d"))
    before = parse_header(batch)
    kept = [r for r in iter_records(batch) if r.key in (b"b", b"d")]
    rebuilt = rebuild_batch(batch, kept)
    after = parse_header(rebuilt)
    assert records_of(rebuilt) == [(r.offset, r.timestamp, r.key, r.value, r.headers) for r in kept]
    assert after.records_count == 2 and after.size == len(rebuilt)
    assert crc_matches(rebuilt, 0, len(rebuilt), after.crc)
    unchanged = (
        "base_offset",
        "partition_leader_epoch",
        "attributes",
        "last_offset_delta",
        "base_timestamp",
        "max_timestamp",
        "producer_id",
        "producer_epoch",
        "base_sequence",
    )
    assert [getattr(after, f) for f in unchanged] == [getattr(before, f) for f in unchanged]
