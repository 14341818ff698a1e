"""The consumer group protocol of KIP-848: ConsumerGroupHeartbeat and
ConsumerGroupDescribe.

The coordinator computes the assignment (kwire/coordinator/consumer_group/);
the heartbeat is answered at once, never parked. A group this node does not
coordinate is answered NOT_COORDINATOR (the client asks FindCoordinator
again)."""

from __future__ import annotations

import logging
from typing import Any

from kwire.coordinator.consumer_group.coordinator import HeartbeatRequest, HeartbeatResult
from kwire.coordinator.consumer_group.model import Assignment
from kwire.handlers.authorization import group_refusal
from kwire.handlers.base import RequestContext, millis, respond
from kwire.handlers.group_entries import group_operations, undescribed_group
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode
from kwire.protocol.registry import api
from kwire.security.resources import AclOperation

log = logging.getLogger("kwire.groups")


def heartbeat_request_from_wire(
    request: Any, version: int, client_id: str | None, client_host: str
) -> HeartbeatRequest:
    owned = None
    if request.topic_partitions is not None:
        owned = frozenset(
            (t.topic_id, int(p)) for t in request.topic_partitions if t.topic_id is not None for p in t.partitions
        )
    return HeartbeatRequest(
        group_id=request.group_id,
        member_id=request.member_id,
        member_epoch=request.member_epoch,
        instance_id=request.instance_id,
        rack_id=request.rack_id,
        rebalance_timeout_ms=millis(request.rebalance_timeout),
        subscribed_topic_names=(
            tuple(request.subscribed_topic_names) if request.subscribed_topic_names is not None else None
        ),
        subscribed_topic_regex=request.subscribed_topic_regex if version >= 1 else None,
        server_assignor=request.server_assignor,
        owned=owned,
        client_id=client_id or "",
        client_host=client_host,
        # Kafka 4.x (KIP-1082): from v1 the consumer makes its own member id.
        member_id_required=version >= 1,
    )


def _assignment(assignment: Assignment | None) -> dict[str, Any] | None:
    if assignment is None:
        return None
    by_topic: dict[Any, list[int]] = {}
    for topic_id, index in sorted(assignment, key=lambda tp: (str(tp[0]), tp[1])):
        by_topic.setdefault(topic_id, []).append(index)
    return dict(topic_partitions=[dict(topic_id=t, partitions=parts) for t, parts in by_topic.items()])


@api(ApiKey.CONSUMER_GROUP_HEARTBEAT, 0, 1)
def handle_consumer_group_heartbeat(ctx: RequestContext, wire_request: Any) -> Any:
    request = heartbeat_request_from_wire(wire_request, ctx.api_version, ctx.client_id, ctx.client_host)
    groups = ctx.state.groups
    error = group_refusal(ctx, AclOperation.READ, request.group_id) or groups.coordinator_error(request.group_id)
    result = HeartbeatResult(error) if error != ErrorCode.none else groups.consumer_heartbeat(request)
    log.debug(
        "ConsumerGroupHeartbeat %s %s epoch %d -> %s epoch %d%s",
        request.group_id,
        request.member_id,
        request.member_epoch,
        ErrorCode(result.error_code).name,
        result.member_epoch,
        "" if result.assignment is None else f" assignment of {len(result.assignment)}",
    )
    return respond(
        ctx,
        dict(
            error_code=result.error_code,
            error_message=result.error_message,
            member_id=result.member_id,
            member_epoch=result.member_epoch,
            heartbeat_interval=result.heartbeat_interval_ms,
            assignment=_assignment(result.assignment),
        ),
    )


# --- ConsumerGroupDescribe -----------------------------------------------------------


def _described_assignment(ctx: RequestContext, assignment: Assignment) -> dict[str, Any]:
    by_topic: dict[Any, list[int]] = {}
    for topic_id, index in sorted(assignment, key=lambda tp: (str(tp[0]), tp[1])):
        by_topic.setdefault(topic_id, []).append(index)
    topics = []
    for topic_id, indexes in by_topic.items():
        topic = ctx.state.cluster.topics_by_id.get(topic_id)
        topics.append(dict(topic_id=topic_id, topic_name=topic.name if topic else "", partitions=indexes))
    return dict(topic_partitions=topics)


@api(ApiKey.CONSUMER_GROUP_DESCRIBE, 0, 1)
def handle_consumer_group_describe(ctx: RequestContext, request: Any) -> Any:
    service = ctx.state.groups
    include_ops = bool(request.include_authorized_operations)
    described = []
    for group_id in request.group_ids:
        error = group_refusal(ctx, AclOperation.DESCRIBE, group_id) or service.coordinator_error(group_id)
        group = service.consumer_group_now(group_id) if error == ErrorCode.none else None
        message = None
        if error == ErrorCode.none and group is None:
            error = ErrorCode.group_id_not_found
            message = f"Group {group_id} not found." if service.group(group_id) is None else None
            message = message or f"Group {group_id} is not a consumer group."
        if group is None:
            described.append(undescribed_group(group_id, error, message, ""))
            continue
        members = [
            dict(
                member_id=m.member_id,
                instance_id=m.instance_id,
                rack_id=m.rack_id,
                member_epoch=m.member_epoch,
                client_id=m.client_id,
                client_host=m.client_host,
                subscribed_topic_names=list(m.subscribed_topic_names),
                subscribed_topic_regex=m.subscribed_topic_regex,
                assignment=_described_assignment(ctx, m.assigned),
                target_assignment=_described_assignment(ctx, group.target.get(m.member_id, frozenset())),
                member_type=0 if m.classic is not None else 1,  # v1: classic member (online migration) or consumer
            )
            for m in group.members.values()
        ]
        described.append(
            dict(
                error_code=ErrorCode.none,
                error_message=None,
                group_id=group_id,
                group_state=group.state.value,
                group_epoch=group.group_epoch,
                assignment_epoch=group.target_epoch,
                assignor_name=group.assignor,
                members=members,
                authorized_operations=group_operations(ctx, group_id, include_ops),
            )
        )
    return respond(ctx, dict(groups=described))
