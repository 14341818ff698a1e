"""Record encoding and decoding, cross-checked with kafka-python's own
record implementation."""

import tracemalloc
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

from kwire.protocol.record_codec import (
    MAX_DECOMPRESSED_BYTES,
    Record,
    RecordDecodeError,
    build_batch,
    compress,
    decompress,
    encode_records,
    iter_all_records,
    iter_records,
    read_varint,
    write_varint,
)
from kwire.protocol.records import validate_produced_batch

maybe_bytes = st.none() | st.binary(max_size=50)
records = st.lists(
    st.tuples(maybe_bytes, maybe_bytes, st.lists(st.tuples(st.text(max_size=8), maybe_bytes), max_size=3)),
    min_size=1,
    max_size=20,
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
    ours = [
        Record(offset_delta=i, timestamp_delta=i * 3, key=k, value=v, headers=tuple(h))
        for i, (k, v, h) in enumerate(items)
    ]
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
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=compression,
        is_transactional=False,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 22,
    )
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
    ours = [
        Record(offset_delta=i, timestamp_delta=0, key=k, value=v, headers=tuple(h)) for i, (k, v, h) in enumerate(items)
    ]
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


# --- bounded decompression and counts -------------------------------------

LIMIT = 1 << 20


def xerial(*blocks: bytes) -> bytes:
    framed = b"\x82SNAPPY\x00" + (1).to_bytes(4, "big") + (1).to_bytes(4, "big")
    return framed + b"".join(len(block).to_bytes(4, "big") + block for block in blocks)


def snappy_raw(data: bytes) -> bytes:
    import cramjam

    return bytes(cramjam.snappy.compress_raw(data))


@pytest.mark.parametrize("codec", [1, 2, 3, 4])
def test_decompression_stops_at_the_limit(codec):
    at_limit = compress(codec, bytes(LIMIT))
    assert len(decompress(codec, at_limit, limit=LIMIT)) == LIMIT
    with pytest.raises(RecordDecodeError, match="more than"):
        decompress(codec, compress(codec, bytes(LIMIT + 1)), limit=LIMIT)


def test_xerial_snappy_blocks_count_towards_the_limit():
    block = snappy_raw(bytes(LIMIT // 2))
    assert len(decompress(2, xerial(block, block), limit=LIMIT)) == LIMIT
    with pytest.raises(RecordDecodeError, match="more than"):
        decompress(2, xerial(block, block, snappy_raw(b"x")), limit=LIMIT)


def test_a_snappy_length_preamble_over_the_limit_is_refused_before_decompressing():
    lying = b"\x80\x80\x80\x80\x0f" + b"\x00a"  # claims ~4 GB, holds one byte
    with pytest.raises(RecordDecodeError, match="more than"):
        decompress(2, lying, limit=LIMIT)


def test_gzip_reads_every_member_within_the_limit():
    import gzip

    two = gzip.compress(b"a" * 10) + gzip.compress(b"b" * 10)
    assert decompress(1, two, limit=LIMIT) == b"a" * 10 + b"b" * 10
    with pytest.raises(RecordDecodeError, match="more than"):
        decompress(1, gzip.compress(bytes(LIMIT)) + gzip.compress(b"x"), limit=LIMIT)


@pytest.mark.parametrize("codec", [1, 3, 4])
def test_truncated_compressed_data_is_a_decode_error(codec):
    whole = compress(codec, b"record bytes " * 1000)
    with pytest.raises(RecordDecodeError):
        decompress(codec, whole[: len(whole) // 2], limit=LIMIT)


def bomb(codec: int, size: int) -> bytes:
    """`size` zero bytes compressed, without ever holding them all."""
    chunk = bytes(1 << 20)
    if codec == 4:
        import zstandard

        compressor = zstandard.ZstdCompressor().compressobj()
        return b"".join(compressor.compress(chunk) for _ in range(size >> 20)) + compressor.flush()
    if codec == 3:
        import lz4.frame

        compressor = lz4.frame.LZ4FrameCompressor()
        return compressor.begin() + b"".join(compressor.compress(chunk) for _ in range(size >> 20)) + compressor.flush()
    compressor = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    return b"".join(compressor.compress(chunk) for _ in range(size >> 20)) + compressor.flush()


@pytest.mark.parametrize(
    "codec, claimed",
    [(1, MAX_DECOMPRESSED_BYTES + (1 << 20)), (3, 4 * MAX_DECOMPRESSED_BYTES), (4, 10 * MAX_DECOMPRESSED_BYTES)],
)
def test_a_compression_bomb_in_a_batch_is_refused_by_default(codec, claimed):
    """Kilobytes that would expand to hundreds of megabytes: a decode error,
    with the memory held bounded by the limit, not by the claim."""
    payload = bomb(codec, claimed)
    assert len(payload) * 200 < claimed  # a bomb: lz4 expands ~250x, gzip ~1000x, zstd far more
    batch = build_batch([Record(0, 0, b"k", b"v")])
    batch = bytearray(batch[:61]) + payload
    batch[21:23] = codec.to_bytes(2, "big")
    batch[8:12] = (len(batch) - 12).to_bytes(4, "big")
    tracemalloc.start()
    try:
        with pytest.raises(RecordDecodeError, match="more than"):
            list(iter_records(batch))
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * MAX_DECOMPRESSED_BYTES


def test_a_record_count_the_data_cannot_hold_is_refused():
    batch = build_batch([Record(0, 0, b"k", b"v")])
    batch[57:61] = (10**9).to_bytes(4, "big")
    with pytest.raises(RecordDecodeError, match="declares 1000000000 records"):
        list(iter_records(batch))


def test_a_field_length_below_minus_one_is_refused():
    good = encode_records([Record(0, 0, None, b"v")])
    assert good[4] == 1  # key length -1 (zig-zag 1) after length, attributes and the two deltas
    damaged = bytearray(build_batch([Record(0, 0, None, b"v")]))
    damaged[61 + 4] = 3  # zig-zag 3 = -2
    with pytest.raises(RecordDecodeError, match="invalid record field length -2"):
        list(iter_records(damaged))
