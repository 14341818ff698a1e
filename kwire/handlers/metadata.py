"""Metadata: brokers, topics, partitions; auto-creates topics when allowed.

Encoded bodies are cached per request shape and metadata version: clients
repeat the same metadata request constantly.
"""

from __future__ import annotations

import uuid
from typing import Any

import attrs
from kio.index import load_response_schema

from kwire.cluster.cluster import Topic
from kwire.cluster.topic_names import validate_topic_name
from kwire.handlers.base import (
    CLOSE_CONNECTION,
    CLUSTER_OPERATIONS,
    OPERATIONS_NOT_REQUESTED,
    TOPIC_OPERATIONS,
    RequestContext,
)
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode, KafkaError
from kwire.protocol.kio_build import build, encode
from kwire.protocol.registry import api
from kwire.security.resources import CLUSTER_NAME, AclOperation, ResourceType

_ZERO_UUID = uuid.UUID(int=0)
_CACHE_LIMIT = 256


@attrs.frozen
class TopicWanted:
    name: str | None  # None: asked for by id (v10+ may)
    topic_id: uuid.UUID | None  # None before v10


@attrs.frozen
class MetadataRequest:
    """A Metadata request of any served version."""

    topics: list[TopicWanted] | None  # None: every topic
    allow_auto_topic_creation: bool  # always before v4
    include_topic_authorized_operations: bool  # from v8
    include_cluster_authorized_operations: bool  # v8-v10

    @classmethod
    def from_wire(cls, request: Any, version: int) -> MetadataRequest:
        topics = (
            None
            if request.topics is None
            else [TopicWanted(t.name, t.topic_id if version >= 10 else None) for t in request.topics]
        )
        return cls(
            topics=topics,
            allow_auto_topic_creation=version < 4 or bool(request.allow_auto_topic_creation),
            include_topic_authorized_operations=version >= 8 and bool(request.include_topic_authorized_operations),
            include_cluster_authorized_operations=(
                8 <= version <= 10 and bool(request.include_cluster_authorized_operations)
            ),
        )


@api(ApiKey.METADATA, 0, 13)
def handle_metadata(ctx: RequestContext, wire_request: Any) -> Any:
    state, version = ctx.state, ctx.api_version
    request = MetadataRequest.from_wire(wire_request, version)
    if version < 12 and request.topics and any(entry.name is None for entry in request.topics):
        # Topics by id only from v12 (Kafka answers INVALID_REQUEST); such a
        # request cannot be answered in a v10/v11 response, so close.
        return CLOSE_CONNECTION
    requested = _requested_topics(version, request)
    if state.authorizer is not None:
        # What a principal may see differs, and ACLs change without the
        # metadata version moving: built every time, never cached.
        return _encoded(ctx, _authorized_topic_entries(ctx, request, requested), _cluster_operations(ctx, request))
    allow_auto = request.allow_auto_topic_creation
    include_topic_ops = request.include_topic_authorized_operations
    include_cluster_ops = request.include_cluster_authorized_operations

    if requested is not None and allow_auto:
        for name in requested:
            if isinstance(name, str) and state.cluster.get(name) is None:
                state.cluster.auto_create(name)

    cache_key = (
        "metadata",
        version,
        requested,
        allow_auto,
        include_topic_ops,
        include_cluster_ops,
        state.cluster.version,
        ctx.listener,
    )
    body = state.response_cache.get(cache_key)
    if body is None:
        topics = _topic_entries(ctx, requested, include_topic_ops)
        body = _encoded(ctx, topics, CLUSTER_OPERATIONS if include_cluster_ops else OPERATIONS_NOT_REQUESTED)
        if len(state.response_cache) > _CACHE_LIMIT:
            state.response_cache.clear()
        state.response_cache[cache_key] = body
    return body


def _encoded(ctx: RequestContext, topics: list[dict[str, Any]], cluster_operations: int) -> bytes:
    cluster = ctx.state.cluster
    response = dict(
        throttle_time=0,
        brokers=[
            dict(node_id=broker.node_id, host=broker.host, port=broker.port, rack=broker.rack)
            for broker in (each.on(ctx.listener) for each in cluster.topology.sorted_brokers())
        ],
        cluster_id=cluster.cluster_id,
        controller_id=cluster.topology.controller_id,
        topics=topics,
        cluster_authorized_operations=cluster_operations,
        error_code=ErrorCode.none,
    )
    return encode(build(load_response_schema(ApiKey.METADATA, ctx.api_version), response))


def _cluster_operations(ctx: RequestContext, request: MetadataRequest) -> int:
    """v8-v10's cluster_authorized_operations: 0 without DESCRIBE on the cluster, as Kafka."""
    if not request.include_cluster_authorized_operations:
        return OPERATIONS_NOT_REQUESTED
    if not ctx.allowed_on_cluster(AclOperation.DESCRIBE):
        return 0
    return ctx.authorized_operations(ResourceType.CLUSTER, CLUSTER_NAME, CLUSTER_OPERATIONS)


def _authorized_topic_entries(
    ctx: RequestContext, request: MetadataRequest, requested: tuple[str | uuid.UUID, ...] | None
) -> list[dict[str, Any]]:
    """Kafka's rules with an authorizer: listing every topic shows only those
    the principal may DESCRIBE (the others are not even mentioned); a topic
    named without DESCRIBE answers TOPIC_AUTHORIZATION_FAILED without saying
    whether it exists (asked by id: with the id and no name); auto-creation
    needs CREATE on the cluster or on the topic, else TOPIC_AUTHORIZATION_FAILED."""
    cluster = ctx.state.cluster
    include_ops = request.include_topic_authorized_operations
    if requested is None:
        return [
            _with_operations(ctx, _topic_entry(ctx, topic, False), include_ops)
            for topic in list(cluster.topics.values())
            if ctx.allowed(AclOperation.DESCRIBE, ResourceType.TOPIC, topic.name, audit=False)
        ]
    entries = []
    may_create_any: bool | None = None  # CREATE on the cluster, asked once if needed
    for wanted in requested:
        if isinstance(wanted, uuid.UUID):
            topic = cluster.topics_by_id.get(wanted)
            if topic is None:
                entries.append(error_topic_entry(None, wanted, ErrorCode.unknown_topic_id))
            elif not ctx.allowed(AclOperation.DESCRIBE, ResourceType.TOPIC, topic.name):
                entries.append(error_topic_entry(None, wanted, ErrorCode.topic_authorization_failed))
            else:
                entries.append(_with_operations(ctx, _topic_entry(ctx, topic, False), include_ops))
            continue
        if not ctx.allowed(AclOperation.DESCRIBE, ResourceType.TOPIC, wanted):
            entries.append(error_topic_entry(wanted, _ZERO_UUID, ErrorCode.topic_authorization_failed))
            continue
        topic = cluster.get(wanted)
        if topic is None and request.allow_auto_topic_creation and ctx.state.config.auto_create_topics_enable:
            if may_create_any is None:
                may_create_any = ctx.allowed_on_cluster(AclOperation.CREATE, audit=False)
            if not may_create_any and not ctx.allowed(AclOperation.CREATE, ResourceType.TOPIC, wanted):
                entries.append(error_topic_entry(wanted, _ZERO_UUID, ErrorCode.topic_authorization_failed))
                continue
            topic = cluster.auto_create(wanted)
        if topic is not None:
            entries.append(_with_operations(ctx, _topic_entry(ctx, topic, False), include_ops))
            continue
        # Unknown or invalid, as without an authorizer (with the principal's operations, as Kafka).
        entries.extend(_with_operations(ctx, entry, include_ops) for entry in _topic_entries(ctx, (wanted,), False))
    return entries


def _with_operations(ctx: RequestContext, entry: dict[str, Any], include_ops: bool) -> dict[str, Any]:
    if include_ops:
        entry["topic_authorized_operations"] = ctx.authorized_operations(
            ResourceType.TOPIC, entry["name"], TOPIC_OPERATIONS
        )
    return entry


def _requested_topics(version: int, request: MetadataRequest) -> tuple[str | uuid.UUID, ...] | None:
    """None for "all topics"; else a tuple of names (or topic ids, v10+)."""
    if request.topics is None:
        return None
    if version == 0 and len(request.topics) == 0:
        return None  # v0: an empty list means all topics
    requested = []
    for entry in request.topics:
        requested.append(entry.name if entry.name is not None else (entry.topic_id or _ZERO_UUID))
    return tuple(requested)


def _topic_entries(
    ctx: RequestContext, requested: tuple[str | uuid.UUID, ...] | None, include_ops: bool
) -> list[dict[str, Any]]:
    cluster = ctx.state.cluster
    if requested is None:
        return [_topic_entry(ctx, topic, include_ops) for topic in cluster.topics.values()]
    entries = []
    for wanted in requested:
        if isinstance(wanted, uuid.UUID):
            topic = cluster.topics_by_id.get(wanted)
            if topic is None:
                entries.append(error_topic_entry(None, wanted, ErrorCode.unknown_topic_id))
            else:
                entries.append(_topic_entry(ctx, topic, include_ops))
            continue
        topic = cluster.get(wanted)
        if topic is not None:
            entries.append(_topic_entry(ctx, topic, include_ops))
            continue
        try:
            validate_topic_name(wanted)
            error = ErrorCode.unknown_topic_or_partition
        except KafkaError as exc:
            error = exc.error_code
        entries.append(error_topic_entry(wanted, _ZERO_UUID, error))
    return entries


def _topic_entry(ctx: RequestContext, topic: Topic, include_ops: bool) -> dict[str, Any]:
    cluster = ctx.state.cluster
    partitions = []
    for partition in topic.partitions:
        view = cluster.partition_view(topic, partition.index)
        partitions.append(
            dict(
                error_code=view.error,
                partition_index=partition.index,
                leader_id=view.leader,
                leader_epoch=view.leader_epoch,
                replica_nodes=view.replicas,
                isr_nodes=view.isr,
                offline_replicas=view.offline_replicas,
            )
        )
    return dict(
        error_code=ErrorCode.none,
        name=topic.name,
        topic_id=topic.topic_id,
        is_internal=topic.is_internal,
        partitions=partitions,
        topic_authorized_operations=TOPIC_OPERATIONS if include_ops else OPERATIONS_NOT_REQUESTED,
    )


def error_topic_entry(
    name: str | None, topic_id: uuid.UUID, error: ErrorCode, operations: int = OPERATIONS_NOT_REQUESTED
) -> dict[str, Any]:
    """A topic that failed, as Metadata and DescribeTopicPartitions answer it."""
    return dict(
        error_code=error,
        name=name,
        topic_id=topic_id,
        is_internal=False,
        partitions=[],
        topic_authorized_operations=operations,
    )
