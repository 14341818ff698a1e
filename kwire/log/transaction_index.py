"""Transactions as one partition sees them: which producers have a
transaction open here (and from which offset — the last stable offset is
the smallest), and which transactions were aborted, so read_committed
consumers can drop their records.

Aborted transactions are kept in Kafka's `.txnindex` files beside the
segments (34-byte entries: version int16 0, producer id int64, first offset
int64, last offset int64, last stable offset int64), written to the active
segment's file when an abort marker lands.
"""

from __future__ import annotations

import bisect
import os
import struct

import attrs

from kwire.log.durable_files import write_atomically
from kwire.log.stores import append_or_undo
from kwire.protocol.control_batches import ABORT

TXN_INDEX_ENTRY = struct.Struct(">hqqqq")


@attrs.frozen(order=True)
class AbortedTxn:
    last_offset: int  # the abort marker's offset (first, so the list sorts by it)
    producer_id: int
    first_offset: int
    last_stable_offset: int


class PartitionTransactions:
    def __init__(self) -> None:
        self.ongoing: dict[int, int] = {}  # producer id -> first offset of its open transaction
        self.aborted: list[AbortedTxn] = []

    def first_unstable_offset(self) -> int | None:
        return min(self.ongoing.values()) if self.ongoing else None

    def on_transactional_data(self, producer_id: int, base_offset: int) -> None:
        self.ongoing.setdefault(producer_id, base_offset)

    def abort_entry(self, producer_id: int, marker_offset: int, kind: int, log_end_before: int) -> AbortedTxn | None:
        """The index entry a marker would add (an abort of an open
        transaction), without changing anything."""
        first = self.ongoing.get(producer_id)
        if kind != ABORT or first is None:
            return None
        others = [offset for pid, offset in self.ongoing.items() if pid != producer_id]
        return AbortedTxn(marker_offset, producer_id, first, min(others) if others else log_end_before)

    def on_marker(self, producer_id: int, marker_offset: int, kind: int, log_end_before: int) -> AbortedTxn | None:
        """The transaction ends here; returns the index entry for an abort."""
        entry = self.abort_entry(producer_id, marker_offset, kind, log_end_before)
        self.ongoing.pop(producer_id, None)
        if entry is not None:
            self.add_aborted(entry)
        return entry

    def add_aborted(self, entry: AbortedTxn) -> None:
        if entry not in self.aborted:
            bisect.insort(self.aborted, entry)

    def aborted_overlapping(self, start: int, end: int) -> list[tuple[int, int]]:
        """(producer id, first offset) of aborted transactions with records in [start, end)."""
        i = bisect.bisect_left(self.aborted, AbortedTxn(start, -1, -1, -1))
        return [(a.producer_id, a.first_offset) for a in self.aborted[i:] if a.first_offset < end]

    def aborted_spans(self, start: int, end: int) -> dict[int, list[tuple[int, int]]]:
        """producer id -> (first offset, abort marker offset) of the aborted
        transactions with records in [start, end)."""
        i = bisect.bisect_left(self.aborted, AbortedTxn(start, -1, -1, -1))
        spans: dict[int, list[tuple[int, int]]] = {}
        for a in self.aborted[i:]:
            if a.first_offset < end:
                spans.setdefault(a.producer_id, []).append((a.first_offset, a.last_offset))
        return spans

    def drop_before(self, offset: int) -> None:
        """Retention moved the log start: forget aborts that ended below it."""
        self.aborted = [a for a in self.aborted if a.last_offset >= offset]


def append_txn_index(path: str, entry: AbortedTxn) -> None:
    """One entry at the end of the file; a failed write leaves the file as it was."""
    data = TXN_INDEX_ENTRY.pack(0, entry.producer_id, entry.first_offset, entry.last_offset, entry.last_stable_offset)
    existed = os.path.exists(path)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size_before = os.fstat(fd).st_size
        try:
            append_or_undo(fd, data, size_before, path)
        except OSError:
            if not existed:
                os.unlink(path)
            raise
    finally:
        os.close(fd)


def read_txn_index(path: str) -> list[AbortedTxn]:
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    usable = len(data) - len(data) % TXN_INDEX_ENTRY.size
    return [
        AbortedTxn(last, pid, first, lso) for _v, pid, first, last, lso in TXN_INDEX_ENTRY.iter_unpack(data[:usable])
    ]


def write_txn_index(path: str, entries: list[AbortedTxn]) -> None:
    if not entries:
        if os.path.exists(path):
            os.unlink(path)
        return
    write_atomically(
        path,
        b"".join(
            TXN_INDEX_ENTRY.pack(0, e.producer_id, e.first_offset, e.last_offset, e.last_stable_offset) for e in entries
        ),
    )
