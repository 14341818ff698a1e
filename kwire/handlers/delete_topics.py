"""DeleteTopics (v1-v6): by name, and from v6 by topic id.

Kafka's checks in Kafka's order (its controller's): deletion disabled
(`delete.topic.enable=false`) answers every entry; then malformed entries
and duplicates; then unknown ids and names. The deletion itself is one
metadata record for all the topics, written before any file is touched
(see Cluster.delete_topics), so it completes before the answer and
`timeout_ms` never runs out.

kwire refuses to delete its internal topics (`__consumer_offsets`,
`__transaction_state`) with INVALID_TOPIC_EXCEPTION: its group and
transaction coordinators keep their state there. (Kafka 4's controller
deletes them; its `kafka-topics.sh` refuses.)
"""

from __future__ import annotations

import uuid
from typing import Any

import attrs

from kwire.cluster.cluster import Topic
from kwire.handlers.authorization import NOTHING_REFUSED, refusal_message, refused_names
from kwire.handlers.base import RequestContext, log_admin_change, millis, note_result_errors, outcome, respond
from kwire.log.storage_errors import StorageError
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode
from kwire.protocol.registry import api
from kwire.security.resources import AclOperation, ResourceType

_ZERO_UUID = uuid.UUID(int=0)
# Before v3 Kafka answers a disabled deletion with INVALID_REQUEST.
_FIRST_VERSION_WITH_DELETION_DISABLED = 3


@attrs.frozen
class TopicToDelete:
    name: str | None
    topic_id: uuid.UUID | None  # None: not given (the zero uuid on the wire)


@attrs.frozen
class DeleteTopicsRequest:
    topics: list[TopicToDelete]
    timeout_ms: int

    @classmethod
    def from_wire(cls, request: Any, version: int) -> DeleteTopicsRequest:
        if version < 6:
            topics = [TopicToDelete(name, None) for name in request.topic_names]
        else:
            topics = [TopicToDelete(t.name, _given(t.topic_id)) for t in request.topics]
        return cls(topics, millis(request.timeout))


def _given(topic_id: uuid.UUID | None) -> uuid.UUID | None:
    return None if topic_id is None or topic_id == _ZERO_UUID else topic_id


@api(ApiKey.DELETE_TOPICS, 1, 6)
def handle_delete_topics(ctx: RequestContext, wire_request: Any) -> Any:
    request = DeleteTopicsRequest.from_wire(wire_request, ctx.api_version)
    results: list[dict[str, Any]] = []
    if not ctx.state.config.delete_topic_enable:
        disabled = (
            ErrorCode.topic_deletion_disabled
            if ctx.api_version >= _FIRST_VERSION_WITH_DELETION_DISABLED
            else ErrorCode.invalid_request
        )
        results = [_result(t.name, t.topic_id, disabled, None) for t in request.topics]
    else:
        to_delete = _resolve(ctx, request.topics, results)
        results.extend(_delete(ctx, to_delete))
    _log(ctx, results)
    return respond(ctx, dict(responses=results))


def _resolve(ctx: RequestContext, wanted: list[TopicToDelete], results: list[dict[str, Any]]) -> list[Topic]:
    """The topics to delete; an error result in `results` for every other entry."""
    cluster = ctx.state.cluster
    names: dict[str, int] = {}
    ids: dict[uuid.UUID, int] = {}
    for topic in wanted:
        if topic.name is None and topic.topic_id is None:
            results.append(_result(None, None, ErrorCode.invalid_request, "Neither topic name nor id were specified."))
        elif topic.name is not None and topic.topic_id is not None:
            results.append(
                _result(
                    topic.name,
                    topic.topic_id,
                    ErrorCode.invalid_request,
                    "You may not specify both topic name and topic id.",
                )
            )
        elif topic.name is not None:
            names[topic.name] = names.get(topic.name, 0) + 1
        elif topic.topic_id is not None:
            ids[topic.topic_id] = ids.get(topic.topic_id, 0) + 1
    for name in [name for name, count in names.items() if count > 1]:
        del names[name]
        results.append(_result(name, None, ErrorCode.invalid_request, "Duplicate topic name."))
    for topic_id in [topic_id for topic_id, count in ids.items() if count > 1]:
        del ids[topic_id]
        results.append(_result(None, topic_id, ErrorCode.invalid_request, "Duplicate topic id."))
    not_described, not_deleted = _refusals(ctx, names, ids)
    refusal = ErrorCode.topic_authorization_failed
    chosen: dict[uuid.UUID, Topic] = {}
    for topic_id in ids:
        found = cluster.topics_by_id.get(topic_id)
        if found is None:
            results.append(_result(None, topic_id, ErrorCode.unknown_topic_id, None))
        elif not_deleted and found.name in not_deleted:
            # The name is shown only to a principal that may DESCRIBE the topic.
            shown = None if found.name in not_described else found.name
            results.append(_result(shown, topic_id, refusal, refusal_message(refusal)))
        else:
            chosen[topic_id] = found
    for name in names:
        found = cluster.get(name)
        if not_described and name in not_described:
            # Refused before looking: whether the topic exists is not told.
            results.append(_result(name, None, refusal, refusal_message(refusal)))
        elif found is None:
            results.append(_result(name, None, ErrorCode.unknown_topic_or_partition, None))
        elif not_deleted and name in not_deleted:
            results.append(_result(name, None, refusal, refusal_message(refusal)))
        elif found.topic_id in chosen:
            # As Kafka: both the name and the id it maps to are left out.
            del chosen[found.topic_id]
            results.append(
                _result(
                    name,
                    found.topic_id,
                    ErrorCode.invalid_request,
                    "The provided topic name maps to an ID that was already supplied.",
                )
            )
        else:
            chosen[found.topic_id] = found
    to_delete = []
    for target in chosen.values():
        if target.is_internal:
            message = f"Topic {target.name} is an internal topic: kwire keeps its coordinators' state there"
            results.append(_result(target.name, target.topic_id, ErrorCode.invalid_topic_exception, message))
        else:
            to_delete.append(target)
    return to_delete


def _refusals(
    ctx: RequestContext, names: dict[str, int], ids: dict[uuid.UUID, int]
) -> tuple[frozenset[str], frozenset[str]]:
    """(topics the principal may not DESCRIBE, those it may not DELETE), by
    name (ids resolved to names): DELETE on the cluster allows them all, as
    in Kafka's controller."""
    if ctx.state.authorizer is None or ctx.allowed_on_cluster(AclOperation.DELETE, audit=False):
        return NOTHING_REFUSED, NOTHING_REFUSED
    by_id = ctx.state.cluster.topics_by_id
    wanted = list(names) + [by_id[topic_id].name for topic_id in ids if topic_id in by_id]
    return (
        refused_names(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, wanted),
        refused_names(ctx, AclOperation.DELETE, ResourceType.TOPIC, wanted),
    )


def _delete(ctx: RequestContext, topics: list[Topic]) -> list[dict[str, Any]]:
    if not topics:
        return []
    try:
        ctx.state.topic_admin.delete([topic.name for topic in topics])
    except StorageError as exc:
        return [_result(t.name, t.topic_id, ErrorCode.kafka_storage_error, exc.message) for t in topics]
    return [_result(t.name, t.topic_id, ErrorCode.none, None) for t in topics]


def _result(name: str | None, topic_id: uuid.UUID | None, error: ErrorCode, message: str | None) -> dict[str, Any]:
    return dict(name=name, topic_id=topic_id or _ZERO_UUID, error_code=error, error_message=message)


def _log(ctx: RequestContext, results: list[dict[str, Any]]) -> None:
    outcomes = ", ".join(
        f"{r['name'] if r['name'] is not None else r['topic_id']}: {outcome(r['error_code'], done='deleted')}"
        for r in results
    )
    note_result_errors(ctx, results)
    log_admin_change(
        ctx, outcomes, topics=[r["name"] if r["name"] is not None else str(r["topic_id"]) for r in results]
    )
