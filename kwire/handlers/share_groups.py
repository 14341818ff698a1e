"""Share groups (KIP-932): ShareGroupHeartbeat, ShareFetch, ShareAcknowledge,
ShareGroupDescribe and the share-group offsets admin APIs (Describe-, Alter-
and DeleteShareGroupOffsets).

Versions as Kafka 4.2 serves them to today's clients (librdkafka 2.16 sends
v1 of each). ShareFetch answers the log's record batches as stored, with
the AcquiredRecords ranges the consumer may deliver; acknowledgements ride
on ShareFetch or come in ShareAcknowledge, within a share session. With
group.share.enable=false none of them is advertised and each answers
UNSUPPORTED_VERSION."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Hashable
from typing import Any

from kwire.coordinator.share.share_partition import Acquired, split_ranges
from kwire.coordinator.share.share_service import share_wait_key
from kwire.coordinator.share.share_sessions import FINAL_EPOCH, INITIAL_EPOCH, ShareSession
from kwire.handlers.authorization import group_refusal
from kwire.handlers.base import (
    Delayed,
    RequestContext,
    log_admin_change,
    millis,
    respond,
)
from kwire.handlers.group_entries import group_operations, undescribed_group
from kwire.log import OffsetOutOfRange
from kwire.log.storage_errors import StorageError
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode
from kwire.protocol.records import HEADER_SIZE, parse_header
from kwire.protocol.registry import api
from kwire.security.resources import AclOperation, ResourceType

log = logging.getLogger("kwire.groups")
DEFAULT_MAX_RECORDS = 500
BATCH_OPTIMIZED, RECORD_LIMIT = 0, 1  # KIP-1206's ShareAcquireMode
READ_CHUNK_BYTES = 1024 * 1024

# --- ShareGroupHeartbeat ----------------------------------------------------------


@api(ApiKey.SHARE_GROUP_HEARTBEAT, 1, 1)
def handle_share_group_heartbeat(ctx: RequestContext, request: Any) -> Any:
    state = ctx.state
    group_id = request.group_id
    if not state.config.group_share_enable:
        return respond(ctx, dict(error_code=ErrorCode.unsupported_version, member_epoch=0, heartbeat_interval=0))
    if not group_id:
        return respond(
            ctx,
            dict(
                error_code=ErrorCode.invalid_request,
                error_message="GroupId can't be empty.",
                member_epoch=0,
                heartbeat_interval=0,
            ),
        )
    error = group_refusal(ctx, AclOperation.READ, group_id) or state.groups.coordinator_error(group_id)
    if error == ErrorCode.none and state.groups.group(group_id) is not None:
        error = ErrorCode.inconsistent_group_protocol  # a classic group has this id
    if error != ErrorCode.none:
        return respond(ctx, dict(error_code=error, member_epoch=0, heartbeat_interval=0))
    subscribed = tuple(request.subscribed_topic_names) if request.subscribed_topic_names is not None else None
    result = state.share_groups.heartbeat(
        group_id,
        request.member_id or "",
        request.member_epoch,
        subscribed,
        request.rack_id,
        ctx.client_id or "",
        ctx.client_host,
    )
    if result.error_code != ErrorCode.none:
        ctx.note_error(result.error_code, reason=result.error_message or "")
    assignment = None
    if result.assignment is not None:
        cluster = state.cluster
        assignment = dict(
            topic_partitions=[
                dict(topic_id=cluster.topics[name].topic_id, partitions=list(partitions))
                for name, partitions in result.assignment.items()
                if name in cluster.topics
            ]
        )
    return respond(
        ctx,
        dict(
            error_code=result.error_code,
            error_message=result.error_message,
            member_id=result.member_id,
            member_epoch=result.member_epoch,
            heartbeat_interval=state.share_groups.heartbeat_interval_ms(group_id),
            assignment=assignment,
        ),
    )


# --- the share session a ShareFetch or ShareAcknowledge belongs to --------------------


def _topic_name(ctx: RequestContext, topic_id: uuid.UUID | None) -> str | None:
    topic = ctx.state.cluster.topics_by_id.get(topic_id) if topic_id is not None else None
    return topic.name if topic is not None else None


def _leader(ctx: RequestContext, name: str | None, index: int) -> dict[str, int]:
    partition = ctx.state.cluster.partition(name, index) if name is not None else None
    if partition is None:
        return dict(leader_id=-1, leader_epoch=-1)
    return dict(leader_id=partition.leader, leader_epoch=partition.leader_epoch)


def _node_endpoints(ctx: RequestContext, answered: list[tuple[str | None, int, int]]) -> list[dict[str, Any]]:
    """NodeEndpoints: where the leader of each (name, index, error) answered
    NOT_LEADER_OR_FOLLOWER listens, so the consumer moves there at once."""
    brokers = ctx.state.cluster.topology.brokers
    leaders = set()
    for name, index, error in answered:
        partition = ctx.state.cluster.partition(name, index) if name is not None else None
        if error == ErrorCode.not_leader_or_follower and partition is not None and partition.leader in brokers:
            leaders.add(partition.leader)
    endpoints = [brokers[node].on(ctx.listener) for node in sorted(leaders)]
    return [dict(node_id=e.node_id, host=e.host, port=e.port, rack=e.rack) for e in endpoints]


def _partition_error(ctx: RequestContext, name: str | None, index: int) -> ErrorCode:
    """Why this node cannot serve the partition, or none."""
    cluster = ctx.state.cluster
    if name is None:
        return ErrorCode.unknown_topic_id
    topic = cluster.topics.get(name)
    if topic is None or not 0 <= index < len(topic.partitions):
        return ErrorCode.unknown_topic_or_partition
    if not ctx.allowed(AclOperation.READ, ResourceType.TOPIC, name):
        return ErrorCode.topic_authorization_failed
    if not cluster.leads(name, index):
        return ErrorCode.not_leader_or_follower
    return ErrorCode.none


def _acknowledge(
    ctx: RequestContext,
    group_id: str,
    member_id: str,
    name: str | None,
    index: int,
    batches: Any,
    renew_allowed: bool = False,
) -> ErrorCode:
    """A partition's acknowledgement batches in order; the first error stops
    them. RENEW (type 4) only when the request says IsRenewAck (v2)."""
    error = _partition_error(ctx, name, index)
    if error != ErrorCode.none or name is None:
        return error
    partition = ctx.state.share_groups.partition(group_id, name, index)
    if partition is None:
        return ErrorCode.unknown_topic_or_partition
    previous_last = -1
    for batch in batches:  # as Kafka: batches in offset order, none overlapping, or none is applied
        if batch.first_offset <= previous_last:
            return ErrorCode.invalid_request
        previous_last = batch.last_offset
    now = ctx.state.share_groups.now()
    for batch in batches:
        error = partition.acknowledge(
            member_id, batch.first_offset, batch.last_offset, list(batch.acknowledge_types), renew_allowed, now
        )
        if error != ErrorCode.none:
            break
    if partition.has_available():
        ctx.state.notify(share_wait_key(name, index))  # released records: a parked fetch may take them
    return error


def _session_for(ctx: RequestContext, group_id: str, member_id: str, epoch: int) -> ShareSession | ErrorCode:
    sessions = ctx.state.share_groups.sessions
    if epoch == INITIAL_EPOCH:
        return sessions.open(group_id, member_id, ctx.state.share_groups.now())
    return sessions.find(group_id, member_id, epoch)


def _close_session(ctx: RequestContext, session: ShareSession) -> None:
    service = ctx.state.share_groups
    service.sessions.close(session.group_id, session.member_id)
    service.release_session(session.group_id, session.member_id, list(session.partitions))


def _first_refusal(ctx: RequestContext, group_id: str | None, member_id: str | None) -> ErrorCode:
    if not ctx.state.config.group_share_enable:
        return ErrorCode.unsupported_version
    if not group_id or not member_id:
        return ErrorCode.invalid_request
    return group_refusal(ctx, AclOperation.READ, group_id)


# --- ShareFetch ----------------------------------------------------------------------


def _renew_refusal(request: Any) -> ErrorCode:
    """v2's checks (KIP-1206, KIP-1222): a known ShareAcquireMode; a fetch
    carrying renewals fetches nothing, so its fetch parameters must all be 0."""
    if getattr(request, "share_acquire_mode", BATCH_OPTIMIZED) not in (BATCH_OPTIMIZED, RECORD_LIMIT):
        return ErrorCode.invalid_request
    if getattr(request, "is_renew_ack", False) and (
        request.max_bytes or request.min_bytes or request.max_records or millis(request.max_wait)
    ):
        return ErrorCode.invalid_request
    return ErrorCode.none


@api(ApiKey.SHARE_FETCH, 1, 2)
def handle_share_fetch(ctx: RequestContext, request: Any) -> Any:
    """v2 adds ShareAcquireMode (KIP-1206: batch-optimized, the default, or
    record-limit) and renew acknowledgements (KIP-1222). kwire acquires at
    most MaxRecords records in either mode (batch-optimized lets Kafka round
    up to a batch's end; never doing so is within its contract); in
    batch-optimized mode the AcquiredRecords ranges are cut at BatchSize."""
    group_id, member_id, epoch = request.group_id, request.member_id, request.share_session_epoch
    service = ctx.state.share_groups
    lock_ms = service.lock_duration_ms(group_id) if group_id else 0

    def top_error(error: ErrorCode) -> Any:
        ctx.note_error(error)
        return respond(ctx, dict(error_code=error, acquisition_lock_timeout=lock_ms, responses=[], node_endpoints=[]))

    error = _first_refusal(ctx, group_id, member_id) or _renew_refusal(request)
    if error != ErrorCode.none:
        return top_error(error)
    assert group_id is not None and member_id is not None
    renew = bool(getattr(request, "is_renew_ack", False))
    batch_size = request.batch_size if getattr(request, "share_acquire_mode", BATCH_OPTIMIZED) == BATCH_OPTIMIZED else 0
    wanted = [
        (topic.topic_id, _topic_name(ctx, topic.topic_id), p.partition_index, p.acknowledgement_batches)
        for topic in request.topics
        for p in topic.partitions
    ]
    if epoch == INITIAL_EPOCH and any(batches for *_rest, batches in wanted):
        return top_error(ErrorCode.invalid_request)  # nothing can be acquired before a session
    found = _session_for(ctx, group_id, member_id, epoch)
    if isinstance(found, ErrorCode):
        return top_error(found)
    session = found
    sessions = service.sessions
    # (topic id, name, index) -> [error code, acknowledge error code] of the partitions to answer
    answers: dict[tuple[uuid.UUID | None, str | None, int], list[int]] = {}
    for topic_id, name, index, batches in wanted:
        entry = answers.setdefault((topic_id, name, index), [ErrorCode.none, ErrorCode.none])
        if batches:
            entry[1] = _acknowledge(ctx, group_id, member_id, name, index, batches, renew)
    if epoch == FINAL_EPOCH:
        _close_session(ctx, session)
        return _fetch_response(ctx, lock_ms, answers, {})
    if epoch != INITIAL_EPOCH:  # (a new session already expects epoch 1)
        sessions.advance(session, service.now())
    forgotten = [
        (name, index)
        for topic in request.forgotten_topics_data
        for index in topic.partitions
        if (name := _topic_name(ctx, topic.topic_id)) is not None
    ]
    sessions.forget(session, forgotten)
    service.release_session(group_id, member_id, forgotten)
    for topic_id, name, index, _batches in wanted:
        error = _partition_error(ctx, name, index)
        answers[(topic_id, name, index)][0] = error
        if error == ErrorCode.none and name is not None:
            sessions.add(session, [(name, index)])
    max_records = request.max_records if request.max_records > 0 else 0
    max_bytes = min(request.max_bytes, ctx.state.config.fetch_max_bytes)
    max_wait_ms = millis(request.max_wait)

    def attempt(final: bool) -> Any:
        if max_records == 0:
            return _fetch_response(ctx, lock_ms, answers, {})
        got = _acquire(ctx, session, max_records, max_bytes, batch_size)
        if got or final or max_wait_ms <= 0:
            return _fetch_response(ctx, lock_ms, answers, got)
        return None

    response = attempt(False)
    if response is not None:
        return response
    keys: list[Hashable] = [
        key for name, index in session.partitions for key in ((name, index), share_wait_key(name, index))
    ]
    return Delayed(keys, max_wait_ms, attempt)


def _acquire(
    ctx: RequestContext, session: ShareSession, max_records: int, max_bytes: int, batch_size: int = 0
) -> dict[tuple[str, int], tuple[bytes, list[Acquired]]]:
    """Records acquired for the member from its session's partitions, with
    the stored batches holding them."""
    service = ctx.state.share_groups
    now = service.now()
    got: dict[tuple[str, int], tuple[bytes, list[Acquired]]] = {}
    records_left, bytes_left = max_records, max_bytes
    for name, index in list(session.partitions):
        if records_left <= 0 or bytes_left <= 0:
            break
        if _partition_error(ctx, name, index) != ErrorCode.none:
            continue
        share = service.partition(session.group_id, name, index)
        cluster_partition = ctx.state.cluster.partition(name, index)
        if share is None or cluster_partition is None:
            continue
        share.expire_locks(now)
        log_ = cluster_partition.log
        read_committed = service.isolation_committed(session.group_id)
        upper = log_.last_stable_offset if read_committed else log_.high_watermark
        offset = share.next_fetch_offset()
        try:
            chunks = log_.read(offset, min(bytes_left, READ_CHUNK_BYTES), upper)
        except OffsetOutOfRange:
            share.move_start(log_.log_start_offset)
            continue
        except StorageError:
            continue
        data = b"".join(bytes(chunk) for chunk in chunks)
        # read_committed: an aborted transaction's records are never delivered
        # (Kafka archives them), like control batches.
        aborted = log_.transactions.aborted_spans(offset, upper) if read_committed else {}
        batches = _batches(data, aborted)
        acquired = share.acquire(session.member_id, [(b, last, c) for b, last, c, _s, _e in batches], records_left, now)
        if not acquired:
            continue
        first, last = acquired[0].first_offset, acquired[-1].last_offset
        spans = [(start, end) for base, top, _c, start, end in batches if top >= first and base <= last]
        payload = data[spans[0][0] : spans[-1][1]]
        got[(name, index)] = (payload, split_ranges(acquired, batch_size))
        records_left -= sum(a.last_offset - a.first_offset + 1 for a in acquired)
        bytes_left -= len(payload)
    return got


def _batches(
    data: bytes, aborted: dict[int, list[tuple[int, int]]] | None = None
) -> list[tuple[int, int, bool, int, int]]:
    """(base offset, last offset, never delivered, start, end) of each whole
    batch in `data`: control batches and those of the `aborted` transactions
    (producer id -> (first offset, abort marker offset)) are never delivered."""
    found = []
    position = 0
    while position + HEADER_SIZE <= len(data):
        header = parse_header(data, position)
        end = position + header.size
        if header.size < HEADER_SIZE or end > len(data):
            break
        skip = header.is_control or (
            header.is_transactional
            and any(
                first <= header.base_offset < marker for first, marker in (aborted or {}).get(header.producer_id, ())
            )
        )
        found.append((header.base_offset, header.last_offset, skip, position, end))
        position = end
    return found


def _fetch_response(
    ctx: RequestContext,
    lock_ms: int,
    answers: dict[tuple[uuid.UUID | None, str | None, int], list[int]],
    got: dict[tuple[str, int], tuple[bytes, list[Acquired]]],
) -> Any:
    by_topic: dict[uuid.UUID | None, list[dict[str, Any]]] = {}
    named = {(name, index): topic_id for topic_id, name, index in answers}
    cluster = ctx.state.cluster
    for got_name, got_index in got:
        topic = cluster.topics.get(got_name)
        named.setdefault((got_name, got_index), topic.topic_id if topic is not None else None)
    for (name, index), topic_id in named.items():
        error, ack_error = answers.get((topic_id, name, index), [ErrorCode.none, ErrorCode.none])
        payload, acquired = got.get((name, index), (b"", [])) if name is not None else (b"", [])
        if error != ErrorCode.none:
            ctx.note_error(error)
        by_topic.setdefault(topic_id, []).append(
            dict(
                partition_index=index,
                error_code=error,
                acknowledge_error_code=ack_error,
                current_leader=_leader(ctx, name, index),
                records=payload,  # (not nullable in v1: empty when nothing was acquired)
                acquired_records=[
                    dict(first_offset=a.first_offset, last_offset=a.last_offset, delivery_count=a.delivery_count)
                    for a in acquired
                ],
            )
        )
    ctx.state.share_groups.persist()
    answered = [(name, index, error) for (_id, name, index), errors in answers.items() for error in errors]
    return respond(
        ctx,
        dict(
            error_code=ErrorCode.none,
            acquisition_lock_timeout=lock_ms,
            responses=[dict(topic_id=topic_id, partitions=parts) for topic_id, parts in by_topic.items()],
            node_endpoints=_node_endpoints(ctx, answered),
        ),
    )


# --- ShareAcknowledge -------------------------------------------------------------------


@api(ApiKey.SHARE_ACKNOWLEDGE, 1, 2)
def handle_share_acknowledge(ctx: RequestContext, request: Any) -> Any:
    """v2 (KIP-1222): RENEW acknowledgements when IsRenewAck is set, and the
    lock duration in the response (AcquisitionLockTimeoutMs)."""
    group_id, member_id, epoch = request.group_id, request.member_id, request.share_session_epoch
    renew = bool(getattr(request, "is_renew_ack", False))
    lock_ms = ctx.state.share_groups.lock_duration_ms(group_id) if group_id else 0

    def top_error(error: ErrorCode) -> Any:
        ctx.note_error(error)
        return respond(ctx, dict(error_code=error, acquisition_lock_timeout=lock_ms, responses=[], node_endpoints=[]))

    error = _first_refusal(ctx, group_id, member_id)
    if error != ErrorCode.none:
        return top_error(error)
    assert group_id is not None and member_id is not None
    if epoch == INITIAL_EPOCH:
        return top_error(ErrorCode.invalid_share_session_epoch)  # acknowledging needs a session
    found = ctx.state.share_groups.sessions.find(group_id, member_id, epoch)
    if isinstance(found, ErrorCode):
        return top_error(found)
    session = found
    responses = []
    answered: list[tuple[str | None, int, int]] = []
    for topic in request.topics:
        name = _topic_name(ctx, topic.topic_id)
        partitions = []
        for p in topic.partitions:
            error = _acknowledge(ctx, group_id, member_id, name, p.partition_index, p.acknowledgement_batches, renew)
            if error != ErrorCode.none:
                ctx.note_error(error)
            answered.append((name, p.partition_index, error))
            partitions.append(
                dict(
                    partition_index=p.partition_index,
                    error_code=error,
                    current_leader=_leader(ctx, name, p.partition_index),
                )
            )
        responses.append(dict(topic_id=topic.topic_id, partitions=partitions))
    if epoch == FINAL_EPOCH:
        _close_session(ctx, session)
    else:
        ctx.state.share_groups.sessions.advance(session, ctx.state.share_groups.now())
    ctx.state.share_groups.persist()
    return respond(
        ctx,
        dict(
            error_code=ErrorCode.none,
            acquisition_lock_timeout=lock_ms,
            responses=responses,
            node_endpoints=_node_endpoints(ctx, answered),
        ),
    )


# --- ShareGroupDescribe / DescribeShareGroupOffsets ---------------------------------------


@api(ApiKey.SHARE_GROUP_DESCRIBE, 1, 1)
def handle_share_group_describe(ctx: RequestContext, request: Any) -> Any:
    state = ctx.state
    include_ops = bool(request.include_authorized_operations)
    described = []
    for group_id in request.group_ids:
        error = (
            ErrorCode.unsupported_version if not state.config.group_share_enable else ErrorCode.none
        ) or group_refusal(ctx, AclOperation.DESCRIBE, group_id)
        error = error or state.groups.coordinator_error(group_id)
        group = state.share_groups.groups.get(group_id) if error == ErrorCode.none else None
        message = None
        if error == ErrorCode.none and group is None:
            error = ErrorCode.group_id_not_found
            known = state.groups.group(group_id) is not None
            message = f"Group {group_id} is not a share group." if known else f"Group {group_id} not found."
        if group is None:
            ctx.note_error(error)
            described.append(undescribed_group(group_id, error, message, "Dead"))
            continue
        cluster = state.cluster
        members = [
            dict(
                member_id=m.member_id,
                rack_id=m.rack_id,
                member_epoch=m.member_epoch,
                client_id=m.client_id,
                client_host=m.client_host,
                subscribed_topic_names=list(m.subscribed),
                assignment=dict(
                    topic_partitions=[
                        dict(topic_id=cluster.topics[name].topic_id, topic_name=name, partitions=list(parts))
                        for name, parts in m.assignment.items()
                        if name in cluster.topics
                    ]
                ),
            )
            for m in group.members.values()
        ]
        described.append(
            dict(
                error_code=ErrorCode.none,
                error_message=None,
                group_id=group_id,
                group_state=group.state,
                group_epoch=group.group_epoch,
                assignment_epoch=group.group_epoch,
                assignor_name="simple",
                members=members,
                authorized_operations=group_operations(ctx, group_id, include_ops),
            )
        )
    return respond(ctx, dict(groups=described))


@api(ApiKey.DESCRIBE_SHARE_GROUP_OFFSETS, 0, 1)
def handle_describe_share_group_offsets(ctx: RequestContext, request: Any) -> Any:
    """Each share-partition's start offset (-1 before the group first reads
    it) and, from v1, its lag: records from the start offset to the high
    watermark not yet acknowledged or archived."""
    state = ctx.state
    groups = []
    for wanted in request.groups:
        group_id = wanted.group_id
        error = (
            ErrorCode.unsupported_version if not state.config.group_share_enable else ErrorCode.none
        ) or group_refusal(ctx, AclOperation.DESCRIBE, group_id)
        error = error or state.groups.coordinator_error(group_id)
        if error != ErrorCode.none:
            ctx.note_error(error)
            groups.append(dict(group_id=group_id, topics=[], error_code=error, error_message=None))
            continue
        known = state.share_groups.group_partitions(group_id)
        if wanted.topics is None:  # every topic the group has state for
            names: dict[str, list[int]] = {}
            for name, index in sorted(known):
                names.setdefault(name, []).append(index)
            asked = list(names.items())
        else:
            asked = [(t.topic_name, list(t.partitions)) for t in wanted.topics]
        topics = []
        for name, indexes in asked:
            topic = state.cluster.topics.get(name)
            partitions = []
            for index in indexes:
                share = known.get((name, index))
                part_error = ErrorCode.none
                if topic is None or not 0 <= index < len(topic.partitions):
                    part_error = ErrorCode.unknown_topic_or_partition
                elif not ctx.allowed(AclOperation.DESCRIBE, ResourceType.TOPIC, name):
                    part_error = ErrorCode.topic_authorization_failed
                lag = -1
                if share is not None and topic is not None and part_error == ErrorCode.none:
                    lag = state.share_groups.lag(share, topic.partitions[index].log.high_watermark)
                partitions.append(
                    dict(
                        partition_index=index,
                        start_offset=share.start_offset if share is not None and part_error == 0 else -1,
                        leader_epoch=topic.partitions[index].leader_epoch if part_error == 0 and topic else -1,
                        lag=lag,
                        error_code=part_error,
                        error_message=None,
                    )
                )
            topics.append(
                dict(topic_name=name, topic_id=topic.topic_id if topic is not None else None, partitions=partitions)
            )
        groups.append(dict(group_id=group_id, topics=topics, error_code=ErrorCode.none, error_message=None))
    return respond(ctx, dict(groups=groups))


# --- AlterShareGroupOffsets / DeleteShareGroupOffsets ----------------------------------------


def _admin_refusal(ctx: RequestContext, group_id: str) -> tuple[ErrorCode, str | None]:
    """Why a share group's offsets may not be changed now: Kafka's rules (the
    group must be a share group, and empty)."""
    state = ctx.state
    if not state.config.group_share_enable:
        return ErrorCode.unsupported_version, None
    error = group_refusal(
        ctx, AclOperation.DELETE if ctx.api_key == ApiKey.DELETE_SHARE_GROUP_OFFSETS else AclOperation.READ, group_id
    )
    error = error or state.groups.coordinator_error(group_id)
    if error != ErrorCode.none:
        return error, None
    if state.groups.group(group_id) is not None:
        return ErrorCode.group_id_not_found, f"Group {group_id} is not a share group."
    group = state.share_groups.groups.get(group_id)
    if group is not None and group.members:
        return ErrorCode.non_empty_group, f"The group {group_id} has active members."
    return ErrorCode.none, None


def _refused_admin_request(ctx: RequestContext, group_id: str) -> Any:
    """The whole answer of an Alter/DeleteShareGroupOffsets that may not go ahead, None when it may."""
    error, message = _admin_refusal(ctx, group_id)
    if error == ErrorCode.none:
        return None
    ctx.note_error(error, reason=message or "")
    return respond(ctx, dict(error_code=error, error_message=message, responses=[]))


@api(ApiKey.ALTER_SHARE_GROUP_OFFSETS, 0, 0)
def handle_alter_share_group_offsets(ctx: RequestContext, request: Any) -> Any:
    group_id = request.group_id
    refused = _refused_admin_request(ctx, group_id)
    if refused is not None:
        return refused
    cluster = ctx.state.cluster
    responses = []
    for wanted in request.topics:
        topic = cluster.topics.get(wanted.topic_name)
        partitions = []
        for p in wanted.partitions:
            part_error = ErrorCode.none
            if topic is None or not 0 <= p.partition_index < len(topic.partitions):
                part_error = ErrorCode.unknown_topic_or_partition
            elif not ctx.allowed(AclOperation.READ, ResourceType.TOPIC, topic.name):
                part_error = ErrorCode.topic_authorization_failed
            elif p.start_offset < 0:
                part_error = ErrorCode.invalid_request
            else:
                ctx.state.share_groups.reset_start(group_id, topic.name, p.partition_index, p.start_offset)
            partitions.append(dict(partition_index=p.partition_index, error_code=part_error, error_message=None))
        responses.append(
            dict(
                topic_name=wanted.topic_name,
                topic_id=topic.topic_id if topic is not None else None,
                partitions=partitions,
            )
        )
    log_admin_change(ctx, f"share group {group_id}: start offsets of {len(responses)} topic(s) altered", group=group_id)
    return respond(ctx, dict(error_code=ErrorCode.none, error_message=None, responses=responses))


@api(ApiKey.DELETE_SHARE_GROUP_OFFSETS, 0, 0)
def handle_delete_share_group_offsets(ctx: RequestContext, request: Any) -> Any:
    group_id = request.group_id
    refused = _refused_admin_request(ctx, group_id)
    if refused is not None:
        return refused
    cluster = ctx.state.cluster
    responses = []
    for wanted in request.topics:
        topic = cluster.topics.get(wanted.topic_name)
        topic_error = ErrorCode.none
        if topic is None:
            topic_error = ErrorCode.unknown_topic_or_partition
        elif not ctx.allowed(AclOperation.READ, ResourceType.TOPIC, topic.name):
            topic_error = ErrorCode.topic_authorization_failed
        else:
            try:
                ctx.state.share_groups.delete_state(group_id, topic.name)
            except StorageError:
                topic_error = ErrorCode.kafka_storage_error
        responses.append(
            dict(
                topic_name=wanted.topic_name,
                topic_id=topic.topic_id if topic is not None else None,
                error_code=topic_error,
                error_message=None,
            )
        )
    log_admin_change(ctx, f"share group {group_id}: state of {len(responses)} topic(s) deleted", group=group_id)
    return respond(ctx, dict(error_code=ErrorCode.none, error_message=None, responses=responses))


# --- DeleteGroups of a share group (the DeleteGroups handler asks here) ----------------------


def is_share_group(ctx: RequestContext, group_id: str) -> bool:
    return group_id in ctx.state.share_groups.groups and ctx.state.groups.group(group_id) is None


def delete_share_group(ctx: RequestContext, group_id: str) -> ErrorCode:
    """An empty share group goes with its share-partition state. In a cluster
    run by this process the nodes leading its partitions forget it as well
    (there, as Kafka's share coordinator would be told by DeleteShareGroupState)."""
    state = ctx.state
    error = state.share_groups.delete_group(group_id)
    if error != ErrorCode.none or state.peers is None:
        return error
    leaders = {p.leader for topic in state.cluster.topics.values() for p in topic.partitions}
    for node_id in sorted(leaders - {state.config.node_id}):
        peer = state.peers(node_id) if node_id >= 0 else None
        if peer is not None:
            try:
                peer.share_groups.forget_group_state(group_id)
            except StorageError:
                log.warning("Node %d could not forget the state of share group %s", node_id, group_id)
    return ErrorCode.none
