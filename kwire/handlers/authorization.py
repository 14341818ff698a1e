"""What handlers share when they ask the authorizer about many resources
at once, and how a refusal reads on the wire.

Every helper here answers at once with nothing refused when the node has no
authorizer (`state.authorizer is None`), so the common case pays one
attribute check.
"""

from __future__ import annotations

from collections.abc import Iterable

from kwire.handlers.base import RequestContext
from kwire.protocol.errors import ErrorCode
from kwire.security.resources import AclOperation, ResourceType

NOTHING_REFUSED: frozenset[str] = frozenset()

# The error a refusal on each resource type answers (Kafka's AclEntry.authorizationError).
REFUSAL_ERROR = {
    ResourceType.TOPIC: ErrorCode.topic_authorization_failed,
    ResourceType.GROUP: ErrorCode.group_authorization_failed,
    ResourceType.CLUSTER: ErrorCode.cluster_authorization_failed,
    ResourceType.TRANSACTIONAL_ID: ErrorCode.transactional_id_authorization_failed,
}

# The protocol's one-line descriptions of the authorization errors, for
# answers that carry an error message.
REFUSAL_MESSAGE = {
    ErrorCode.topic_authorization_failed: "Topic authorization failed.",
    ErrorCode.group_authorization_failed: "Group authorization failed.",
    ErrorCode.cluster_authorization_failed: "Cluster authorization failed.",
    ErrorCode.transactional_id_authorization_failed: "Transactional Id authorization failed.",
}


def refused_names(
    ctx: RequestContext,
    operation: AclOperation,
    resource_type: ResourceType,
    names: Iterable[str | None],
    *,
    audit: bool = True,
) -> frozenset[str]:
    """The names among `names` this request may not do `operation` on, each
    asked once (None names are skipped: the handler answers those itself)."""
    if ctx.state.authorizer is None:
        return NOTHING_REFUSED
    return frozenset(
        name
        for name in {name for name in names if name is not None}
        if not ctx.allowed(operation, resource_type, name, audit=audit)
    )


def refusal_message(error: ErrorCode) -> str | None:
    return REFUSAL_MESSAGE.get(error)


def group_refusal(ctx: RequestContext, operation: AclOperation, group_id: str) -> ErrorCode:
    """GROUP_AUTHORIZATION_FAILED unless the principal may do `operation` on
    the group; ErrorCode.none (falsy) when it may."""
    if ctx.state.authorizer is None or ctx.allowed(operation, ResourceType.GROUP, group_id):
        return ErrorCode.none
    return ErrorCode.group_authorization_failed
