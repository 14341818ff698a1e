"""CreateTopics (v2-v7)."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from kwire.cluster.broker_configs import DynamicBrokerConfigs
from kwire.cluster.placement import check_manual_assignment
from kwire.config import BrokerConfig
from kwire.handlers.authorization import NOTHING_REFUSED, refused_names
from kwire.handlers.base import RequestContext, log_admin_change, note_result_errors, outcome, respond
from kwire.handlers.configs import topic_entries
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode, KafkaError
from kwire.protocol.registry import api
from kwire.security.resources import AclOperation, ResourceType

_ZERO_UUID = uuid.UUID(int=0)


@api(ApiKey.CREATE_TOPICS, 2, 7)
def handle_create_topics(ctx: RequestContext, request: Any) -> Any:
    cluster = ctx.state.cluster
    name_counts = Counter(topic.name for topic in request.topics)
    refused, hidden_configs = _refusals(ctx, [name for name, count in name_counts.items() if count == 1])
    results = []
    for topic in request.topics:
        if name_counts[topic.name] > 1:
            results.append(
                _error(
                    topic.name,
                    ErrorCode.invalid_request,
                    "Create topics request from client contains a duplicate topic name",
                )
            )
            continue
        if refused and topic.name in refused:
            results.append(_error(topic.name, ErrorCode.topic_authorization_failed, "Authorization failed."))
            continue
        try:
            num_partitions, replication_factor, assignment = _partition_layout(ctx, topic)
            record = cluster.create_topic(
                topic.name,
                num_partitions=num_partitions,
                replication_factor=replication_factor,
                configs={config.name: config.value for config in topic.configs},
                validate_only=bool(request.validate_only),
                assignment=assignment,
            )
        except KafkaError as exc:
            results.append(_error(topic.name, exc.error_code, exc.message))
            continue
        hide = bool(hidden_configs) and record.name in hidden_configs
        results.append(
            dict(
                name=record.name,
                topic_id=record.topic_id,
                error_code=ErrorCode.none,
                error_message=None,
                num_partitions=record.partitions,
                replication_factor=len(record.replicas[0]) if record.replicas else 1,
                # Without DESCRIBE_CONFIGS on the topic its configs are not shown (as Kafka).
                topic_config_error_code=ErrorCode.topic_authorization_failed if hide else ErrorCode.none,
                configs=[]
                if hide
                else _config_entries(ctx.state.config, record.configs, ctx.state.cluster.broker_configs),
            )
        )
    outcomes = ", ".join(f"{r['name']}: {outcome(r['error_code'], r['error_message'], 'created')}" for r in results)
    note_result_errors(ctx, results)
    log_admin_change(ctx, outcomes, bool(request.validate_only), topics=[r["name"] for r in results])
    return respond(ctx, dict(topics=results))


def _refusals(ctx: RequestContext, names: list[str]) -> tuple[frozenset[str], frozenset[str]]:
    """(the topics this principal may not create, those whose configs it may
    not see): CREATE on the cluster allows every topic, else CREATE on each;
    DESCRIBE_CONFIGS on each topic shows its configs."""
    if ctx.state.authorizer is None:
        return NOTHING_REFUSED, NOTHING_REFUSED
    if ctx.allowed_on_cluster(AclOperation.CREATE, audit=False):
        refused = NOTHING_REFUSED
    else:
        refused = refused_names(ctx, AclOperation.CREATE, ResourceType.TOPIC, names)
    return refused, refused_names(ctx, AclOperation.DESCRIBE_CONFIGS, ResourceType.TOPIC, names, audit=False)


def _partition_layout(ctx: RequestContext, topic: Any) -> tuple[int, int, list[list[int]] | None]:
    """(partitions, replication factor, manual assignment or None), checked as Kafka checks them."""
    if not topic.assignments:
        return topic.num_partitions, topic.replication_factor, None
    if topic.num_partitions != -1 or topic.replication_factor != -1:
        raise KafkaError(
            ErrorCode.invalid_request,
            "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.",
        )
    indexes = sorted(assignment.partition_index for assignment in topic.assignments)
    if indexes != list(range(len(indexes))):
        raise KafkaError(
            ErrorCode.invalid_replica_assignment, "Partitions should be a consecutive 0-based integer sequence"
        )
    by_index = {assignment.partition_index: list(assignment.broker_ids) for assignment in topic.assignments}
    layout = [by_index[index] for index in indexes]
    check_manual_assignment(layout, list(ctx.state.cluster.topology.racks()))
    return len(layout), len(layout[0]), layout


def _config_entries(
    broker: BrokerConfig, configs: dict[str, str], dynamic_configs: DynamicBrokerConfigs
) -> list[dict[str, Any]]:
    return [
        dict(
            name=entry.name,
            value=entry.value,
            read_only=entry.read_only,
            config_source=entry.source,
            is_sensitive=False,
        )
        for entry in topic_entries(broker, configs, dynamic_configs)
    ]


def _error(name: str, error: ErrorCode, message: str | None) -> dict[str, Any]:
    return dict(
        name=name,
        topic_id=_ZERO_UUID,
        error_code=error,
        error_message=message,
        num_partitions=-1,
        replication_factor=-1,
        configs=[],
    )
