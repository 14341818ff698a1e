"""Helpers for the follower-side log tests: batches of every kind, and
copying a leader's batches into a follower as replication would."""

from __future__ import annotations

from kwire.log import PartitionLog
from kwire.log.segment_scan import batches_in
from kwire.protocol.control_batches import build_marker
from kwire.protocol.record_codec import Record, build_batch, iter_all_records
from kwire.protocol.records import BatchHeader, parse_header

PID = 42


def batch(count=2, pid=-1, seq=-1, epoch=0, transactional=False, timestamp=1_000, value=b"v") -> bytearray:
    records = [Record(offset_delta=i, timestamp_delta=i, key=b"k", value=value) for i in range(count)]
    return build_batch(
        records,
        base_timestamp=timestamp,
        producer_id=pid,
        producer_epoch=epoch if pid >= 0 else -1,
        base_sequence=seq if pid >= 0 else -1,
        is_transactional=transactional,
    )


def put(log: PartitionLog, data: bytearray, leader_epoch: int = 0) -> int:
    """A leader's append; returns the base offset."""
    return log.append(data, parse_header(data), leader_epoch)


def marker(log: PartitionLog, pid: int, commit: bool, epoch: int = 0, leader_epoch: int = 0) -> int:
    return put(log, build_marker(pid, epoch, commit, 1_000), leader_epoch)


def stored_batches(log: PartitionLog, start: int = 0) -> list[tuple[BatchHeader, bytes]]:
    """Every batch from `start` on, as stored (reads go one segment at a time)."""
    out: list[tuple[BatchHeader, bytes]] = []
    offset = start
    while offset < log.log_end_offset:
        data = b"".join(bytes(chunk) for chunk in log.read(offset, 1 << 20))
        if not data:
            break
        for _position, header, raw in batches_in(data):
            out.append((header, raw))
            offset = header.last_offset + 1
    return out


def replicate(leader: PartitionLog, follower: PartitionLog) -> None:
    """Copy what the follower lacks, batch by batch, as its fetches would."""
    for header, raw in stored_batches(leader, follower.log_end_offset):
        follower.append_replicated(bytearray(raw), header)


def offsets(log: PartitionLog, start: int = 0) -> list[int]:
    return [r.offset for header, raw in stored_batches(log, start) for r in iter_all_records(raw)]
