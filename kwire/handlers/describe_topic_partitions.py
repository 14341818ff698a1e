"""DescribeTopicPartitions (KIP-966): topics and their partitions, sorted
by name and paged by a partition budget and a cursor (topic, partition).

An empty topic list means every topic (as Kafka: unknown names can then not
occur). A cursor must name a topic of the list; the answer's next_cursor
says where the next page starts.
"""

from __future__ import annotations

import uuid
from typing import Any

import attrs

from kwire.cluster.cluster import Topic
from kwire.cluster.topic_names import validate_topic_name
from kwire.handlers.base import TOPIC_OPERATIONS, RequestContext, respond
from kwire.handlers.metadata import error_topic_entry
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode, KafkaError
from kwire.protocol.registry import api
from kwire.security.resources import AclOperation, ResourceType

_ZERO_UUID = uuid.UUID(int=0)
# Kafka's max.request.partition.size.limit default: a page never holds more.
MAX_PARTITIONS_PER_PAGE = 2000


@attrs.frozen
class Cursor:
    topic_name: str
    partition_index: int


@attrs.frozen
class DescribeTopicPartitionsRequest:
    topics: list[str]  # empty: every topic
    partition_limit: int
    cursor: Cursor | None

    @classmethod
    def from_wire(cls, request: Any, version: int) -> DescribeTopicPartitionsRequest:
        cursor = request.cursor
        return cls(
            [topic.name for topic in request.topics],
            request.response_partition_limit,
            None if cursor is None else Cursor(cursor.topic_name, cursor.partition_index),
        )


@api(ApiKey.DESCRIBE_TOPIC_PARTITIONS, 0, 0)
def handle_describe_topic_partitions(ctx: RequestContext, wire_request: Any) -> Any:
    request = DescribeTopicPartitionsRequest.from_wire(wire_request, ctx.api_version)
    try:
        names = _names_to_describe(ctx, request)
    except KafkaError as exc:
        # Kafka's whole-request error: every topic asked for carries it.
        failed = [error_topic_entry(name, _ZERO_UUID, exc.error_code, TOPIC_OPERATIONS) for name in request.topics]
        return respond(ctx, dict(topics=failed, next_cursor=None))
    refused: list[dict[str, Any]] = []
    if ctx.state.authorizer is not None:
        # As Kafka: topics without DESCRIBE are left out of a listing of every
        # topic, and named ones answer TOPIC_AUTHORIZATION_FAILED (after the
        # page, outside its budget) without saying whether they exist.
        allowed = [name for name in names if ctx.allowed(AclOperation.DESCRIBE, ResourceType.TOPIC, name)]
        if request.topics:
            seen = set(allowed)
            refused = [
                error_topic_entry(name, _ZERO_UUID, ErrorCode.topic_authorization_failed)
                for name in names
                if name not in seen
            ]
        names = allowed
    budget = max(min(MAX_PARTITIONS_PER_PAGE, request.partition_limit), 1)
    cluster = ctx.state.cluster
    topics: list[dict[str, Any]] = []
    next_cursor = None
    for name in names:
        if budget <= 0:
            next_cursor = dict(topic_name=name, partition_index=0)
            break
        topic = cluster.get(name)
        if topic is None:
            operations = ctx.authorized_operations(ResourceType.TOPIC, name, TOPIC_OPERATIONS)
            topics.append(error_topic_entry(name, _ZERO_UUID, _unknown_topic_error(name), operations))
            continue
        cursor = request.cursor
        first = cursor.partition_index if cursor is not None and cursor.topic_name == name else 0
        upper = min(len(topic.partitions), first + budget)
        topics.append(_topic(ctx, topic, range(first, upper)))
        if upper < len(topic.partitions):
            next_cursor = dict(topic_name=name, partition_index=upper)
            break
        budget -= max(upper - first, 0)
    return respond(ctx, dict(topics=topics + refused, next_cursor=next_cursor))


def _names_to_describe(ctx: RequestContext, request: DescribeTopicPartitionsRequest) -> list[str]:
    """The topic names of this page, sorted; raises KafkaError(INVALID_REQUEST)."""
    cursor = request.cursor
    floor = cursor.topic_name if cursor is not None else ""
    if request.topics:
        names = {name for name in request.topics if name >= floor}
        if cursor is not None and cursor.topic_name not in names:
            raise KafkaError(ErrorCode.invalid_request, "the topic list must contain the cursor's topic")
    else:
        names = {name for name in ctx.state.cluster.topics if name >= floor}
    if cursor is not None and cursor.partition_index < 0:
        raise KafkaError(ErrorCode.invalid_request, "the cursor's partition must not be negative")
    return sorted(names)


def _unknown_topic_error(name: str) -> ErrorCode:
    try:
        validate_topic_name(name)
    except KafkaError:
        return ErrorCode.invalid_topic_exception
    return ErrorCode.unknown_topic_or_partition


def _topic(ctx: RequestContext, topic: Topic, indexes: range) -> dict[str, Any]:
    partitions = []
    for i in indexes:
        view = ctx.state.cluster.partition_view(topic, i)
        partitions.append(
            dict(
                error_code=view.error,
                partition_index=i,
                leader_id=view.leader,
                leader_epoch=view.leader_epoch,
                replica_nodes=view.replicas,
                isr_nodes=view.isr,
                # No eligible leader replicas (KIP-966's ELR is not kept).
                eligible_leader_replicas=[],
                last_known_elr=[],
                offline_replicas=view.offline_replicas,
            )
        )
    return dict(
        error_code=ErrorCode.none,
        name=topic.name,
        topic_id=topic.topic_id,
        is_internal=topic.is_internal,
        partitions=partitions,
        topic_authorized_operations=ctx.authorized_operations(ResourceType.TOPIC, topic.name, TOPIC_OPERATIONS),
    )
