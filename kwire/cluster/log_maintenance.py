"""The broker's background work on logs, run from the core's timer tick:
retention (`log.retention.check.interval.ms`), the expiry of idle
producers' state (`producer.id.expiration.check.interval.ms`), time-based
flushes (`flush.ms`, checked every `log.flush.scheduler.interval.ms`), the
outcomes of background flushes, the recovery-point checkpoint
(`log.flush.offset.checkpoint.interval.ms`), the removal of deleted
topics' directories (`log.segment.delete.delay.ms`) and the moves between
log directories that waited for the cleaner. The cleaner runs in its own
task (kwire/server/cleaner_task.py)."""

from __future__ import annotations

import logging

from kwire.clock import Clock, Every
from kwire.cluster.cluster import Cluster
from kwire.log.flusher import FLUSHER

log = logging.getLogger("kwire.log")


class LogMaintenance:
    def __init__(self, cluster: Cluster, clock: Clock) -> None:
        self.cluster = cluster
        self.config = cluster.config
        # Monotonic time says when a job is due; wall time is what the jobs
        # compare with record timestamps.
        self.clock = clock
        now = clock.monotonic()
        self._retention = Every(self.config.log_retention_check_interval_ms, now)
        self._producer_expiry = Every(self.config.producer_id_expiration_check_interval_ms, now)
        # The first flush.ms check after one interval (never, by default).
        self._flush_check = Every(self.config.log_flush_scheduler_interval_ms, now, first_after_interval=True)
        self._recovery_checkpoint = Every(
            self.config.log_flush_offset_checkpoint_interval_ms, now, first_after_interval=True
        )

    def tick(self) -> None:
        now = self.clock.monotonic()
        FLUSHER.apply_completed()
        if self._flush_check.due(now):
            self.flush_due_logs(self.clock.wall_ms())
        if self._retention.due(now):
            self.apply_retention()
        if self._producer_expiry.due(now):
            self.expire_producers(self.clock.wall_ms())
        if self._recovery_checkpoint.due(now):
            self.cluster.save_recovery_points()
        self.cluster.remove_deleted_directories(now)
        if self.cluster.pending_moves:
            self.cluster.complete_pending_moves()

    def flush_due_logs(self, now_ms: int) -> int:
        """flush.ms: a background flush of each log whose last flush is that
        old and that has something unflushed; how many were started."""
        started = 0
        for topic in list(self.cluster.topics.values()):
            for partition in topic.hosted():
                started += partition.log.flush_if_due(now_ms)
        return started

    def expire_producers(self, now_ms: int) -> int:
        """producer.id.expiration.ms over every partition; how many producers went."""
        removed = 0
        for topic in list(self.cluster.topics.values()):
            for partition in topic.hosted():
                partition_log = partition.log
                removed += partition_log.producer_state.remove_expired(
                    now_ms, self.config.producer_id_expiration_ms, partition_log.transactions.ongoing
                )
        if removed:
            log.info("Expired the state of %d idle producer(s)", removed)
        return removed

    def apply_retention(self) -> int:
        """Delete expired segments of every `delete`-policy log; bytes freed."""
        freed = 0
        moved = False
        for topic in list(self.cluster.topics.values()):
            if not topic.log_config.deletes:
                continue
            for partition in topic.hosted():
                expired = partition.log.expired_segment_count()
                if expired:
                    freed_here = partition.log.delete_oldest_segments(expired)
                    freed += freed_here
                    moved = True
                    log.info(
                        "Deleted %d segment(s) (%d bytes) of %s-%d by retention; log start now %d",
                        expired,
                        freed_here,
                        topic.name,
                        partition.index,
                        partition.log.log_start_offset,
                    )
        if moved:
            self.cluster.save_log_starts()
        return freed
