"""The batch header view, checked against batches built by kafka-python's
own encoder (an independent implementation)."""

import pytest
from kafka.record.default_records import DefaultRecordBatchBuilder

from kwire.log.segment_scan import batches_in
from kwire.protocol.errors import ErrorCode
from kwire.protocol.records import (
    InvalidRecords,
    parse_header,
    patch_offsets,
    validate_produced_batch,
)


def client_batch(count=3, value=b"value", compression=0, timestamp=1_000) -> bytearray:
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=compression,
        is_transactional=False,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 22,
    )
    for i in range(count):
        builder.append(i, timestamp=timestamp + i, key=f"k{i}".encode(), value=value, headers=[("h", b"x")])
    return bytearray(builder.build())


def test_header_fields_of_a_client_batch():
    header = parse_header(client_batch(count=3))
    assert header.magic == 2
    assert header.records_count == 3
    assert header.last_offset_delta == 2
    assert header.max_timestamp == 1_002
    assert header.size == len(client_batch(count=3))


def test_valid_batch_passes_validation():
    data = client_batch()
    assert validate_produced_batch(bytes(data), 1 << 20).records_count == 3


def test_patching_offsets_keeps_the_crc_valid():
    data = client_batch()
    patch_offsets(data, 123_456, leader_epoch=7)
    header = parse_header(data)
    assert header.base_offset == 123_456
    assert header.partition_leader_epoch == 7
    assert validate_produced_batch(bytes(data), 1 << 20).base_offset == 123_456


def test_flipped_payload_byte_is_corrupt_message():
    data = client_batch()
    data[-2] ^= 0xFF
    with pytest.raises(InvalidRecords) as info:
        validate_produced_batch(bytes(data), 1 << 20)
    assert info.value.error_code == ErrorCode.corrupt_message


@pytest.mark.parametrize(
    "magic, expected", [(0, ErrorCode.invalid_record), (1, ErrorCode.invalid_record), (3, ErrorCode.corrupt_message)]
)
def test_magic_other_than_two(magic, expected):
    data = client_batch()
    data[16] = magic
    with pytest.raises(InvalidRecords) as info:
        validate_produced_batch(bytes(data), 1 << 20)
    assert info.value.error_code == expected


def test_batch_over_max_message_bytes():
    data = client_batch(value=b"x" * 5000)
    with pytest.raises(InvalidRecords) as info:
        validate_produced_batch(bytes(data), 1000)
    assert info.value.error_code == ErrorCode.message_too_large


def test_two_batches_in_one_partition_are_refused():
    with pytest.raises(InvalidRecords) as info:
        validate_produced_batch(bytes(client_batch() + client_batch()), 1 << 20)
    assert info.value.error_code == ErrorCode.invalid_record


@pytest.mark.parametrize("cut", [0, 10, 60, -1])
def test_short_or_truncated_data(cut):
    data = bytes(client_batch())
    truncated = data[:cut] if cut >= 0 else data[:cut]
    with pytest.raises(InvalidRecords):
        validate_produced_batch(truncated, 1 << 20)


def test_recovery_scan_stops_at_a_torn_or_corrupt_tail():
    first, second = client_batch(), client_batch(count=5)
    patch_offsets(second, 3)  # as the log stores them: offsets increase
    log = bytes(first + second)
    assert [pos for pos, _, _data in batches_in(log)] == [0, len(first)]
    assert [pos for pos, _, _data in batches_in(log[:-3])] == [0]
    assert [pos for pos, _, _data in batches_in(log + b"garbage" * 20)] == [0, len(first)]
    corrupt = bytearray(log)
    corrupt[len(first) + 70] ^= 1
    assert [pos for pos, _, _data in batches_in(bytes(corrupt))] == [0]


def test_named_field_offsets_match_the_header_struct():
    import struct as _struct

    from kwire.protocol import records as r

    formats = r.HEADER.format.lstrip(">")
    starts = [_struct.calcsize(">" + formats[:i]) for i in range(len(formats))]
    named = [
        r.BASE_OFFSET_AT,
        r.BATCH_LENGTH_AT,
        r.PARTITION_LEADER_EPOCH_AT,
        r.MAGIC_AT,
        r.CRC_AT,
        r.ATTRIBUTES_AT,
        r.LAST_OFFSET_DELTA_AT,
        r.BASE_TIMESTAMP_AT,
        r.MAX_TIMESTAMP_AT,
        r.PRODUCER_ID_AT,
        r.PRODUCER_EPOCH_AT,
        r.BASE_SEQUENCE_AT,
        r.RECORDS_COUNT_AT,
    ]
    assert starts == named
    assert r.HEADER.size == r.HEADER_SIZE
