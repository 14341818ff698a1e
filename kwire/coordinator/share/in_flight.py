"""A share-partition's in-flight records as a reader sees them: ranges of
consecutive offsets with the same state, delivery count, holder and lock
end, for `kwire share-groups describe --in-flight` and the console.

Kafka has no API for this (DescribeShareGroupOffsets gives only the start
offset and lag), so kwire serves it read-only on the node's HTTP port."""

from __future__ import annotations

from typing import Any

import attrs

from kwire.coordinator.share.share_partition import RecordState, SharePartition


@attrs.frozen
class InFlightRange:
    first_offset: int
    last_offset: int
    state: str  # available, acquired, acknowledged or archived
    delivery_count: int
    member_id: str | None  # the acquiring member (acquired records only)
    lock_remaining_ms: int | None  # until the acquisition lock ends (acquired records only)

    def as_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


def in_flight_ranges(partition: SharePartition, now: float) -> list[InFlightRange]:
    """The records between the start and end offsets, ranges merged; offsets
    without a record there (compaction gaps, control batches) are left out."""
    ranges: list[InFlightRange] = []
    for offset in sorted(partition.records):
        record = partition.records[offset]
        acquired = record.state == RecordState.ACQUIRED
        member = record.member_id if acquired else None
        remaining = max(0, round((record.lock_deadline - now) * 1000)) if acquired else None
        state = record.state.name.lower()
        last = ranges[-1] if ranges else None
        if (
            last is not None
            and last.last_offset == offset - 1
            and (last.state, last.delivery_count, last.member_id, last.lock_remaining_ms)
            == (state, record.delivery_count, member, remaining)
        ):
            ranges[-1] = attrs.evolve(last, last_offset=offset)
        else:
            ranges.append(InFlightRange(offset, offset, state, record.delivery_count, member, remaining))
    return ranges
