"""A partition's log: an ordered list of segments, the last one active."""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable
from pathlib import Path

from kwire.clock import SYSTEM_CLOCK, Clock
from kwire.log.config import LogConfig
from kwire.log.durable_files import fsync_directory, fsync_if_exists
from kwire.log.flusher import FLUSHER
from kwire.log.leader_epochs import EpochEntry, LeaderEpochCache
from kwire.log.log_loader import LoadReport, load_segments
from kwire.log.producer_state import (
    ProducerStateManager,
    delete_snapshots_after,
    latest_snapshot,
    snapshot_path,
    write_snapshot,
)
from kwire.log.segment import MAX_RELATIVE_OFFSET, CorruptSegment, Segment
from kwire.log.segment_scan import batches_in
from kwire.log.storage_errors import StorageError, is_out_of_descriptors, is_transient
from kwire.log.transaction_index import PartitionTransactions
from kwire.protocol.control_batches import marker_type
from kwire.protocol.record_codec import iter_records
from kwire.protocol.records import BatchHeader, Buffer, patch_offsets

logger = logging.getLogger("kwire.log")


class OffsetOutOfRange(Exception):
    pass


class PartitionLog:
    def __init__(
        self, directory: Path | None, config: LogConfig, segments: list[Segment], clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.directory = directory
        self.clock = clock  # wall_ms(): segment.ms, retention.ms, flush.ms
        self.config = config
        self.segments = segments
        self._base_offsets = [segment.base_offset for segment in segments]
        self.log_start_offset = segments[0].base_offset
        self.log_end_offset = segments[-1].next_offset
        self._max_timestamp = -1
        self._offset_of_max_timestamp = -1
        # Compaction: offsets below this have been cleaned (kept in memory only).
        self.first_dirty_offset = 0
        # While the cleaner's thread reads segments, deleted ones keep their
        # files open until it is done.
        self.cleaning = False
        self._deferred_deletes: list[Segment] = []
        self.producer_state = ProducerStateManager()
        self.transactions = PartitionTransactions()
        # Leader epoch -> its first offset (`open` loads the file).
        self.leader_epochs = LeaderEpochCache(directory)
        # Durability: offsets below the recovery point are known to be on
        # stable storage (persisted in the data directory's
        # recovery-point-offset-checkpoint; recovery after a crash starts
        # from the segment holding it). `open` sets it; flushes move it.
        self.recovery_point = self.log_end_offset
        self.last_flush_ms = clock.wall_ms()
        self.flush_pending = False  # a background flush is queued
        # Names created in the directory (segments, the directory itself)
        # are durable only once it is fsynced: counted here, and how many
        # of them the last directory fsync covered.
        self._directory_changes = 0
        self._directory_synced = 0
        self._parent_unsynced = False  # a new directory: its parent needs an fsync too
        # Storage faults: a log that cannot be trusted any more is offline
        # (produce and fetch answer KAFKA_STORAGE_ERROR) until restart.
        self.offline_reason: str | None = None
        # Its topic was deleted (DeleteTopics): closed, its directory renamed.
        self.deleted = False
        self.on_offline: Callable[[], None] | None = None  # the cluster bumps its metadata version
        self._write_failing = False  # transient write errors, logged once until a write succeeds
        self.load_report = LoadReport()
        # Replication: a replicated log's consumers see only up to the high
        # watermark (what the ISR has); an unreplicated one's is its log end.
        self.replicated = False
        self._high_watermark = self.log_start_offset  # as Kafka's, until set or restored
        # Bumped by each truncation: work started before one (a background
        # flush, a compaction) must not apply its result after it.
        self.truncations = 0
        self._recompute_max_timestamp()

    def _recompute_max_timestamp(self) -> None:
        self._max_timestamp, self._offset_of_max_timestamp = -1, -1
        for segment in self.segments:
            index = segment.time_index
            if index.timestamps and index.timestamps[-1] > self._max_timestamp:
                self._max_timestamp = index.timestamps[-1]
                self._offset_of_max_timestamp = segment.base_offset + index.relative_offsets[-1]

    @property
    def name(self) -> str:
        """The partition, as its directory is named (e.g. `orders-0`)."""
        return self.directory.name if self.directory is not None else "in-memory log"

    # --- opening ---------------------------------------------------------

    @classmethod
    def in_memory(cls, config: LogConfig, clock: Clock = SYSTEM_CLOCK) -> PartitionLog:
        return cls(None, config, [Segment.in_memory(0, clock.wall_ms())], clock)

    @classmethod
    def open(
        cls,
        directory: Path,
        config: LogConfig,
        recovery_point: int = 0,
        clean_shutdown: bool = False,
        clock: Clock = SYSTEM_CLOCK,
    ) -> PartitionLog:
        """Open (or create) the log in `directory`. After an unclean shutdown
        every segment from the one holding `recovery_point` on is validated
        batch by batch and cut at the first invalid one; see log_loader."""
        directory = Path(directory)
        created = not directory.exists()
        directory.mkdir(parents=True, exist_ok=True)
        segments, report = load_segments(directory, config, recovery_point, clean_shutdown, clock)
        log = cls(directory, config, segments, clock)
        log.load_report = report
        # Below the recovery point everything is known flushed.
        log.recovery_point = log.log_end_offset if clean_shutdown else min(recovery_point, log.log_end_offset)
        if report.truncated:
            delete_snapshots_after(directory, log.log_end_offset)
        log._load_producer_state(directory)
        if not created:  # (a new directory has no epochs to load)
            log._load_leader_epochs(directory)
        log._directory_changes, log._parent_unsynced = int(created), created
        if report.truncated:
            log.rewrite_txn_indexes()
        return log

    def _load_producer_state(self, directory: Path) -> None:
        """The aborted-transaction index files; the newest producer-state
        snapshot; then every batch header after it."""
        for segment in self.segments:
            for entry in segment.aborted_txns():
                if entry.last_offset < self.log_end_offset:  # not cut off by recovery
                    self.transactions.add_aborted(entry)
        self._replay_producers(latest_snapshot(directory, self.log_end_offset))

    def _replay_producers(self, found: tuple[int, ProducerStateManager] | None) -> None:
        """Producer state and open transactions from a snapshot (None: from
        nothing), then every batch header after it."""
        start = 0
        if found is not None:
            start, self.producer_state = found
            for producer in self.producer_state.entries.values():
                if producer.current_txn_first_offset >= 0:
                    self.transactions.ongoing[producer.producer_id] = producer.current_txn_first_offset
        for segment in self.segments:
            if segment.next_offset <= start:
                continue
            for position, header in segment.walk():
                if header.base_offset >= start and header.producer_id >= 0:
                    marker = marker_type(segment.store.read_bytes(position, header.size)) if header.is_control else None
                    self._track_producer(header, marker)

    def _load_leader_epochs(self, directory: Path) -> None:
        """The leader-epoch-checkpoint, cut to the log as recovered, plus the
        epochs of the batches past the recovery point (an append writes the
        file without fsync); without a sound file, rebuilt from every batch
        header."""
        cache = LeaderEpochCache.load(directory)
        rescan = self.segments if cache is None else self.segments_from(self.recovery_point)
        if cache is None:
            cache = LeaderEpochCache(directory)
        cache.truncate_from_end(self.log_end_offset)
        entries = list(cache.entries)
        for segment in rescan:
            for _position, header in segment.walk():
                if header.partition_leader_epoch > (entries[-1].epoch if entries else -1):
                    entries.append(EpochEntry(header.partition_leader_epoch, header.base_offset))
        if entries != cache.entries:
            cache.entries = entries
            cache.save()
        cache.truncate_from_start(self.log_start_offset)
        self.leader_epochs = cache

    def start_leader_epoch(self, epoch: int) -> None:
        """A leader epoch starts at the log end (the partition's leader
        changed, or it became leader at start-up): Kafka's epoch start offset.
        Epoch 0 of an empty log (every new partition) is only written at
        close once the log holds something: without the file a partition
        starts there anyway, and creating thousands of partitions stays cheap."""
        fresh = epoch == 0 and self.log_end_offset == 0
        self.leader_epochs.assign(epoch, self.log_end_offset, write=not fresh)

    def end_offset_for_epoch(self, epoch: int) -> tuple[int, int]:
        """(epoch, end offset) of `epoch` for OffsetForLeaderEpoch (see LeaderEpochCache)."""
        return self.leader_epochs.end_offset_for(epoch, self.log_end_offset)

    def reconfigure(self, config: LogConfig) -> None:
        """The topic's configs changed (IncrementalAlterConfigs): they apply
        from the next append, roll and retention check on."""
        self.config = config

    # --- writing ---------------------------------------------------------

    def append(self, batch: bytearray, header: BatchHeader, leader_epoch: int = 0) -> int:
        """Store one validated batch at the log end; returns its base offset.

        Raises StorageError (KAFKA_STORAGE_ERROR) when the disk refuses: the
        log, its files and its state are then exactly as before the call."""
        return self._append(batch, header, leader_epoch, assign_offsets=True)

    def append_replicated(self, batch: bytearray, header: BatchHeader) -> None:
        """A follower stores one batch copied byte for byte from its leader,
        keeping its offsets and partition leader epoch (Kafka's
        appendAsFollower). It must start at the log end (ValueError
        otherwise); raises StorageError as `append`."""
        if header.base_offset != self.log_end_offset:
            raise ValueError(
                f"{self.name}: a replicated batch at offset {header.base_offset} does not start at the log end "
                f"{self.log_end_offset}"
            )
        self._append(batch, header, header.partition_leader_epoch, assign_offsets=False)

    def _append(self, batch: bytearray, header: BatchHeader, leader_epoch: int, assign_offsets: bool) -> int:
        if self.offline_reason is not None:
            raise StorageError(f"{self.name} is offline: {self.offline_reason}")
        try:
            base_offset = self._write(batch, header, leader_epoch, assign_offsets)
        except OSError as exc:
            raise self._write_failed(exc) from exc
        if self._write_failing:
            self._write_failing = False
            logger.info("Writes to %s succeed again", self.name)
        if self.log_end_offset - self.recovery_point >= self.config.flush_messages:
            self.flush()  # flush.messages: fsync before the append is acknowledged
        return base_offset

    def _write(self, batch: bytearray, header: BatchHeader, leader_epoch: int, assign_offsets: bool) -> int:
        """The append's disk writes first, undone together if one fails; the
        in-memory state moves only once they all succeeded. `assign_offsets`
        False: a follower's copy, whose offsets and epoch stay as they are."""
        base_offset = self.log_end_offset
        if assign_offsets:
            patch_offsets(batch, base_offset, leader_epoch)
            header = header._replace(base_offset=base_offset)
        active = self.segments[-1]
        if active.size and (
            active.size + len(batch) > self.config.segment_bytes
            or active.time_waited_for_roll(header.max_timestamp, self.clock.wall_ms()) > self.config.segment_ms
            or active.indexes_full(self.config.segment_index_bytes)
            or header.last_offset - active.base_offset > MAX_RELATIVE_OFFSET
        ):
            active = self._roll(base_offset)
        # A transaction marker: ABORT or COMMIT (read from its one record).
        marker = marker_type(batch) if header.is_control and header.producer_id >= 0 else None
        aborted = None
        if marker is not None and active.txn_index_path is not None:
            aborted = self.transactions.abort_entry(header.producer_id, base_offset, marker, base_offset)
        mark = active.mark()
        active.append(batch, header, self.config.index_interval_bytes)
        if aborted is not None:
            try:
                active.append_aborted_txn(aborted)
            except OSError:
                active.undo(mark)
                raise
        self.log_end_offset = active.next_offset
        # A follower's batches only ever start newer epochs (as Kafka's
        # maybeAssignEpochStartOffset); a leader's carry its current one.
        if assign_offsets or leader_epoch > self.leader_epochs.latest_epoch:
            self.leader_epochs.assign(leader_epoch, base_offset, durable=False)
        if header.producer_id >= 0:
            self._track_producer(header, marker)
        if header.max_timestamp > self._max_timestamp:
            self._max_timestamp = header.max_timestamp
            self._offset_of_max_timestamp = base_offset
        return base_offset

    def _write_failed(self, exc: OSError) -> StorageError:
        """Out of space: this write failed, the next may not. Anything
        else: the partition goes offline."""
        if not is_transient(exc):
            self.take_offline(f"a write failed: {exc}")
            return StorageError(f"{self.name} is offline: {self.offline_reason}")
        if not self._write_failing:
            self._write_failing = True
            logger.warning(
                "Writes to %s fail (%s); each is undone and answered KAFKA_STORAGE_ERROR until one succeeds",
                self.name,
                exc,
            )
        return StorageError(f"Could not write to {self.name}: {exc.strerror or exc}")

    def take_offline(self, reason: str) -> None:
        if self.offline_reason is not None:
            return
        self.offline_reason = reason
        logger.error(
            "Partition %s is offline until restart: %s. Produce and fetch answer KAFKA_STORAGE_ERROR; the "
            "next start-up recovers its log.",
            self.name,
            reason,
        )
        if self.on_offline is not None:
            self.on_offline()

    def _track_producer(self, header: BatchHeader, marker: int | None) -> None:
        """Producer state and open/aborted transactions after a batch
        (`marker`: the type of a control batch, None for data)."""
        if marker is not None:
            self.producer_state.on_marker(header)
            self.transactions.on_marker(header.producer_id, header.base_offset, marker, header.base_offset)
            return
        self.producer_state.update(header)
        if header.is_transactional:
            self.transactions.on_transactional_data(header.producer_id, header.base_offset)

    @property
    def last_stable_offset(self) -> int:
        """Below every open transaction and the high watermark: what
        read_committed consumers may see."""
        unstable = self.transactions.first_unstable_offset()
        high_watermark = self.high_watermark
        # Never below the log start: retention or DeleteRecords may have
        # removed the start of a transaction that is still open (as Kafka).
        return high_watermark if unstable is None else min(max(unstable, self.log_start_offset), high_watermark)

    # --- the high watermark ------------------------------------------------

    @property
    def high_watermark(self) -> int:
        """The end of what consumers may read: the log end of an unreplicated
        log; of a replicated one what its leader's ISR has (as set), kept
        within the log as retention, DeleteRecords and truncation move it."""
        if not self.replicated:
            return self.log_end_offset
        return min(max(self._high_watermark, self.log_start_offset), self.log_end_offset)

    def set_high_watermark(self, offset: int) -> None:
        """The replication logic moved it (a leader), or the leader's came
        with a fetch (a follower); also start-up's checkpointed value."""
        self._high_watermark = min(max(offset, self.log_start_offset), self.log_end_offset)

    def rewrite_txn_indexes(self) -> None:
        """Each segment's `.txnindex` from the in-memory list (after compaction merged segments)."""
        if self.directory is None:
            return
        for segment, following in zip(self.segments, self.segments[1:] + [None]):
            end = following.base_offset if following is not None else self.log_end_offset + 1
            entries = [a for a in self.transactions.aborted if segment.base_offset <= a.last_offset < end]
            segment.rewrite_aborted_txns(entries)

    def _roll(self, base_offset: int) -> Segment:
        if self.directory is None:
            segment = Segment.in_memory(base_offset, self.clock.wall_ms())
        else:
            # As Kafka: a producer-state snapshot at every roll bounds the
            # rebuild after a crash to the active segment.
            self._write_snapshot(base_offset)
            segment = Segment.on_disk(str(self.directory), base_offset, self.clock.wall_ms())
            self._directory_changes += 1
            # As Kafka: what the roll closed is flushed in the background.
            self._flush_in_background(self.segments_from(self.recovery_point), base_offset)
        self.segments[-1].seal()
        self.segments.append(segment)
        self._base_offsets.append(base_offset)
        return segment

    # --- reading ---------------------------------------------------------

    def read(self, fetch_offset: int, max_bytes: int, upper: int | None = None) -> list[Buffer]:
        """Bytes from the start of the batch holding `fetch_offset`: at
        least that whole batch, else up to `max_bytes`, within one segment;
        nothing at or past `upper` (for consumers the high watermark, or the
        last stable offset for read_committed).
        Stops before a broken batch; raises CorruptSegment when the batch
        holding `fetch_offset` is itself broken, StorageError if the
        partition is offline or the disk fails."""
        if self.offline_reason is not None:
            raise StorageError(f"{self.name} is offline: {self.offline_reason}")
        try:
            return self._read(fetch_offset, max_bytes, upper)
        except OSError as exc:
            raise self._read_failed(exc) from exc

    def _read_failed(self, exc: OSError) -> StorageError:
        if not is_transient(exc):  # (out of descriptors is transient)
            self.take_offline(f"a read failed: {exc}")
        return StorageError(f"Could not read {self.name}: {exc.strerror or exc}")

    def _read(self, fetch_offset: int, max_bytes: int, upper: int | None) -> list[Buffer]:
        if fetch_offset < self.log_start_offset or fetch_offset > self.log_end_offset:
            raise OffsetOutOfRange(f"offset {fetch_offset} outside {self.log_start_offset}..{self.log_end_offset}")
        if fetch_offset == self.log_end_offset or (upper is not None and fetch_offset >= upper):
            return []
        i = bisect.bisect_right(self._base_offsets, fetch_offset) - 1
        while i < len(self.segments):
            segment = self.segments[i]
            position, first_size = segment.locate(fetch_offset)  # CorruptSegment if in a broken part
            if position >= 0:
                length = min(max(max_bytes, first_size), segment.size - position)
                if upper is not None and upper < segment.next_offset:
                    try:
                        stop, _size = segment.locate(upper)
                    except CorruptSegment:
                        stop = -1  # the read below stops before the damage anyway
                    if stop >= 0:
                        length = min(length, stop - position)
                return segment.read(position, length)
            i += 1
        return []

    def offset_for_timestamp(self, timestamp_ms: int) -> int | None:
        if self.offline_reason is not None:
            raise StorageError(f"{self.name} is offline: {self.offline_reason}")
        try:
            for segment in self.segments:
                found = segment.first_batch_reaching(timestamp_ms)
                if found is not None:
                    return found
        except OSError as exc:
            raise self._read_failed(exc) from exc
        return None

    def first_record_at_or_after(self, batch_offset: int, timestamp: int) -> tuple[int, int]:
        """(offset, timestamp) of the first record at or past `batch_offset`
        stamped `timestamp` or later, in the batch holding `batch_offset`
        (as `offset_for_timestamp` found it); (-1, -1) if none. ListOffsets'
        exact answer: the only lookup that decodes records. Raises
        RecordDecodeError for undecodable records, and what `read` raises."""
        data = b"".join(self.read(batch_offset, 1))
        for _position, header, batch in batches_in(data):
            if header.last_offset < batch_offset:
                continue
            for record in iter_records(batch):
                if record.offset >= batch_offset and record.timestamp >= timestamp:
                    return record.offset, record.timestamp
        return -1, -1

    @property
    def max_timestamp_and_offset(self) -> tuple[int, int]:
        return self._max_timestamp, self._offset_of_max_timestamp

    def size_bytes(self) -> int:
        return sum(segment.size for segment in self.segments)

    def segment_base_offsets(self) -> list[int]:
        return list(self._base_offsets)

    # --- the log start: retention and DeleteRecords ---------------------

    def expired_segment_count(self) -> int:
        """How many of the oldest segments retention would delete now:
        those past retention.ms by their largest timestamp, and those that
        keep the log over retention.bytes. Never the active segment."""
        config, now = self.config, self.clock.wall_ms()
        closed = self.segments[:-1]
        by_time = 0
        if config.retention_ms >= 0:
            while by_time < len(closed) and now - closed[by_time].largest_timestamp > config.retention_ms:
                by_time += 1
        by_size = 0
        if config.retention_bytes >= 0:
            excess = self.size_bytes() - config.retention_bytes
            while by_size < len(closed) and excess - closed[by_size].size >= 0:
                excess -= closed[by_size].size
                by_size += 1
        return max(by_time, by_size)

    def delete_oldest_segments(self, count: int) -> int:
        """Drop `count` closed segments from the front; returns bytes freed."""
        count = min(count, len(self.segments) - 1)
        if count <= 0:
            return 0
        doomed = self.segments[:count]
        del self.segments[:count]
        del self._base_offsets[:count]
        self.log_start_offset = max(self.log_start_offset, self.segments[0].base_offset)
        self.transactions.drop_before(self.log_start_offset)
        self.leader_epochs.truncate_from_start(self.log_start_offset)
        freed = sum(segment.size for segment in doomed)
        if self.cleaning:
            self._deferred_deletes.extend(doomed)
        else:
            for segment in doomed:
                segment.delete()
        return freed

    def restore_log_start(self, offset: int) -> None:
        """Start-up: the log start the log-start-offset-checkpoint recorded
        (DeleteRecords moved it inside a segment), if it lies in the log."""
        if self.log_start_offset < offset <= self.log_end_offset:
            self.log_start_offset = offset
            self.leader_epochs.truncate_from_start(offset)

    # --- a follower's truncation -----------------------------------------

    def truncate_to(self, offset: int) -> None:
        """Kafka's UnifiedLog.truncateTo: a follower drops what diverges from
        its leader, every offset from `offset` on (a no-op at or past the log
        end). The batch holding `offset` goes whole, so the log may end just
        below it. Below the first segment: `truncate_fully_and_start_at`.
        A failure half way cannot be undone: the partition goes offline
        (start-up recovers it) and StorageError is raised."""
        if offset < 0:
            raise ValueError(f"cannot truncate {self.name} to offset {offset}")
        if self.offline_reason is not None:
            raise StorageError(f"{self.name} is offline: {self.offline_reason}")
        if offset >= self.log_end_offset:
            return
        if offset < self.segments[0].base_offset:
            self.truncate_fully_and_start_at(offset)
            return
        try:
            self._truncate(offset)
        except OSError as exc:
            self.take_offline(f"a truncation failed: {exc}")
            raise StorageError(f"{self.name} is offline: {self.offline_reason}") from exc

    def _truncate(self, offset: int) -> None:
        # Files that describe offsets past the new end go first, so that a
        # crash half way never leaves them to be believed once the log
        # grows back: producer snapshots, the epochs, later segments.
        i = bisect.bisect_right(self._base_offsets, offset) - 1
        holder = self.segments[i]
        position, end = holder.truncation_point(offset)
        self.truncations += 1
        if self.directory is not None:
            delete_snapshots_after(self.directory, end)
        self.leader_epochs.remove_from(end)
        self._delete_segments(self.segments[i + 1 :])
        del self.segments[i + 1 :]
        del self._base_offsets[i + 1 :]
        holder.truncate(position, end)
        self._sync_directory()
        self.log_end_offset = end
        self.log_start_offset = min(self.log_start_offset, end)  # as Kafka
        self.recovery_point = min(self.recovery_point, end)
        self.first_dirty_offset = min(self.first_dirty_offset, end)
        self._high_watermark = min(self._high_watermark, end)
        kept_aborts = [entry for entry in self.transactions.aborted if entry.last_offset < end]
        self.producer_state, self.transactions = ProducerStateManager(), PartitionTransactions()
        self._replay_producers(None if self.directory is None else latest_snapshot(self.directory, end))
        self.transactions.aborted = kept_aborts  # (the replay re-adds only some of them)
        self._recompute_max_timestamp()

    def truncate_fully_and_start_at(self, offset: int) -> None:
        """Kafka's truncateFullyAndStartAt: a follower whose log lies wholly
        below its leader's log start drops everything and starts again with
        one empty segment at `offset`: no epochs, no producer state. Raises
        StorageError (offline) as `truncate_to`."""
        if offset < 0:
            raise ValueError(f"cannot start {self.name} at offset {offset}")
        if self.offline_reason is not None:
            raise StorageError(f"{self.name} is offline: {self.offline_reason}")
        self.truncations += 1
        try:
            if self.directory is not None:
                delete_snapshots_after(self.directory, -1)
            self.leader_epochs.clear()
            self._delete_segments(self.segments)
            if self.directory is None:
                segment = Segment.in_memory(offset, self.clock.wall_ms())
            else:
                segment = Segment.on_disk(str(self.directory), offset, self.clock.wall_ms())
                self._directory_changes += 1
            self.segments, self._base_offsets = [segment], [offset]
            self._sync_directory()
        except OSError as exc:
            self.take_offline(f"a truncation failed: {exc}")
            raise StorageError(f"{self.name} is offline: {self.offline_reason}") from exc
        self.log_start_offset = self.log_end_offset = self.recovery_point = offset
        self.first_dirty_offset = self._high_watermark = offset
        self.producer_state, self.transactions = ProducerStateManager(), PartitionTransactions()
        self._recompute_max_timestamp()

    def _delete_segments(self, doomed: list[Segment]) -> None:
        """Segments a truncation drops go at once, even while the cleaner
        reads them (its read fails; its result is refused, see `truncations`),
        and so do those retention deferred: deleted later, their files could
        take a new segment's of the same name with them."""
        for segment in doomed + self._deferred_deletes:
            segment.delete()
        self._deferred_deletes.clear()
        if doomed and self.directory is not None:
            self._directory_changes += 1

    # --- compaction -------------------------------------------------------

    def restore_first_dirty_offset(self, offset: int) -> None:
        """Start-up: where cleaning stopped, from the cleaner-offset-checkpoint."""
        if 0 <= offset <= self.log_end_offset:
            self.first_dirty_offset = offset

    def cleaned_up_to(self, offset: int) -> None:
        """A cleaning was installed: offsets below `offset` are clean."""
        self.first_dirty_offset = offset

    def start_cleaning(self) -> None:
        self.cleaning = True

    def finish_cleaning(self) -> None:
        self.cleaning = False
        for segment in self._deferred_deletes:
            segment.delete()
        self._deferred_deletes.clear()

    def advance_log_start(self, offset: int) -> None:
        """DeleteRecords: nothing below `offset` is readable any more;
        segments wholly below it go. Never past the high watermark (as
        Kafka: what not every replica has cannot be deleted)."""
        if offset <= self.log_start_offset:
            return
        if offset > self.high_watermark:
            raise OffsetOutOfRange(f"offset {offset} is past the high watermark {self.high_watermark}")
        self.log_start_offset = offset
        self.leader_epochs.truncate_from_start(offset)
        wholly_below = 0
        while wholly_below < len(self.segments) - 1 and self.segments[wholly_below + 1].base_offset <= offset:
            wholly_below += 1
        self.delete_oldest_segments(wholly_below)

    def replace_leading_segments(self, count: int, replacements: list[Segment]) -> None:
        """The cleaner's swap: the first `count` (closed) segments become `replacements`."""
        for segment in replacements:
            segment.seal()
        self.segments[:count] = replacements
        self._base_offsets = [segment.base_offset for segment in self.segments]

    # --- durability ------------------------------------------------------

    def segments_from(self, offset: int) -> list[Segment]:
        """The segments holding offsets at or past `offset` (the active one too)."""
        i = max(bisect.bisect_right(self._base_offsets, offset) - 1, 0)
        return self.segments[i:]

    @property
    def unflushed(self) -> bool:
        return self.directory is not None and (
            self.recovery_point < self.log_end_offset or self._directory_synced != self._directory_changes
        )

    def flush(self) -> None:
        """fsync everything past the recovery point (segments, then their
        directory), now; the recovery point becomes the log end. A failed
        fsync takes the partition offline (the kernel may have dropped the
        unwritten pages) and raises StorageError."""
        if self.directory is None or self.offline_reason is not None:
            return
        end = self.log_end_offset
        try:
            for segment in self.segments_from(self.recovery_point):
                segment.flush()
            self.leader_epochs.sync()
            self._sync_directory()
        except OSError as exc:
            if is_out_of_descriptors(exc):
                raise StorageError(f"Could not flush {self.name}: {exc.strerror}") from exc
            self.take_offline(f"an fsync failed: {exc}")
            raise StorageError(f"{self.name} is offline: {self.offline_reason}") from exc
        self._flushed(end)

    def _sync_directory(self) -> None:
        if self.directory is None:
            return
        changes = self._directory_changes
        if changes != self._directory_synced:
            fsync_directory(self.directory)
            self._directory_synced = changes
        if self._parent_unsynced:
            fsync_directory(self.directory.parent)
            self._parent_unsynced = False

    def _flushed(self, upto: int) -> None:
        self.recovery_point = max(self.recovery_point, upto)
        self.last_flush_ms = self.clock.wall_ms()

    def flush_if_due(self, now_ms: int) -> bool:
        """flush.ms: a background flush once the last one is that old."""
        if (
            self.flush_pending
            or not self.unflushed
            or self.offline_reason is not None
            or now_ms - self.last_flush_ms < self.config.flush_ms
        ):
            return False
        self._flush_in_background(self.segments_from(self.recovery_point), self.log_end_offset)
        return True

    def _flush_in_background(self, segments: list[Segment], upto: int) -> None:
        if not segments or self.directory is None:
            return
        directory, changes, parent = self.directory, self._directory_changes, self._parent_unsynced
        truncations = self.truncations
        # (the flag stays for the next foreground flush: a thread must not clear it)
        epoch_file = self.leader_epochs.path if self.leader_epochs.unsynced else None
        self.flush_pending = True

        def flush() -> None:
            for segment in segments:
                segment.flush()
            if epoch_file is not None:
                fsync_if_exists(epoch_file)
            fsync_directory(directory)
            if parent:
                fsync_directory(directory.parent)

        def done(error: OSError | None) -> None:
            self.flush_pending = False
            if error is not None:
                if not is_out_of_descriptors(error):  # (that one: flushed later)
                    self.take_offline(f"an fsync failed: {error}")
            elif self.offline_reason is None and truncations == self.truncations:
                # (after a truncation `upto` may name offsets written since, unflushed)
                self._directory_synced = max(self._directory_synced, changes)
                self._parent_unsynced = self._parent_unsynced and not parent
                self._flushed(upto)

        FLUSHER.submit(flush, done)

    def mark_flushed(self) -> None:
        """Everything is on stable storage (the caller synced the disk)."""
        self._directory_synced, self._parent_unsynced = self._directory_changes, False
        self.leader_epochs.unsynced = False
        self._flushed(self.log_end_offset)

    def _write_snapshot(self, offset: int, durable: bool = True) -> None:
        """A failed snapshot costs only a longer rebuild after a crash: the
        older snapshot stays, the broker carries on."""
        if self.directory is None:
            return
        for entry in self.producer_state.entries.values():
            entry.current_txn_first_offset = self.transactions.ongoing.get(entry.producer_id, -1)
        try:
            write_snapshot(self.directory, offset, self.producer_state, durable)
        except OSError as exc:
            logger.warning(
                "Could not write the producer state snapshot of %s at offset %d (%s); keeping the older one",
                self.name,
                offset,
                exc,
            )

    def retire(self, renamed_to: Path | None) -> None:
        """Its topic was deleted: nothing is flushed or snapshotted, every
        file is closed (a file the cleaner or the flusher is using closes
        when they let go of it) and reads and writes are refused from now
        on. `renamed_to`: where its directory now is."""
        self.deleted = True
        self.on_offline = None
        if self.offline_reason is None:
            self.offline_reason = "its topic was deleted"  # quietly: no error to log
        if renamed_to is not None:
            self.directory = renamed_to
        # Segments retention dropped while the cleaner read: their files go
        # with the directory (unlinking by their old paths could hit a new
        # topic of the same name).
        for segment in self.segments + self._deferred_deletes:
            segment.close()
        self._deferred_deletes.clear()

    def close(self, sync: bool = True) -> None:
        """Flush (unless the caller syncs the whole disk itself, `sync=False`),
        snapshot the producer state, close the files."""
        if self.directory is not None and self.offline_reason is None:
            if sync:
                try:
                    self.flush()
                except StorageError:
                    pass  # offline now, and logged: recovery at start-up repairs the tail
            # (An empty log at epoch 0 needs no file: it starts there without one.)
            empty_at_zero = self.log_end_offset == self.log_start_offset and self.leader_epochs.latest_epoch <= 0
            if self.leader_epochs.unsaved and not empty_at_zero:
                self.leader_epochs.save(durable=sync)
            if self.producer_state.entries and not snapshot_path(self.directory, self.log_end_offset).exists():
                self._write_snapshot(self.log_end_offset, durable=sync)
        for segment in self.segments:
            segment.close()
