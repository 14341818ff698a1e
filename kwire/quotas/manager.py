"""The node's client quotas: the values set by AlterClientQuotas (written to
the metadata log through a callback, replayed at start-up) and the rate
sensors that enforce them.

Enforced as Kafka's ClientQuotaManager does: a request's value (bytes
produced, bytes fetched, percent of a thread's time) is recorded into the
sensor of the quota that applies to its client; when the measured rate then
exceeds the quota, the answer carries a throttle time, the time without
traffic that brings the rate back to the quota, and the server mutes the
connection for it after answering (KIP-219). Clients without a quota are
not counted at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import attrs

from kwire.clock import Clock
from kwire.config import BrokerConfig
from kwire.quotas.entities import (
    ANONYMOUS,
    CONNECTION_CREATION_RATE,
    CONSUMER_BYTE_RATE,
    IP,
    PRODUCER_BYTE_RATE,
    REQUEST_PERCENTAGE,
    Entity,
    Filter,
    QuotaError,
    Tags,
    entity_of,
    entity_text,
    ip_key,
    resolve,
    validate_entity,
    validate_value,
)
from kwire.quotas.rate import WindowedRate, throttle_time_ms

ENFORCED = (PRODUCER_BYTE_RATE, CONSUMER_BYTE_RATE, REQUEST_PERCENTAGE, CONNECTION_CREATION_RATE)
MAX_THROTTLE_MS = 2**31 - 1
# A request thread's time as a percentage: 100 per second of handling.
PERCENT_PER_SECOND = 100.0

# One AlterClientQuotas entry: the entity's components and its operations,
# (key, value) where a None value removes the key.
Alteration = tuple[Mapping[str, str | None], Iterable[tuple[str, float | None]]]


@attrs.frozen
class AlterResult:
    entity: Mapping[str, str | None]
    error: QuotaError | None


class ClientQuotas:
    def __init__(
        self,
        config: BrokerConfig,
        stored: Mapping[Entity, Mapping[str, float]],
        write: Callable[[dict[Entity, dict[str, float]]], None],
        clock: Clock,
    ) -> None:
        self.config = config
        self._write = write  # MetadataLog.write_client_quotas
        self._clock = clock
        self.quotas: dict[Entity, dict[str, float]] = {entity: dict(values) for entity, values in stored.items()}
        self._sensors: dict[tuple[str, Tags], WindowedRate] = {}
        self._enforced: set[str] = set()
        self._next_purge_ms = 0.0
        self._refresh()

    # --- AlterClientQuotas / DescribeClientQuotas -------------------------

    def describe(self, quota_filter: Filter) -> list[tuple[Entity, dict[str, float]]]:
        return [(entity, dict(values)) for entity, values in self.quotas.items() if quota_filter.matches(entity)]

    def alter(self, alterations: Iterable[Alteration], validate_only: bool) -> list[AlterResult]:
        """Apply each entry (unless validate_only) and answer each distinct
        entity once, as Kafka's controller does: a duplicate key refuses the
        entry, and an entity named twice is answered with an error (the
        first entry of it is still applied, as in Kafka)."""
        results: dict[Entity, AlterResult] = {}
        changes: dict[Entity, dict[str, float]] = {}
        for components, operations in alterations:
            entity = entity_of(components)
            wanted: dict[str, float | None] = {}
            for key, value in operations:
                if key in wanted:
                    results[entity] = AlterResult(
                        components,
                        QuotaError(
                            f"Duplicate quota key {key} not updating quota for this entity {entity_text(components)}"
                        ),
                    )
                else:
                    wanted[key] = value
            if entity in results:
                results[entity] = AlterResult(
                    components, QuotaError(f"Ignoring duplicate entity {entity_text(components)}")
                )
                continue
            try:
                keys = validate_entity(components)
                current = dict(changes.get(entity, self.quotas.get(entity, {})))
                for key, value in wanted.items():
                    if value is None:
                        current.pop(key, None)
                    else:
                        validate_value(keys, key, value)
                        current[key] = float(value)
            except QuotaError as exc:
                results[entity] = AlterResult(components, exc)
                continue
            results[entity] = AlterResult(components, None)
            changes[entity] = current
        if not validate_only:
            changed = {entity: values for entity, values in changes.items() if values != self.quotas.get(entity, {})}
            if changed:
                self._write(changed)  # in one batch, as Kafka commits them atomically
            for entity, values in changed.items():
                if values:
                    self.quotas[entity] = values
                else:
                    self.quotas.pop(entity, None)
            self._refresh()
        return list(results.values())

    def reload(self, stored: Mapping[Entity, Mapping[str, float]]) -> None:
        """Every entity's quotas as the controller's metadata now has them
        (the measured rates stay)."""
        self.quotas = {entity: dict(values) for entity, values in stored.items()}
        self._refresh()

    # --- enforcement --------------------------------------------------------

    def enforces(self, key: str) -> bool:
        """Some entity sets `key`: requests must be counted for it."""
        return key in self._enforced

    def limit(self, key: str, client_id: str | None) -> float | None:
        found = resolve(self.quotas, key, ANONYMOUS, client_id or "")
        return None if found is None else found[0]

    def max_value_in_window(self, key: str, client_id: str | None) -> float | None:
        """The most one request may count without being throttled for sure:
        the quota over all windows but one (Kafka bounds a fetch by it)."""
        bound = self.limit(key, client_id) if key in self._enforced else None
        if bound is None:
            return None
        return bound * (self.config.quota_window_num - 1) * self.config.quota_window_size_seconds

    def record(self, key: str, client_id: str | None, value: float) -> int:
        """Count `value` for the client; the throttle time in ms (0 within quota)."""
        if key not in self._enforced:
            return 0
        found = resolve(self.quotas, key, ANONYMOUS, client_id or "")
        if found is None:
            return 0
        bound, tags = found
        now_ms = self._now_ms()
        sensor = self._sensor(key, tags)
        sensor.record(value, now_ms)
        observed = sensor.measure(now_ms)
        if observed <= bound:
            return 0
        throttle = throttle_time_ms(observed, bound, sensor.window_size_ms(now_ms))
        if key == REQUEST_PERCENTAGE:
            # Kafka bounds only the request quota's throttle, by one window.
            throttle = min(throttle, self.config.quota_window_size_seconds * 1000)
        # The answer's field is an int32 (where Kafka's would wrap round).
        return min(throttle, MAX_THROTTLE_MS)

    def unrecord(self, key: str, client_id: str | None, value: float) -> None:
        """Take back a value recorded by `record` (a throttled fetch answers
        no records, so it counts none, as in Kafka)."""
        found = resolve(self.quotas, key, ANONYMOUS, client_id or "") if key in self._enforced else None
        if found is not None:
            self._sensor(key, found[1]).record(-value, self._now_ms())

    def record_connection(self, ip: str) -> int:
        """A new connection from `ip` against its connection_creation_rate
        (the ip entity's, else the default ip entity's): 0 to serve it, else
        how long to hold it unserved before closing it. As Kafka does, a
        refused connection is not counted, and the wait is at most one window."""
        if CONNECTION_CREATION_RATE not in self._enforced:
            return 0
        address = ip_key(ip)
        bound = self._ip_limits.get(address, self._ip_limits.get(None))
        if bound is None:
            return 0
        now_ms = self._now_ms()
        sensor = self._sensor(CONNECTION_CREATION_RATE, (address, ""))
        sensor.record(1.0, now_ms)
        observed = sensor.measure(now_ms)
        if observed <= bound:
            return 0
        sensor.record(-1.0, now_ms)
        throttle = throttle_time_ms(observed, bound, sensor.window_size_ms(now_ms))
        return min(throttle, self.config.quota_window_size_seconds * 1000)

    def record_request_time(self, client_id: str | None, seconds: float) -> int:
        """A request's handling time against the client's request_percentage."""
        return self.record(REQUEST_PERCENTAGE, client_id, seconds * PERCENT_PER_SECOND)

    def tick(self) -> None:
        """Forget the sensors of clients idle for longer than all windows
        (looked for once a window span)."""
        now_ms = self._now_ms()
        if now_ms < self._next_purge_ms:
            return
        self._next_purge_ms = now_ms + self.config.quota_window_num * self.config.quota_window_size_seconds * 1000
        for name in [name for name, sensor in self._sensors.items() if sensor.idle(now_ms)]:
            del self._sensors[name]

    # --- internals ------------------------------------------------------------

    def _sensor(self, key: str, tags: Tags) -> WindowedRate:
        sensor = self._sensors.get((key, tags))
        if sensor is None:
            sensor = WindowedRate(self.config.quota_window_num, self.config.quota_window_size_seconds * 1000)
            self._sensors[(key, tags)] = sensor
        return sensor

    def _now_ms(self) -> float:
        return self._clock.monotonic() * 1000

    def _refresh(self) -> None:
        self._enforced = {key for values in self.quotas.values() for key in values if key in ENFORCED}
        # connection_creation_rate by address (None: the default ip entity).
        self._ip_limits: dict[str | None, float] = {}
        for entity, values in self.quotas.items():
            components = dict(entity)
            if IP in components and CONNECTION_CREATION_RATE in values:
                name = components[IP]
                self._ip_limits[None if name is None else ip_key(name)] = values[CONNECTION_CREATION_RATE]
