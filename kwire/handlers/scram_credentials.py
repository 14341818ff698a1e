"""DescribeUserScramCredentials and AlterUserScramCredentials: the SCRAM
credentials of users (kwire/security/scram_store.py), kept in the metadata
log. Describe needs DESCRIBE on the cluster, Alter needs ALTER on it."""

from __future__ import annotations

from typing import Any

from kwire.handlers.base import RequestContext, log_admin_change, note_result_errors, outcome, respond
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode
from kwire.protocol.registry import api
from kwire.security.resources import CLUSTER_NAME, AclOperation, ResourceType
from kwire.security.scram_store import MECHANISM_NAMES, Deletion, Upsertion

# The message Kafka's ClusterAuthorizationException carries by default.
_CLUSTER_AUTHORIZATION_FAILED = "Cluster authorization failed."


@api(ApiKey.DESCRIBE_USER_SCRAM_CREDENTIALS, 0, 0)
def handle_describe_user_scram_credentials(ctx: RequestContext, request: Any) -> Any:
    users = None if request.users is None else [user.name for user in request.users]
    if not ctx.allowed(AclOperation.DESCRIBE, ResourceType.CLUSTER, CLUSTER_NAME):
        # As Kafka's error response: the error at the top and once per user
        # asked for (those results name no user).
        failed = dict(
            user="", error_code=ErrorCode.cluster_authorization_failed, error_message=_CLUSTER_AUTHORIZATION_FAILED
        )
        return respond(
            ctx,
            dict(
                error_code=ErrorCode.cluster_authorization_failed,
                error_message=_CLUSTER_AUTHORIZATION_FAILED,
                results=[dict(failed, credential_infos=[]) for _user in users or ()],
            ),
        )
    results = [
        dict(
            user=result.user,
            error_code=result.error_code,
            error_message=result.error_message,
            credential_infos=[dict(mechanism=code, iterations=count) for code, count in result.credentials],
        )
        for result in ctx.state.scram_credentials.describe(users)
    ]
    return respond(ctx, dict(error_code=ErrorCode.none, error_message=None, results=results))


@api(ApiKey.ALTER_USER_SCRAM_CREDENTIALS, 0, 0)
def handle_alter_user_scram_credentials(ctx: RequestContext, request: Any) -> Any:
    deletions = [Deletion(d.name, d.mechanism) for d in request.deletions]
    upsertions = [Upsertion(u.name, u.mechanism, u.iterations, u.salt, u.salted_password) for u in request.upsertions]
    asked: dict[str, list[str]] = {user: [] for user in [*(d.user for d in deletions), *(u.user for u in upsertions)]}
    for d in deletions:
        asked[d.user].append(f"delete {_mechanism(d.mechanism)}")
    for u in upsertions:
        asked[u.user].append(f"set {_mechanism(u.mechanism)} ({u.iterations} iterations)")
    if not ctx.allowed(AclOperation.ALTER, ResourceType.CLUSTER, CLUSTER_NAME):
        outcomes: list[tuple[str, ErrorCode, str | None]] = [
            (user, ErrorCode.cluster_authorization_failed, _CLUSTER_AUTHORIZATION_FAILED) for user in sorted(asked)
        ]
    else:
        outcomes = [
            (r.user, r.error_code, r.error_message) for r in ctx.state.scram_credentials.alter(deletions, upsertions)
        ]
    # Names and mechanisms only: salts and salted passwords never reach a log.
    log_admin_change(
        ctx,
        "; ".join(
            f"SCRAM credentials of user {user!r} ({', '.join(asked.get(user, []))}): {outcome(code, message)}"
            for user, code, message in outcomes
        ),
    )
    results = [dict(user=user, error_code=code, error_message=message) for user, code, message in outcomes]
    note_result_errors(ctx, results, "user")
    return respond(ctx, dict(results=results))


def _mechanism(code: int) -> str:
    return MECHANISM_NAMES.get(code, f"unknown mechanism {code}")
