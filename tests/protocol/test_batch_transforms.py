"""Topic-driven changes to produced batches: LogAppendTime, recompression,
keys required by compaction."""

import pytest

from kwire.log.config import LogConfig
from kwire.protocol.batch_transforms import (
    CODECS, KeylessRecord, needs_transform, recompress, set_log_append_time, transform_for_topic,
)
from kwire.protocol.record_codec import Record, build_batch, iter_records
from kwire.protocol.records import TIMESTAMP_TYPE_BIT, crc_matches, parse_header


def a_batch(codec=0, keys=(b"a", b"b", b"c")):
    records = [Record(offset_delta=i, timestamp_delta=10 * i, key=k, value=b"value-%d" % i, headers=(("h", b"1"),))
               for i, k in enumerate(keys)]
    return build_batch(records, base_offset=40, base_timestamp=5_000, compression=codec, producer_id=7,
                       producer_epoch=2, base_sequence=11)


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
    for field in ("base_offset", "last_offset_delta", "base_timestamp", "max_timestamp", "producer_id",
                  "producer_epoch", "base_sequence", "records_count"):
        assert getattr(after, field) == getattr(before, field), field


def test_the_default_topic_needs_no_transform():
    assert not needs_transform(LogConfig())
    assert needs_transform(LogConfig(compression_type="zstd"))
    assert needs_transform(LogConfig(log_append_time=True))
    assert needs_transform(LogConfig(cleanup_policy=frozenset({"compact"})))


def test_compacted_topics_refuse_keyless_records():
    config = LogConfig(cleanup_policy=frozenset({"compact"}))
    batch = a_batch(keys=(b"a", None))
    with pytest.raises(KeylessRecord):
        transform_for_topic(batch, parse_header(batch), config, 0)
    keyed = a_batch()
    assert transform_for_topic(keyed, parse_header(keyed), config, 0)[0] == keyed


def test_transform_recompresses_then_stamps():
    config = LogConfig(compression_type="lz4", log_append_time=True)
    batch = a_batch(CODECS["gzip"])
    stored, header = transform_for_topic(batch, parse_header(batch), config, 123)
    assert header.compression == CODECS["lz4"] and header.max_timestamp == 123
    assert crc_matches(stored, 0, header.size, header.crc)
