"""GROUP config resources (KIP-848/KIP-932): per-group overrides of the
consumer- and share-group timeouts, validated as Kafka 4.x's GroupConfig
does and kept as records in the metadata log. A group without an
override takes the broker's setting; the broker's group.*.min/max.*
settings bound what a group may set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs

from kwire.protocol.errors import ErrorCode, KafkaError

# DescribeConfigs config_type and ConfigSource values.
INT, STRING = 3, 2
GROUP_CONFIG, DEFAULT_CONFIG = 8, 5


@attrs.frozen
class GroupConfigSpec:
    kind: int
    # The broker setting that supplies the default, and Kafka's default for it.
    broker_name: str
    default: str
    at_least: int | None = None
    choices: tuple[str, ...] = ()
    documentation: str = ""


GROUP_CONFIGS: dict[str, GroupConfigSpec] = {
    "consumer.session.timeout.ms": GroupConfigSpec(
        INT, "group.consumer.session.timeout.ms", "45000", 1, documentation="consumer group member session timeout"
    ),
    "consumer.heartbeat.interval.ms": GroupConfigSpec(
        INT, "group.consumer.heartbeat.interval.ms", "5000", 1, documentation="consumer group heartbeat interval"
    ),
    "share.session.timeout.ms": GroupConfigSpec(
        INT, "group.share.session.timeout.ms", "45000", 1, documentation="share group member session timeout"
    ),
    "share.heartbeat.interval.ms": GroupConfigSpec(
        INT, "group.share.heartbeat.interval.ms", "5000", 1, documentation="share group heartbeat interval"
    ),
    "share.record.lock.duration.ms": GroupConfigSpec(
        INT,
        "group.share.record.lock.duration.ms",
        "30000",
        1000,
        documentation="how long a share group member holds an acquired record",
    ),
    "share.auto.offset.reset": GroupConfigSpec(
        STRING,
        "share.auto.offset.reset",
        "latest",
        choices=("latest", "earliest"),
        documentation="where a share group starts in a partition it has not read",
    ),
    "share.isolation.level": GroupConfigSpec(
        STRING,
        "share.isolation.level",
        "read_uncommitted",
        choices=("read_committed", "read_uncommitted"),
        documentation="whether a share group reads uncommitted transactional records",
    ),
}

# The broker settings that bound a group's value: group.<kind>.min/max.<setting>.
_BOUNDED = {
    "consumer.heartbeat.interval.ms": ("group.consumer", "heartbeat.interval.ms"),
    "consumer.session.timeout.ms": ("group.consumer", "session.timeout.ms"),
    "share.heartbeat.interval.ms": ("group.share", "heartbeat.interval.ms"),
    "share.session.timeout.ms": ("group.share", "session.timeout.ms"),
    "share.record.lock.duration.ms": ("group.share", "record.lock.duration.ms"),
}
# Kafka's defaults for those bounds, for a GroupConfigs made without a broker's config.
_KAFKA_BOUNDS = {
    "group.consumer.min.heartbeat.interval.ms": "5000",
    "group.consumer.max.heartbeat.interval.ms": "15000",
    "group.consumer.min.session.timeout.ms": "45000",
    "group.consumer.max.session.timeout.ms": "60000",
    "group.share.min.heartbeat.interval.ms": "5000",
    "group.share.max.heartbeat.interval.ms": "15000",
    "group.share.min.session.timeout.ms": "45000",
    "group.share.max.session.timeout.ms": "60000",
    "group.share.min.record.lock.duration.ms": "15000",
    "group.share.max.record.lock.duration.ms": "60000",
}
# A session must outlast a heartbeat interval.
_SESSION_OVER_HEARTBEAT = (
    ("consumer.session.timeout.ms", "consumer.heartbeat.interval.ms"),
    ("share.session.timeout.ms", "share.heartbeat.interval.ms"),
)


def broker_group_settings(setting: Callable[[str], object]) -> dict[str, str]:
    """The broker settings groups default to and are bounded by, read by
    Kafka name from the broker's config (`setting`)."""
    names = [spec.broker_name for spec in GROUP_CONFIGS.values() if spec.broker_name.startswith("group.")]
    return {name: str(setting(name)) for name in [*names, *_KAFKA_BOUNDS]}


def _broker_value(broker: Mapping[str, str], name: str) -> str:
    spec = GROUP_CONFIGS.get(name)
    if spec is not None:
        return broker.get(spec.broker_name, spec.default)
    return broker.get(name, _KAFKA_BOUNDS.get(name, ""))


def _invalid(message: str) -> KafkaError:
    return KafkaError(ErrorCode.invalid_config, message)


def validate_group_configs(
    configs: Mapping[str, str | None], broker: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A group's overrides checked as Kafka's GroupConfig.validate (INVALID_CONFIG)
    against the broker's bounds (`broker_group_settings`; Kafka's defaults when None)."""
    broker = broker or {}
    clean: dict[str, str] = {}
    for name, value in configs.items():
        spec = GROUP_CONFIGS.get(name)
        if spec is None:
            raise _invalid(f"Unknown group config name: {name}")
        if value is None:
            raise _invalid(f"Null value not supported for group config: {name}")
        clean[name] = _checked(name, spec, value)
    values = {name: clean.get(name, _broker_value(broker, name)) for name in GROUP_CONFIGS}
    for name, (prefix, suffix) in _BOUNDED.items():
        number = int(values[name])
        if number < int(_broker_value(broker, f"{prefix}.min.{suffix}")):
            raise _invalid(f"{name} must be greater than or equal to {prefix}.min.{suffix}")
        if number > int(_broker_value(broker, f"{prefix}.max.{suffix}")):
            raise _invalid(f"{name} must be less than or equal to {prefix}.max.{suffix}")
    for session, heartbeat in _SESSION_OVER_HEARTBEAT:
        if int(values[session]) <= int(values[heartbeat]):
            raise _invalid(f"{session} must be greater than {heartbeat}")
    return clean


def _checked(name: str, spec: GroupConfigSpec, value: str) -> str:
    text = value.strip()
    if spec.kind == INT:
        try:
            number = int(text)
        except ValueError:
            number = None
        if number is None or not -(2**31) <= number < 2**31:
            raise _invalid(f"Invalid value {value} for configuration {name}: Not a number of type INT")
        if spec.at_least is not None and number < spec.at_least:
            raise _invalid(f"Invalid value {value} for configuration {name}: Value must be at least {spec.at_least}")
        return str(number)
    if spec.choices and text not in spec.choices:
        raise _invalid(
            f"Invalid value {value} for configuration {name}: String must be one of: {', '.join(spec.choices)}"
        )
    return text


class GroupConfigs:
    """Every group's config overrides (a group need not exist to have them, as in Kafka)."""

    def __init__(
        self,
        stored: Mapping[str, dict[str, str]],
        write: Callable[[str, dict[str, str]], None],
        broker: Mapping[str, str] | None = None,
    ) -> None:
        self.overrides: dict[str, dict[str, str]] = {group: dict(configs) for group, configs in stored.items()}
        self._write = write  # MetadataLog.write_group_configs
        self._broker = dict(broker or {})  # broker_group_settings: the defaults and bounds

    def get(self, group_id: str) -> dict[str, str]:
        return dict(self.overrides.get(group_id, {}))

    def alter(self, group_id: str, configs: Mapping[str, str | None], validate_only: bool) -> None:
        """Replace a group's overrides; raises KafkaError."""
        if not group_id:
            raise KafkaError(ErrorCode.invalid_request, "Default group resources are not allowed.")
        clean = validate_group_configs(configs, self._broker)
        if validate_only:
            return
        self._write(group_id, clean)
        if clean:
            self.overrides[group_id] = clean
        else:
            self.overrides.pop(group_id, None)

    def reload(self, stored: Mapping[str, dict[str, str]]) -> None:
        """Every group's overrides as the controller's metadata now has them."""
        self.overrides = {group: dict(configs) for group, configs in stored.items()}

    def entries(self, group_id: str) -> list[tuple[str, str, int, GroupConfigSpec]]:
        """(name, value, source, spec) of every group config, as DescribeConfigs shows them."""
        overrides = self.overrides.get(group_id, {})
        return [
            (name, overrides[name], GROUP_CONFIG, spec)
            if name in overrides
            else (name, _broker_value(self._broker, name), DEFAULT_CONFIG, spec)
            for name, spec in sorted(GROUP_CONFIGS.items())
        ]
