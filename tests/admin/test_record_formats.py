"""The consumer's record walk against batches the codec builds, and the
three output formats."""

import json

import pytest

from kwire.admin.record_formats import batch_records, renderer
from kwire.protocol.record_codec import GZIP, LZ4, NONE, SNAPPY, ZSTD, Record, RecordDecodeError, build_batch
from kwire.protocol.records import parse_header


def _batch(records, **options):
    data = bytes(build_batch(records, **options))
    return data, parse_header(data)


def _records(count, value_size=5):
    return [
        Record(
            offset_delta=i,
            timestamp_delta=i * 3,
            key=None if i % 3 == 0 else b"k%d" % i,
            value=None if i == 4 else bytes([65 + i % 26]) * (value_size + i),
            headers=(("h", b"v"), ("n", None)) if i % 2 else (),
        )
        for i in range(count)
    ]


@pytest.mark.parametrize("codec", [NONE, GZIP, SNAPPY, LZ4, ZSTD])
@pytest.mark.parametrize("value_size", [1, 100, 20_000])  # one-, two- and three-byte varints
def test_every_record_comes_back_with_absolute_offsets_and_timestamps(codec, value_size):
    records = _records(12, value_size)
    data, header = _batch(records, base_offset=1000, base_timestamp=5_000, compression=codec)
    got = batch_records(data, header, 0)
    assert [(r[0], r[1]) for r in got] == [(1000 + i, 5_000 + i * 3) for i in range(12)]
    assert [r[2] for r in got] == [r.key for r in records]
    assert [r[3] for r in got] == [r.value for r in records]
    assert [r[4] for r in got] == [tuple((n.encode(), v) for n, v in r.headers) for r in records]


def test_records_before_the_position_are_left_out_and_log_append_time_wins():
    data, header = _batch(_records(5), base_offset=10, base_timestamp=7, timestamp_type=1)
    got = batch_records(data, header, 13)
    assert [r[0] for r in got] == [13, 14]
    assert {r[1] for r in got} == {header.max_timestamp}


def test_a_truncated_batch_is_a_decode_error():
    data, header = _batch(_records(5))
    with pytest.raises(RecordDecodeError):
        batch_records(data[:-10], header, 0)


FETCHED = [
    (0, 1, b"k", b"v", ()),
    (1, 2, None, None, ((b"h", b"x"), (b"e", None))),
    (2, 3, b"\xff", b"caf\xc3\xa9", ()),
]


def test_value_format_prints_values_and_null():
    assert b"".join(renderer("value", b"\t")(0, FETCHED)) == b"v\nnull\ncaf\xc3\xa9\n"


def test_key_value_format_uses_the_separator():
    assert b"".join(renderer("key:value", b"::")(0, FETCHED)) == b"k::v\nnull::null\n\xff::caf\xc3\xa9\n"


def test_json_format_is_one_object_a_line_with_utf8_text():
    lines = b"".join(renderer("json", b"\t")(3, FETCHED)).decode().splitlines()
    rows = [json.loads(line) for line in lines]
    assert rows[0] == {"partition": 3, "offset": 0, "timestamp": 1, "key": "k", "value": "v", "headers": []}
    assert rows[1]["key"] is None and rows[1]["value"] is None
    assert rows[1]["headers"] == [["h", "x"], ["e", None]]
    assert rows[2]["key"] == "\ufffd" and rows[2]["value"] == "café"  # invalid bytes replaced
    with pytest.raises(ValueError):
        renderer("xml", b"")
