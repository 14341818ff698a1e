"""Is a stored batch whole and in its place? Asked of segment files at
start-up, by `kwire check` and, from headers alone, on the read path.

A header check costs a few comparisons (no CRC, no records): magic 2, a
batch length at least a header's and within the file, offsets that increase
and stay inside the segment. Recovery adds the CRC-32C.
"""

from __future__ import annotations

from kwire.protocol.records import CURRENT_MAGIC, MIN_BATCH_LENGTH, BatchHeader


def header_problem(
    header: BatchHeader, position: int, file_size: int, min_offset: int, end_offset: int | None
) -> str | None:
    """Why the batch whose header is at `position` is not a whole batch of
    this segment (None if it is): its base offset must be at least
    `min_offset` (one past the batch before) and its offsets below
    `end_offset` (the next segment's base), when given."""
    if header.magic != CURRENT_MAGIC:
        return f"magic byte {header.magic} (expected {CURRENT_MAGIC})"
    if header.batch_length < MIN_BATCH_LENGTH:
        return f"batch length {header.batch_length} is shorter than a batch header"
    if position + header.size > file_size:
        return f"a batch of {header.size} bytes runs past the end of the file ({file_size} bytes)"
    if header.last_offset_delta < 0 or header.records_count < 0:
        return f"negative last offset delta ({header.last_offset_delta}) or record count ({header.records_count})"
    if header.base_offset < min_offset:
        return f"base offset {header.base_offset} is below {min_offset} (offsets must increase)"
    if end_offset is not None and header.last_offset >= end_offset:
        return f"offsets {header.base_offset}..{header.last_offset} reach the next segment's base {end_offset}"
    return None
