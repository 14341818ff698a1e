"""CreateAcls, DescribeAcls and DeleteAcls: the ACLs (kwire/security/acls.py)
kept in the metadata log, as a Kafka 4 broker serves them (v1-3; v0 went
with KIP-896).

With no authorizer configured Kafka answers SECURITY_DISABLED; creating
and deleting need ALTER on the cluster, describing DESCRIBE on it. A field
with a code Kafka does not know makes Kafka's request parser fail, which
closes the connection: so does kwire.
"""

from __future__ import annotations

from typing import Any

from kwire.handlers.base import CLOSE_CONNECTION, RequestContext, log_admin_change, respond
from kwire.protocol.api_keys import ApiKey, api_name
from kwire.protocol.errors import ErrorCode
from kwire.protocol.registry import api
from kwire.security.acls import (
    AclBinding,
    AclBindingFilter,
    creation_error,
    from_code,
    resources_of,
)
from kwire.security.resources import CLUSTER_NAME, AclOperation, PatternType, PermissionType, ResourceType

_NO_AUTHORIZER = "No Authorizer is configured."


def _not_authorized(ctx: RequestContext) -> str:
    return f"Request {api_name(ctx.api_key)} is not authorized."


def _binding(creation: Any) -> AclBinding:
    return AclBinding(
        from_code(ResourceType, creation.resource_type),
        creation.resource_name,
        from_code(PatternType, creation.resource_pattern_type),
        creation.principal,
        creation.host,
        from_code(AclOperation, creation.operation),
        from_code(PermissionType, creation.permission_type),
    )


def _filter(entry: Any) -> AclBindingFilter:
    return AclBindingFilter(
        from_code(ResourceType, entry.resource_type_filter),
        entry.resource_name_filter,
        from_code(PatternType, entry.pattern_type_filter),
        entry.principal_filter,
        entry.host_filter,
        from_code(AclOperation, entry.operation),
        from_code(PermissionType, entry.permission_type),
    )


def _unknown(acl: AclBinding) -> bool:
    return 0 in (acl.resource_type, acl.pattern_type, acl.operation, acl.permission)


@api(ApiKey.CREATE_ACLS, 1, 3)
def handle_create_acls(ctx: RequestContext, request: Any) -> Any:
    acls = [_binding(creation) for creation in request.creations]
    if any(_unknown(acl) for acl in acls):
        return CLOSE_CONNECTION

    def everyone(code: ErrorCode, message: str | None) -> Any:
        ctx.note_error(code, len(acls), reason=message or "")
        return respond(ctx, dict(results=[dict(error_code=code, error_message=message) for _ in acls]))

    if not ctx.allowed(AclOperation.ALTER, ResourceType.CLUSTER, CLUSTER_NAME):
        return everyone(ErrorCode.cluster_authorization_failed, _not_authorized(ctx))
    if ctx.state.authorizer is None:
        return everyone(ErrorCode.security_disabled, _NO_AUTHORIZER)
    errors = [creation_error(acl) for acl in acls]
    added = set(ctx.state.cluster.acls.create(acl for acl, error in zip(acls, errors, strict=True) if error is None))
    outcomes = []
    for acl, error in zip(acls, errors, strict=True):
        if error is not None:
            ctx.note_error(ErrorCode.invalid_request, reason=f"{acl.describe()}: {error}")
            outcomes.append(f"{acl.describe()} refused: {error}")
        else:
            outcomes.append(f"{acl.describe()} {'created' if acl in added else 'already present'}")
    log_admin_change(ctx, "; ".join(outcomes))
    return respond(
        ctx,
        dict(
            results=[
                dict(error_code=ErrorCode.none if error is None else ErrorCode.invalid_request, error_message=error)
                for error in errors
            ]
        ),
    )


@api(ApiKey.DESCRIBE_ACLS, 1, 3)
def handle_describe_acls(ctx: RequestContext, request: Any) -> Any:
    acl_filter = _filter(request)
    if acl_filter.has_unknown:
        return CLOSE_CONNECTION
    if not ctx.allowed(AclOperation.DESCRIBE, ResourceType.CLUSTER, CLUSTER_NAME):
        return respond(
            ctx,
            dict(error_code=ErrorCode.cluster_authorization_failed, error_message=_not_authorized(ctx), resources=[]),
        )
    if ctx.state.authorizer is None:
        return respond(
            ctx,
            dict(
                error_code=ErrorCode.security_disabled,
                error_message="No Authorizer is configured on the broker",
                resources=[],
            ),
        )
    resources = [
        dict(
            resource_type=resource_type,
            resource_name=name,
            pattern_type=pattern_type,
            acls=[
                dict(principal=acl.principal, host=acl.host, operation=acl.operation, permission_type=acl.permission)
                for acl in acls
            ],
        )
        for (resource_type, name, pattern_type), acls in resources_of(
            ctx.state.cluster.acls.matching(acl_filter)
        ).items()
    ]
    return respond(ctx, dict(error_code=ErrorCode.none, error_message=None, resources=resources))


@api(ApiKey.DELETE_ACLS, 1, 3)
def handle_delete_acls(ctx: RequestContext, request: Any) -> Any:
    filters = [_filter(entry) for entry in request.filters]
    if any(acl_filter.has_unknown for acl_filter in filters):
        return CLOSE_CONNECTION

    def everyone(code: ErrorCode, message: str | None) -> Any:
        ctx.note_error(code, len(filters), reason=message or "")
        results: list[dict[str, Any]] = [
            dict(error_code=code, error_message=message, matching_acls=[]) for _ in filters
        ]
        return respond(ctx, dict(filter_results=results))

    if not ctx.allowed(AclOperation.ALTER, ResourceType.CLUSTER, CLUSTER_NAME):
        return everyone(ErrorCode.cluster_authorization_failed, _not_authorized(ctx))
    if ctx.state.authorizer is None:
        return everyone(ErrorCode.security_disabled, _NO_AUTHORIZER)
    matched = ctx.state.cluster.acls.delete(filters)
    deleted = {acl for each in matched for acl in each}
    log_admin_change(ctx, "; ".join(f"{acl.describe()} deleted" for acl in sorted(deleted, key=AclBinding.describe)))
    results = [
        dict(
            error_code=ErrorCode.none,
            error_message=None,
            matching_acls=[
                dict(
                    error_code=ErrorCode.none,
                    error_message=None,
                    resource_type=acl.resource_type,
                    resource_name=acl.name,
                    pattern_type=acl.pattern_type,
                    principal=acl.principal,
                    host=acl.host,
                    operation=acl.operation,
                    permission_type=acl.permission,
                )
                for acl in acls
            ],
        )
        for acls in matched
    ]
    return respond(ctx, dict(filter_results=results))
