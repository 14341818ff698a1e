"""The metrics clients pushed (KIP-714), for /metrics: a prometheus_client
custom collector reading ClientTelemetryStore at each scrape.

Each client metric becomes a family `kafka_client_<name>` (dots and other
characters Prometheus does not allow become underscores), e.g.
`org.apache.kafka.producer.record.queue.time.avg` becomes
`kafka_client_org_apache_kafka_producer_record_queue_time_avg`, labelled with
the client's identity (client_instance_id, client_id, client_software_name,
client_software_version, client_source_address) and the point's own
attributes. Sums and gauges are gauges (a delta sum shows its running
total); histograms and summaries give `_count` and `_sum`. Alongside:
`kafka_client_telemetry_pushes` (pushes per client) and
`kafka_client_telemetry_last_push_timestamp_seconds`.

Import this module only when the HTTP port is on: it imports prometheus_client.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kwire.telemetry.otlp import EXPONENTIAL_HISTOGRAM, HISTOGRAM, SUMMARY
from kwire.telemetry.store import ClientTelemetry, ClientTelemetryStore, MetricValue

PREFIX = "kafka_client_"
IDENTITY = (
    "client_instance_id",
    "client_id",
    "client_software_name",
    "client_software_version",
    "client_source_address",
)
_NOT_ALLOWED = re.compile(r"[^a-zA-Z0-9_]")
_DISTRIBUTIONS = frozenset({HISTOGRAM, EXPONENTIAL_HISTOGRAM, SUMMARY})


def metric_name(name: str) -> str:
    """A client metric's Prometheus family name."""
    return PREFIX + _NOT_ALLOWED.sub("_", name)


def label_name(key: str) -> str:
    """An attribute key as a label name (never one of the identity labels, never reserved)."""
    name = _NOT_ALLOWED.sub("_", key) or "_"
    if name[0].isdigit() or name.startswith("__") or name in IDENTITY:
        name = "attr_" + name.lstrip("_")
    return name


def _identity(client: ClientTelemetry) -> list[str]:
    return [
        str(client.client_instance_id),
        client.client_id or "",
        client.software_name or "",
        client.software_version or "",
        client.source_address or "",
    ]


class _Family:
    """One family's samples, gathered before its label names are known in full."""

    def __init__(self, name: str, documentation: str) -> None:
        self.name = name
        self.documentation = documentation
        self.samples: list[tuple[list[str], dict[str, str], float]] = []
        self.attribute_labels: dict[str, None] = {}

    def add(self, identity: list[str], attributes: dict[str, str], value: float) -> None:
        for key in attributes:
            self.attribute_labels.setdefault(key, None)
        self.samples.append((identity, attributes, value))

    def metric(self) -> Metric:
        extra = sorted(self.attribute_labels)
        family = GaugeMetricFamily(self.name, self.documentation, labels=[*IDENTITY, *extra])
        for identity, attributes, value in self.samples:
            family.add_metric([*identity, *(attributes.get(key, "") for key in extra)], value)
        return family


class TelemetryCollector(Collector):
    """Client telemetry as Prometheus metric families, read at each scrape.

    `store` is one node's store, or a callable giving the stores of every
    node (a cluster in one process: each client pushes to one node, its
    client_instance_id keeps it apart). `now_ms`, when given, lets the
    stores forget clients idle too long first."""

    def __init__(
        self,
        store: ClientTelemetryStore | Callable[[], Iterable[ClientTelemetryStore]],
        now_ms: Callable[[], int] | None = None,
    ) -> None:
        self.store = store
        self.now_ms = now_ms

    def collect(self) -> Iterator[Metric]:
        now = None if self.now_ms is None else self.now_ms()
        stores = [self.store] if isinstance(self.store, ClientTelemetryStore) else list(self.store())
        clients = [client for store in stores for client in store.clients(now)]
        pushes = GaugeMetricFamily(
            "kafka_client_telemetry_pushes", "Metrics pushes the broker accepted from a client", labels=list(IDENTITY)
        )
        last_push = GaugeMetricFamily(
            "kafka_client_telemetry_last_push_timestamp_seconds",
            "When a client last pushed its metrics",
            labels=list(IDENTITY),
        )
        families: dict[str, _Family] = {}
        for client in clients:
            identity = _identity(client)
            pushes.add_metric(identity, client.push_count)
            last_push.add_metric(identity, client.last_push_ms / 1000)
            for value in client.metrics():
                self._add(families, identity, value)
        yield pushes
        yield last_push
        for name in sorted(families):
            yield families[name].metric()

    @staticmethod
    def _add(families: dict[str, _Family], identity: list[str], value: MetricValue) -> None:
        attributes = {label_name(key): text for key, text in value.attributes}
        base = metric_name(value.name)
        documentation = value.description or f"client metric {value.name}"
        if value.kind in _DISTRIBUTIONS:
            for suffix, number in (("_count", float(value.count or 0)), ("_sum", value.value)):
                family = families.setdefault(base + suffix, _Family(base + suffix, documentation))
                family.add(identity, attributes, number)
            return
        family = families.setdefault(base, _Family(base, documentation))
        family.add(identity, attributes, value.value)
