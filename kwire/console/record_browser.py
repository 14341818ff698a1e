"""The message browser's reading: records of one partition from an offset
or a timestamp, decoded here and only here (never on the produce/fetch
path), with the log's own batch walk (kwire/log/keyed_records.iter_batches).

Bounded: at most `limit` records (MAX_RECORDS at most) and about
BYTE_BUDGET bytes of keys, values and headers per page; nothing past the
high watermark (what a consumer may read)."""

from __future__ import annotations

import struct

import attrs

from kwire.log.keyed_records import iter_batches
from kwire.log.partition_log import PartitionLog
from kwire.protocol.control_batches import COMMIT, marker_type_of_key

DEFAULT_RECORDS = 50
MAX_RECORDS = 500
BYTE_BUDGET = 1024 * 1024


@attrs.frozen
class BrowsedRecord:
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    transactional: bool
    producer_id: int
    marker: str  # "COMMIT" / "ABORT" for a transaction marker (a control record), else ""
    aborted: bool = False  # data of a transaction that was aborted (read_committed consumers skip it)


@attrs.frozen
class Page:
    records: list[BrowsedRecord]
    next_offset: int  # where the next page starts
    truncated: bool  # stopped by the byte budget rather than the record limit or the end


def start_for_timestamp(log: PartitionLog, timestamp_ms: int) -> int:
    """The first offset stamped `timestamp_ms` or later (ListOffsets' lookup
    by time: the time index, then the batch's records); the high watermark
    if there is none."""
    batch_offset = log.offset_for_timestamp(timestamp_ms)
    if batch_offset is None:
        return log.high_watermark
    offset, _timestamp = log.first_record_at_or_after(batch_offset, timestamp_ms)
    return log.high_watermark if offset < 0 else offset


def read_page(log: PartitionLog, start: int, limit: int = DEFAULT_RECORDS) -> Page:
    """Records from `start` (moved up to the log start); raises StorageError,
    RecordDecodeError as the log's reads do."""
    limit = max(1, min(limit, MAX_RECORDS))
    end = log.high_watermark
    offset = max(start, log.log_start_offset)
    records: list[BrowsedRecord] = []
    spent = 0
    for header, decoded in iter_batches(log, offset):
        if header.base_offset >= end:
            break
        aborted = (
            header.is_transactional and not header.is_control and _aborted(log, header.producer_id, header.base_offset)
        )
        for record in decoded:
            if record.offset >= end or len(records) >= limit:
                return Page(records, record.offset if record.offset < end else end, False)
            weight = len(record.key or b"") + len(record.value or b"")
            weight += sum(len(name) + len(value or b"") for name, value in record.headers)
            if records and spent + weight > BYTE_BUDGET:
                return Page(records, record.offset, True)
            spent += weight
            records.append(
                BrowsedRecord(
                    record.offset,
                    record.timestamp,
                    record.key,
                    record.value,
                    record.headers,
                    header.is_transactional,
                    header.producer_id,
                    _marker(record.key) if header.is_control else "",
                    aborted,
                )
            )
        offset = header.last_offset + 1
    return Page(records, min(max(offset, records[-1].offset + 1 if records else offset), end), False)


def _aborted(log: PartitionLog, producer_id: int, offset: int) -> bool:
    """Whether the batch at `offset` belongs to a transaction its producer aborted (the transaction index)."""
    return any(
        entry.producer_id == producer_id and entry.first_offset <= offset <= entry.last_offset
        for entry in log.transactions.aborted
    )


def _marker(key: bytes | None) -> str:
    if key is None:
        return "ABORT"
    try:
        return "COMMIT" if marker_type_of_key(key) == COMMIT else "ABORT"
    except struct.error:
        return "CONTROL"
