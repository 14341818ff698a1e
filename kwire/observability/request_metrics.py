"""Kafka's per-request metrics (kafka.network:type=RequestMetrics), told by
the RequestEvent of each answered request, named as the JMX exporter's
example Kafka configuration maps the MBeans:

    RequestsPerSec{request,version}  -> kafka_network_requestmetrics_requests_total
    TotalTimeMs{request}             -> kafka_network_requestmetrics_totaltimems
    ErrorsPerSec{request,error}      -> kafka_network_requestmetrics_errors_total

Kafka's time metrics are histograms reported as quantiles; here they are
Prometheus histograms (…_bucket, …_count, …_sum) with the version as a label
too. As Kafka, a fetch's times are filed under FetchConsumer (every fetch
that comes over the wire is a consumer's here: followers replicate in-process)
while its request count stays under Fetch. kwire has no response queue, so
there is no ResponseQueueTimeMs; RequestQueueTimeMs is the wait for
`queued.max.request.bytes`.

Every request passes here, so the observation is plain bucket counting in
lists (about 2 µs a request; prometheus_client's locked Histogram children
took 9 µs), read into prometheus_client's metric families at scrape time.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from kwire.observability.request_events import RequestEvent
from kwire.protocol.api_keys import ApiKey, api_name
from kwire.protocol.errors import ErrorCode

# Milliseconds: from a cached Metadata answer (well under a millisecond) to a
# long poll or an acks=all wait (request.timeout.ms, 30 s by default).
TIME_BUCKETS_MS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000)
# Bytes: a heartbeat (tens of bytes) to the largest frames (socket.request.max.bytes is 100 MiB).
SIZE_BUCKETS = (64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 104857600)
# Frames that were refused before handling may name any version: only these get a series.
MAX_VERSION = 63
PREFIX = "kafka_network_requestmetrics_"

# (name after PREFIX, help, buckets), in the order _Series.observe fills them.
HISTOGRAMS = (
    ("totaltimems", "A request's time from its last byte read to its answer sent, ms (TotalTimeMs)", TIME_BUCKETS_MS),
    ("requestqueuetimems", "Time waiting for queued.max.request.bytes, ms (RequestQueueTimeMs)", TIME_BUCKETS_MS),
    ("localtimems", "Time the handler took, ms (LocalTimeMs)", TIME_BUCKETS_MS),
    ("remotetimems", "Time waiting for acks=all replication or a fetch long poll, ms (RemoteTimeMs)", TIME_BUCKETS_MS),
    ("throttletimems", "Throttle time a quota gave the answer, ms (ThrottleTimeMs)", TIME_BUCKETS_MS),
    ("responsesendtimems", "Time sending the answer, ms (ResponseSendTimeMs)", TIME_BUCKETS_MS),
    ("requestbytes", "Request sizes in bytes (RequestBytes)", SIZE_BUCKETS),
    ("responsebytes", "Answer sizes in bytes (not a Kafka metric)", SIZE_BUCKETS),
)

_KNOWN_KEYS = frozenset(int(key) for key in ApiKey)


def error_name(code: int) -> str:
    """Kafka's name of an error code (MESSAGE_TOO_LARGE), or the number for one kio does not know."""
    try:
        return ErrorCode(code).name.upper()
    except ValueError:
        return str(code)


class Buckets:
    """One histogram's observations: counts per bucket (the last: +Inf) and their sum."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # the first bound >= value: Prometheus' `le`
        self.total += value

    def cumulative(self) -> list[tuple[str, float]]:
        buckets: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip(_bound_labels(self.bounds), self.counts, strict=True):
            running += count
            buckets.append((bound, running))
        return buckets


_LABELS: dict[tuple[float, ...], tuple[str, ...]] = {}


def _bound_labels(bounds: tuple[float, ...]) -> tuple[str, ...]:
    """The `le` label values of the bounds and +Inf, as prometheus_client writes them."""
    labels = _LABELS.get(bounds)
    if labels is None:
        each = (*bounds, float("inf"))
        labels = _LABELS[bounds] = tuple(floatToGoString(bound) for bound in each)  # type: ignore[no-untyped-call]
    return labels


class _Series:
    """One API and version's histograms."""

    __slots__ = ("name", "timed_name", "version", "histograms")

    def __init__(self, api_key: int, version: int) -> None:
        self.name = api_name(ApiKey(api_key))
        self.timed_name = "FetchConsumer" if api_key == ApiKey.FETCH else self.name
        self.version = str(version)
        self.histograms = tuple(Buckets(bounds) for _name, _help, bounds in HISTOGRAMS)

    def observe(self, event: RequestEvent) -> None:
        total, queue, local, remote, throttle, send, request_bytes, response_bytes = self.histograms
        total.observe(event.total_ms)
        queue.observe(event.queue_ms)
        local.observe(event.local_ms)
        remote.observe(event.remote_ms)
        throttle.observe(event.throttle_ms)
        send.observe(event.send_ms)
        request_bytes.observe(event.request_bytes)
        if event.answered:
            response_bytes.observe(event.response_bytes)


class RequestMetrics:
    def __init__(self) -> None:
        self._series: dict[tuple[int, int], _Series] = {}
        self._errors: dict[tuple[int, int], int] = {}  # (api key, error code) -> count

    def observe(self, event: RequestEvent) -> None:
        api_key, version = event.api_key, event.api_version
        series = self._series.get((api_key, version))
        if series is None:
            if api_key not in _KNOWN_KEYS or not 0 <= version <= MAX_VERSION:
                return  # a frame refused unread: no series for whatever it claimed
            series = self._series[(api_key, version)] = _Series(api_key, version)
        series.observe(event)
        errors = self._errors
        if event.errors:
            for code, count in event.errors.items():
                errors[(api_key, code)] = errors.get((api_key, code), 0) + count
        elif not event.closed:
            errors[(api_key, 0)] = errors.get((api_key, 0), 0) + 1

    def collect(self) -> Iterator[Metric]:
        series = sorted(self._series.values(), key=lambda each: (each.name, int(each.version)))
        requests = CounterMetricFamily(
            PREFIX + "requests", "Requests answered (RequestsPerSec)", labels=["request", "version"]
        )
        for each in series:
            requests.add_metric([each.name, each.version], sum(each.histograms[0].counts))
        yield requests
        for position, (name, documentation, _bounds) in enumerate(HISTOGRAMS):
            family = HistogramMetricFamily(PREFIX + name, documentation, labels=["request", "version"])
            for each in series:
                histogram = each.histograms[position]
                family.add_metric([each.timed_name, each.version], histogram.cumulative(), histogram.total)
            yield family
        errors = CounterMetricFamily(
            PREFIX + "errors",
            "Error codes in answers, per request and error name (ErrorsPerSec; NONE: once per answer without one)",
            labels=["request", "error"],
        )
        for (api_key, code), count in sorted(self._errors.items()):
            errors.add_metric([api_name(ApiKey(api_key)), error_name(code)], count)
        yield errors
