"""OffsetCommit, OffsetFetch and OffsetDelete."""

from __future__ import annotations

from kwire.coordinator.consumer_protocol import subscription_topics
from kwire.coordinator.group import GroupState
from kwire.coordinator.offsets import CommittedOffset
from kwire.handlers.base import RequestContext, respond
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.registry import api
from kwire.log.storage_errors import StorageError
from kwire.protocol.errors import ErrorCode



def _topic_name(ctx: RequestContext, entry) -> str | None:
    """Name of a request topic given by name, or by id (v10)."""
    name = getattr(entry, "name", None)
    if name is not None:
        return name
    topic = ctx.state.cluster.topics_by_id.get(getattr(entry, "topic_id", None))
    return topic.name if topic is not None else None


def _topic_key(entry, name: str | None) -> dict:
    return dict(name=name or "", topic_id=getattr(entry, "topic_id", None))


# --- OffsetCommit ------------------------------------------------------------------


@api(ApiKey.OFFSET_COMMIT, 2, 10)
def handle_offset_commit(ctx: RequestContext, request):
    service = ctx.state.groups
    cluster = ctx.state.cluster
    group_error = service.commit_check(
        request.group_id, request.generation_id_or_member_epoch, request.member_id or "",
        getattr(request, "group_instance_id", None),
    )
    now_ms = ctx.state.clock.wall_ms()
    max_metadata = ctx.state.config.offset_metadata_max_bytes
    accepted: dict[tuple[str, int], CommittedOffset] = {}
    topics = []
    for entry in request.topics:
        name = _topic_name(ctx, entry)
        topic = cluster.get(name) if name is not None else None
        results = []
        for part in entry.partitions:
            metadata = part.committed_metadata or ""
            if group_error != ErrorCode.none:
                error = group_error
            elif topic is None or not 0 <= part.partition_index < len(topic.partitions):
                error = ErrorCode.unknown_topic_id if name is None else ErrorCode.unknown_topic_or_partition
            elif len(metadata.encode()) > max_metadata:
                error = ErrorCode.offset_metadata_too_large
            else:
                error = ErrorCode.none
                accepted[(name, part.partition_index)] = CommittedOffset(
                    part.committed_offset, getattr(part, "committed_leader_epoch", -1), metadata, now_ms,
                )
            results.append(dict(partition_index=part.partition_index, error_code=error))
        topics.append(dict(_topic_key(entry, name), partitions=results))
    if accepted:
        try:
            service.commit(request.group_id, accepted)
        except StorageError:
            # As Kafka: a commit the offsets log refused answers NOT_COORDINATOR,
            # so the client finds the coordinator again and retries.
            fail_written(topics, ErrorCode.not_coordinator)
    return respond(ctx, dict(topics=topics))


def fail_written(topics: list[dict], error: int) -> None:
    """The partitions that were to be written (no error so far) get `error`."""
    for topic in topics:
        for result in topic["partitions"]:
            if result["error_code"] == ErrorCode.none:
                result["error_code"] = error


# --- OffsetFetch ---------------------------------------------------------------------


@api(ApiKey.OFFSET_FETCH, 1, 10)
def handle_offset_fetch(ctx: RequestContext, request):
    require_stable = bool(getattr(request, "require_stable", False))
    if ctx.api_version >= 8:
        groups = [_fetch_group(ctx, g.group_id, g.topics, require_stable) for g in request.groups]
        return respond(ctx, dict(groups=groups))
    group = _fetch_group(ctx, request.group_id, request.topics, require_stable)
    return respond(ctx, dict(topics=group["topics"], error_code=group["error_code"]))


def _fetch_group(ctx: RequestContext, group_id: str, requested_topics, require_stable: bool = False) -> dict:
    """With require_stable, partitions whose offsets wait in an open
    transaction answer UNSTABLE_OFFSET_COMMIT (the client retries)."""
    committed = ctx.state.groups.committed(group_id)
    unstable = ctx.state.groups.pending_offsets(group_id) if require_stable else set()
    topics = []
    if requested_topics is None:  # every committed offset of the group
        by_topic: dict[str, list[int]] = {}
        for topic, partition in sorted(committed):
            by_topic.setdefault(topic, []).append(partition)
        wanted = [(dict(name=t, topic_id=_topic_id(ctx, t)), t, parts) for t, parts in by_topic.items()]
    else:
        wanted = []
        for entry in requested_topics:
            name = _topic_name(ctx, entry)
            wanted.append((_topic_key(entry, name), name, list(entry.partition_indexes)))
    for key, name, partitions in wanted:
        results = []
        for index in partitions:
            found = committed.get((name, index))
            if (name, index) in unstable:
                found, error = None, ErrorCode.unstable_offset_commit
            else:
                error = ErrorCode.none
            results.append(dict(
                partition_index=index,
                committed_offset=found.offset if found else -1,
                committed_leader_epoch=found.leader_epoch if found else -1,
                metadata=found.metadata if found else "",
                error_code=error,
            ))
        topics.append(dict(key, partitions=results))
    return dict(group_id=group_id, topics=topics, error_code=ErrorCode.none)


def _topic_id(ctx: RequestContext, name: str):
    topic = ctx.state.cluster.get(name)
    return topic.topic_id if topic is not None else None


# --- OffsetDelete ------------------------------------------------------------------------


@api(ApiKey.OFFSET_DELETE, 0, 0)
def handle_offset_delete(ctx: RequestContext, request):
    service = ctx.state.groups
    group = service.group(request.group_id)
    if group is None:
        return respond(ctx, dict(error_code=ErrorCode.group_id_not_found, topics=[]))
    subscribed = _subscribed_topics(group) if group.state != GroupState.EMPTY else set()
    to_delete = []
    topics = []
    for entry in request.topics:
        topic = ctx.state.cluster.get(entry.name)
        results = []
        for part in entry.partitions:
            if topic is None or not 0 <= part.partition_index < len(topic.partitions):
                error = ErrorCode.unknown_topic_or_partition
            elif entry.name in subscribed:
                error = ErrorCode.group_subscribed_to_topic
            else:
                error = ErrorCode.none
                to_delete.append((entry.name, part.partition_index))
            results.append(dict(partition_index=part.partition_index, error_code=error))
        topics.append(dict(name=entry.name, partitions=results))
    try:
        service.delete_offsets(request.group_id, to_delete)
    except StorageError:
        return respond(ctx, dict(error_code=ErrorCode.not_coordinator, topics=[]))
    return respond(ctx, dict(error_code=ErrorCode.none, topics=topics))


def _subscribed_topics(group) -> set[str]:
    """Topics the members subscribe to, from their consumer-protocol metadata."""
    topics: set[str] = set()
    if group.protocol_type != "consumer":
        return topics
    for member in group.members.values():
        topics |= subscription_topics(member.metadata_for(group.protocol_name or ""))
    return topics
