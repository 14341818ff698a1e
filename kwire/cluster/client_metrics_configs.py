"""CLIENT_METRICS config resources (KIP-714): named subscriptions that tell
matching clients which of their metrics to push and how often, validated as
Kafka's ClientMetricsConfigs does and kept as records in the metadata log.

A subscription has three configs, all optional: `metrics` (a list of metric
name prefixes, `*` for all), `interval.ms` (how often to push) and `match`
(a list of `selector=regex`; every one must fully match the client).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import attrs

from kwire.protocol.errors import ErrorCode, KafkaError

METRICS, INTERVAL_MS, MATCH = "metrics", "interval.ms", "match"
# DescribeConfigs' config_type for them (Kafka's ConfigDef LIST and INT).
_LIST, _INT = 7, 3
CONFIG_TYPES = {METRICS: _LIST, INTERVAL_MS: _INT, MATCH: _LIST}
DOCUMENTATION = {
    METRICS: "metric name prefixes the matching clients push ('*': every metric)",
    INTERVAL_MS: "how often the matching clients push, in milliseconds",
    MATCH: "selector=regex pairs a client must all match (none: every client)",
}
DEFAULT_INTERVAL_MS = 300000
MIN_INTERVAL_MS, MAX_INTERVAL_MS = 100, 3600000
ALL_METRICS = "*"
# What a `match` entry may select on: facts of the client's connection.
SELECTORS = frozenset(
    {
        "client_instance_id",
        "client_id",
        "client_software_name",
        "client_software_version",
        "client_source_address",
        "client_source_port",
    }
)


@attrs.frozen
class Subscription:
    """One CLIENT_METRICS resource, parsed."""

    name: str
    metrics: tuple[str, ...]
    interval_ms: int
    match: tuple[tuple[str, re.Pattern[str]], ...]

    def matches(self, client: Mapping[str, str | None]) -> bool:
        """Every selector's regex matches the client's value in full (no selector: every client)."""
        for selector, pattern in self.match:
            value = client.get(selector)
            if value is None or pattern.fullmatch(value) is None:
                return False
        return True


def split_list(value: str) -> list[str]:
    """A LIST config's items as Kafka's ConfigDef parses them (comma separated, trimmed)."""
    text = value.strip()
    return [] if not text else [item.strip() for item in text.split(",")]


def parse_match(patterns: list[str]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """`selector=regex` entries; INVALID_CONFIG for an unknown selector or a bad regex."""
    parsed: dict[str, re.Pattern[str]] = {}
    for entry in patterns:
        parts = entry.split("=")
        if len(parts) != 2 or parts[0].strip() not in SELECTORS:
            raise KafkaError(ErrorCode.invalid_config, f"Illegal client matching pattern: {entry}")
        try:
            parsed[parts[0].strip()] = re.compile(parts[1].strip())
        except (re.error, RecursionError, OverflowError):
            raise KafkaError(ErrorCode.invalid_config, f"Illegal client matching pattern: {entry}") from None
    return tuple(sorted(parsed.items()))


def _interval(value: str) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        number = None
    if number is None or not -(2**31) <= number < 2**31:
        raise KafkaError(
            ErrorCode.invalid_config, f"Invalid value {value} for configuration {INTERVAL_MS}: Not a number of type INT"
        )
    if not MIN_INTERVAL_MS <= number <= MAX_INTERVAL_MS:
        raise KafkaError(
            ErrorCode.invalid_request,
            f"Invalid value {number} for {INTERVAL_MS}, interval must be between 100 and 3600000 (1 hour)",
        )
    return number


def validate_client_metrics_configs(name: str, configs: Mapping[str, str | None]) -> dict[str, str]:
    """A subscription's configs checked as Kafka's ClientMetricsConfigs.validate:
    INVALID_REQUEST for an empty name, an unknown config or an interval out of
    bounds, INVALID_CONFIG for a value that does not parse."""
    if not name:
        raise KafkaError(ErrorCode.invalid_request, "Subscription name can't be empty")
    clean: dict[str, str] = {}
    for key, value in configs.items():
        if key not in CONFIG_TYPES:
            raise KafkaError(ErrorCode.invalid_request, f"Unknown client metrics configuration: {key}")
        if value is None:
            raise KafkaError(ErrorCode.invalid_request, f"Null value not supported for: {key}")
        clean[key] = value
    if INTERVAL_MS in clean:
        clean[INTERVAL_MS] = str(_interval(clean[INTERVAL_MS]))
    if MATCH in clean:
        parse_match(split_list(clean[MATCH]))
    return clean


def parse_subscription(name: str, configs: Mapping[str, str]) -> Subscription:
    """A stored (already validated) resource as a Subscription; a value that
    no longer parses counts as unset rather than stopping the broker."""
    try:
        interval = _interval(configs[INTERVAL_MS]) if INTERVAL_MS in configs else DEFAULT_INTERVAL_MS
    except KafkaError:
        interval = DEFAULT_INTERVAL_MS
    try:
        match = parse_match(split_list(configs.get(MATCH, "")))
    except KafkaError:
        match = ()
    metrics = tuple(item for item in split_list(configs.get(METRICS, "")))
    return Subscription(name, metrics, interval, match)


class ClientMetricsConfigs:
    """Every CLIENT_METRICS resource's configs; `version` moves on every
    change, so client instances know to look at their subscription again."""

    def __init__(self, stored: Mapping[str, dict[str, str]], write: Callable[[str, dict[str, str]], None]) -> None:
        self.resources: dict[str, dict[str, str]] = {name: dict(configs) for name, configs in stored.items()}
        self._write = write  # MetadataLog.write_client_metrics_configs (or the controller's)
        self.version = 0
        self._parsed: tuple[int, tuple[Subscription, ...]] | None = None

    def get(self, name: str) -> dict[str, str]:
        return dict(self.resources.get(name, {}))

    def names(self) -> list[str]:
        return sorted(self.resources)

    def alter(self, name: str, configs: Mapping[str, str | None], validate_only: bool) -> None:
        """Replace a resource's configs (none left: the resource goes); raises KafkaError."""
        clean = validate_client_metrics_configs(name, configs)
        if validate_only:
            return
        self._write(name, clean)
        if clean:
            self.resources[name] = clean
        else:
            self.resources.pop(name, None)
        self.version += 1

    def reload(self, stored: Mapping[str, dict[str, str]]) -> None:
        """Every resource as the controller's metadata now has them."""
        fresh = {name: dict(configs) for name, configs in stored.items()}
        if fresh != self.resources:
            self.resources = fresh
            self.version += 1

    def subscriptions(self) -> tuple[Subscription, ...]:
        """Every resource parsed (cached until the next change)."""
        if self._parsed is None or self._parsed[0] != self.version:
            parsed = tuple(parse_subscription(name, configs) for name, configs in sorted(self.resources.items()))
            self._parsed = (self.version, parsed)
        return self._parsed[1]
