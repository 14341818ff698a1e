"""Log compaction for `cleanup.policy=compact`: closed segments are
rewritten keeping the latest record for each key, in three steps.

- `plan` (event loop): which segments may be cleaned now — closed ones
  older than `min.compaction.lag.ms` — and whether the dirty share of them
  reaches `min.cleanable.dirty.ratio`.
- `build` (a worker thread): read those segments, map each key to its
  latest offset, and write the surviving batches. Offsets never change:
  a batch keeps its base offset and offset span; dropped records leave
  gaps, which consumers skip. Tombstones go once older than
  `delete.retention.ms`. Untouched batches are copied byte for byte; a
  partly kept batch is re-encoded in its own compression codec.
  Transactions: only offsets below the last stable offset are cleaned;
  committed transactional records compact like any other, aborted ones
  are dropped, and a marker goes once its transaction has no records left
  and it is older than `delete.retention.ms`.
- `install` (event loop): swap the new segments in for the old ones, if
  nothing else (retention, DeleteRecords) changed them meanwhile.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import attrs

from kwire.log.config import LogConfig
from kwire.log.durable_files import fsync_directory
from kwire.log.files import CLEANED_LOG_SUFFIX, SWAP_LOG_SUFFIX, file_path
from kwire.log.partition_log import PartitionLog
from kwire.log.segment import MAX_RELATIVE_OFFSET, CorruptSegment, Segment
from kwire.log.segment_scan import SegmentScan
from kwire.protocol.batch_transforms import rebuild_batch
from kwire.protocol.record_codec import iter_records
from kwire.protocol.records import BatchHeader, parse_header


@attrs.frozen
class CleaningPlan:
    segments: tuple[Segment, ...]  # from the log start through the last cleanable one
    first_dirty_offset: int
    end_offset: int  # one past the last cleanable offset
    now_ms: int
    config: LogConfig
    # producer id -> [(first, last offset)] of its aborted transactions
    aborted: dict[int, list[tuple[int, int]]] = attrs.field(factory=dict)
    truncations: int = 0  # the log's count when planned: one since voids the work


@attrs.define
class CleaningOutput:
    groups: list[tuple[int, list[bytes]]]  # (base offset, batches) per new segment
    bytes_before: int
    bytes_after: int
    records_removed: int


def plan(log: PartitionLog, now_ms: int) -> CleaningPlan | None:
    if log.deleted:
        return None  # its topic was deleted
    config = log.config
    closed = log.segments[:-1]
    stable_end = log.last_stable_offset
    cleanable = []
    for segment in closed:
        if segment.damage is not None:
            break  # never compacted past a broken batch (`_batches`)
        if now_ms - segment.largest_timestamp < config.min_compaction_lag_ms:
            break  # too young: it and everything after stay dirty for now
        if segment.next_offset > stable_end:
            break  # holds records of a transaction still open
        cleanable.append(segment)
    if not cleanable:
        return None
    end_offset = cleanable[-1].next_offset
    first_dirty = max(log.first_dirty_offset, log.log_start_offset)
    if first_dirty >= end_offset:
        return None
    total = sum(s.size for s in cleanable)
    dirty = sum(s.size for s in cleanable if s.next_offset > first_dirty)
    if total == 0 or dirty / total < config.min_cleanable_dirty_ratio:
        return None
    aborted: dict[int, list[tuple[int, int]]] = {}
    for entry in log.transactions.aborted:
        if entry.first_offset < end_offset:
            aborted.setdefault(entry.producer_id, []).append((entry.first_offset, entry.last_offset))
    return CleaningPlan(tuple(cleanable), first_dirty, end_offset, now_ms, config, aborted, log.truncations)


def _is_aborted(header: BatchHeader, aborted: dict[int, list[tuple[int, int]]]) -> bool:
    return any(first <= header.base_offset <= last for first, last in aborted.get(header.producer_id, ()))


def _batches(segment: Segment) -> Iterator[tuple[BatchHeader, bytes]]:
    """(header, bytes) of every batch in a closed segment, read in blocks."""
    scan = SegmentScan(segment.store, segment.base_offset, verify_crc=True)
    for _position, header, data in scan.batches():
        yield header, data
    if scan.problem is not None:
        # Never rewrite a segment past a broken batch: what follows it
        # would be dropped. The log is left uncleaned (see `plan`).
        segment.note_damage(scan.end, scan.problem)
        raise CorruptSegment(segment, segment.base_offset)


def build(work: CleaningPlan) -> CleaningOutput:
    latest: dict[bytes, int] = {}
    for segment in work.segments:
        if segment.next_offset <= work.first_dirty_offset:
            continue
        for header, data in _batches(segment):
            if header.is_control or header.last_offset < work.first_dirty_offset:
                continue
            if header.is_transactional and _is_aborted(header, work.aborted):
                continue
            for record in iter_records(data):
                if record.key is not None:
                    latest[record.key] = record.offset
    tombstone_horizon = work.now_ms - work.config.delete_retention_ms
    groups: list[tuple[int, list[bytes]]] = [(work.segments[0].base_offset, [])]
    group_size = 0
    before = after = removed = 0
    data_kept: set[int] = set()  # producers whose current transaction still has records here
    for segment in work.segments:
        for header, data in _batches(segment):
            before += len(data)
            if header.is_control:
                # A marker goes once nothing of its transaction is left and it
                # is older than delete.retention.ms, like a tombstone.
                had_data = header.producer_id in data_kept
                data_kept.discard(header.producer_id)
                kept = data if had_data or header.max_timestamp >= tombstone_horizon else None
            elif header.is_transactional and _is_aborted(header, work.aborted):
                kept = None  # read_committed readers never see it; now nobody does
            else:
                kept = _filter_batch(header, data, latest, tombstone_horizon)
                if kept is not None and header.is_transactional:
                    data_kept.add(header.producer_id)
            if kept is None:
                removed += header.records_count
                continue
            removed += header.records_count - _count(kept)
            base, batches = groups[-1]
            if batches and (
                group_size + len(kept) > work.config.segment_bytes or header.last_offset - base > MAX_RELATIVE_OFFSET
            ):
                # Segments are merged up to segment.bytes; a new one starts
                # at the old segment it begins in, or at this batch.
                start = segment.base_offset if segment.base_offset > base else header.base_offset
                groups.append((start, []))
                group_size = 0
            groups[-1][1].append(kept)
            group_size += len(kept)
            after += len(kept)
    return CleaningOutput(groups, before, after, removed)


def _count(batch: bytes) -> int:
    return parse_header(batch).records_count


def _filter_batch(header: BatchHeader, data: bytes, latest: dict[bytes, int], tombstone_horizon: int) -> bytes | None:
    """The batch with only its surviving records: unchanged bytes when all
    survive, None when none does."""
    records = list(iter_records(data))
    keep = [
        r
        for r in records
        if r.key is not None
        and r.offset >= latest.get(r.key, -1)
        and not (r.value is None and r.timestamp < tombstone_horizon)
    ]
    if len(keep) == len(records):
        return data
    if not keep:
        return None
    # The batch keeps its offset span and its max timestamp, as Kafka's cleaner does.
    return bytes(rebuild_batch(data, keep))


def write_cleaned_files(log: PartitionLog, output: CleaningOutput) -> list[str]:
    """On disk: the new segments as `<base>.log.cleaned` files (worker
    thread). If the disk refuses, none is left behind (they would only take
    space) and OSError is raised: the log stays as it was. An in-memory
    log has no files: its segments are made from `output` at `install`."""
    paths: list[str] = []
    if log.directory is None:
        return paths
    try:
        for base, batches in output.groups:
            path = file_path(log.directory, base, CLEANED_LOG_SUFFIX)
            paths.append(path)
            with open(path, "wb") as f:
                for batch in batches:
                    f.write(batch)
                f.flush()
                os.fsync(f.fileno())
    except OSError:
        _discard(log, output)
        raise
    return paths


def install(log: PartitionLog, work: CleaningPlan, output: CleaningOutput) -> bool:
    """Swap the cleaned segments in; False (and nothing changed) if the log's
    leading segments are no longer the planned ones.

    As Kafka does, in steps a crash can interrupt anywhere: the cleaned files
    become `.swap` files (durably: from then on start-up finishes the swap,
    see complete_interrupted_swaps), then the old segments go, then each
    `.swap` becomes the `.log`."""
    count = len(work.segments)
    if (
        log.deleted
        or log.truncations != work.truncations  # (a follower's truncation may have cut a planned segment)
        or tuple(log.segments[:count]) != work.segments
        or len(log.segments) <= count
    ):
        _discard(log, output)
        return False
    try:
        if log.directory is not None:
            for base, _batches in output.groups:
                os.replace(
                    file_path(log.directory, base, CLEANED_LOG_SUFFIX), file_path(log.directory, base, SWAP_LOG_SUFFIX)
                )
            fsync_directory(log.directory)
        for segment in work.segments:
            if log.directory is not None:
                segment.delete()
            else:
                segment.close()
        new_segments = [_new_segment(log, base, batches) for base, batches in output.groups]
        log.replace_leading_segments(count, new_segments)
        log.rewrite_txn_indexes()
        if log.directory is not None:
            fsync_directory(log.directory)  # the renames are durable before anything relies on them
    except OSError as exc:
        # Half swapped: start-up finishes the swap from the `.swap` files.
        log.take_offline(f"compaction could not swap in its segments: {exc}")
        raise
    log.cleaned_up_to(work.end_offset)
    return True


def _new_segment(log: PartitionLog, base: int, batches: list[bytes]) -> Segment:
    interval = log.config.index_interval_bytes
    if log.directory is None:
        segment = Segment.in_memory(base, log.clock.wall_ms())
        for batch in batches:
            segment.append(batch, parse_header(batch), interval)
        return segment
    return Segment.swap_in(str(log.directory), base, interval, log.clock.wall_ms())


def _discard(log: PartitionLog, output: CleaningOutput) -> None:
    if log.directory is None:
        return
    for base, _ in output.groups:
        path = file_path(log.directory, base, CLEANED_LOG_SUFFIX)
        if os.path.exists(path):
            os.unlink(path)
