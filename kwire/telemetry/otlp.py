"""A PushTelemetry's metrics: OTLP MetricsData (protobuf), compressed with
the push's compression type, decoded into flat points (the protobuf
classes come from opentelemetry-proto, imported on the first push only).

Bounded: the compressed size is checked by the caller (telemetry.max.bytes);
decompression stops at `max_decompressed` bytes, and at most MAX_POINTS
points are kept from one push, their names and attributes cut short.
Anything malformed raises TelemetryDecodeError, never anything else.
"""

from __future__ import annotations

from typing import Any

import attrs

MAX_POINTS = 10000
MAX_NAME = 256
MAX_ATTRIBUTES = 32
MAX_ATTRIBUTE_VALUE = 256
# Metric kinds as the store and the Prometheus collector name them.
GAUGE, SUM, HISTOGRAM, EXPONENTIAL_HISTOGRAM, SUMMARY = "gauge", "sum", "histogram", "exponential_histogram", "summary"
# OTLP's AggregationTemporality.
DELTA, CUMULATIVE = 1, 2

Attributes = tuple[tuple[str, str], ...]


class TelemetryDecodeError(ValueError):
    """The pushed metrics cannot be read (Kafka answers INVALID_RECORD)."""


@attrs.frozen
class MetricPoint:
    """One data point: a number (gauge, sum), or a distribution summarized
    as count and sum (histograms, summaries)."""

    name: str
    kind: str
    attributes: Attributes
    value: float  # the number, or the sum of a distribution
    count: int | None = None  # distributions: how many observations
    minimum: float | None = None
    maximum: float | None = None
    delta: bool = False  # a sum (or histogram) sent as the change since the last push
    monotonic: bool = False
    time_unix_nano: int = 0
    unit: str = ""
    description: str = ""


@attrs.frozen
class DecodedPush:
    resource: Attributes
    points: tuple[MetricPoint, ...]


def decode_push(payload: bytes, compression_type: int, max_decompressed: int) -> DecodedPush:
    """The points of one push; TelemetryDecodeError when it cannot be read."""
    from kwire.protocol.record_codec import RecordDecodeError, decompress

    try:
        raw = decompress(compression_type, payload, max_decompressed)
    except RecordDecodeError as exc:
        raise TelemetryDecodeError(f"cannot decompress the metrics: {exc}") from None
    if len(raw) > max_decompressed:
        raise TelemetryDecodeError(f"the metrics are larger than {max_decompressed} bytes")
    return decode_metrics_data(raw)


def decode_metrics_data(raw: bytes) -> DecodedPush:
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.metrics.v1 import metrics_pb2

    data = metrics_pb2.MetricsData()
    try:
        data.ParseFromString(raw)
    except (DecodeError, RecursionError, ValueError) as exc:
        raise TelemetryDecodeError(f"not OTLP MetricsData: {exc}") from None
    try:
        return _flatten(data)
    except (ValueError, TypeError, OverflowError, UnicodeError) as exc:
        raise TelemetryDecodeError(f"unreadable OTLP MetricsData: {exc}") from None


def _flatten(data: Any) -> DecodedPush:
    resource: dict[str, str] = {}
    points: list[MetricPoint] = []
    for resource_metrics in data.resource_metrics:
        resource.update(_attributes(resource_metrics.resource.attributes))
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for point in _points(metric):
                    if len(points) >= MAX_POINTS:
                        return DecodedPush(tuple(sorted(resource.items())), tuple(points))
                    points.append(point)
    return DecodedPush(tuple(sorted(resource.items())[:MAX_ATTRIBUTES]), tuple(points))


def _points(metric: Any) -> list[MetricPoint]:
    name = metric.name[:MAX_NAME]
    if not name:
        return []
    common = dict(unit=metric.unit[:MAX_NAME], description=metric.description[:MAX_ATTRIBUTE_VALUE])
    which = metric.WhichOneof("data")
    found: list[MetricPoint] = []
    if which == "gauge":
        for point in metric.gauge.data_points:
            found.append(
                MetricPoint(
                    name,
                    GAUGE,
                    _attributes(point.attributes),
                    _number(point),
                    time_unix_nano=point.time_unix_nano,
                    **common,
                )
            )
    elif which == "sum":
        delta = metric.sum.aggregation_temporality == DELTA
        for point in metric.sum.data_points:
            found.append(
                MetricPoint(
                    name,
                    SUM,
                    _attributes(point.attributes),
                    _number(point),
                    delta=delta,
                    monotonic=bool(metric.sum.is_monotonic),
                    time_unix_nano=point.time_unix_nano,
                    **common,
                )
            )
    elif which in ("histogram", "exponential_histogram"):
        body = getattr(metric, which)
        delta = body.aggregation_temporality == DELTA
        for point in body.data_points:
            found.append(
                MetricPoint(
                    name,
                    HISTOGRAM if which == "histogram" else EXPONENTIAL_HISTOGRAM,
                    _attributes(point.attributes),
                    float(point.sum),
                    count=int(point.count),
                    minimum=float(point.min) if point.HasField("min") else None,
                    maximum=float(point.max) if point.HasField("max") else None,
                    delta=delta,
                    time_unix_nano=point.time_unix_nano,
                    **common,
                )
            )
    elif which == "summary":
        for point in metric.summary.data_points:
            found.append(
                MetricPoint(
                    name,
                    SUMMARY,
                    _attributes(point.attributes),
                    float(point.sum),
                    count=int(point.count),
                    time_unix_nano=point.time_unix_nano,
                    **common,
                )
            )
    return found


def _number(point: Any) -> float:
    return float(point.as_int) if point.WhichOneof("value") == "as_int" else float(point.as_double)


def _attributes(pairs: Any) -> Attributes:
    """Key-value attributes as text (AnyValue of any kind), bounded."""
    found: dict[str, str] = {}
    for pair in list(pairs)[:MAX_ATTRIBUTES]:
        if pair.key:
            found[pair.key[:MAX_NAME]] = _text(pair.value)[:MAX_ATTRIBUTE_VALUE]
    return tuple(sorted(found.items()))


def _text(value: Any) -> str:
    which = value.WhichOneof("value")
    if which is None:
        return ""
    if which == "bytes_value":
        return bytes(value.bytes_value).hex()
    if which in ("array_value", "kvlist_value"):
        return str(value).replace("\n", " ").strip()  # rare: kept readable, not structured
    return f"{getattr(value, which)}"
