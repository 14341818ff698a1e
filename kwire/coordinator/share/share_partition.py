"""One share-partition's delivery state (KIP-932), sans-IO.

Per (share group, topic, partition): the share-partition start offset
(SPSO, below which every record is done), the end offset (SPEO, the first
offset never acquired), and each in-flight offset between them with its
state, delivery count, the member holding it and when that lock ends.
Times are monotonic seconds, passed in by the caller.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import IntEnum

import attrs

from kwire.protocol.errors import ErrorCode


class RecordState(IntEnum):
    """Kafka's record states, with its ids (those persisted in share state)."""

    AVAILABLE = 0
    ACQUIRED = 1
    ACKNOWLEDGED = 2
    ARCHIVED = 4


class AcknowledgeType(IntEnum):
    """The AcknowledgeTypes of ShareFetch / ShareAcknowledge."""

    GAP = 0  # no record at this offset (a compacted gap or a control record)
    ACCEPT = 1
    RELEASE = 2
    REJECT = 3
    RENEW = 4  # KIP-1222 (ShareFetch / ShareAcknowledge v2): the lock is extended, the state kept


DONE = (RecordState.ACKNOWLEDGED, RecordState.ARCHIVED)


@attrs.define
class InFlight:
    state: RecordState
    delivery_count: int
    member_id: str | None = None
    lock_deadline: float = 0.0


@attrs.frozen
class Acquired:
    """An AcquiredRecords range of a ShareFetch answer."""

    first_offset: int
    last_offset: int
    delivery_count: int


@attrs.define
class ShareSettings:
    lock_duration_ms: int = 30_000  # group.share.record.lock.duration.ms
    delivery_count_limit: int = 5  # group.share.delivery.count.limit
    max_record_locks: int = 2_000  # group.share.partition.max.record.locks


class SharePartition:
    def __init__(self, start_offset: int, settings: ShareSettings) -> None:
        self.start_offset = start_offset
        self.end_offset = start_offset
        self.settings = settings
        # Offsets in [start, end) not yet known done; an offset in that range
        # missing here had no record (a compaction gap) and counts as done.
        self.records: dict[int, InFlight] = {}
        self._next_deadline: float | None = None
        self.state_epoch = 0
        self.changed = False  # something to persist since the last take_changed()

    # --- what a fetch reads ----------------------------------------------------

    def next_fetch_offset(self) -> int:
        """Where a fetch should read from: the first available in-flight
        record, else the end offset."""
        for offset in range(self.start_offset, self.end_offset):
            record = self.records.get(offset)
            if record is not None and record.state == RecordState.AVAILABLE:
                return offset
        return self.end_offset

    def has_available(self) -> bool:
        return any(r.state == RecordState.AVAILABLE for r in self.records.values())

    def in_flight_count(self) -> int:
        return self.end_offset - self.start_offset

    def acquire(
        self, member_id: str, batches: Iterable[tuple[int, int, bool]], max_records: int, now: float
    ) -> list[Acquired]:
        """Lock for `member_id` the available records of the batches read
        (each (base offset, last offset, is a control batch)), new ones past
        the end offset included, at most `max_records` (and no more in
        flight than group.share.partition.max.record.locks); the ranges
        acquired. Control batches, and a read_committed group's aborted
        transactions, are never delivered: passed over as gaps."""
        deadline = now + self.settings.lock_duration_ms / 1000
        taken: list[tuple[int, int]] = []  # (offset, delivery count)
        full = False
        for base, last, control in batches:
            if control:
                if base >= self.end_offset and not full:
                    self.end_offset = last + 1  # nothing to deliver there: done at once
                continue
            for offset in range(max(base, self.start_offset), last + 1):
                if len(taken) >= max_records:
                    full = True
                    break
                if offset >= self.end_offset:
                    if offset - self.start_offset >= self.settings.max_record_locks:
                        full = True
                        break
                    self.records[offset] = InFlight(RecordState.ACQUIRED, 1, member_id, deadline)
                    self.end_offset = offset + 1
                    taken.append((offset, 1))
                    continue
                record = self.records.get(offset)
                if record is not None and record.state == RecordState.AVAILABLE:
                    record.state = RecordState.ACQUIRED
                    record.delivery_count += 1
                    record.member_id = member_id
                    record.lock_deadline = deadline
                    taken.append((offset, record.delivery_count))
            if full:
                break
        if taken:
            self.changed = True
            if self._next_deadline is None or deadline < self._next_deadline:
                self._next_deadline = deadline
        self._advance_start()
        return _ranges(taken)

    # --- acknowledgements ------------------------------------------------------

    def acknowledge(
        self,
        member_id: str,
        first: int,
        last: int,
        types: Sequence[int],
        renew_allowed: bool = False,
        now: float = 0.0,
    ) -> ErrorCode:
        """One AcknowledgementBatch: one type for the whole range, or one per
        offset. INVALID_RECORD_STATE (nothing changed) unless every record
        of it is acquired by this member. RENEW only where the request said
        IsRenewAck (else INVALID_REQUEST): the record's lock starts again
        from `now` for the lock duration."""
        count = last - first + 1
        if count <= 0 or not types or (len(types) != 1 and len(types) != count):
            return ErrorCode.invalid_request
        if any(t not in AcknowledgeType._value2member_map_ for t in types):
            return ErrorCode.invalid_request
        if not renew_allowed and AcknowledgeType.RENEW in types:
            return ErrorCode.invalid_request
        if first < self.start_offset or last >= self.end_offset:
            return ErrorCode.invalid_record_state  # not in flight (and the loops below stay within the window)
        for offset in range(first, last + 1):
            kind = types[0] if len(types) == 1 else types[offset - first]
            record = self.records.get(offset)
            if record is None:
                if kind == AcknowledgeType.GAP and self.start_offset <= offset < self.end_offset:
                    continue
                return ErrorCode.invalid_record_state
            if record.state != RecordState.ACQUIRED or record.member_id != member_id:
                return ErrorCode.invalid_record_state
        for offset in range(first, last + 1):
            kind = types[0] if len(types) == 1 else types[offset - first]
            record = self.records.get(offset)
            if record is None:
                continue
            if kind == AcknowledgeType.RENEW:
                record.lock_deadline = now + self.settings.lock_duration_ms / 1000
                continue  # still acquired by the member (the earlier _next_deadline only makes a check sooner)
            if kind == AcknowledgeType.ACCEPT:
                record.state = RecordState.ACKNOWLEDGED
            elif kind == AcknowledgeType.RELEASE:
                self._release(record)
            else:  # REJECT, GAP
                record.state = RecordState.ARCHIVED
            record.member_id = None
        self.changed = True
        self._advance_start()
        return ErrorCode.none

    def _release(self, record: InFlight) -> None:
        """Back to available, or archived once delivered as often as allowed."""
        limit = self.settings.delivery_count_limit
        record.state = RecordState.ARCHIVED if record.delivery_count >= limit else RecordState.AVAILABLE
        record.member_id = None

    def release_member(self, member_id: str) -> bool:
        """The member's session closed or it left: its locks end now."""
        released = False
        for record in self.records.values():
            if record.state == RecordState.ACQUIRED and record.member_id == member_id:
                self._release(record)
                released = True
        if released:
            self.changed = True
            self._advance_start()
        return released

    def expire_locks(self, now: float) -> bool:
        """Locks whose time ran out end (group.share.record.lock.duration.ms);
        whether any did."""
        if self._next_deadline is None or now < self._next_deadline:
            return False
        expired = False
        upcoming: float | None = None
        for record in self.records.values():
            if record.state != RecordState.ACQUIRED:
                continue
            if record.lock_deadline <= now:
                self._release(record)
                expired = True
            elif upcoming is None or record.lock_deadline < upcoming:
                upcoming = record.lock_deadline
        self._next_deadline = upcoming
        if expired:
            self.changed = True
            self._advance_start()
        return expired

    # --- the start offset ------------------------------------------------------

    def _advance_start(self) -> None:
        while self.start_offset < self.end_offset:
            record = self.records.get(self.start_offset)
            if record is not None and record.state not in DONE:
                break
            self.records.pop(self.start_offset, None)
            self.start_offset += 1

    def move_start(self, offset: int) -> None:
        """The log's start moved past records not yet done (retention, deleted
        records), or an admin reset the start offset: they are dropped."""
        if offset <= self.start_offset:
            return
        for key in [k for k in self.records if k < offset]:
            del self.records[key]
        self.start_offset = offset
        self.end_offset = max(self.end_offset, offset)
        self.changed = True
        self._advance_start()

    def reset_to(self, offset: int) -> None:
        """AlterShareGroupOffsets: start again from `offset`, nothing in flight."""
        self.records.clear()
        self.start_offset = self.end_offset = offset
        self._next_deadline = None
        self.changed = True

    # --- state for persistence and describing -----------------------------------

    def state_batches(self) -> list[tuple[int, int, int, int]]:
        """The in-flight records as Kafka's share snapshot batches: (first
        offset, last offset, delivery state, delivery count), runs merged.
        Acquired records persist as available (their locks end with the node)."""
        runs: list[tuple[int, int, int, int]] = []
        for offset in sorted(self.records):
            record = self.records[offset]
            state = RecordState.AVAILABLE if record.state == RecordState.ACQUIRED else record.state
            if runs and runs[-1][1] == offset - 1 and runs[-1][2:] == (state, record.delivery_count):
                runs[-1] = (runs[-1][0], offset, state, record.delivery_count)
            else:
                runs.append((offset, offset, int(state), record.delivery_count))
        return runs

    def restore(self, start_offset: int, batches: Iterable[tuple[int, int, int, int]]) -> None:
        """State as persisted (see state_batches)."""
        self.records.clear()
        self.start_offset = self.end_offset = start_offset
        for first, last, state, count in batches:
            for offset in range(max(first, start_offset), last + 1):
                kind = RecordState(state) if state in RecordState._value2member_map_ else RecordState.AVAILABLE
                if kind == RecordState.ACQUIRED:
                    kind = RecordState.AVAILABLE
                self.records[offset] = InFlight(kind, count)
                self.end_offset = max(self.end_offset, offset + 1)
        self._advance_start()


def _ranges(taken: list[tuple[int, int]]) -> list[Acquired]:
    """Consecutive offsets with the same delivery count as one range."""
    ranges: list[Acquired] = []
    for offset, count in taken:
        if ranges and ranges[-1].last_offset == offset - 1 and ranges[-1].delivery_count == count:
            ranges[-1] = Acquired(ranges[-1].first_offset, offset, count)
        else:
            ranges.append(Acquired(offset, offset, count))
    return ranges


def split_ranges(ranges: list[Acquired], batch_size: int) -> list[Acquired]:
    """KIP-1206's BatchSize: no AcquiredRecords range longer than it, so the
    consumer acknowledges in batches of about that many records."""
    if batch_size <= 0:
        return ranges
    split: list[Acquired] = []
    for found in ranges:
        first = found.first_offset
        while first <= found.last_offset:
            last = min(found.last_offset, first + batch_size - 1)
            split.append(Acquired(first, last, found.delivery_count))
            first = last + 1
    return split
