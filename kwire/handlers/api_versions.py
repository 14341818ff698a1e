"""ApiVersions: generated from the registry, cached per version; v3+ also
lists the feature levels (kwire/cluster/features.py), as Kafka does."""

from __future__ import annotations

import re
import struct
from typing import Any

from kio.index import load_response_schema

from kwire.cluster.features import FINALIZED_FEATURES_EPOCH, features
from kwire.handlers.base import RequestContext
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode
from kwire.protocol.kio_build import build, encode
from kwire.protocol.registry import ApiRegistry, api

MIN_VERSION, MAX_VERSION = 0, 4
# Kafka's rule for client_software_name / client_software_version (KIP-511).
_SOFTWARE_FIELD = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?")


@api(ApiKey.API_VERSIONS, MIN_VERSION, MAX_VERSION)
def handle_api_versions(ctx: RequestContext, request: Any) -> Any:
    version = ctx.api_version
    if version >= 3 and not (
        _SOFTWARE_FIELD.fullmatch(request.client_software_name or "")
        and _SOFTWARE_FIELD.fullmatch(request.client_software_version or "")
    ):
        return encode(
            _response(
                version,
                ctx.registry,
                ErrorCode.invalid_request,
                advertises_telemetry(ctx),
                ctx.state.config.group_share_enable,
            )
        )
    if version >= 3 and ctx.connection is not None:
        # Who the client says it is: client metrics subscriptions match on it (KIP-714).
        ctx.connection.software_name = request.client_software_name
        ctx.connection.software_version = request.client_software_version
    telemetry = advertises_telemetry(ctx)
    share = ctx.state.config.group_share_enable
    cache_key = ("api_versions", version, telemetry, share)
    body = ctx.state.response_cache.get(cache_key)
    if body is None:
        body = encode(_response(version, ctx.registry, ErrorCode.none, telemetry, share))
        ctx.state.response_cache[cache_key] = body
    return body


# Client telemetry (KIP-714): Kafka advertises these only when a metrics
# receiver is configured, and clients that see them start asking for
# subscriptions. kwire advertises them once a CLIENT_METRICS subscription
# exists, so with none every client behaves as against a Kafka without one.
TELEMETRY_APIS = frozenset({ApiKey.GET_TELEMETRY_SUBSCRIPTIONS, ApiKey.PUSH_TELEMETRY})


def advertises_telemetry(ctx: RequestContext) -> bool:
    return bool(ctx.state.cluster.client_metrics.resources)


# Share groups (KIP-932): not advertised with group.share.enable=false.
SHARE_APIS = frozenset(
    {
        ApiKey.SHARE_GROUP_HEARTBEAT,
        ApiKey.SHARE_GROUP_DESCRIBE,
        ApiKey.SHARE_FETCH,
        ApiKey.SHARE_ACKNOWLEDGE,
        ApiKey.DESCRIBE_SHARE_GROUP_OFFSETS,
        ApiKey.ALTER_SHARE_GROUP_OFFSETS,
        ApiKey.DELETE_SHARE_GROUP_OFFSETS,
    }
)


def _response(
    version: int, registry: ApiRegistry, error: ErrorCode, telemetry: bool = True, share: bool = True
) -> Any:  # a kio entity
    entries = [
        dict(api_key=key, min_version=low, max_version=high)
        for key, low, high in registry.supported()
        if (telemetry or key not in TELEMETRY_APIS) and (share or key not in SHARE_APIS)
    ]
    found = features(registry)
    # Tagged fields from v3 (kio drops them for older versions). librdkafka
    # 2.0.2 parses them (compat_tests/test_cluster_admin.py checks it).
    return build(
        load_response_schema(ApiKey.API_VERSIONS, version),
        dict(
            error_code=error,
            api_keys=entries,
            throttle_time=0,
            supported_features=[dict(name=f.name, min_version=f.min_level, max_version=f.max_level) for f in found],
            finalized_features_epoch=FINALIZED_FEATURES_EPOCH,
            finalized_features=[
                dict(name=f.name, min_version_level=f.finalized, max_version_level=f.finalized)
                for f in found
                if f.finalized > 0
            ],
        ),
    )


def unsupported_version_body(registry: ApiRegistry) -> bytes:
    """Kafka's answer to an ApiVersions version it does not know: error 35
    in a v0 body listing ApiVersions' own range, so the client can retry."""
    return struct.pack(">hihhh", ErrorCode.unsupported_version, 1, ApiKey.API_VERSIONS, MIN_VERSION, MAX_VERSION)
