"""What a topic's configs make the broker do to a produced batch before it
is stored: the records it refuses one by one, and the rewrites. For a topic
at its defaults (compression.type producer, CreateTime, delete policy)
records are decoded only when the batch header says one may be refused (a
max timestamp beyond message.timestamp.after.max.ms, a producer-set
LogAppendTime stamp)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, NamedTuple

from kwire.protocol.errors import ErrorCode
from kwire.protocol.record_codec import (
    GZIP,
    LZ4,
    NONE,
    SNAPPY,
    ZSTD,
    DecodedRecord,
    Record,
    RecordDecodeError,
    compress,
    encode_records,
    iter_records,
)
from kwire.protocol.records import (
    ATTRIBUTES_AT,
    BATCH_LENGTH_AT,
    COMPRESSION_MASK,
    CONTROL_BIT,
    HEADER_SIZE,
    INT16,
    INT32,
    INT64,
    LOG_OVERHEAD,
    MAX_TIMESTAMP_AT,
    RECORDS_COUNT_AT,
    TIMESTAMP_TYPE_BIT,
    BatchHeader,
    Buffer,
    parse_header,
    reseal,
)

if TYPE_CHECKING:
    from kwire.log.config import LogConfig

CODECS = {"uncompressed": NONE, "gzip": GZIP, "snappy": SNAPPY, "lz4": LZ4, "zstd": ZSTD}
NO_TIMESTAMP = -1
UNBOUNDED_MS = 2**63 - 1  # Kafka's Long.MAX_VALUE: no limit


def set_log_append_time(batch: bytearray, now_ms: int) -> None:
    """message.timestamp.type=LogAppendTime: the batch's max timestamp
    becomes the broker's time and its timestamp type bit is set; clients
    then read every record's timestamp as that time."""
    (attributes,) = INT16.unpack_from(batch, ATTRIBUTES_AT)
    INT16.pack_into(batch, ATTRIBUTES_AT, attributes | TIMESTAMP_TYPE_BIT)
    INT64.pack_into(batch, MAX_TIMESTAMP_AT, now_ms)
    reseal(batch)


def rebuild_batch(batch: Buffer, records: Iterable[DecodedRecord], codec: int | None = None) -> bytearray:
    """A batch holding `records` (some or all of `batch`'s, in order) under
    `batch`'s own header: offsets span, timestamps and producer fields stay;
    only the codec (`codec`, else the batch's own), the length, the record
    count and the CRC change. How the cleaner drops records and how a
    topic's compression.type recompresses. Records are re-encoded one at a
    time, never all held as objects: a batch may carry millions of tiny
    records."""
    header = parse_header(batch)
    # LogAppendTime: readers take every record's time from the header.
    log_append_time = bool(header.attributes & TIMESTAMP_TYPE_BIT)
    count = 0

    def reencoded() -> Iterator[Record]:
        nonlocal count
        for r in records:
            count += 1
            yield Record(
                offset_delta=r.offset - header.base_offset,
                timestamp_delta=0 if log_append_time else r.timestamp - header.base_timestamp,
                key=r.key,
                value=r.value,
                headers=r.headers,
            )

    codec = header.compression if codec is None else codec
    rebuilt = bytearray(memoryview(batch)[:HEADER_SIZE]) + compress(codec, encode_records(reencoded()))
    INT16.pack_into(rebuilt, ATTRIBUTES_AT, (header.attributes & ~COMPRESSION_MASK) | codec)
    INT32.pack_into(rebuilt, BATCH_LENGTH_AT, len(rebuilt) - LOG_OVERHEAD)
    INT32.pack_into(rebuilt, RECORDS_COUNT_AT, count)
    reseal(rebuilt)
    return rebuilt


def recompress(batch: Buffer, codec: int) -> bytearray:
    """The same records, offsets, timestamps and producer fields in a batch
    compressed with `codec`."""
    return rebuild_batch(batch, iter_records(batch), codec)


def needs_transform(log_config: LogConfig) -> bool:
    return log_config.compression_type != "producer" or log_config.log_append_time or log_config.compacted


def transform_for_topic(
    batch: bytearray, header: BatchHeader, log_config: LogConfig, now_ms: int
) -> tuple[bytearray, BatchHeader]:
    """Apply the topic's rewrites; raises RecordDecodeError for undecodable
    records. Run refused_records first: a batch it refuses is not stored."""
    target = CODECS.get(log_config.compression_type)
    if target is not None and target != header.compression and not header.is_control:
        batch = recompress(batch, target)
    if log_config.log_append_time:
        set_log_append_time(batch, now_ms)
    return batch, parse_header(batch)


# --- records refused one by one (Kafka's LogValidator.validateRecord) -----------


class RefusedRecord(NamedTuple):
    batch_index: int  # the record's position in its batch
    error_code: ErrorCode
    message: str


def could_refuse_records(header: BatchHeader, rules: LogConfig, now_ms: int) -> bool:
    """Whether refused_records must look inside the batch. The header's max
    timestamp bounds every record's, so in-range batches of a topic with no
    key rule and no lower time limit are never decoded."""
    attributes = header.attributes
    if attributes & CONTROL_BIT:
        return False
    if rules.compacted or attributes & TIMESTAMP_TYPE_BIT:
        return True
    if rules.log_append_time:
        return False
    return header.max_timestamp - now_ms > rules.timestamp_after_max_ms or rules.timestamp_before_max_ms != UNBOUNDED_MS


def refused_records(
    batch: Buffer, header: BatchHeader, rules: LogConfig, now_ms: int, topic_partition: str
) -> list[RefusedRecord]:
    """Every record Kafka refuses individually, each with its own reason: a
    keyless record in a compacted topic, a CreateTime timestamp outside
    [now - before.max, now + after.max], a LogAppendTime stamp set by the
    producer. One such record fails the whole batch (KIP-467 names them).
    Raises RecordDecodeError for records that cannot be decoded."""
    if not could_refuse_records(header, rules, now_ms):
        return []
    producer_stamped = bool(header.attributes & TIMESTAMP_TYPE_BIT)
    refused: list[RefusedRecord] = []
    for batch_index, record in enumerate(iter_records(batch)):
        if rules.compacted and record.key is None:
            refused.append(
                RefusedRecord(
                    batch_index,
                    ErrorCode.invalid_record,
                    f"Compacted topic cannot accept message without key in topic partition {topic_partition}",
                )
            )
        elif not rules.log_append_time and record.timestamp != NO_TIMESTAMP:
            if (
                now_ms - record.timestamp > rules.timestamp_before_max_ms
                or record.timestamp - now_ms > rules.timestamp_after_max_ms
            ):
                refused.append(
                    RefusedRecord(
                        batch_index,
                        ErrorCode.invalid_timestamp,
                        f"Timestamp {record.timestamp} of message with offset {record.offset} is out of range. "
                        f"The timestamp should be within [{now_ms - rules.timestamp_before_max_ms}, "
                        f"{now_ms + rules.timestamp_after_max_ms}]",
                    )
                )
        elif producer_stamped:
            refused.append(
                RefusedRecord(
                    batch_index,
                    ErrorCode.invalid_timestamp,
                    f"Invalid timestamp type in message {_describe(record)}. "
                    "Producer should not set timestamp type to LogAppendTime.",
                )
            )
    return refused


def refusal_of_batch(refused: list[RefusedRecord]) -> tuple[ErrorCode, str]:
    """The partition's error code and message when records were refused:
    INVALID_TIMESTAMP if any timestamp was, else INVALID_RECORD listing the
    first three, in Kafka's words."""
    if any(r.error_code == ErrorCode.invalid_timestamp for r in refused):
        return ErrorCode.invalid_timestamp, "One or more records have been rejected due to invalid timestamp"
    listed = ", ".join(f"RecordError(batchIndex={r.batch_index}, message='{r.message}')" for r in refused[:3])
    return ErrorCode.invalid_record, (
        f"One or more records have been rejected due to {len(refused)} record errors in total, "
        f"and only showing the first three errors at most: [{listed}]"
    )


def _describe(record: DecodedRecord) -> str:
    key = 0 if record.key is None else len(record.key)
    value = 0 if record.value is None else len(record.value)
    return f"DefaultRecord(offset={record.offset}, timestamp={record.timestamp}, key={key} bytes, value={value} bytes)"


__all__ = [
    "CODECS",
    "RecordDecodeError",
    "RefusedRecord",
    "could_refuse_records",
    "needs_transform",
    "rebuild_batch",
    "recompress",
    "refusal_of_batch",
    "refused_records",
    "set_log_append_time",
    "transform_for_topic",
]
