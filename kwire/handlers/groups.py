"""The classic group protocol: JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
DescribeGroups, ListGroups, DeleteGroups.

A request for a group this node does not coordinate is answered
NOT_COORDINATOR in its version's place for errors (the client then asks
FindCoordinator again); ListGroups lists the groups this node coordinates."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kwire.coordinator.group import GroupState, JoinResult, Member, SyncResult
from kwire.coordinator.group_coordinator import JoinRequest, SyncRequest
from kwire.coordinator.groups_service import group_wait_key
from kwire.handlers.authorization import group_refusal
from kwire.handlers.base import (
    OPERATIONS_NOT_REQUESTED,
    Delayed,
    RequestContext,
    log_admin_change,
    millis,
    note_result_errors,
    outcome,
    respond,
)
from kwire.handlers.group_entries import group_operations
from kwire.handlers.share_groups import delete_share_group, is_share_group
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode
from kwire.protocol.registry import api
from kwire.security.resources import AclOperation, ResourceType

_WAIT_SLACK_MS = 5_000
log = logging.getLogger("kwire.groups")


def _waiting(
    ctx: RequestContext, group_id: str, max_wait_ms: int, ready: Callable[[], Any], answer: Callable[[Any], Any]
) -> Delayed:
    """Park until `ready()` gives a result; `answer(result)` builds the response."""

    def complete(final: bool) -> Any:
        result = ready()
        if result is None and not final:
            return None  # keep waiting
        return answer(result)  # `answer` turns a timed-out None into an error

    return Delayed([group_wait_key(group_id)], max_wait_ms + _WAIT_SLACK_MS, complete)


# --- JoinGroup -------------------------------------------------------------------


# Kafka 4.x ranges (JoinGroup v0-1 were removed by KIP-896), up to kio's newest.
@api(ApiKey.JOIN_GROUP, 2, 9)
def handle_join_group(ctx: RequestContext, request: Any) -> Any:
    join = join_request_from_wire(request, ctx.api_version, ctx.client_id, ctx.client_host)
    error = group_refusal(ctx, AclOperation.READ, join.group_id) or ctx.state.groups.coordinator_error(join.group_id)
    if error != ErrorCode.none:
        return _join_response(ctx, JoinResult(error), join.member_id)
    outcome = ctx.state.groups.join(join)
    if isinstance(outcome, JoinResult):
        return _join_response(ctx, outcome, join.member_id)
    member: Member = outcome
    if member.join_result is not None:  # completed within this very call
        return _join_response(ctx, member.join_result, member.member_id)
    return _waiting(
        ctx,
        join.group_id,
        join.rebalance_timeout_ms,
        lambda: member.join_result,
        lambda result: _join_response(ctx, result or JoinResult(ErrorCode.rebalance_in_progress), member.member_id),
    )


def join_request_from_wire(request: Any, version: int, client_id: str | None, client_host: str) -> JoinRequest:
    """The coordinator's JoinRequest from a JoinGroup of any served version (v2+)."""
    return JoinRequest(
        group_id=request.group_id,
        member_id=request.member_id or "",
        group_instance_id=request.group_instance_id if version >= 5 else None,
        client_id=client_id or "",
        client_host=client_host,
        session_timeout_ms=millis(request.session_timeout),
        rebalance_timeout_ms=millis(request.rebalance_timeout),
        protocol_type=request.protocol_type,
        protocols=[(p.name, bytes(p.metadata)) for p in request.protocols],
        require_known_member_id=version >= 4,
        supports_skip_assignment=version >= 9,
    )


def _join_response(ctx: RequestContext, result: JoinResult, member_id: str) -> Any:
    log.debug(
        "JoinGroup v%d %s -> %s generation %d leader %s",
        ctx.api_version,
        result.member_id or member_id,
        ErrorCode(result.error_code).name,
        result.generation_id,
        result.leader,
    )
    flexible_names = ctx.api_version >= 7  # protocol name nullable from v7
    return respond(
        ctx,
        dict(
            error_code=result.error_code,
            generation_id=result.generation_id,
            protocol_type=result.protocol_type,
            protocol_name=result.protocol_name if flexible_names else (result.protocol_name or ""),
            leader=result.leader,
            skip_assignment=result.skip_assignment,
            member_id=result.member_id or member_id,
            members=[dict(member_id=m, group_instance_id=i, metadata=md) for m, i, md in result.members],
        ),
    )


# --- SyncGroup -------------------------------------------------------------------


def sync_request_from_wire(request: Any, version: int) -> SyncRequest:
    """The coordinator's SyncRequest from a SyncGroup of any served version."""
    return SyncRequest(
        group_id=request.group_id,
        generation_id=request.generation_id,
        member_id=request.member_id,
        group_instance_id=request.group_instance_id if version >= 3 else None,
        protocol_type=request.protocol_type if version >= 5 else None,
        protocol_name=request.protocol_name if version >= 5 else None,
        assignments={a.member_id: bytes(a.assignment) for a in request.assignments},
    )


@api(ApiKey.SYNC_GROUP, 0, 5)
def handle_sync_group(ctx: RequestContext, wire_request: Any) -> Any:
    request = sync_request_from_wire(wire_request, ctx.api_version)
    error = group_refusal(ctx, AclOperation.READ, request.group_id) or ctx.state.groups.coordinator_error(
        request.group_id
    )
    if error != ErrorCode.none:
        return _sync_response(ctx, SyncResult(error))
    outcome = ctx.state.groups.sync(request)
    if isinstance(outcome, SyncResult):
        return _sync_response(ctx, outcome)
    member: Member = outcome
    return _waiting(
        ctx,
        request.group_id,
        member.session_timeout_ms,
        lambda: member.sync_result,
        lambda result: _sync_response(ctx, result or SyncResult(ErrorCode.rebalance_in_progress)),
    )


def _sync_response(ctx: RequestContext, result: SyncResult) -> Any:
    log.debug(
        "SyncGroup v%d -> %s (%d assignment bytes)",
        ctx.api_version,
        ErrorCode(result.error_code).name,
        len(result.assignment),
    )
    return respond(
        ctx,
        dict(
            error_code=result.error_code,
            protocol_type=result.protocol_type,
            protocol_name=result.protocol_name,
            assignment=result.assignment,
        ),
    )


# --- Heartbeat / LeaveGroup -------------------------------------------------------


@api(ApiKey.HEARTBEAT, 0, 4)
def handle_heartbeat(ctx: RequestContext, request: Any) -> Any:
    instance_id = request.group_instance_id if ctx.api_version >= 3 else None
    error = group_refusal(ctx, AclOperation.READ, request.group_id) or ctx.state.groups.coordinator_error(
        request.group_id
    )
    if error == ErrorCode.none:
        error = ctx.state.groups.heartbeat(request.group_id, request.generation_id, request.member_id, instance_id)
    log.debug("Heartbeat %s generation %d -> %s", request.member_id, request.generation_id, ErrorCode(error).name)
    return respond(ctx, dict(error_code=error))


@api(ApiKey.LEAVE_GROUP, 0, 5)
def handle_leave_group(ctx: RequestContext, request: Any) -> Any:
    leaving: list[tuple[str, str | None]]
    if ctx.api_version < 3:
        leaving = [(request.member_id, None)]
    else:
        leaving = [(m.member_id, m.group_instance_id) for m in request.members]
    error = group_refusal(ctx, AclOperation.READ, request.group_id) or ctx.state.groups.coordinator_error(
        request.group_id
    )
    if error != ErrorCode.none:  # v3+: the request's error, no member answered
        return respond(ctx, dict(error_code=error, members=[]))
    errors = ctx.state.groups.leave(request.group_id, leaving)
    if ctx.api_version < 3:
        return respond(ctx, dict(error_code=errors[0], members=[]))
    members = [dict(member_id=m, group_instance_id=i, error_code=e) for (m, i), e in zip(leaving, errors)]
    return respond(ctx, dict(error_code=ErrorCode.none, members=members))


# --- DescribeGroups / ListGroups / DeleteGroups ------------------------------------


@api(ApiKey.DESCRIBE_GROUPS, 0, 6)
def handle_describe_groups(ctx: RequestContext, request: Any) -> Any:
    service = ctx.state.groups
    include_ops = ctx.api_version >= 3 and bool(request.include_authorized_operations)
    described = []
    for group_id in request.groups:
        error = group_refusal(ctx, AclOperation.DESCRIBE, group_id) or service.coordinator_error(group_id)
        if error != ErrorCode.none:
            described.append(_described_error(group_id, error))
            continue
        group = service.group(group_id)
        if group is None:
            # Kafka: an unknown group is described as Dead (v6+: with an error).
            error = ErrorCode.group_id_not_found if ctx.api_version >= 6 else ErrorCode.none
            message = None
            if error != ErrorCode.none and service.consumer_group_now(group_id) is not None:
                message = f"Group {group_id} is not a classic group."  # a KIP-848 group, as Kafka words it
            described.append(
                dict(
                    error_code=error,
                    error_message=message,
                    group_id=group_id,
                    group_state=GroupState.DEAD.value,
                    protocol_type="",
                    protocol_data="",
                    members=[],
                    # As Kafka: an answer without an error carries the operations when asked.
                    authorized_operations=group_operations(ctx, group_id, include_ops and error == ErrorCode.none),
                )
            )
            continue
        stable = group.state == GroupState.STABLE
        members = [
            dict(
                member_id=m.member_id,
                group_instance_id=m.group_instance_id,
                client_id=m.client_id,
                client_host=m.client_host,
                member_metadata=m.metadata_for(group.protocol_name or "") if stable else b"",
                member_assignment=m.assignment if stable else b"",
            )
            for m in group.members.values()
        ]
        described.append(
            dict(
                error_code=ErrorCode.none,
                error_message=None,
                group_id=group_id,
                group_state=group.state.value,
                protocol_type=group.protocol_type or "",
                # Kafka shows the protocol only once a generation is complete.
                protocol_data=(group.protocol_name or "") if stable else "",
                members=members,
                authorized_operations=group_operations(ctx, group_id, include_ops),
            )
        )
    return respond(ctx, dict(groups=described))


def _described_error(group_id: str, error: ErrorCode) -> dict[str, Any]:
    """Kafka's DescribeGroups entry for a group it cannot describe: state,
    protocol type and protocol unknown (empty)."""
    return dict(
        error_code=error,
        error_message=None,
        group_id=group_id,
        group_state="",
        protocol_type="",
        protocol_data="",
        members=[],
        authorized_operations=OPERATIONS_NOT_REQUESTED,
    )


@api(ApiKey.LIST_GROUPS, 0, 5)
def handle_list_groups(ctx: RequestContext, request: Any) -> Any:
    version = ctx.api_version
    # Filters by state from v4 (KIP-518), by type from v5 (KIP-848).
    states = {s.lower() for s in (request.states_filter if version >= 4 else None) or ()}
    types = {t.lower() for t in (request.types_filter if version >= 5 else None) or ()}
    # As Kafka: DESCRIBE on the cluster lists every group, else only those the principal may DESCRIBE.
    every_group = ctx.state.authorizer is None or ctx.allowed_on_cluster(AclOperation.DESCRIBE, audit=False)
    groups = []
    for group in ctx.state.groups.listed_groups():
        if states and group.state.value.lower() not in states:
            continue
        if not every_group and not ctx.allowed(AclOperation.DESCRIBE, ResourceType.GROUP, group.group_id, audit=False):
            continue
        if types and "classic" not in types:
            continue
        groups.append(
            dict(
                group_id=group.group_id,
                protocol_type=group.protocol_type or "",
                group_state=group.state.value,
                group_type="classic",
            )
        )
    for consumer_group in ctx.state.groups.listed_consumer_groups():
        state = consumer_group.state.value
        if states and state.lower() not in states:
            continue
        if types and "consumer" not in types:
            continue
        group_id = consumer_group.group_id
        if not every_group and not ctx.allowed(AclOperation.DESCRIBE, ResourceType.GROUP, group_id, audit=False):
            continue
        # As Kafka: a KIP-848 group lists with protocol type "consumer" and type "consumer".
        groups.append(dict(group_id=group_id, protocol_type="consumer", group_state=state, group_type="consumer"))
    if not types or "share" in types:  # share groups (KIP-932) are listed by type only from v5
        for share_group in ctx.state.share_groups.groups.values():
            if states and share_group.state.lower() not in states:
                continue
            if not every_group and not ctx.allowed(
                AclOperation.DESCRIBE, ResourceType.GROUP, share_group.group_id, audit=False
            ):
                continue
            groups.append(
                dict(
                    group_id=share_group.group_id,
                    protocol_type="share",
                    group_state=share_group.state,
                    group_type="share",
                )
            )
    return respond(ctx, dict(error_code=ErrorCode.none, groups=groups))


@api(ApiKey.DELETE_GROUPS, 0, 2)
def handle_delete_groups(ctx: RequestContext, request: Any) -> Any:
    service = ctx.state.groups
    results = [
        dict(
            group_id=g,
            error_code=group_refusal(ctx, AclOperation.DELETE, g)
            or service.coordinator_error(g)
            or (delete_share_group(ctx, g) if is_share_group(ctx, g) else service.delete_group(g)),
        )
        for g in request.groups_names
    ]
    service.publish_changes()
    note_result_errors(ctx, results, "group_id")
    log_admin_change(
        ctx,
        ", ".join(f"{r['group_id']}: {outcome(r['error_code'], done='deleted')}" for r in results),
        groups=[r["group_id"] for r in results],
    )
    return respond(ctx, dict(results=results))
