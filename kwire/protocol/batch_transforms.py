"""What a topic's configs make the broker do to a produced batch before it
is stored. None of it runs for a topic at its defaults (compression.type
producer, CreateTime, delete policy): that path never decodes records."""

from __future__ import annotations

import struct

from crc32c import crc32c

from kwire.protocol.record_codec import (
    GZIP, LZ4, NONE, SNAPPY, ZSTD, Record, RecordDecodeError, compress, encode_records, iter_records,
)
from kwire.protocol.records import (
    COMPRESSION_MASK, CRC_START, HEADER_SIZE, LOG_OVERHEAD, TIMESTAMP_TYPE_BIT, BatchHeader, parse_header,
)

CODECS = {"uncompressed": NONE, "gzip": GZIP, "snappy": SNAPPY, "lz4": LZ4, "zstd": ZSTD}
_ATTRIBUTES = struct.Struct(">h")
_INT64 = struct.Struct(">q")
_INT32 = struct.Struct(">i")
_LENGTH_AT, _ATTRIBUTES_AT, _MAX_TIMESTAMP_AT, _CRC_AT = 8, 21, 35, 17


def _reseal(batch: bytearray) -> None:
    struct.pack_into(">I", batch, _CRC_AT, crc32c(memoryview(batch)[CRC_START:]))


def set_log_append_time(batch: bytearray, now_ms: int) -> None:
    """message.timestamp.type=LogAppendTime: the batch's max timestamp
    becomes the broker's time and its timestamp type bit is set; clients
    then read every record's timestamp as that time."""
    (attributes,) = _ATTRIBUTES.unpack_from(batch, _ATTRIBUTES_AT)
    _ATTRIBUTES.pack_into(batch, _ATTRIBUTES_AT, attributes | TIMESTAMP_TYPE_BIT)
    _INT64.pack_into(batch, _MAX_TIMESTAMP_AT, now_ms)
    _reseal(batch)


def has_keyless_record(batch) -> bool:
    return any(record.key is None for record in iter_records(batch))


def recompress(batch, codec: int) -> bytearray:
    """The same records, offsets, timestamps and producer fields in a batch
    compressed with `codec`. Records are re-encoded one at a time, never all
    held as objects: a batch may carry millions of tiny records."""
    header = parse_header(batch)
    records = (
        Record(offset_delta=r.offset - header.base_offset, timestamp_delta=r.timestamp - header.base_timestamp,
               key=r.key, value=r.value, headers=r.headers)
        for r in iter_records(batch)
    )
    # The original header keeps every producer field; only the codec, the
    # length and the CRC change.
    rebuilt = bytearray(batch[:HEADER_SIZE]) + compress(codec, encode_records(records))
    _ATTRIBUTES.pack_into(rebuilt, _ATTRIBUTES_AT, (header.attributes & ~COMPRESSION_MASK) | codec)
    _INT32.pack_into(rebuilt, _LENGTH_AT, len(rebuilt) - LOG_OVERHEAD)
    _reseal(rebuilt)
    return rebuilt


def needs_transform(log_config) -> bool:
    return log_config.compression_type != "producer" or log_config.log_append_time or log_config.compacted


def transform_for_topic(batch: bytearray, header: BatchHeader, log_config, now_ms: int) -> tuple[bytearray, BatchHeader]:
    """Apply the topic's rules; raises RecordDecodeError for undecodable
    records and ValueError for a keyless record in a compacted topic."""
    if log_config.compacted and not header.is_control and has_keyless_record(batch):
        raise KeylessRecord()
    target = CODECS.get(log_config.compression_type)
    if target is not None and target != header.compression and not header.is_control:
        batch = recompress(batch, target)
    if log_config.log_append_time:
        set_log_append_time(batch, now_ms)
    return batch, parse_header(batch)


class KeylessRecord(ValueError):
    pass


__all__ = ["CODECS", "KeylessRecord", "RecordDecodeError", "needs_transform", "recompress", "set_log_append_time",
           "transform_for_topic"]
