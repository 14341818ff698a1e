"""DescribeClientQuotas and AlterClientQuotas: the quotas of user,
client-id and ip entities (kwire/quotas/), kept in the metadata log."""

from __future__ import annotations

from typing import Any

from kwire.handlers.authorization import refusal_message
from kwire.handlers.base import RequestContext, log_admin_change, respond
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode
from kwire.protocol.registry import api
from kwire.quotas.entities import Filter, QuotaError, entity_text
from kwire.quotas.manager import Alteration
from kwire.security.resources import AclOperation


def _error_code(error: QuotaError) -> ErrorCode:
    return ErrorCode.unsupported_version if error.unsupported else ErrorCode.invalid_request


@api(ApiKey.DESCRIBE_CLIENT_QUOTAS, 0, 1)
def handle_describe_client_quotas(ctx: RequestContext, request: Any) -> Any:
    if not ctx.allowed_on_cluster(AclOperation.DESCRIBE_CONFIGS):  # as Kafka: DESCRIBE_CONFIGS on the cluster
        error = ErrorCode.cluster_authorization_failed
        return respond(ctx, dict(error_code=error, error_message=refusal_message(error), entries=None))
    try:
        quota_filter = Filter(
            ((c.entity_type, c.match_type, c.match) for c in request.components), bool(request.strict)
        )
    except QuotaError as exc:
        return respond(ctx, dict(error_code=_error_code(exc), error_message=exc.message, entries=None))
    entries = [
        dict(
            entity=[dict(entity_type=kind, entity_name=name) for kind, name in entity],
            values=[dict(key=key, value=value) for key, value in sorted(values.items())],
        )
        for entity, values in ctx.state.quotas.describe(quota_filter)
    ]
    return respond(ctx, dict(error_code=ErrorCode.none, error_message=None, entries=entries))


@api(ApiKey.ALTER_CLIENT_QUOTAS, 0, 1)
def handle_alter_client_quotas(ctx: RequestContext, request: Any) -> Any:
    validate_only = bool(request.validate_only)
    if not ctx.allowed_on_cluster(AclOperation.ALTER_CONFIGS):  # as Kafka: ALTER_CONFIGS on the cluster
        error = ErrorCode.cluster_authorization_failed
        refused = [
            dict(
                error_code=error,
                error_message=refusal_message(error),
                entity=[dict(entity_type=e.entity_type, entity_name=e.entity_name) for e in entry.entity],
            )
            for entry in request.entries
        ]
        return respond(ctx, dict(entries=refused))
    alterations: list[Alteration] = []
    for entry in request.entries:
        # As Kafka reads the request: a type named twice keeps its last name.
        components = {e.entity_type: e.entity_name for e in entry.entity}
        operations = [(op.key, None if op.remove else float(op.value)) for op in entry.ops]
        alterations.append((components, operations))
    results = ctx.state.quotas.alter(alterations, validate_only)
    asked: dict[str, str] = {}
    for asked_components, asked_operations in alterations:
        text = ", ".join(f"{key}={'(removed)' if value is None else value}" for key, value in asked_operations)
        asked.setdefault(entity_text(asked_components), text or "(nothing)")
    for result in results:
        entity = entity_text(result.entity)
        if result.error is None:
            change = f"{'validated' if validate_only else 'changed'} client quotas of {entity}: {asked.get(entity, '')}"
        else:
            ctx.note_error(_error_code(result.error), reason=f"client quotas of {entity}: {result.error.message}")
            change = f"client quotas of {entity} ({asked.get(entity, '')}) refused: {result.error.message}"
        log_admin_change(ctx, change, validate_only, entity=entity)
    entries = [
        dict(
            error_code=ErrorCode.none if result.error is None else _error_code(result.error),
            error_message=None if result.error is None else result.error.message,
            entity=[dict(entity_type=kind, entity_name=name) for kind, name in result.entity.items()],
        )
        for result in results
    ]
    return respond(ctx, dict(entries=entries))
