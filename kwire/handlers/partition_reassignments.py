"""AlterPartitionReassignments / ListPartitionReassignments.

kwire does not move replicas between brokers: nothing is ever reassigning.
As Kafka's controller: a target of exactly the current replicas is a no-op
success; an empty or repeated list, or a broker that is not registered, is
INVALID_REPLICA_ASSIGNMENT with Kafka's messages; any other target (in a
multi-node cluster) is INVALID_REPLICA_ASSIGNMENT saying kwire does not
move replicas (v1's allow_replication_factor_change is only echoed);
cancelling (null replicas) finds NO_REASSIGNMENT_IN_PROGRESS; unknown
partitions are UNKNOWN_TOPIC_OR_PARTITION. The list of ongoing
reassignments is empty.
"""

from __future__ import annotations

from typing import Any

import attrs

from kwire.cluster.cluster import Cluster
from kwire.cluster.placement import check_manual_assignment
from kwire.handlers.authorization import refusal_message
from kwire.handlers.base import RequestContext, log_admin_change, outcome, respond
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode, KafkaError
from kwire.protocol.registry import api
from kwire.security.resources import AclOperation


@attrs.frozen
class Reassignment:
    topic: str
    partition: int
    replicas: list[int] | None  # None: cancel


@attrs.frozen
class AlterReassignmentsRequest:
    reassignments: list[Reassignment]
    allow_replication_factor_change: bool  # always before v1

    @classmethod
    def from_wire(cls, request: Any, version: int) -> AlterReassignmentsRequest:
        reassignments = [
            Reassignment(topic.name, p.partition_index, None if p.replicas is None else list(p.replicas))
            for topic in request.topics
            for p in topic.partitions
        ]
        return cls(reassignments, version < 1 or bool(request.allow_replication_factor_change))


@api(ApiKey.ALTER_PARTITION_REASSIGNMENTS, 0, 1)
def handle_alter_partition_reassignments(ctx: RequestContext, wire_request: Any) -> Any:
    request = AlterReassignmentsRequest.from_wire(wire_request, ctx.api_version)
    if not ctx.allowed_on_cluster(AclOperation.ALTER):  # as Kafka: ALTER on the cluster
        return _refused(ctx, request)
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for target in request.reassignments:
        try:
            _check(ctx.state.cluster, target)
            error, message = ErrorCode.none, None
        except KafkaError as exc:
            error, message = exc.error_code, exc.message
        to = "cancel" if target.replicas is None else target.replicas
        log_admin_change(
            ctx, f"{target.topic}-{target.partition} to {to}: {outcome(error, message, 'unchanged (already there)')}"
        )
        by_topic.setdefault(target.topic, []).append(
            dict(partition_index=target.partition, error_code=error, error_message=message)
        )
    responses = [dict(name=name, partitions=partitions) for name, partitions in by_topic.items()]
    return respond(
        ctx,
        dict(
            error_code=ErrorCode.none,
            error_message=None,
            allow_replication_factor_change=request.allow_replication_factor_change,
            responses=responses,
        ),
    )


def _refused(ctx: RequestContext, request: AlterReassignmentsRequest) -> Any:
    error = ErrorCode.cluster_authorization_failed
    message = refusal_message(error)
    by_topic: dict[str, list[dict[str, Any]]] = {}
    for target in request.reassignments:
        by_topic.setdefault(target.topic, []).append(
            dict(partition_index=target.partition, error_code=error, error_message=message)
        )
    return respond(
        ctx,
        dict(
            error_code=error,
            error_message=message,
            allow_replication_factor_change=request.allow_replication_factor_change,
            responses=[dict(name=name, partitions=partitions) for name, partitions in by_topic.items()],
        ),
    )


def _check(cluster: Cluster, target: Reassignment) -> None:
    """Raises KafkaError unless the reassignment is a no-op."""
    topic = cluster.get(target.topic)
    if topic is None:
        raise KafkaError(ErrorCode.unknown_topic_or_partition, f"Unable to find topic {target.topic}")
    if not 0 <= target.partition < len(topic.partitions):
        raise KafkaError(
            ErrorCode.unknown_topic_or_partition, f"Unable to find partition {target.topic}:{target.partition}"
        )
    if target.replicas is None:
        raise KafkaError(ErrorCode.no_reassignment_in_progress, "No partition reassignment is in progress.")
    check_manual_assignment([target.replicas], list(cluster.topology.racks()))
    if target.replicas != topic.replicas_of(target.partition):
        raise KafkaError(
            ErrorCode.invalid_replica_assignment,
            f"kwire does not move replicas between brokers: {target.topic}-{target.partition} stays on "
            f"{topic.replicas_of(target.partition)}",
        )


@api(ApiKey.LIST_PARTITION_REASSIGNMENTS, 0, 0)
def handle_list_partition_reassignments(ctx: RequestContext, request: Any) -> Any:
    if not ctx.allowed_on_cluster(AclOperation.DESCRIBE):  # as Kafka: DESCRIBE on the cluster
        error = ErrorCode.cluster_authorization_failed
        topics = [
            dict(
                name=t.name,
                partitions=[
                    dict(partition_index=i, replicas=[], adding_replicas=[], removing_replicas=[])
                    for i in t.partition_indexes
                ],
            )
            for t in request.topics or ()
        ]
        return respond(ctx, dict(error_code=error, error_message=refusal_message(error), topics=topics))
    # Nothing is ever reassigning here (unknown topics are skipped, as Kafka).
    return respond(ctx, dict(error_code=ErrorCode.none, error_message=None, topics=[]))
