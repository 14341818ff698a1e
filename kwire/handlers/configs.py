"""DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topics,
the broker's dynamic configs (per node and cluster-wide) and groups."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from kwire.cluster import broker_configs as dynamic
from kwire.cluster import client_metrics_configs as client_metrics
from kwire.cluster.broker_configs import DynamicBrokerConfigs
from kwire.cluster.client_metrics_configs import ClientMetricsConfigs
from kwire.cluster.topic_configs import LIST, TOPIC_CONFIGS, broker_value, validate_value
from kwire.config import LIST as LIST_RULE
from kwire.config import SETTINGS, BrokerConfig
from kwire.config_docs import documentation
from kwire.handlers.authorization import REFUSAL_ERROR, refusal_message
from kwire.handlers.base import RequestContext, log_admin_change, respond
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode, KafkaError
from kwire.protocol.registry import api
from kwire.security.resources import CLUSTER_NAME, AclOperation, ResourceType

TOPIC, BROKER, CLIENT_METRICS, GROUP = 2, 4, 16, 32
# ConfigSource values.
DYNAMIC_TOPIC_CONFIG, STATIC_BROKER_CONFIG, DEFAULT_CONFIG, CLIENT_METRICS_CONFIG = 1, 4, 5, 7
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3
# Kafka's ConfigDef types as DescribeConfigs numbers them.
_CONFIG_TYPES = {"BOOLEAN": 1, "STRING": 2, "INT": 3, "LONG": 5, "DOUBLE": 6, "LIST": 7}
LIST_TYPE = _CONFIG_TYPES["LIST"]


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
        refusal = _refusal(ctx, AclOperation.DESCRIBE_CONFIGS, resource.resource_type, resource.resource_name)
        try:
            if refusal:
                raise KafkaError(refusal, refusal_message(refusal))
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


# Which resource a config resource type is authorized on (a broker's configs: the cluster's).
_AUTHORIZED_ON = {
    TOPIC: ResourceType.TOPIC,
    BROKER: ResourceType.CLUSTER,
    GROUP: ResourceType.GROUP,
    CLIENT_METRICS: ResourceType.CLUSTER,
}


def _refusal(ctx: RequestContext, operation: AclOperation, config_type: int, name: str) -> ErrorCode:
    """As Kafka: DESCRIBE_CONFIGS / ALTER_CONFIGS on the topic, the group, or
    the cluster for broker configs; the resource type's authorization error
    when refused, ErrorCode.none (falsy) when allowed or not a type served."""
    resource_type = _AUTHORIZED_ON.get(config_type)
    if ctx.state.authorizer is None or resource_type is None:
        return ErrorCode.none
    resource_name = CLUSTER_NAME if resource_type == ResourceType.CLUSTER else name
    if ctx.allowed(operation, resource_type, resource_name):
        return ErrorCode.none
    return REFUSAL_ERROR[resource_type]


def _entries_for(ctx: RequestContext, resource_type: int, resource_name: str) -> list[Entry]:
    state = ctx.state
    if resource_type == TOPIC:
        topic = state.cluster.get(resource_name)
        if topic is None:
            raise KafkaError(ErrorCode.unknown_topic_or_partition, f"Topic {resource_name} does not exist")
        return topic_entries(state.config, topic.configs, state.cluster.broker_configs)
    if resource_type == BROKER:
        if resource_name == "":
            return _default_level_entries(state.cluster.broker_configs)
        if not resource_name.lstrip("-").isdigit():
            raise KafkaError(ErrorCode.invalid_request, f"Broker id must be an integer, but it is: {resource_name}")
        if int(resource_name) != state.config.node_id:
            raise KafkaError(
                ErrorCode.invalid_request,
                f"Unexpected broker id, expected {state.config.node_id} or empty string, but received {resource_name}",
            )
        return _broker_entries(state.cluster.broker_configs)
    if resource_type == GROUP:
        return [
            Entry(name, value, source, False, spec.kind, spec.documentation, ((name, value, source),))
            for name, value, source, spec in state.cluster.group_configs.entries(resource_name)
        ]
    if resource_type == CLIENT_METRICS:
        return _client_metrics_entries(state.cluster.client_metrics, resource_name)
    raise KafkaError(ErrorCode.invalid_request, f"Unsupported resource type {resource_type}")


def _client_metrics_entries(configs: ClientMetricsConfigs, name: str) -> list[Entry]:
    """As Kafka describes a subscription: only the configs it sets (none for an unknown name)."""
    if not name:
        raise KafkaError(ErrorCode.invalid_request, "Client metrics subscription name must not be empty")
    return [
        Entry(
            key,
            value,
            CLIENT_METRICS_CONFIG,
            False,
            client_metrics.CONFIG_TYPES[key],
            client_metrics.DOCUMENTATION[key],
            ((key, value, CLIENT_METRICS_CONFIG),),
        )
        for key, value in sorted(configs.get(name).items())
    ]


def topic_entries(
    broker: BrokerConfig, overrides: dict[str, str], dynamic_configs: DynamicBrokerConfigs | None = None
) -> list[Entry]:
    """Every topic config of a topic, as DescribeConfigs (and CreateTopics v5+) show them."""
    return [_topic_entry(broker, overrides, name, dynamic_configs) for name in sorted(TOPIC_CONFIGS)]


def _topic_entry(
    broker: BrokerConfig, overrides: dict[str, str], name: str, dynamic_configs: DynamicBrokerConfigs | None
) -> Entry:
    """A topic config and where its value comes from: the topic's override,
    the broker's dynamic, static or default setting (synonyms in that order)."""
    spec = TOPIC_CONFIGS[name]
    synonyms: list[tuple[str, str | None, int]] = []
    if name in overrides:
        synonyms.append((name, overrides[name], DYNAMIC_TOPIC_CONFIG))
    from_broker = (
        [] if dynamic_configs is None or spec.broker_name is None else dynamic_configs.synonyms(spec.broker_name)
    )
    if from_broker and from_broker[0][1] is not None:
        synonyms.extend(from_broker)
    elif spec.broker_name is not None and broker_value(broker, spec.broker_name) is not None:
        static = broker_value(broker, spec.broker_name)
        if spec.broker_name in broker.explicit:
            synonyms.append((spec.broker_name, static, STATIC_BROKER_CONFIG))
        default = static if spec.broker_name not in broker.explicit else spec.default
        synonyms.append((spec.broker_name, default, DEFAULT_CONFIG))
    else:
        synonyms.append((name, spec.default, DEFAULT_CONFIG))
    _synonym_name, value, source = synonyms[0]
    return Entry(name, value, source, False, spec.kind, spec.documentation, tuple(synonyms))


def _broker_entries(configs: DynamicBrokerConfigs) -> list[Entry]:
    """Every broker setting of this node, as Kafka describes a broker:
    read-only unless dynamic, with where its value comes from."""
    names = set(dynamic.kafka_names()) | set(configs.broker_level) | set(configs.default_level)
    entries = []
    for name in sorted(names):
        synonyms = tuple(configs.synonyms(name))
        _name, value, source = synonyms[0]
        meaning = documentation(name)
        entries.append(Entry(name, value, source, _read_only(name), _config_type(name), meaning, synonyms))
    return entries


def _default_level_entries(configs: DynamicBrokerConfigs) -> list[Entry]:
    """The cluster-wide default level: only what is set there, as in Kafka."""
    source = dynamic.DYNAMIC_DEFAULT_BROKER_CONFIG
    return [
        Entry(name, value, source, False, _config_type(name), documentation(name), ((name, value, source),))
        for name, value in sorted(configs.default_level.items())
    ]


def _read_only(name: str) -> bool:
    return name not in dynamic.DYNAMIC and dynamic.is_static(name)


def _config_type(name: str) -> int:
    rule = SETTINGS.get(name)
    return 0 if rule is None else _CONFIG_TYPES.get(rule.kind, 0)


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
    """Non-incremental: the given configs replace all of a resource's."""
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
        rules = _operation_rules(ctx, resource.resource_type)

        def replacement(current: dict[str, str], resource: Any = resource, rules: Any = rules) -> dict[str, str]:
            return _apply_operations(current, resource.configs, rules)

        responses.append(_alter(ctx, resource, replacement, request.validate_only))
    return respond(ctx, dict(responses=responses))


# A resource's config overrides -> the overrides asked for. AlterConfigs may
# carry null values: each resource's validation refuses them.
Replacement = Callable[[dict[str, str]], Mapping[str, str | None]]


@attrs.frozen
class OperationRules:
    """How IncrementalAlterConfigs' operations see one resource type's settings."""

    is_list: Callable[[str], bool]  # APPEND/SUBTRACT allowed (for topics: refuses an unknown name)
    in_force: Callable[[str], str | None]  # what APPEND/SUBTRACT start from when the level has no value
    check: Callable[[str, str], None]  # each result checked at once (topics), or none (the whole set later)


def _no_check(name: str, value: str) -> None:
    pass


def _alter(ctx: RequestContext, resource: Any, replacement: Replacement, validate_only: bool) -> dict[str, Any]:
    kind, name = resource.resource_type, resource.resource_name
    answer: dict[str, Any] = dict(resource_type=kind, resource_name=name)
    what = ", ".join(_change_text(c) for c in resource.configs) or "(nothing)"
    label = {TOPIC: "topic", BROKER: "broker", GROUP: "group", CLIENT_METRICS: "client metrics"}.get(
        kind, f"resource type {kind}"
    )
    refusal = _refusal(ctx, AclOperation.ALTER_CONFIGS, kind, name)
    try:
        cluster = ctx.state.cluster
        if refusal:
            raise KafkaError(refusal, refusal_message(refusal))
        if kind == BROKER:
            cluster.broker_configs.alter(name, replacement(cluster.broker_configs.level(name)), validate_only)
        elif kind == GROUP:
            cluster.group_configs.alter(name, replacement(cluster.group_configs.get(name)), validate_only)
        elif kind == CLIENT_METRICS:
            cluster.client_metrics.alter(name, replacement(cluster.client_metrics.get(name)), validate_only)
        elif kind == TOPIC:
            topic = cluster.get(name)
            if topic is None:
                raise KafkaError(ErrorCode.unknown_topic_or_partition, f"Topic {name} does not exist")
            cluster.alter_topic_configs(topic.name, replacement(dict(topic.configs)), validate_only)
        else:
            raise KafkaError(ErrorCode.invalid_request, f"Unsupported resource type {kind}")
    except KafkaError as exc:
        ctx.note_error(exc.error_code, reason=f"configs of {label} {name!r}: {exc.message}")
        log_admin_change(
            ctx,
            f"configs of {label} {name!r} ({what}) refused: {exc.message}",
            validate_only,
            resource_type=label,
            resource_name=name,
        )
        return dict(answer, error_code=exc.error_code, error_message=exc.message)
    log_admin_change(
        ctx, f"configs of {label} {name!r} set to {what}", validate_only, resource_type=label, resource_name=name
    )
    return dict(answer, error_code=ErrorCode.none, error_message=None)


def _change_text(config: Any) -> str:
    """One requested change as the admin log shows it: name=value, or the
    incremental operation (name+=value, name-=value, -name)."""
    operation = getattr(config, "config_operation", SET)
    if operation == DELETE:
        return f"-{config.name}"
    sign = {APPEND: "+=", SUBTRACT: "-="}.get(operation, "=")
    return f"{config.name}{sign}{config.value}"


def _operation_rules(ctx: RequestContext, resource_type: int) -> OperationRules:
    if resource_type == BROKER:
        configs = ctx.state.cluster.broker_configs
        return OperationRules(
            lambda name: name in SETTINGS and SETTINGS[name].kind == LIST_RULE,
            lambda name: broker_value(configs.config, name),
            _no_check,
        )
    if resource_type == TOPIC:

        def topic_default(name: str) -> str:
            spec = TOPIC_CONFIGS.get(name)
            if spec is None:
                raise KafkaError(ErrorCode.invalid_config, f"Unknown topic config name: {name}")
            return spec.default

        def topic_check(name: str, value: str) -> None:
            validate_value(name, value)

        return OperationRules(
            lambda name: bool(topic_default(name) is not None and TOPIC_CONFIGS[name].kind == LIST),
            topic_default,
            topic_check,
        )
    if resource_type == CLIENT_METRICS:
        # metrics and match are lists: APPEND/SUBTRACT work on their items.
        return OperationRules(
            lambda name: client_metrics.CONFIG_TYPES.get(name) == LIST_TYPE, lambda name: None, _no_check
        )
    return OperationRules(lambda name: False, lambda name: None, _no_check)


def _apply_operations(
    current: dict[str, str],
    operations: Any,
    rules: OperationRules,
) -> dict[str, str]:
    """The overrides after IncrementalAlterConfigs' operations, each result
    checked at once where the resource does so (a null value is refused there)."""
    result = dict(current)
    for op in operations:
        name, value = op.name, op.value
        listed = rules.is_list(name)
        if op.config_operation == SET:
            result[name] = value
        elif op.config_operation == DELETE:
            result.pop(name, None)
        elif op.config_operation in (APPEND, SUBTRACT):
            if not listed:
                verb = "append" if op.config_operation == APPEND else "subtract"
                raise KafkaError(
                    ErrorCode.invalid_request, f"Config value {verb} is not allowed for config key: {name}"
                )
            present = [item for item in (result.get(name) or rules.in_force(name) or "").split(",") if item]
            given = [item.strip() for item in (value or "").split(",") if item.strip()]
            if op.config_operation == APPEND:
                present += [item for item in given if item not in present]
            else:
                present = [item for item in present if item not in given]
            result[name] = ",".join(present)
        else:
            raise KafkaError(ErrorCode.invalid_request, f"Unknown config operation {op.config_operation}")
        if result.get(name) is not None:
            rules.check(name, result[name])
    return result
