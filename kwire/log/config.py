"""Per-log settings, under Kafka's topic-level config names."""

from __future__ import annotations

import attrs

GIB = 1024 * 1024 * 1024
WEEK_MS = 7 * 24 * 3600 * 1000
LONG_MAX = 2**63 - 1


@attrs.frozen
class LogConfig:
    segment_bytes: int = GIB  # segment.bytes
    index_interval_bytes: int = 4096  # index.interval.bytes
    max_message_bytes: int = 1048588  # max.message.bytes (Kafka's default)
    segment_index_bytes: int = 10 * 1024 * 1024  # segment.index.bytes
    segment_ms: int = WEEK_MS  # segment.ms
    retention_ms: int = WEEK_MS  # retention.ms (-1: keep forever)
    retention_bytes: int = -1  # retention.bytes (-1: no limit)
    cleanup_policy: frozenset[str] = frozenset({"delete"})  # cleanup.policy
    compression_type: str = "producer"  # compression.type
    log_append_time: bool = False  # message.timestamp.type=LogAppendTime
    delete_retention_ms: int = 86_400_000  # delete.retention.ms
    min_compaction_lag_ms: int = 0  # min.compaction.lag.ms
    min_cleanable_dirty_ratio: float = 0.5  # min.cleanable.dirty.ratio
    min_insync_replicas: int = 1  # min.insync.replicas
    flush_messages: int = LONG_MAX  # flush.messages: fsync after this many unflushed messages
    flush_ms: int = LONG_MAX  # flush.ms: fsync once the last flush is this old
    # CreateTime records older or newer than now by more are refused (INVALID_TIMESTAMP).
    timestamp_before_max_ms: int = LONG_MAX  # message.timestamp.before.max.ms
    timestamp_after_max_ms: int = 3_600_000  # message.timestamp.after.max.ms (Kafka 4's default)

    @property
    def compacted(self) -> bool:
        return "compact" in self.cleanup_policy

    @property
    def deletes(self) -> bool:
        return "delete" in self.cleanup_policy
