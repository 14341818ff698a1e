"""Pieces of the group Describe answers (DescribeGroups, ConsumerGroupDescribe,
ShareGroupDescribe) that are the same in each."""

from __future__ import annotations

from typing import Any

from kwire.handlers.base import GROUP_OPERATIONS, OPERATIONS_NOT_REQUESTED, RequestContext
from kwire.protocol.errors import ErrorCode
from kwire.security.resources import ResourceType


def group_operations(ctx: RequestContext, group_id: str, requested: bool) -> int:
    """A group's authorized_operations field: what this principal may do on it, when the request asked."""
    if not requested:
        return OPERATIONS_NOT_REQUESTED
    return ctx.authorized_operations(ResourceType.GROUP, group_id, GROUP_OPERATIONS)


def undescribed_group(group_id: str, error: ErrorCode, message: str | None, state: str) -> dict[str, Any]:
    """ConsumerGroupDescribe's and ShareGroupDescribe's entry for a group they cannot describe."""
    return dict(
        error_code=error,
        error_message=message,
        group_id=group_id,
        group_state=state,
        group_epoch=-1,
        assignment_epoch=-1,
        assignor_name="",
        members=[],
        authorized_operations=OPERATIONS_NOT_REQUESTED,
    )
