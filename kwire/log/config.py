"""Per-log settings, under Kafka's topic-level config names."""

import attrs

GIB = 1024 * 1024 * 1024


@attrs.frozen
class LogConfig:
    segment_bytes: int = GIB  # segment.bytes
    index_interval_bytes: int = 4096  # index.interval.bytes
    max_message_bytes: int = 1048588  # max.message.bytes (Kafka's default)
    segment_index_bytes: int = 10 * 1024 * 1024  # segment.index.bytes
