"""Record encoding and decoding, cross-checked with kafka-python's own
record implementation."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

from kwire.protocol.record_codec import (
    Record,
    RecordDecodeError,
    build_batch,
    iter_all_records,
    iter_records,
    read_varint,
    write_varint,
)
from kwire.protocol.records import validate_produced_batch

maybe_bytes = st.none() | st.binary(max_size=50)
records = st.lists(
    st.tuples(maybe_bytes, maybe_bytes, st.lists(st.tuples(st.text(max_size=8), maybe_bytes), max_size=3)),
    min_size=1, max_size=20,
)


@settings(max_examples=60, deadline=None)
@given(values=st.integers(-(2**63), 2**63 - 1))
def test_varint_round_trip(values):
    out = bytearray()
    write_varint(out, values)
    assert read_varint(out, 0) == (values, len(out))


@settings(max_examples=40, deadline=None)
@given(items=records, compression=st.sampled_from([0, 1, 3, 4]), base=st.integers(0, 2**40))
def test_our_batches_decode_in_kafka_python(items, compression, base):
    ours = [Record(offset_delta=i, timestamp_delta=i * 3, key=k, value=v, headers=tuple(h)) for i, (k, v, h) in enumerate(items)]
    batch = bytes(build_batch(ours, base_timestamp=base, compression=compression))
    validate_produced_batch(batch, 1 << 30)  # valid header and CRC
    theirs = [(r.offset, r.timestamp, r.key, r.value, [tuple(x) for x in r.headers]) for r in DefaultRecordBatch(batch)]
    assert theirs == [(i, base + i * 3, k, v, [tuple(x) for x in h]) for i, (k, v, h) in enumerate(items)]
    assert [(r.offset, r.timestamp, r.key, r.value) for r in iter_records(batch)] == [
        (i, base + i * 3, k, v) for i, (k, v, _h) in enumerate(items)
    ]


@settings(max_examples=40, deadline=None)
# kafka-python compresses snappy only with python-snappy, not installed here.
@given(items=records, compression=st.sampled_from([0, 1, 3, 4]))
def test_kafka_python_batches_decode_here(items, compression):
    builder = DefaultRecordBatchBuilder(magic=2, compression_type=compression, is_transactional=False,
                                        producer_id=-1, producer_epoch=-1, base_sequence=-1, batch_size=1 << 22)
    for i, (k, v, h) in enumerate(items):
        builder.append(i, timestamp=10_000 + i, key=k, value=v, headers=[(n, hv) for n, hv in h])
    batch = bytes(builder.build())
    decoded = list(iter_records(batch))
    assert [(r.offset, r.timestamp, r.key, r.value, r.headers) for r in decoded] == [
        (i, 10_000 + i, k, v, tuple((n, hv) for n, hv in h)) for i, (k, v, h) in enumerate(items)
    ]


@settings(max_examples=20, deadline=None)
@given(items=records)
def test_snappy_round_trip(items):
    ours = [Record(offset_delta=i, timestamp_delta=0, key=k, value=v, headers=tuple(h)) for i, (k, v, h) in enumerate(items)]
    batch = build_batch(ours, compression=2)
    assert [(r.key, r.value, r.headers) for r in iter_records(batch)] == [(k, v, tuple(h)) for k, v, h in items]


def test_xerial_framed_snappy_is_read():
    import cramjam

    payload_batch = build_batch([Record(0, 0, b"k", b"v" * 100)], compression=0)
    raw = bytes(payload_batch[61:])
    block = bytes(cramjam.snappy.compress_raw(raw))
    framed = b"\x82SNAPPY\x00" + (1).to_bytes(4, "big") + (1).to_bytes(4, "big") + len(block).to_bytes(4, "big") + block
    batch = bytearray(payload_batch[:61]) + framed
    batch[21:23] = (2).to_bytes(2, "big")  # attributes: snappy
    batch[8:12] = (len(batch) - 12).to_bytes(4, "big")
    assert [r.value for r in iter_records(batch)] == [b"v" * 100]


@pytest.mark.parametrize("cut", [62, 70, -2])
def test_truncated_records_raise_a_decode_error(cut):
    batch = bytes(build_batch([Record(0, 0, b"key", b"value" * 10), Record(1, 0, None, b"x")]))
    damaged = bytearray(batch[:cut])
    damaged[8:12] = (len(damaged) - 12).to_bytes(4, "big")
    with pytest.raises(RecordDecodeError):
        list(iter_records(damaged))


def test_iter_all_records_skips_a_trailing_partial_batch():
    one = build_batch([Record(0, 0, None, b"a")])
    two = build_batch([Record(0, 0, None, b"b")], base_offset=1)
    assert [r.value for r in iter_all_records(bytes(one + two[:-5]))] == [b"a"]
