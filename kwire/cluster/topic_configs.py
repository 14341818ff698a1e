"""Topic-level configs: Kafka's names, types, validation and defaults, the
broker settings they fall back to, and the log settings derived from them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from kwire.config import BrokerConfig
from kwire.log.config import LogConfig
from kwire.protocol.errors import ErrorCode, KafkaError

# DescribeConfigs config_type values.
BOOLEAN, STRING, INT, LONG, DOUBLE, LIST = 1, 2, 3, 5, 6, 7
_LONG_MAX = str(2**63 - 1)
_COMPRESSION_TYPES = ("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer")


@attrs.frozen
class TopicConfigSpec:
    kind: int
    default: str  # Kafka's default, used when there is no broker synonym
    broker_name: str | None = None  # the broker setting that supplies the default
    at_least: float | None = None
    at_most: float | None = None
    choices: tuple[str, ...] = ()
    documentation: str = ""


def _spec(kind: int, default: str, broker_name: str | None = None, **kwargs: Any) -> TopicConfigSpec:
    return TopicConfigSpec(kind, default, broker_name, **kwargs)


TOPIC_CONFIGS: dict[str, TopicConfigSpec] = {
    "cleanup.policy": _spec(
        LIST,
        "delete",
        "log.cleanup.policy",
        choices=("compact", "delete"),
        documentation="delete: drop old segments; compact: keep the latest value per key",
    ),
    "compression.type": _spec(
        STRING,
        "producer",
        "compression.type",
        choices=_COMPRESSION_TYPES,
        documentation="codec the broker stores batches in; producer keeps the producer's",
    ),
    "delete.retention.ms": _spec(LONG, "86400000", "log.cleaner.delete.retention.ms", at_least=0),
    "file.delete.delay.ms": _spec(LONG, "60000", "log.segment.delete.delay.ms", at_least=0),
    "flush.messages": _spec(LONG, _LONG_MAX, "log.flush.interval.messages", at_least=1),
    "flush.ms": _spec(LONG, _LONG_MAX, "log.flush.interval.ms", at_least=0),
    "follower.replication.throttled.replicas": _spec(LIST, ""),
    "index.interval.bytes": _spec(INT, "4096", "log.index.interval.bytes", at_least=0),
    "leader.replication.throttled.replicas": _spec(LIST, ""),
    "local.retention.bytes": _spec(LONG, "-2", "log.local.retention.bytes", at_least=-2),
    "local.retention.ms": _spec(LONG, "-2", "log.local.retention.ms", at_least=-2),
    "max.compaction.lag.ms": _spec(LONG, _LONG_MAX, "log.cleaner.max.compaction.lag.ms", at_least=1),
    "max.message.bytes": _spec(INT, "1048588", "message.max.bytes", at_least=0),
    "message.downconversion.enable": _spec(BOOLEAN, "true", "log.message.downconversion.enable"),
    "message.timestamp.after.max.ms": _spec(LONG, "3600000", "log.message.timestamp.after.max.ms", at_least=0),
    "message.timestamp.before.max.ms": _spec(LONG, _LONG_MAX, "log.message.timestamp.before.max.ms", at_least=0),
    "message.timestamp.difference.max.ms": _spec(
        LONG, _LONG_MAX, "log.message.timestamp.difference.max.ms", at_least=0
    ),
    "message.timestamp.type": _spec(
        STRING, "CreateTime", "log.message.timestamp.type", choices=("CreateTime", "LogAppendTime")
    ),
    "min.cleanable.dirty.ratio": _spec(DOUBLE, "0.5", "log.cleaner.min.cleanable.ratio", at_least=0, at_most=1),
    "min.compaction.lag.ms": _spec(LONG, "0", "log.cleaner.min.compaction.lag.ms", at_least=0),
    "min.insync.replicas": _spec(INT, "1", "min.insync.replicas", at_least=1),
    "preallocate": _spec(BOOLEAN, "false", "log.preallocate"),
    "remote.storage.enable": _spec(BOOLEAN, "false"),
    "retention.bytes": _spec(LONG, "-1", "log.retention.bytes"),
    "retention.ms": _spec(LONG, "604800000", "log.retention.ms", at_least=-1),
    "segment.bytes": _spec(INT, "1073741824", "log.segment.bytes", at_least=14),
    "segment.index.bytes": _spec(INT, "10485760", "log.index.size.max.bytes", at_least=4),
    "segment.jitter.ms": _spec(LONG, "0", "log.roll.jitter.ms", at_least=0),
    "segment.ms": _spec(LONG, "604800000", "log.roll.ms", at_least=1),
    "unclean.leader.election.enable": _spec(BOOLEAN, "false", "unclean.leader.election.enable"),
}


def _invalid(name: str, value: str, reason: str) -> KafkaError:
    return KafkaError(ErrorCode.invalid_config, f"Invalid value {value} for configuration {name}: {reason}")


def _check_number(name: str, value: str, spec: TopicConfigSpec, parse: Callable[[str], float], type_name: str) -> None:
    try:
        number = parse(value.strip())
    except ValueError:
        raise _invalid(name, value, f"Not a number of type {type_name}") from None
    if type_name == "INT" and not -(2**31) <= number < 2**31:
        raise _invalid(name, value, "Not a number of type INT")
    if spec.at_least is not None and number < spec.at_least:
        raise _invalid(name, value, f"Value must be at least {_plain(spec.at_least)}")
    if spec.at_most is not None and number > spec.at_most:
        raise _invalid(name, value, f"Value must be no more than {_plain(spec.at_most)}")


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def validate_value(name: str, value: str | None) -> str:
    """One config value checked against Kafka's rules; returns it as stored."""
    spec = TOPIC_CONFIGS.get(name)
    if spec is None:
        raise KafkaError(ErrorCode.invalid_config, f"Unknown topic config name: {name}")
    if value is None:
        raise KafkaError(ErrorCode.invalid_config, f"Null value not supported for topic config: {name}")
    if spec.kind == LONG:
        _check_number(name, value, spec, int, "LONG")
    elif spec.kind == INT:
        _check_number(name, value, spec, int, "INT")
    elif spec.kind == DOUBLE:
        _check_number(name, value, spec, float, "DOUBLE")
    elif spec.kind == BOOLEAN:
        if value.strip().lower() not in ("true", "false"):
            raise _invalid(name, value, "Expected value to be either true or false")
        value = value.strip().lower()
    elif spec.choices:
        items = [item.strip() for item in value.split(",")] if spec.kind == LIST else [value]
        if spec.kind == LIST and not value.strip():
            items = []
        for item in items:
            if item not in spec.choices:
                raise _invalid(name, value, f"String must be one of: {', '.join(spec.choices)}")
        if spec.kind == LIST and not items:
            raise _invalid(name, value, "Empty list is not allowed")
    return value.strip() if spec.kind in (INT, LONG, DOUBLE) else value


def validate_topic_configs(configs: Mapping[str, str | None]) -> dict[str, str]:
    """Reject unknown names and malformed values as Kafka does (INVALID_CONFIG)."""
    return {name: validate_value(name, value) for name, value in configs.items()}


# Broker settings that, when unset (null), take another setting's value, as in Kafka.
_UNSET_FALLBACKS = {"log.flush.interval.ms": "log.flush.scheduler.interval.ms"}


def broker_value(broker: BrokerConfig, broker_name: str) -> str | None:
    """The broker setting behind a topic config, as Kafka prints it."""
    attribute = broker_name.replace(".", "_")
    if not hasattr(broker, attribute):
        return None
    value = getattr(broker, attribute)
    if value is None and broker_name in _UNSET_FALLBACKS:
        return broker_value(broker, _UNSET_FALLBACKS[broker_name])
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def effective_value(broker: BrokerConfig, topic_configs: dict[str, str], name: str) -> str:
    """The value in force for a topic: its override, else the broker's setting, else Kafka's default."""
    if name in topic_configs:
        return topic_configs[name]
    spec = TOPIC_CONFIGS[name]
    if spec.broker_name is not None:
        from_broker = broker_value(broker, spec.broker_name)
        if from_broker is not None:
            return from_broker
    return spec.default


def log_config_for(broker: BrokerConfig, topic_configs: dict[str, str]) -> LogConfig:
    def value(name: str) -> str:
        return effective_value(broker, topic_configs, name)

    return LogConfig(
        segment_bytes=int(value("segment.bytes")),
        index_interval_bytes=int(value("index.interval.bytes")),
        max_message_bytes=int(value("max.message.bytes")),
        segment_index_bytes=int(value("segment.index.bytes")),
        segment_ms=int(value("segment.ms")),
        retention_ms=int(value("retention.ms")),
        retention_bytes=int(value("retention.bytes")),
        cleanup_policy=frozenset(item.strip() for item in value("cleanup.policy").split(",") if item.strip()),
        compression_type=value("compression.type"),
        log_append_time=value("message.timestamp.type") == "LogAppendTime",
        delete_retention_ms=int(value("delete.retention.ms")),
        min_compaction_lag_ms=int(value("min.compaction.lag.ms")),
        min_cleanable_dirty_ratio=float(value("min.cleanable.dirty.ratio")),
        min_insync_replicas=int(value("min.insync.replicas")),
        flush_messages=int(value("flush.messages")),
        flush_ms=int(value("flush.ms")),
        timestamp_before_max_ms=int(value("message.timestamp.before.max.ms")),
        timestamp_after_max_ms=int(value("message.timestamp.after.max.ms")),
    )
