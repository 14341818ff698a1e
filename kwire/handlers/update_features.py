"""UpdateFeatures: kwire's feature levels are fixed (kwire/cluster/features.py).

Checked as Kafka's controller checks an update, all or nothing: a level
outside the feature's supported range (an unknown feature supports only 0),
a downgrade asked for as an upgrade, or an upgrade asked for as a downgrade
is INVALID_UPDATE_VERSION for the whole request. What passes can only be
the level already finalized: a no-op success (validate_only alike).
"""

from __future__ import annotations

from typing import Any

import attrs

from kwire.cluster.features import feature_named
from kwire.handlers.authorization import refusal_message
from kwire.handlers.base import RequestContext, log_admin_change, outcome, respond
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode, KafkaError
from kwire.protocol.registry import ApiRegistry, api
from kwire.security.resources import AclOperation

UPGRADE, SAFE_DOWNGRADE, UNSAFE_DOWNGRADE = 1, 2, 3


@attrs.frozen
class FeatureUpdate:
    feature: str
    level: int
    upgrade_type: int


@attrs.frozen
class UpdateFeaturesRequest:
    updates: list[FeatureUpdate]
    validate_only: bool  # False before v1

    @classmethod
    def from_wire(cls, request: Any, version: int) -> UpdateFeaturesRequest:
        updates = [
            FeatureUpdate(
                u.feature,
                u.max_version_level,
                # v0's allow_downgrade is a safe downgrade (as Kafka reads it).
                u.upgrade_type if version >= 1 else (SAFE_DOWNGRADE if u.allow_downgrade else UPGRADE),
            )
            for u in request.feature_updates
        ]
        return cls(updates, version >= 1 and bool(request.validate_only))


@api(ApiKey.UPDATE_FEATURES, 0, 2)
def handle_update_features(ctx: RequestContext, wire_request: Any) -> Any:
    request = UpdateFeaturesRequest.from_wire(wire_request, ctx.api_version)
    if not ctx.allowed_on_cluster(AclOperation.ALTER):  # as Kafka: ALTER on the cluster, no per-feature results
        error = ErrorCode.cluster_authorization_failed
        return respond(ctx, dict(error_code=error, error_message=refusal_message(error), results=[]))
    try:
        for update in request.updates:
            _check(ctx.registry, update)
    except KafkaError as exc:
        log_admin_change(ctx, "refused: " + outcome(exc.error_code, exc.message), bool(request.validate_only))
        # Kafka 4.x: one top-level error, no per-feature results.
        return respond(ctx, dict(error_code=exc.error_code, error_message=exc.message, results=[]))
    features = ", ".join(f"{u.feature}={u.level}" for u in request.updates) or "no feature"
    log_admin_change(ctx, f"{features} already finalized, nothing changed", bool(request.validate_only))
    results = [dict(feature=u.feature, error_code=ErrorCode.none, error_message=None) for u in request.updates]
    return respond(ctx, dict(error_code=ErrorCode.none, error_message=None, results=results))


def _check(registry: ApiRegistry, update: FeatureUpdate) -> None:
    feature = feature_named(registry, update.feature)
    if update.upgrade_type not in (UPGRADE, SAFE_DOWNGRADE, UNSAFE_DOWNGRADE):
        raise KafkaError(ErrorCode.invalid_request, f"Unknown upgrade type {update.upgrade_type}.")
    if update.level < 0:
        raise KafkaError(ErrorCode.invalid_update_version, "The upper value for the new range cannot be less than 0.")
    if not feature.min_level <= update.level <= feature.max_level:
        raise KafkaError(
            ErrorCode.invalid_update_version,
            f"Invalid update version {update.level} for feature {update.feature}. kwire only supports versions "
            f"{feature.min_level}-{feature.max_level}",
        )
    if update.level < feature.finalized and update.upgrade_type == UPGRADE:
        raise KafkaError(
            ErrorCode.invalid_update_version,
            "Can't downgrade the version of this feature without setting the upgrade type to either safe or "
            "unsafe downgrade.",
        )
    if update.level > feature.finalized and update.upgrade_type != UPGRADE:
        raise KafkaError(ErrorCode.invalid_update_version, "Can't downgrade to a newer version.")
