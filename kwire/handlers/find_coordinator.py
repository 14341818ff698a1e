"""FindCoordinator: this broker coordinates every group (and, later,
every transactional id)."""

from __future__ import annotations

from typing import Any

from kwire.handlers.base import RequestContext, respond
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode
from kwire.protocol.registry import api

GROUP, TRANSACTION = 0, 1


@api(ApiKey.FIND_COORDINATOR, 0, 6)
def handle_find_coordinator(ctx: RequestContext, request: Any) -> Any:
    # Before v1 every request asks for a group's coordinator.
    key_type = request.key_type if ctx.api_version >= 1 else GROUP
    state = ctx.state
    if key_type not in (GROUP, TRANSACTION):
        found = dict(
            error_code=ErrorCode.invalid_request,
            error_message=f"Unknown key type {key_type}",
            node_id=-1,
            host="",
            port=-1,
        )
    else:
        found = dict(
            error_code=ErrorCode.none,
            error_message=None,
            node_id=state.config.node_id,
            host=state.advertised_host,
            port=state.advertised_port,
        )
    if ctx.api_version >= 4:
        coordinators = [dict(found, key=key) for key in request.coordinator_keys]
        return respond(ctx, dict(coordinators=coordinators))
    return respond(ctx, found)
