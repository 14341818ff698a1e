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
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

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

_KNOWN_KEYS = frozenset(int(key) for key in ApiKey)


def error_name(code: int) -> str:
    """Kafka's name of an error code (MESSAGE_TOO_LARGE), or the number for one kio does not know."""
    try:
        return ErrorCode(code).name.upper()
    except ValueError:
        return str(code)


class _Series:
    """The metric children of one API and version (looked up once, then reused)."""

    __slots__ = ("requests", "total", "queue", "local", "remote", "throttle", "send", "request_bytes", "response_bytes")

    def __init__(self, metrics: RequestMetrics, api_key: int, version: int) -> None:
        name = api_name(ApiKey(api_key))
        timed = "FetchConsumer" if api_key == ApiKey.FETCH else name
        labels = (timed, str(version))
        self.requests = metrics.requests.labels(name, str(version))
        self.total = metrics.total_time.labels(*labels)
        self.queue = metrics.queue_time.labels(*labels)
        self.local = metrics.local_time.labels(*labels)
        self.remote = metrics.remote_time.labels(*labels)
        self.throttle = metrics.throttle_time.labels(*labels)
        self.send = metrics.send_time.labels(*labels)
        self.request_bytes = metrics.request_bytes.labels(*labels)
        self.response_bytes = metrics.response_bytes.labels(*labels)


class RequestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ("request", "version")

        def timing(name: str, what: str) -> Histogram:
            return Histogram(
                f"kafka_network_requestmetrics_{name}", what, labels, buckets=TIME_BUCKETS_MS, registry=registry
            )

        self.requests = Counter(
            "kafka_network_requestmetrics_requests", "Requests answered (RequestsPerSec)", labels, registry=registry
        )
        self.total_time = timing("totaltimems", "A request's time from its last byte read to its answer sent, ms")
        self.queue_time = timing("requestqueuetimems", "Time waiting for queued.max.request.bytes, ms")
        self.local_time = timing("localtimems", "Time the handler took, ms")
        self.remote_time = timing("remotetimems", "Time waiting for an acks=all replication or a fetch long poll, ms")
        self.throttle_time = timing("throttletimems", "Throttle time a quota gave the answer, ms")
        self.send_time = timing("responsesendtimems", "Time sending the answer, ms")
        self.request_bytes = Histogram(
            "kafka_network_requestmetrics_requestbytes",
            "Request sizes in bytes",
            labels,
            buckets=SIZE_BUCKETS,
            registry=registry,
        )
        self.response_bytes = Histogram(
            "kafka_network_requestmetrics_responsebytes",
            "Response sizes in bytes (not a Kafka metric)",
            labels,
            buckets=SIZE_BUCKETS,
            registry=registry,
        )
        self.errors = Counter(
            "kafka_network_requestmetrics_errors",
            "Error codes in answers, per request and error name (ErrorsPerSec; NONE: once per answer without one)",
            ("request", "error"),
            registry=registry,
        )
        self._series: dict[tuple[int, int], _Series] = {}
        self._error_counts: dict[tuple[int, int], Counter] = {}

    def observe(self, event: RequestEvent) -> None:
        api_key, version = event.api_key, event.api_version
        series = self._series.get((api_key, version))
        if series is None:
            if api_key not in _KNOWN_KEYS or not 0 <= version <= MAX_VERSION:
                return  # a frame refused unread: no series for whatever it claimed
            series = self._series[(api_key, version)] = _Series(self, api_key, version)
        series.requests.inc()
        series.total.observe(event.total_ms)
        series.queue.observe(event.queue_ms)
        series.local.observe(event.local_ms)
        series.remote.observe(event.remote_ms)
        series.throttle.observe(event.throttle_ms)
        series.send.observe(event.send_ms)
        series.request_bytes.observe(event.request_bytes)
        if event.answered:
            series.response_bytes.observe(event.response_bytes)
        if event.errors:
            for code, count in event.errors.items():
                self._errors(api_key, code).inc(count)
        elif not event.closed:
            self._errors(api_key, 0).inc()

    def _errors(self, api_key: int, code: int) -> Counter:
        child = self._error_counts.get((api_key, code))
        if child is None:
            child = self.errors.labels(api_name(ApiKey(api_key)), error_name(code))
            self._error_counts[(api_key, code)] = child
        return child
