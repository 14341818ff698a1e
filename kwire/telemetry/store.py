"""What clients told the broker about themselves (KIP-714), per client
instance: who it is, when and how often it pushed, and the latest value of
each metric it pushed. The console and the Prometheus collector read it
through `clients()`.

Bounded: at most MAX_CLIENTS clients (the least recently heard from go
first), each forgotten RETAIN_MS after its last push, and at most
MAX_SERIES metric series per client. A finished client (a terminating push)
is kept like any other, so a CI run can still look at it afterwards.

Sums and histograms pushed as deltas (what the broker asks for) are added
up, so `value` is the running total since the broker first heard of the
client; gauges keep their latest value.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from typing import TYPE_CHECKING

import attrs

from kwire.telemetry.instances import ClientInstance, ClientInstances
from kwire.telemetry.otlp import GAUGE, Attributes, DecodedPush, MetricPoint

if TYPE_CHECKING:
    from kwire.cluster.client_metrics_configs import ClientMetricsConfigs

MAX_CLIENTS = 1000
RETAIN_MS = 60 * 60 * 1000
MAX_SERIES = 5000


@attrs.define
class MetricValue:
    """One series of a client (a metric name and its attributes)."""

    name: str
    kind: str  # gauge, sum, histogram, exponential_histogram, summary
    attributes: Attributes
    value: float  # gauges: the latest; sums: the total; distributions: the sum of observations
    count: int | None = None  # distributions: observations in all
    minimum: float | None = None
    maximum: float | None = None
    monotonic: bool = False
    unit: str = ""
    description: str = ""
    updated_ms: int = 0

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.attributes)


@attrs.define
class ClientTelemetry:
    """One client instance as its pushes described it."""

    client_instance_id: uuid.UUID
    client_id: str | None
    software_name: str | None
    software_version: str | None
    source_address: str | None
    source_port: int | None
    subscriptions: tuple[str, ...] = ()  # the CLIENT_METRICS resources it matched
    resource: dict[str, str] = attrs.field(factory=dict)  # OTLP resource attributes (group id, rack…)
    first_push_ms: int = 0
    last_push_ms: int = 0
    push_count: int = 0
    terminated: bool = False
    series: dict[tuple[str, Attributes], MetricValue] = attrs.field(factory=dict)
    dropped_series: int = 0  # series refused past MAX_SERIES

    def metrics(self) -> list[MetricValue]:
        """Every series, by name then attributes."""
        return [self.series[key] for key in sorted(self.series)]


class ClientTelemetryStore:
    """The broker's client telemetry: the client instances and their
    subscriptions (`instances`) and what they pushed."""

    def __init__(
        self,
        client_metrics: ClientMetricsConfigs,
        max_clients: int = MAX_CLIENTS,
        retain_ms: int = RETAIN_MS,
        max_series: int = MAX_SERIES,
    ) -> None:
        self.instances = ClientInstances(lambda: (client_metrics.version, client_metrics.subscriptions()))
        self.max_clients = max_clients
        self.retain_ms = retain_ms
        self.max_series = max_series
        self._clients: OrderedDict[uuid.UUID, ClientTelemetry] = OrderedDict()
        self.refused_pushes = 0  # pushes answered with an error (throttled, stale subscription, unreadable…)

    def clients(self, now_ms: int | None = None) -> list[ClientTelemetry]:
        """Every client kept, the most recently heard from first (`now_ms`:
        forget those idle past RETAIN_MS first)."""
        if now_ms is not None:
            self._forget_idle(now_ms)
        return list(reversed(self._clients.values()))

    def client(self, instance_id: uuid.UUID) -> ClientTelemetry | None:
        return self._clients.get(instance_id)

    def record_push(
        self, instance: ClientInstance, push: DecodedPush | None, terminating: bool, now_ms: int
    ) -> ClientTelemetry:
        """An accepted push (`push` None: it carried no metrics)."""
        self._forget_idle(now_ms)
        client = self._clients.get(instance.instance_id)
        if client is None:
            meta = instance.metadata
            client = ClientTelemetry(
                meta.client_instance_id,
                meta.client_id,
                meta.software_name,
                meta.software_version,
                meta.source_address,
                meta.source_port,
                first_push_ms=now_ms,
            )
            self._clients[instance.instance_id] = client
            while len(self._clients) > self.max_clients:
                self._clients.popitem(last=False)
        else:
            self._clients.move_to_end(instance.instance_id)
        client.subscriptions = instance.subscription.names
        client.last_push_ms = now_ms
        client.push_count += 1
        client.terminated = client.terminated or terminating
        if push is not None:
            client.resource.update(push.resource)
            for point in push.points:
                if instance.subscription.wants(point.name):
                    self._apply(client, point, now_ms)
        return client

    def _apply(self, client: ClientTelemetry, point: MetricPoint, now_ms: int) -> None:
        key = (point.name, point.attributes)
        current = client.series.get(key)
        if current is None:
            if len(client.series) >= self.max_series:
                client.dropped_series += 1
                return
            current = MetricValue(point.name, point.kind, point.attributes, 0.0, unit=point.unit)
            client.series[key] = current
        accumulate = point.delta and point.kind != GAUGE and current.kind == point.kind
        current.kind = point.kind
        current.value = current.value + point.value if accumulate else point.value
        if point.count is not None:
            current.count = (current.count or 0) + point.count if accumulate else point.count
        if point.minimum is not None:
            current.minimum = point.minimum
        if point.maximum is not None:
            current.maximum = point.maximum
        current.monotonic = point.monotonic
        current.unit = point.unit or current.unit
        current.description = point.description or current.description
        current.updated_ms = now_ms

    def _forget_idle(self, now_ms: int) -> None:
        while self._clients:
            oldest = next(iter(self._clients.values()))
            if now_ms - oldest.last_push_ms <= self.retain_ms:
                return
            self._clients.popitem(last=False)
