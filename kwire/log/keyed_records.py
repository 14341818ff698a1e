"""Reading a whole log back as (key, value) pairs: how the internal topics
(`__cluster_metadata`, `__consumer_offsets`) are replayed at start-up.
Only start-up pays for decoding records; the hot path never does."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from kwire.log.partition_log import PartitionLog
from kwire.log.segment import CorruptSegment
from kwire.log.segment_scan import batches_in
from kwire.protocol.record_codec import DecodedRecord, Record, build_batch, iter_records
from kwire.protocol.records import BatchHeader, parse_header

_READ_CHUNK = 1024 * 1024
_logger = logging.getLogger("kwire.log")


def iter_keyed_records(log: PartitionLog, start: int = 0) -> Iterator[tuple[bytes, bytes | None]]:
    """Every data record with a key, in offset order, from the log start (or `start`) on."""
    for header, records in iter_batches(log, start):
        if not header.is_control:
            for record in records:
                if record.key is not None:
                    yield record.key, record.value


def append_keyed_records(
    log: PartitionLog,
    pairs: list[tuple[bytes, bytes | None]],
    *,
    producer_id: int = -1,
    producer_epoch: int = -1,
    transactional: bool = False,
) -> int:
    """Write (key, value) records as one batch, stamped now; returns its base offset."""
    batch = build_batch(
        [Record(offset_delta=i, timestamp_delta=0, key=k, value=v) for i, (k, v) in enumerate(pairs)],
        base_timestamp=log.clock.wall_ms(),
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        is_transactional=transactional,
    )
    return log.append(batch, parse_header(batch))


def iter_batches(log: PartitionLog, start: int = 0) -> Iterator[tuple[BatchHeader, list[DecodedRecord]]]:
    """(header, records) of every batch from the log start (or `start`): for
    replays that must see transactional batches and markers."""
    offset = max(start, log.log_start_offset)
    while offset < log.log_end_offset:
        try:
            data = b"".join(bytes(chunk) for chunk in log.read(offset, _READ_CHUNK))
        except CorruptSegment as exc:
            if exc.resume_offset <= offset:
                break
            _logger.warning("Replay of %s skips offsets %d to %d: %s", log.name, offset, exc.resume_offset - 1, exc)
            offset = exc.resume_offset
            continue
        advanced = False
        for _position, header, batch in batches_in(data):
            if header.last_offset < offset:
                continue
            yield header, [r for r in iter_records(batch) if r.offset >= offset]
            offset = header.last_offset + 1
            advanced = True
        if not advanced:
            _logger.warning("Replay of %s stops at offset %d: the batch there fails its CRC-32C", log.name, offset)
            break
