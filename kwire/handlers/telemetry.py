"""Client telemetry (KIP-714): GetTelemetrySubscriptions tells a client what
to push and how often, PushTelemetry takes its metrics (OTLP, decoded into
`state.telemetry`), and ListConfigResources v0 (Kafka's
ListClientMetricsResources) lists the CLIENT_METRICS subscriptions.

The rules (instance ids, throttling, stale subscriptions, size and
compression checks) live in kwire/telemetry/instances.py.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from kwire.handlers.authorization import refusal_message
from kwire.handlers.base import RequestContext, respond
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode
from kwire.protocol.registry import api
from kwire.security.resources import AclOperation
from kwire.telemetry.instances import ACCEPTED_COMPRESSION_TYPES, TelemetryRefusal
from kwire.telemetry.subscriptions import ClientMetadata

log = logging.getLogger(__name__)
# A push decompresses to at most this many times telemetry.max.bytes: room
# for any real compression ratio, while a compression bomb stops early.
DECOMPRESSED_FACTOR = 16


def _metadata(ctx: RequestContext) -> Any:
    """The facts of the requesting client, for a new instance with a given id."""
    connection = ctx.connection

    def make(instance_id: uuid.UUID) -> ClientMetadata:
        address = connection.address if connection is not None else ctx.client_host.lstrip("/") or None
        return ClientMetadata(
            instance_id,
            ctx.client_id,
            None if connection is None else connection.software_name,
            None if connection is None else connection.software_version,
            address or None,
            None if connection is None else connection.port,
        )

    return make


def _now_ms(ctx: RequestContext) -> int:
    return ctx.state.clock.wall_ms()


@api(ApiKey.GET_TELEMETRY_SUBSCRIPTIONS, 0, 0)
def handle_get_telemetry_subscriptions(ctx: RequestContext, request: Any) -> Any:
    store = ctx.state.telemetry
    try:
        instance = store.instances.get_subscriptions(request.client_instance_id, _metadata(ctx), _now_ms(ctx))
    except TelemetryRefusal as refusal:
        ctx.note_error(refusal.error_code, reason=refusal.message)
        return respond(ctx, _empty_subscription(refusal.error_code))
    subscription = instance.subscription
    return respond(
        ctx,
        dict(
            error_code=ErrorCode.none,
            client_instance_id=instance.instance_id,
            subscription_id=subscription.subscription_id,
            accepted_compression_types=list(ACCEPTED_COMPRESSION_TYPES),
            push_interval=subscription.interval_ms,
            telemetry_max_bytes=ctx.state.config.telemetry_max_bytes,
            delta_temporality=True,
            requested_metrics=list(subscription.metrics),
        ),
    )


def _empty_subscription(error: ErrorCode) -> dict[str, Any]:
    return dict(
        error_code=error,
        client_instance_id=None,
        subscription_id=0,
        accepted_compression_types=[],
        push_interval=0,
        telemetry_max_bytes=0,
        delta_temporality=False,
        requested_metrics=[],
    )


@api(ApiKey.PUSH_TELEMETRY, 0, 0)
def handle_push_telemetry(ctx: RequestContext, request: Any) -> Any:
    from kwire.telemetry.otlp import TelemetryDecodeError, decode_push

    store = ctx.state.telemetry
    max_bytes = ctx.state.config.telemetry_max_bytes
    metrics = bytes(request.metrics or b"")
    now_ms = _now_ms(ctx)
    try:
        instance = store.instances.check_push(
            request.client_instance_id,
            int(request.subscription_id),
            bool(request.terminating),
            int(request.compression_type),
            len(metrics),
            max_bytes,
            _metadata(ctx),
            now_ms,
        )
    except TelemetryRefusal as refusal:
        store.refused_pushes += 1
        ctx.note_error(refusal.error_code, reason=refusal.message)
        return respond(ctx, dict(error_code=refusal.error_code))
    decoded = None
    if metrics:
        try:
            decoded = decode_push(metrics, int(request.compression_type), DECOMPRESSED_FACTOR * max_bytes)
        except TelemetryDecodeError as exc:
            # As Kafka when its receiver cannot take the metrics.
            instance.last_error = ErrorCode.invalid_record
            store.refused_pushes += 1
            log.info("PushTelemetry from client %s (%s): %s", instance.instance_id, ctx.client_id, exc)
            ctx.note_error(ErrorCode.invalid_record, reason=str(exc))
            return respond(ctx, dict(error_code=ErrorCode.invalid_record))
    client = store.record_push(instance, decoded, bool(request.terminating), now_ms)
    if client.push_count == 1:
        # Once per client: which clients report, and under which subscription.
        log.info(
            "client telemetry from client instance %s: client id %s, %s %s at %s, %d metric series (subscriptions %s)",
            client.client_instance_id,
            client.client_id,
            client.software_name or "unknown software",
            client.software_version or "",
            ctx.client_host or "-",
            len(client.series),
            ", ".join(client.subscriptions) or "none",
        )
    return respond(ctx, dict(error_code=ErrorCode.none))


@api(ApiKey.LIST_CONFIG_RESOURCES, 0, 0)
def handle_list_config_resources(ctx: RequestContext, request: Any) -> Any:
    """v0 is Kafka's ListClientMetricsResources: the CLIENT_METRICS resources."""
    if not ctx.allowed_on_cluster(AclOperation.DESCRIBE_CONFIGS):
        error = ErrorCode.cluster_authorization_failed
        ctx.note_error(error, reason=refusal_message(error) or "")
        return respond(ctx, dict(error_code=error, config_resources=[]))
    names = ctx.state.cluster.client_metrics.names()
    return respond(ctx, dict(error_code=ErrorCode.none, config_resources=[dict(resource_name=n) for n in names]))
