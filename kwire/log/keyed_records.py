"""Reading a whole log back as (key, value) pairs: how the internal topics
(`__cluster_metadata`, `__consumer_offsets`) are replayed at start-up.
Only start-up pays for decoding records; the hot path never does."""

from __future__ import annotations

from typing import Iterator

from kwire.log.partition_log import PartitionLog
from kwire.protocol.record_codec import iter_records
from kwire.protocol.records import iter_valid_batches

_READ_CHUNK = 1024 * 1024


def iter_keyed_records(log: PartitionLog) -> Iterator[tuple[bytes, bytes | None]]:
    """Every record with a key, in offset order, from the log start on."""
    offset = log.log_start_offset
    while offset < log.log_end_offset:
        data = b"".join(bytes(chunk) for chunk in log.read(offset, _READ_CHUNK))
        advanced = False
        for pos, header in iter_valid_batches(data):
            if header.last_offset < offset:
                continue
            for record in iter_records(data[pos : pos + header.size]):
                if record.offset >= offset and record.key is not None:
                    yield record.key, record.value
            offset = header.last_offset + 1
            advanced = True
        if not advanced:
            break
