"""RecordBatch v2 header view: parse, validate and patch batches without
decoding the records inside them.

Layout (big-endian), 61 bytes:
  baseOffset i64 | batchLength i32 | partitionLeaderEpoch i32 | magic i8 |
  crc u32 | attributes i16 | lastOffsetDelta i32 | baseTimestamp i64 |
  maxTimestamp i64 | producerId i64 | producerEpoch i16 | baseSequence i32 |
  recordsCount i32
The CRC-32C covers everything from `attributes` to the end of the batch, so
patching baseOffset and partitionLeaderEpoch keeps it valid; a change to a
covered field is followed by `reseal`. Every module that touches header
bytes uses the field offsets named here.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import NamedTuple, TypeAlias

from kwire.protocol.errors import ErrorCode

# What batch bytes arrive as: a request's bytes, a bytearray being patched,
# a view into a file read or a fetch buffer.
Buffer: TypeAlias = bytes | bytearray | memoryview


def _first_crc32c(data: Buffer) -> int:
    """The `crc32c` package's CRC-32C, imported on the first checksum (its
    import reads the package metadata, ~10 ms a broker need not spend
    before its first batch); from then on `crc32c` is the C function."""
    global crc32c
    from crc32c import crc32c as implementation

    crc32c = implementation
    return implementation(data)


crc32c: Callable[[Buffer], int] = _first_crc32c

# Where each header field starts, and how it is packed (the one place the
# byte layout is written down; everything else uses these names).
BASE_OFFSET_AT = 0  # int64
BATCH_LENGTH_AT = 8  # int32
PARTITION_LEADER_EPOCH_AT = 12  # int32
MAGIC_AT = 16  # int8
CRC_AT = 17  # uint32
ATTRIBUTES_AT = 21  # int16
LAST_OFFSET_DELTA_AT = 23  # int32
BASE_TIMESTAMP_AT = 27  # int64
MAX_TIMESTAMP_AT = 35  # int64
PRODUCER_ID_AT = 43  # int64
PRODUCER_EPOCH_AT = 51  # int16
BASE_SEQUENCE_AT = 53  # int32
RECORDS_COUNT_AT = 57  # int32
HEADER_SIZE = 61

# baseOffset + batchLength: the part of a batch not counted in batchLength.
LOG_OVERHEAD = BATCH_LENGTH_AT + 4
MIN_BATCH_LENGTH = HEADER_SIZE - LOG_OVERHEAD
CURRENT_MAGIC = 2
CRC_START = ATTRIBUTES_AT  # the CRC covers everything from `attributes` on

INT16 = struct.Struct(">h")
INT32 = struct.Struct(">i")
UINT32 = struct.Struct(">I")
INT64 = struct.Struct(">q")
HEADER = struct.Struct(">qiibIhiqqqhii")
# baseOffset, batchLength and magic in one unpack: the read path's check.
OFFSET_LENGTH_MAGIC = struct.Struct(f">qi{MAGIC_AT - LOG_OVERHEAD}xb")

COMPRESSION_MASK = 0x07
TIMESTAMP_TYPE_BIT = 0x08
TRANSACTIONAL_BIT = 0x10
CONTROL_BIT = 0x20


class BatchHeader(NamedTuple):
    base_offset: int
    batch_length: int
    partition_leader_epoch: int
    magic: int
    crc: int
    attributes: int
    last_offset_delta: int
    base_timestamp: int
    max_timestamp: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    records_count: int

    @property
    def size(self) -> int:
        """Bytes the whole batch occupies, header included."""
        return self.batch_length + LOG_OVERHEAD

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta

    @property
    def compression(self) -> int:
        return self.attributes & COMPRESSION_MASK

    @property
    def is_transactional(self) -> bool:
        return bool(self.attributes & TRANSACTIONAL_BIT)

    @property
    def is_control(self) -> bool:
        return bool(self.attributes & CONTROL_BIT)


class InvalidRecords(Exception):
    """A produced record set that Kafka would reject, with Kafka's error code."""

    def __init__(self, error_code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message


def parse_header(buf: Buffer, pos: int = 0) -> BatchHeader:
    return BatchHeader._make(HEADER.unpack_from(buf, pos))


def crc_matches(buf: Buffer, pos: int, size: int, expected: int) -> bool:
    with memoryview(buf) as view:
        return bool(crc32c(view[pos + CRC_START : pos + size]) == expected)


def claims_transactional(data: Buffer | None) -> bool:
    """The transactional bit of a batch's attributes, read without parsing it."""
    # attributes is big-endian: its low byte, which holds the bit, comes second.
    low_byte = ATTRIBUTES_AT + 1
    return data is not None and len(data) > low_byte and bool(data[low_byte] & TRANSACTIONAL_BIT)


def validate_produced_batch(data: Buffer, max_message_bytes: int) -> BatchHeader:
    """Check a partition's produced records the way Kafka's broker does for
    magic v2: exactly one well-formed batch with a valid CRC-32C.

    Raises InvalidRecords carrying Kafka's error code.
    """
    total = len(data)
    if total == 0:
        raise InvalidRecords(ErrorCode.invalid_record, "Record batch has no batches at all")
    if total < HEADER_SIZE:
        raise InvalidRecords(ErrorCode.corrupt_message, "Record batch is shorter than its header")
    header = parse_header(data, 0)
    if header.magic > CURRENT_MAGIC or header.magic < 0:
        raise InvalidRecords(ErrorCode.corrupt_message, f"Invalid magic byte {header.magic}")
    if header.magic != CURRENT_MAGIC:
        raise InvalidRecords(
            ErrorCode.invalid_record,
            "Produce requests with version 3 or later may only contain record batches with magic 2",
        )
    size = header.size
    if header.batch_length < HEADER_SIZE - LOG_OVERHEAD or size > total:
        raise InvalidRecords(ErrorCode.corrupt_message, "Record batch length does not match the data")
    if size < total:
        raise InvalidRecords(ErrorCode.invalid_record, "A produce request may carry only one batch per partition")
    if size > max_message_bytes:
        raise InvalidRecords(
            ErrorCode.message_too_large,
            f"The record batch is {size} bytes, larger than max.message.bytes={max_message_bytes}",
        )
    if header.records_count < 0 or header.last_offset_delta < 0:
        raise InvalidRecords(ErrorCode.corrupt_message, "Record batch has a negative record count")
    if not crc_matches(data, 0, size, header.crc):
        raise InvalidRecords(ErrorCode.corrupt_message, "Record batch CRC-32C does not match its contents")
    if header.is_control:
        # Markers are the transaction coordinator's to write.
        raise InvalidRecords(ErrorCode.invalid_record, "Clients are not allowed to write control records")
    return header


def patch_offsets(buf: bytearray, base_offset: int, leader_epoch: int = 0) -> None:
    """Set baseOffset and partitionLeaderEpoch of the batch at buf[0:]."""
    INT64.pack_into(buf, BASE_OFFSET_AT, base_offset)
    INT32.pack_into(buf, PARTITION_LEADER_EPOCH_AT, leader_epoch)


def reseal(batch: bytearray) -> None:
    """Recompute the CRC-32C after a field it covers was changed."""
    UINT32.pack_into(batch, CRC_AT, crc32c(memoryview(batch)[CRC_START:]))
