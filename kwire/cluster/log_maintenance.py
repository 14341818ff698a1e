"""The broker's background work on logs, run from the core's timer tick:
retention (`log.retention.check.interval.ms`) and, for compacted topics,
the cleaner (`log.cleaner.backoff.ms`)."""

from __future__ import annotations

import logging
from typing import Callable

from kwire.cluster.cluster import Cluster

log = logging.getLogger("kwire.log")


class LogMaintenance:
    def __init__(self, cluster: Cluster, clock: Callable[[], float]) -> None:
        self.cluster = cluster
        self.config = cluster.config
        self.clock = clock
        self._next_retention = 0.0

    def tick(self) -> None:
        now = self.clock()
        if now >= self._next_retention:
            self._next_retention = now + self.config.log_retention_check_interval_ms / 1000
            self.apply_retention()

    def apply_retention(self) -> int:
        """Delete expired segments of every `delete`-policy log; bytes freed."""
        freed = 0
        moved = False
        for topic in list(self.cluster.topics.values()):
            if not topic.log_config.deletes:
                continue
            for partition in topic.partitions:
                expired = partition.log.expired_segment_count()
                if expired:
                    freed_here = partition.log.delete_oldest_segments(expired)
                    freed += freed_here
                    moved = True
                    log.info("Deleted %d segment(s) (%d bytes) of %s-%d by retention; log start now %d",
                             expired, freed_here, topic.name, partition.index, partition.log.log_start_offset)
        if moved:
            self.cluster.save_log_starts()
        return freed
