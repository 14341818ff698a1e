"""Which CLIENT_METRICS subscriptions a client instance matches, and what
that tells it (Kafka's ClientMetricsManager rules): the union of the
matching subscriptions' metric prefixes (`*` alone when one asks for every
metric; nothing when none matches, so the client pushes nothing), the
smallest of their push intervals (300000 ms when none matches), and a
subscription id that changes when either does."""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterable, Mapping

import attrs

from kwire.cluster.client_metrics_configs import ALL_METRICS, DEFAULT_INTERVAL_MS, Subscription


@attrs.frozen
class ClientMetadata:
    """The facts of a client a `match` selector can name (None: unknown)."""

    client_instance_id: uuid.UUID
    client_id: str | None = None
    software_name: str | None = None
    software_version: str | None = None
    source_address: str | None = None
    source_port: int | None = None

    def selectors(self) -> dict[str, str | None]:
        return {
            "client_instance_id": str(self.client_instance_id),
            "client_id": self.client_id,
            "client_software_name": self.software_name,
            "client_software_version": self.software_version,
            "client_source_address": self.source_address,
            "client_source_port": None if self.source_port is None else str(self.source_port),
        }


@attrs.frozen
class ClientSubscription:
    """What one client instance is told to push."""

    metrics: tuple[str, ...]  # prefixes; ("*",) for every metric; () for none
    interval_ms: int
    subscription_id: int
    names: tuple[str, ...] = ()  # the CLIENT_METRICS resources that matched

    def wants(self, metric_name: str) -> bool:
        """Whether a pushed metric is one the subscription asked for."""
        if self.metrics == (ALL_METRICS,):
            return True
        return any(metric_name.startswith(prefix) for prefix in self.metrics)


def subscription_for(client: ClientMetadata, subscriptions: Iterable[Subscription]) -> ClientSubscription:
    """The combined subscription of every resource that matches `client`."""
    selectors: Mapping[str, str | None] = client.selectors()
    metrics: set[str] = set()
    interval = DEFAULT_INTERVAL_MS
    names: list[str] = []
    for subscription in subscriptions:
        if subscription.matches(selectors):
            names.append(subscription.name)
            metrics.update(subscription.metrics)
            interval = min(interval, subscription.interval_ms)
    chosen = (ALL_METRICS,) if ALL_METRICS in metrics else tuple(sorted(metrics))
    return ClientSubscription(
        chosen, interval, subscription_id(chosen, interval, client.client_instance_id), tuple(names)
    )


def subscription_id(metrics: tuple[str, ...], interval_ms: int, instance_id: uuid.UUID) -> int:
    """A signed 32-bit id for a subscription set, as Kafka makes one: a
    CRC-32C of the metrics and interval, XORed with the instance id's hash
    (opaque to clients: they only echo it back)."""
    from kwire.protocol.records import crc32c

    checksum = int(crc32c((",".join(metrics) + f"|{interval_ms}").encode()))
    high, low = (int(part) for part in struct.unpack(">qq", instance_id.bytes))
    folded = (high ^ low) & 0xFFFFFFFFFFFFFFFF
    mixed = (checksum ^ (folded >> 32) ^ folded) & 0xFFFFFFFF
    return mixed - (1 << 32) if mixed >= 1 << 31 else mixed
