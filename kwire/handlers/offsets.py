"""OffsetCommit, OffsetFetch and OffsetDelete.

A group this node does not coordinate gets NOT_COORDINATOR where its
version puts errors (the client then asks FindCoordinator again)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Protocol

import attrs

from kwire.coordinator.consumer_protocol import subscription_topics
from kwire.coordinator.group import Group, GroupState
from kwire.coordinator.offsets import CommittedOffset
from kwire.handlers.authorization import NOTHING_REFUSED, group_refusal, refused_names
from kwire.handlers.base import RequestContext, log_admin_change, once_replicated, outcome, respond
from kwire.log.storage_errors import StorageError
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode
from kwire.protocol.registry import api
from kwire.security.resources import AclOperation, ResourceType


class NamedOrById(Protocol):
    """A request topic: by name up to v9, by id from OffsetCommit/OffsetFetch v10."""

    @property
    def name(self) -> str | None: ...

    @property
    def topic_id(self) -> uuid.UUID | None: ...


def _topic_name(ctx: RequestContext, entry: NamedOrById) -> str | None:
    """Name of a request topic given by name, or by id (v10)."""
    if entry.name is not None:
        return entry.name
    topic = ctx.state.cluster.topics_by_id.get(entry.topic_id) if entry.topic_id is not None else None
    return topic.name if topic is not None else None


def _topic_key(entry: NamedOrById, name: str | None) -> dict[str, Any]:
    return dict(name=name or "", topic_id=entry.topic_id)


# --- OffsetCommit ------------------------------------------------------------------


@attrs.frozen
class CommitPartition:
    """One partition's offset in OffsetCommit or TxnOffsetCommit."""

    partition_index: int
    committed_offset: int
    committed_leader_epoch: int  # -1 where the version has none
    committed_metadata: str

    @classmethod
    def from_wire(cls, part: Any, has_leader_epoch: bool) -> CommitPartition:
        return cls(
            part.partition_index,
            part.committed_offset,
            part.committed_leader_epoch if has_leader_epoch else -1,
            part.committed_metadata or "",
        )


@attrs.frozen
class CommitTopic:
    name: str | None
    topic_id: uuid.UUID | None
    partitions: list[CommitPartition]


@attrs.frozen
class OffsetCommitRequest:
    """An OffsetCommit request of any served version (v2+)."""

    group_id: str
    generation_id: int  # the member epoch for KIP-848 groups (v9+)
    member_id: str
    group_instance_id: str | None  # from v7
    topics: list[CommitTopic]

    @classmethod
    def from_wire(cls, request: Any, version: int) -> OffsetCommitRequest:
        by_id = version >= 10
        return cls(
            group_id=request.group_id,
            generation_id=request.generation_id_or_member_epoch,
            member_id=request.member_id or "",
            group_instance_id=request.group_instance_id if version >= 7 else None,
            topics=[
                CommitTopic(
                    None if by_id else t.name,
                    t.topic_id if by_id else None,
                    [CommitPartition.from_wire(p, version >= 6) for p in t.partitions],
                )
                for t in request.topics
            ],
        )


@api(ApiKey.OFFSET_COMMIT, 2, 10)
def handle_offset_commit(ctx: RequestContext, wire_request: Any) -> Any:
    request = OffsetCommitRequest.from_wire(wire_request, ctx.api_version)
    service = ctx.state.groups
    cluster = ctx.state.cluster
    # ErrorCode.none is falsy: the member is checked (its session refreshed) only on the coordinator.
    # As Kafka: READ on the group, then READ on each topic (TOPIC_AUTHORIZATION_FAILED).
    refusal = group_refusal(ctx, AclOperation.READ, request.group_id)
    group_error = (
        refusal
        or service.coordinator_error(request.group_id)
        or service.commit_check(
            request.group_id,
            request.generation_id,
            request.member_id,
            request.group_instance_id,
            ctx.api_version,
        )
    )
    refused = (
        NOTHING_REFUSED
        if refusal or ctx.state.authorizer is None
        else refused_names(ctx, AclOperation.READ, ResourceType.TOPIC, (_topic_name(ctx, t) for t in request.topics))
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
            metadata = part.committed_metadata
            error: ErrorCode
            if refusal:
                error = refusal
            elif refused and name in refused:
                error = ErrorCode.topic_authorization_failed
            elif group_error != ErrorCode.none:
                error = group_error
            elif name is None or topic is None or not 0 <= part.partition_index < len(topic.partitions):
                error = ErrorCode.unknown_topic_id if name is None else ErrorCode.unknown_topic_or_partition
            elif len(metadata.encode()) > max_metadata:
                error = ErrorCode.offset_metadata_too_large
            else:
                error = ErrorCode.none
                accepted[(name, part.partition_index)] = CommittedOffset(
                    part.committed_offset,
                    part.committed_leader_epoch,
                    metadata,
                    now_ms,
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
        else:
            return once_replicated(ctx, [service.offsets_partition(request.group_id)], answered(ctx, topics))
    return respond(ctx, dict(topics=topics))


def answered(ctx: RequestContext, topics: list[dict[str, Any]]) -> Callable[[ErrorCode | None], Any]:
    """The commit's answer once its write is replicated (or not: `error` on what was written)."""

    def answer(error: ErrorCode | None) -> Any:
        if error is not None:
            fail_written(topics, error)
        return respond(ctx, dict(topics=topics))

    return answer


def fail_written(topics: list[dict[str, Any]], error: ErrorCode) -> None:
    """The partitions that were to be written (no error so far) get `error`."""
    for topic in topics:
        for result in topic["partitions"]:
            if result["error_code"] == ErrorCode.none:
                result["error_code"] = error


# --- OffsetFetch ---------------------------------------------------------------------


@attrs.frozen
class FetchTopic:
    name: str | None
    topic_id: uuid.UUID | None
    partition_indexes: list[int]


@attrs.frozen
class FetchGroup:
    group_id: str
    topics: list[FetchTopic] | None  # None: every committed offset of the group
    member_id: str | None = None  # v9+: a KIP-848 member fetching (checked with its epoch)
    member_epoch: int = -1


@attrs.frozen
class OffsetFetchRequest:
    """An OffsetFetch request of any served version (v1+): one group before
    v8, several from v8."""

    groups: list[FetchGroup]
    require_stable: bool  # from v7

    @classmethod
    def from_wire(cls, request: Any, version: int) -> OffsetFetchRequest:
        by_id = version >= 10

        def topics(wanted: Any) -> list[FetchTopic] | None:
            if wanted is None:
                return None
            return [
                FetchTopic(None if by_id else t.name, t.topic_id if by_id else None, list(t.partition_indexes))
                for t in wanted
            ]

        if version >= 8:
            groups = [
                FetchGroup(
                    g.group_id,
                    topics(g.topics),
                    g.member_id if version >= 9 else None,
                    g.member_epoch if version >= 9 else -1,
                )
                for g in request.groups
            ]
        else:
            groups = [FetchGroup(request.group_id, topics(request.topics))]
        return cls(groups, version >= 7 and bool(request.require_stable))


@api(ApiKey.OFFSET_FETCH, 1, 10)
def handle_offset_fetch(ctx: RequestContext, wire_request: Any) -> Any:
    request = OffsetFetchRequest.from_wire(wire_request, ctx.api_version)
    groups = [_fetch_group(ctx, g, request.require_stable) for g in request.groups]
    if ctx.api_version >= 8:
        return respond(ctx, dict(groups=groups))
    group = groups[0]
    if group["error_code"] != ErrorCode.none and ctx.api_version < 2:
        # v1 has no error of its own: Kafka puts it on every requested partition.
        return respond(ctx, dict(topics=_partitions_failed(request.groups[0].topics or [], group["error_code"])))
    return respond(ctx, dict(topics=group["topics"], error_code=group["error_code"]))


def _partitions_failed(topics: list[FetchTopic], error: ErrorCode) -> list[dict[str, Any]]:
    return [
        dict(
            name=t.name or "",
            partitions=[
                dict(partition_index=i, committed_offset=-1, committed_leader_epoch=-1, metadata="", error_code=error)
                for i in t.partition_indexes
            ],
        )
        for t in topics
    ]


def _fetch_group(ctx: RequestContext, wanted_group: FetchGroup, require_stable: bool = False) -> dict[str, Any]:
    """With require_stable, partitions whose offsets wait in an open
    transaction answer UNSTABLE_OFFSET_COMMIT (the client retries). As Kafka:
    DESCRIBE on the group, and offsets are shown only for topics the
    principal may DESCRIBE (named ones answer TOPIC_AUTHORIZATION_FAILED)."""
    group_id, requested_topics = wanted_group.group_id, wanted_group.topics
    error = (
        group_refusal(ctx, AclOperation.DESCRIBE, group_id)
        or ctx.state.groups.coordinator_error(group_id)
        or ctx.state.groups.fetch_check(group_id, wanted_group.member_id, wanted_group.member_epoch)
    )
    if error != ErrorCode.none:
        return dict(group_id=group_id, topics=[], error_code=error)
    committed = ctx.state.groups.committed(group_id)
    unstable = ctx.state.groups.pending_offsets(group_id) if require_stable else set()
    topics = []
    wanted: list[tuple[dict[str, Any], str | None, list[int]]]
    if requested_topics is None:  # every committed offset of the group
        by_topic: dict[str, list[int]] = {}
        for topic, partition in sorted(committed):
            by_topic.setdefault(topic, []).append(partition)
        hidden = refused_names(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, by_topic)
        wanted = [
            (dict(name=t, topic_id=_topic_id(ctx, t)), t, parts) for t, parts in by_topic.items() if t not in hidden
        ]
    else:
        wanted = []
        for entry in requested_topics:
            name = _topic_name(ctx, entry)
            wanted.append((_topic_key(entry, name), name, entry.partition_indexes))
    refused = (
        refused_names(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, (name for _key, name, _parts in wanted))
        if requested_topics is not None
        else NOTHING_REFUSED
    )
    for key, name, partitions in wanted:
        results = []
        if refused and name in refused:
            results = [_offset_refused(index) for index in partitions]
            topics.append(dict(key, partitions=results))
            continue
        for index in partitions:
            # A topic id that names no topic has nothing committed.
            found = committed.get((name, index)) if name is not None else None
            if (name, index) in unstable:
                found, error = None, ErrorCode.unstable_offset_commit
            else:
                error = ErrorCode.none
            results.append(
                dict(
                    partition_index=index,
                    committed_offset=found.offset if found else -1,
                    committed_leader_epoch=found.leader_epoch if found else -1,
                    metadata=found.metadata if found else "",
                    error_code=error,
                )
            )
        topics.append(dict(key, partitions=results))
    return dict(group_id=group_id, topics=topics, error_code=ErrorCode.none)


def _offset_refused(index: int) -> dict[str, Any]:
    return dict(
        partition_index=index,
        committed_offset=-1,
        committed_leader_epoch=-1,
        metadata="",
        error_code=ErrorCode.topic_authorization_failed,
    )


def _topic_id(ctx: RequestContext, name: str) -> uuid.UUID | None:
    topic = ctx.state.cluster.get(name)
    return topic.topic_id if topic is not None else None


# --- OffsetDelete ------------------------------------------------------------------------


@api(ApiKey.OFFSET_DELETE, 0, 0)
def handle_offset_delete(ctx: RequestContext, request: Any) -> Any:
    service = ctx.state.groups
    # As Kafka: DELETE on the group, READ on each topic.
    error = group_refusal(ctx, AclOperation.DELETE, request.group_id) or service.coordinator_error(request.group_id)
    if error != ErrorCode.none:
        return respond(ctx, dict(error_code=error, topics=[]))
    refused = refused_names(ctx, AclOperation.READ, ResourceType.TOPIC, (t.name for t in request.topics))
    subscribed: set[str] | None = service.consumer_subscriptions(request.group_id)  # a KIP-848 group
    if subscribed is None:
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
            if refused and entry.name in refused:
                error = ErrorCode.topic_authorization_failed
            elif topic is None or not 0 <= part.partition_index < len(topic.partitions):
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
        log_admin_change(ctx, f"offsets of group {request.group_id!r}: {outcome(ErrorCode.not_coordinator)}")
        return respond(ctx, dict(error_code=ErrorCode.not_coordinator, topics=[]))
    outcomes = ", ".join(
        f"{t['name']}-{p['partition_index']}: {outcome(p['error_code'], done='deleted')}"
        for t in topics
        for p in t["partitions"]
    )
    log_admin_change(ctx, f"offsets of group {request.group_id!r}: {outcomes}")
    return respond(ctx, dict(error_code=ErrorCode.none, topics=topics))


def _subscribed_topics(group: Group) -> set[str]:
    """Topics the members subscribe to, from their consumer-protocol metadata."""
    topics: set[str] = set()
    if group.protocol_type != "consumer":
        return topics
    for member in group.members.values():
        topics |= subscription_topics(member.metadata_for(group.protocol_name or ""))
    return topics
