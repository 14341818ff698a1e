"""DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topics
(and DescribeConfigs for the broker)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from kwire.cluster.topic_configs import LIST, TOPIC_CONFIGS, broker_value, validate_value
from kwire.config import BrokerConfig
from kwire.handlers.base import RequestContext, respond
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode, KafkaError
from kwire.protocol.registry import api

TOPIC, BROKER = 2, 4
# ConfigSource values.
DYNAMIC_TOPIC_CONFIG, STATIC_BROKER_CONFIG, DEFAULT_CONFIG = 1, 4, 5
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3


@attrs.frozen
class Entry:
    name: str
    value: str | None
    source: int
    read_only: bool
    kind: int
    documentation: str
    synonyms: tuple[tuple[str, str | None, int], ...]


# --- DescribeConfigs ------------------------------------------------------------


@attrs.frozen
class DescribeConfigsRequest:
    """A DescribeConfigs request of any served version (v1+)."""

    resources: Any  # kio's entries: the same in every version
    include_synonyms: bool
    include_documentation: bool  # from v3

    @classmethod
    def from_wire(cls, request: Any, version: int) -> DescribeConfigsRequest:
        return cls(
            request.resources, bool(request.include_synonyms), version >= 3 and bool(request.include_documentation)
        )


# DescribeConfigs v0 went in Kafka 4.0 (KIP-896); kio has no schema for it either.
@api(ApiKey.DESCRIBE_CONFIGS, 1, 4)
def handle_describe_configs(ctx: RequestContext, wire_request: Any) -> Any:
    request = DescribeConfigsRequest.from_wire(wire_request, ctx.api_version)
    include_synonyms = request.include_synonyms
    include_documentation = request.include_documentation
    results = []
    for resource in request.resources:
        wanted = None if resource.configuration_keys is None else set(resource.configuration_keys)
        try:
            entries = _entries_for(ctx, resource.resource_type, resource.resource_name)
            error, message = ErrorCode.none, None
        except KafkaError as exc:
            entries, error, message = [], exc.error_code, exc.message
        configs = [
            _config_dict(entry, include_synonyms, include_documentation)
            for entry in entries
            if wanted is None or entry.name in wanted
        ]
        results.append(
            dict(
                error_code=error,
                error_message=message,
                resource_type=resource.resource_type,
                resource_name=resource.resource_name,
                configs=configs,
            )
        )
    return respond(ctx, dict(results=results))


def _entries_for(ctx: RequestContext, resource_type: int, resource_name: str) -> list[Entry]:
    state = ctx.state
    if resource_type == TOPIC:
        topic = state.cluster.get(resource_name)
        if topic is None:
            raise KafkaError(ErrorCode.unknown_topic_or_partition, f"Topic {resource_name} does not exist")
        return topic_entries(state.config, topic.configs)
    if resource_type == BROKER:
        if resource_name not in ("", str(state.config.node_id)):
            raise KafkaError(
                ErrorCode.invalid_request, f"Unexpected broker id {resource_name}; this is {state.config.node_id}"
            )
        return _broker_entries(state.config)
    raise KafkaError(ErrorCode.invalid_request, f"Unsupported resource type {resource_type}")


def topic_entries(broker: BrokerConfig, overrides: dict[str, str]) -> list[Entry]:
    """Every topic config of a topic, as DescribeConfigs (and CreateTopics v5+) show them."""
    return [_topic_entry(broker, overrides, name) for name in sorted(TOPIC_CONFIGS)]


def _topic_entry(broker: BrokerConfig, overrides: dict[str, str], name: str) -> Entry:
    """A topic config and where its value comes from: the topic's override,
    the broker's setting, or the default (synonyms in that order)."""
    spec = TOPIC_CONFIGS[name]
    synonyms: list[tuple[str, str | None, int]] = []
    if name in overrides:
        synonyms.append((name, overrides[name], DYNAMIC_TOPIC_CONFIG))
    if spec.broker_name is not None and broker_value(broker, spec.broker_name) is not None:
        static = broker_value(broker, spec.broker_name)
        if spec.broker_name in broker.explicit:
            synonyms.append((spec.broker_name, static, STATIC_BROKER_CONFIG))
        default = static if spec.broker_name not in broker.explicit else spec.default
        synonyms.append((spec.broker_name, default, DEFAULT_CONFIG))
    else:
        synonyms.append((name, spec.default, DEFAULT_CONFIG))
    _synonym_name, value, source = synonyms[0]
    return Entry(name, value, source, False, spec.kind, spec.documentation, tuple(synonyms))


def _broker_entries(broker: BrokerConfig) -> list[Entry]:
    names = sorted({spec.broker_name for spec in TOPIC_CONFIGS.values() if spec.broker_name} | set(_OTHER_BROKER_NAMES))
    entries: list[Entry] = []
    for name in names:
        value = broker_value(broker, name)
        if value is None:
            continue
        source = STATIC_BROKER_CONFIG if name in broker.explicit else DEFAULT_CONFIG
        entries.append(Entry(name, value, source, True, 0, "", ((name, value, source),)))
    return entries


_OTHER_BROKER_NAMES = (
    "node.id",
    "num.partitions",
    "auto.create.topics.enable",
    "default.replication.factor",
    "socket.request.max.bytes",
    "group.initial.rebalance.delay.ms",
    "group.min.session.timeout.ms",
    "group.max.session.timeout.ms",
    "offsets.topic.num.partitions",
    "offsets.retention.minutes",
    "log.retention.check.interval.ms",
    "log.cleaner.enable",
    "log.cleaner.backoff.ms",
    "log.flush.scheduler.interval.ms",
    "log.flush.offset.checkpoint.interval.ms",
    "connections.max.idle.ms",
    "queued.max.request.bytes",
    "max.connections",
    "max.connections.per.ip",
)


def _config_dict(entry: Entry, include_synonyms: bool, include_documentation: bool) -> dict[str, Any]:
    return dict(
        name=entry.name,
        value=entry.value,
        read_only=entry.read_only,
        is_default=entry.source == DEFAULT_CONFIG,
        config_source=entry.source,
        is_sensitive=False,
        synonyms=[dict(name=n, value=v, source=s) for n, v, s in entry.synonyms] if include_synonyms else [],
        config_type=entry.kind,
        documentation=entry.documentation or None if include_documentation else None,
    )


# --- AlterConfigs / IncrementalAlterConfigs ----------------------------------------


@api(ApiKey.ALTER_CONFIGS, 0, 2)
def handle_alter_configs(ctx: RequestContext, request: Any) -> Any:
    """Non-incremental: the given configs replace all of a topic's overrides."""
    responses = []
    for resource in request.resources:

        def replacement(current: dict[str, str], resource: Any = resource) -> dict[str, str | None]:
            return {c.name: c.value for c in resource.configs}

        responses.append(_alter(ctx, resource, replacement, request.validate_only))
    return respond(ctx, dict(responses=responses))


@api(ApiKey.INCREMENTAL_ALTER_CONFIGS, 0, 1)
def handle_incremental_alter_configs(ctx: RequestContext, request: Any) -> Any:
    responses = []
    for resource in request.resources:

        def replacement(current: dict[str, str], resource: Any = resource) -> dict[str, str]:
            return _apply_operations(current, resource.configs)

        responses.append(_alter(ctx, resource, replacement, request.validate_only))
    return respond(ctx, dict(responses=responses))


# A topic's config overrides -> the overrides asked for. AlterConfigs may
# carry null values: the cluster's validation refuses them.
Replacement = Callable[[dict[str, str]], Mapping[str, str | None]]


def _alter(ctx: RequestContext, resource: Any, replacement: Replacement, validate_only: bool) -> dict[str, Any]:
    answer: dict[str, Any] = dict(resource_type=resource.resource_type, resource_name=resource.resource_name)
    try:
        if resource.resource_type == BROKER:
            raise KafkaError(
                ErrorCode.invalid_request,
                "kwire does not change broker configs at run time; start it with -o NAME=VALUE",
            )
        if resource.resource_type != TOPIC:
            raise KafkaError(ErrorCode.invalid_request, f"Unsupported resource type {resource.resource_type}")
        cluster = ctx.state.cluster
        topic = cluster.get(resource.resource_name)
        if topic is None:
            raise KafkaError(ErrorCode.unknown_topic_or_partition, f"Topic {resource.resource_name} does not exist")
        cluster.alter_topic_configs(topic.name, replacement(dict(topic.configs)), validate_only)
    except KafkaError as exc:
        return dict(answer, error_code=exc.error_code, error_message=exc.message)
    return dict(answer, error_code=ErrorCode.none, error_message=None)


def _apply_operations(current: dict[str, str], operations: Any) -> dict[str, str]:
    """The overrides after IncrementalAlterConfigs' operations, each result
    checked at once (a null value is refused there)."""
    result = dict(current)
    for op in operations:
        name, value = op.name, op.value
        spec = TOPIC_CONFIGS.get(name)
        if spec is None:
            raise KafkaError(ErrorCode.invalid_config, f"Unknown topic config name: {name}")
        if op.config_operation == SET:
            result[name] = value
        elif op.config_operation == DELETE:
            result.pop(name, None)
        elif op.config_operation in (APPEND, SUBTRACT):
            if spec.kind != LIST:
                verb = "append" if op.config_operation == APPEND else "subtract"
                raise KafkaError(
                    ErrorCode.invalid_request, f"Config value {verb} is not allowed for config key: {name}"
                )
            present = [item for item in result.get(name, spec.default).split(",") if item]
            given = [item.strip() for item in (value or "").split(",") if item.strip()]
            if op.config_operation == APPEND:
                present += [item for item in given if item not in present]
            else:
                present = [item for item in present if item not in given]
            result[name] = ",".join(present)
        else:
            raise KafkaError(ErrorCode.invalid_request, f"Unknown config operation {op.config_operation}")
        if name in result:
            validate_value(name, result[name])
    return result
