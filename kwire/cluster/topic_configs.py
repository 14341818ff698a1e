"""Topic-level configs: Kafka's names and defaults, and the log settings
derived from them."""

from __future__ import annotations

from kwire.config import BrokerConfig
from kwire.log.config import LogConfig
from kwire.protocol.errors import ErrorCode, KafkaError

# Kafka's topic configs with their defaults. Only some act yet (see README);
# the rest are accepted, stored and described so clients that set them work.
TOPIC_CONFIG_DEFAULTS: dict[str, str] = {
    "cleanup.policy": "delete",
    "compression.type": "producer",
    "delete.retention.ms": "86400000",
    "file.delete.delay.ms": "60000",
    "flush.messages": "9223372036854775807",
    "flush.ms": "9223372036854775807",
    "follower.replication.throttled.replicas": "",
    "index.interval.bytes": "4096",
    "leader.replication.throttled.replicas": "",
    "local.retention.bytes": "-2",
    "local.retention.ms": "-2",
    "max.compaction.lag.ms": "9223372036854775807",
    "max.message.bytes": "1048588",
    "message.downconversion.enable": "true",
    "message.timestamp.after.max.ms": "3600000",
    "message.timestamp.before.max.ms": "9223372036854775807",
    "message.timestamp.difference.max.ms": "9223372036854775807",
    "message.timestamp.type": "CreateTime",
    "min.cleanable.dirty.ratio": "0.5",
    "min.compaction.lag.ms": "0",
    "min.insync.replicas": "1",
    "preallocate": "false",
    "remote.storage.enable": "false",
    "retention.bytes": "-1",
    "retention.ms": "604800000",
    "segment.bytes": "1073741824",
    "segment.index.bytes": "10485760",
    "segment.jitter.ms": "0",
    "segment.ms": "604800000",
    "unclean.leader.election.enable": "false",
}

_INTEGER_CONFIGS = frozenset(
    {
        "delete.retention.ms", "file.delete.delay.ms", "flush.messages", "flush.ms",
        "index.interval.bytes", "local.retention.bytes", "local.retention.ms",
        "max.compaction.lag.ms", "max.message.bytes", "message.timestamp.after.max.ms",
        "message.timestamp.before.max.ms", "message.timestamp.difference.max.ms",
        "min.compaction.lag.ms", "min.insync.replicas", "retention.bytes", "retention.ms",
        "segment.bytes", "segment.index.bytes", "segment.jitter.ms", "segment.ms",
    }
)


def validate_topic_configs(configs: dict[str, str | None]) -> dict[str, str]:
    """Reject unknown names and malformed values as Kafka does (INVALID_CONFIG)."""
    clean: dict[str, str] = {}
    for name, value in configs.items():
        if name not in TOPIC_CONFIG_DEFAULTS:
            raise KafkaError(ErrorCode.invalid_config, f"Unknown topic config name: {name}")
        if value is None:
            raise KafkaError(ErrorCode.invalid_config, f"Null value not supported for topic config: {name}")
        if name in _INTEGER_CONFIGS:
            try:
                int(value)
            except ValueError:
                raise KafkaError(
                    ErrorCode.invalid_config, f"Invalid value {value} for configuration {name}: Not a number of type LONG"
                ) from None
        clean[name] = value
    if "segment.bytes" in clean and int(clean["segment.bytes"]) < 14:
        raise KafkaError(ErrorCode.invalid_config, "Invalid value for configuration segment.bytes: must be at least 14")
    return clean


def log_config_for(broker: BrokerConfig, topic_configs: dict[str, str]) -> LogConfig:
    def setting(name: str, broker_default: int) -> int:
        return int(topic_configs[name]) if name in topic_configs else broker_default

    return LogConfig(
        segment_bytes=setting("segment.bytes", broker.log_segment_bytes),
        index_interval_bytes=setting("index.interval.bytes", broker.log_index_interval_bytes),
        max_message_bytes=setting("max.message.bytes", broker.message_max_bytes),
    )
