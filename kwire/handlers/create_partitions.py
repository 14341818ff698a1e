"""CreatePartitions (v0-v3): grow a topic, with Kafka's checks and messages.

Only an increase is allowed (INVALID_PARTITIONS otherwise). Manual
`assignments` name one replica list per new partition; on this one-node
broker every list must be exactly [this node] (INVALID_REPLICA_ASSIGNMENT
otherwise). The new partitions are created on disk and recorded in the
metadata log before the answer; clients find them through Metadata.

kwire refuses to grow its internal topics (INVALID_TOPIC_EXCEPTION): the
placement of groups and transactional ids depends on their partition count.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import attrs

from kwire.cluster.cluster import Topic
from kwire.cluster.placement import check_manual_assignment
from kwire.handlers.authorization import refusal_message, refused_names
from kwire.handlers.base import RequestContext, log_admin_change, millis, note_result_errors, outcome, respond
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode, KafkaError
from kwire.protocol.registry import api
from kwire.security.resources import AclOperation, ResourceType


@attrs.frozen
class TopicGrowth:
    name: str
    count: int
    assignments: list[list[int]] | None  # one replica list per new partition; None: automatic


@attrs.frozen
class CreatePartitionsRequest:
    topics: list[TopicGrowth]
    timeout_ms: int
    validate_only: bool

    @classmethod
    def from_wire(cls, request: Any, version: int) -> CreatePartitionsRequest:
        return cls(
            topics=[
                TopicGrowth(
                    t.name,
                    t.count,
                    None if t.assignments is None else [list(a.broker_ids) for a in t.assignments],
                )
                for t in request.topics
            ],
            timeout_ms=millis(request.timeout),
            validate_only=bool(request.validate_only),
        )


@api(ApiKey.CREATE_PARTITIONS, 0, 3)
def handle_create_partitions(ctx: RequestContext, wire_request: Any) -> Any:
    request = CreatePartitionsRequest.from_wire(wire_request, ctx.api_version)
    name_counts = Counter(topic.name for topic in request.topics)
    results: list[dict[str, Any]] = []
    done: set[str] = set()
    # As Kafka: ALTER on each topic.
    refused = refused_names(ctx, AclOperation.ALTER, ResourceType.TOPIC, (n for n, c in name_counts.items() if c == 1))
    for topic in request.topics:
        if name_counts[topic.name] > 1:
            if topic.name not in done:
                results.append(_result(topic.name, ErrorCode.invalid_request, "Duplicate topic name."))
                done.add(topic.name)
            continue
        if refused and topic.name in refused:
            error = ErrorCode.topic_authorization_failed
            results.append(_result(topic.name, error, refusal_message(error)))
            continue
        try:
            _grow(ctx, topic, request.validate_only)
        except KafkaError as exc:
            results.append(_result(topic.name, exc.error_code, exc.message))
            continue
        results.append(_result(topic.name, ErrorCode.none, None))
    _log(ctx, request, results)
    return respond(ctx, dict(results=results))


def _grow(ctx: RequestContext, wanted: TopicGrowth, validate_only: bool) -> None:
    cluster = ctx.state.cluster
    topic = cluster.check_partition_increase(wanted.name, wanted.count)
    if topic.is_internal:
        raise KafkaError(
            ErrorCode.invalid_topic_exception,
            f"Topic {topic.name} is an internal topic: its partition count places kwire's coordinators' state",
        )
    if wanted.assignments is not None:
        _check_assignments(wanted.assignments, wanted.count - len(topic.partitions), ctx, topic)
    ctx.state.topic_admin.add_partitions(wanted.name, wanted.count, validate_only, wanted.assignments)


def _check_assignments(assignments: list[list[int]], additional: int, ctx: RequestContext, topic: Topic) -> None:
    """Kafka's checks of manual assignments of the new partitions, over the live brokers."""
    if len(assignments) != additional:
        raise KafkaError(
            ErrorCode.invalid_replica_assignment,
            f"Attempted to add {additional} additional partition(s), but only {len(assignments)} "
            "assignment(s) were specified.",
        )
    brokers = list(ctx.state.cluster.topology.racks())
    check_manual_assignment(assignments, brokers, len(topic.replicas_of(0)))


def _result(name: str, error: ErrorCode, message: str | None) -> dict[str, Any]:
    return dict(name=name, error_code=error, error_message=message)


def _log(ctx: RequestContext, request: CreatePartitionsRequest, results: list[dict[str, Any]]) -> None:
    wanted = {topic.name: topic.count for topic in request.topics}
    outcomes = ", ".join(f"{r['name']} -> {wanted[r['name']]}: {outcome(r['error_code'])}" for r in results)
    note_result_errors(ctx, results)
    log_admin_change(ctx, outcomes, bool(request.validate_only), topics=[r["name"] for r in results])
