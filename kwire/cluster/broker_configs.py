"""Dynamic broker configs: the settings Kafka lets AlterConfigs change at
run time (its DynamicBrokerConfig), per broker (resource name = node id) and
as the cluster-wide default (resource name "").

The value in force is the per-broker one, else the cluster default, else the
static setting (`-o`, or the built-in default). Both levels are records in
the metadata log, replayed at start-up before any topic is opened, and are
written into the node's BrokerConfig at once, so everything that reads a
setting (topic defaults, connection limits, the cleaner) follows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import attrs

from kwire.config import _IN_OTHER_UNITS, _NOT_KAFKA_SETTINGS, SETTINGS, BrokerConfig, ConfigError, ConfigValue
from kwire.config import rule_for as _rule_for
from kwire.config import shown as config_value_text
from kwire.protocol.errors import ErrorCode, KafkaError

log = logging.getLogger(__name__)

# ConfigSource values (DescribeConfigs).
DYNAMIC_BROKER_CONFIG, DYNAMIC_DEFAULT_BROKER_CONFIG, STATIC_BROKER_CONFIG, DEFAULT_CONFIG = 2, 3, 4, 5

DYNAMIC = frozenset(name for name, rule in SETTINGS.items() if rule.dynamic)
# Kafka settings kwire has no field for that Kafka will not change at run
# time either (the most common ones a client may try).
_OTHER_STATIC = frozenset(
    {
        "broker.id",
        "process.roles",
        "listeners",
        "advertised.listeners",
        "controller.listener.names",
        "controller.quorum.voters",
        "log.dirs",
        "log.dir",
        "delete.topic.enable",
        "zookeeper.connect",
    }
)
Synonym = tuple[str, str | None, int]


def kafka_names() -> list[str]:
    """Every broker setting kwire has, by its Kafka name."""
    return sorted(
        field.name.replace("_", ".") for field in attrs.fields(BrokerConfig) if field.name not in _NOT_KAFKA_SETTINGS
    )


def is_static(name: str) -> bool:
    """A Kafka setting that AlterConfigs may not change."""
    known = name in SETTINGS or name.replace(".", "_") in attrs.fields_dict(BrokerConfig)
    return name not in DYNAMIC and (known or name in _OTHER_STATIC or name in _IN_OTHER_UNITS)


def shown(value: object) -> str | None:
    """A setting's value as Kafka prints it (None stays None: an unset value)."""
    return None if value is None else config_value_text(value)


class DynamicBrokerConfigs:
    """The per-broker and cluster-default levels over a node's BrokerConfig."""

    def __init__(self, config: BrokerConfig, stored: Mapping[str, dict[str, str]], write: Callable[..., None]) -> None:
        self.config = config
        self._write = write  # MetadataLog.write_broker_configs
        # The values before any dynamic level: what a deleted override falls back to.
        self._static: dict[str, ConfigValue | None] = {name: self._get(name) for name in DYNAMIC}
        self.default_level = self._usable(stored.get("", {}))
        self.broker_level = self._usable(stored.get(str(config.node_id), {}))
        # Called after every change (e.g. the listener's connection limits).
        self.on_change: list[Callable[[], None]] = []
        self._apply(self._merged(self.broker_level, self.default_level))

    # --- queries ---------------------------------------------------------

    def level(self, resource_name: str) -> dict[str, str]:
        """The dynamic configs stored at one level ("" or this node's id)."""
        return dict(self.default_level if resource_name == "" else self.broker_level)

    def synonyms(self, name: str) -> list[Synonym]:
        """Where a broker setting's value can come from, strongest first, as
        DescribeConfigs lists them (the first one is in force)."""
        found: list[Synonym] = []
        if name in self.broker_level:
            found.append((name, self.broker_level[name], DYNAMIC_BROKER_CONFIG))
        if name in self.default_level:
            found.append((name, self.default_level[name], DYNAMIC_DEFAULT_BROKER_CONFIG))
        attribute = name.replace(".", "_")
        fields = attrs.fields_dict(BrokerConfig)
        if attribute not in fields or attribute in _NOT_KAFKA_SETTINGS:
            return found
        static = self._static[name] if name in self._static else getattr(self.config, attribute)
        if name in self.config.explicit:
            found.append((name, shown(static), STATIC_BROKER_CONFIG))
        found.append((name, shown(fields[attribute].default), DEFAULT_CONFIG))
        return found

    # --- changes ---------------------------------------------------------

    def alter(self, resource_name: str, configs: Mapping[str, str | None], validate_only: bool) -> None:
        """Replace the dynamic configs of one level ("" or this node's id) with
        `configs`; raises KafkaError (INVALID_REQUEST, as Kafka: KAFKA-13609)."""
        self.check_resource(resource_name)
        static = sorted(name for name in configs if is_static(name))
        if static:
            raise KafkaError(
                ErrorCode.invalid_request, f"Cannot update these configs dynamically: Set({', '.join(static)})"
            )
        clean: dict[str, str] = {}
        for name, value in configs.items():
            if value is None:
                raise KafkaError(ErrorCode.invalid_request, f"Null value not supported for broker config: {name}")
            clean[name] = self._parse(name, value)[1] if name in DYNAMIC else value
        broker_level, default_level = (self.broker_level, clean) if resource_name == "" else (clean, self.default_level)
        merged = self._merged(broker_level, default_level)
        trial = attrs.evolve(self.config, explicit=set(self.config.explicit))
        for name, typed in merged.items():
            setattr(trial, name.replace(".", "_"), typed)
        # Only what this change breaks (an embedded node may start unchecked).
        before = set(self.config.problems())
        problems = [problem for problem in trial.problems() if problem not in before]
        if problems:
            raise KafkaError(ErrorCode.invalid_request, problems[0])
        if validate_only:
            return
        self._write(resource_name, clean)
        if resource_name == "":
            self.default_level = clean
        else:
            self.broker_level = clean
        self._apply(merged)
        for callback in self.on_change:
            callback()

    def reload(self, stored: Mapping[str, dict[str, str]]) -> None:
        """Both levels as the controller's metadata now has them (a multi-node
        cluster: another node changed them); callbacks run when they moved."""
        default_level = self._usable(stored.get("", {}))
        broker_level = self._usable(stored.get(str(self.config.node_id), {}))
        if (default_level, broker_level) == (self.default_level, self.broker_level):
            return
        self.default_level, self.broker_level = default_level, broker_level
        self._apply(self._merged(broker_level, default_level))
        for callback in self.on_change:
            callback()

    def check_resource(self, resource_name: str) -> None:
        """Kafka's answer to a BROKER resource that is neither "" nor this node."""
        if resource_name == "":
            return
        try:
            node = int(resource_name)
        except ValueError:
            raise KafkaError(
                ErrorCode.invalid_request, f"Node id must be an integer, but it is: {resource_name}"
            ) from None
        if node != self.config.node_id:
            raise KafkaError(
                ErrorCode.invalid_request,
                f"Unexpected broker id, expected {self.config.node_id}, but received {resource_name}",
            )

    # --- internals -------------------------------------------------------

    def _usable(self, stored: Mapping[str, str]) -> dict[str, str]:
        """Stored values, less any this version refuses (logged, not fatal)."""
        usable = {}
        for name, raw in stored.items():
            try:
                if name in DYNAMIC:
                    self._parse(name, raw)
            except KafkaError as exc:
                log.warning("Ignoring the stored dynamic broker config %s=%s: %s", name, raw, exc.message)
                continue
            usable[name] = raw
        return usable

    def _parse(self, name: str, raw: str) -> tuple[ConfigValue, str]:
        attribute = name.replace(".", "_")
        rule = _rule_for(name, attrs.fields_dict(BrokerConfig)[attribute])
        try:
            value = rule.parse(f"configuration {name}", raw)
        except ConfigError as exc:
            raise KafkaError(ErrorCode.invalid_request, str(exc)) from None
        return value, shown(value) or ""

    def _merged(self, broker_level: dict[str, str], default_level: dict[str, str]) -> dict[str, ConfigValue | None]:
        """Every dynamic setting's value in force, typed."""
        merged: dict[str, ConfigValue | None] = {}
        for name in DYNAMIC:
            raw = broker_level.get(name, default_level.get(name))
            merged[name] = self._static[name] if raw is None else self._parse(name, raw)[0]
        return merged

    def _apply(self, merged: Mapping[str, ConfigValue | None]) -> None:
        for name, value in merged.items():
            setattr(self.config, name.replace(".", "_"), value)

    def _get(self, name: str) -> ConfigValue | None:
        value: ConfigValue | None = getattr(self.config, name.replace(".", "_"))
        return value
