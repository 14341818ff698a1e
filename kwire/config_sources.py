"""Where `kwire serve` takes its settings from, and which source wins.

Precedence, highest first: command-line flags (--port, --data-dir, ...),
then `-o name=value`, then the environment (KWIRE_… options over KAFKA_…
settings), then the `--config` properties file, then the defaults. Every
source is checked with the same rules (kwire/config.py SETTINGS), and every
problem is reported as one line naming its source (file:line, variable).

Kafka's address and storage settings map onto kwire's options:
`listeners` (one PLAINTEXT listener) sets the listen host and port,
`advertised.listeners` what clients are told, `log.dirs` (or `log.dir`, one
directory) the log directories (the first is the data directory, which also
holds the metadata log; `--data-dir` sets just one), and `broker.id` is
node.id's old name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

from kwire.config import BOOLEAN, BrokerConfig, ConfigError, Rule, is_setting, parse_option
from kwire.config_env import kafka_entries, kwire_entries
from kwire.config_files import Entry, read_properties
from kwire.observability.log_levels import LOG_LEVELS, LogLevels, parse_log_levels
from kwire.observability.logs import LOG_FORMATS

__all__ = ["LOG_LEVELS", "Loaded", "load", "apply_kafka_settings"]
# Settings read to make sense of `listeners`; kwire has nothing else to do with them.
LISTENER_CONTEXT = ("controller.listener.names", "listener.security.protocol.map")
# Kafka's listener.security.protocol.map default: each protocol is a listener name for itself.
DEFAULT_PROTOCOLS = {name: name for name in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")}
_ENDPOINT = re.compile(r"(?P<name>[^:/,]+)://(?:\[(?P<v6>[^\]]*)\]|(?P<host>[^:\[\]]*)):(?P<port>-?[0-9]+)")
_PORT = Rule("INT", at_least=0, at_most=65535)
_ADVERTISED_PORT = Rule("INT", at_least=1, at_most=65535)


@attrs.define
class Loaded:
    """The configuration to serve with, the log level, and the names (settings
    or variables) that were ignored because kwire does not support them;
    `logger_levels` the LOGGER=LEVEL entries of --log-level, `log_format`
    "text" or "json" (--log-format)."""

    config: BrokerConfig
    log_level: str = "INFO"
    ignored: list[str] = attrs.field(factory=list)
    logger_levels: tuple[tuple[str, str], ...] = ()
    log_format: str = "text"


def load(
    *,
    flags: Mapping[str, object],
    overrides: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Loaded:
    """Merge every source into one configuration; raises ConfigError with one
    line per problem (in every source) before anything is touched.

    `flags` maps option names (host, port, data_dir, memory, advertised_host,
    advertised_port, node_id, log_level, log_format, drop_produce_responses_every,
    exit_after_produce, control_port) to what the command line gave, None when not given
    (log_level may be a list: the option is repeatable).
    """
    environ = {} if environ is None else environ
    problems: list[str] = []
    ignored: list[str] = []
    env_options, unknown_variables = kwire_entries(environ)

    file_entries: list[Entry] = []
    path = flags.get("config") or (Path(env_options["config"].value) if "config" in env_options else config_file)
    if path is not None:
        try:
            file_entries = read_properties(Path(str(path)))
        except ConfigError as problem:
            problems.append(str(problem))
    override_entries = []
    for override in overrides:
        name, separator, value = override.partition("=")
        if not separator:
            problems.append(f"Invalid value {override} for option -o: expected NAME=VALUE")
        else:
            override_entries.append(Entry(name.strip(), value))

    settings = [*file_entries, *kafka_entries(environ), *override_entries]
    context = _Context.of(settings)
    problems.extend(context.problems())
    config = BrokerConfig()
    for entry in settings:
        try:
            if not _apply_setting(config, entry, context):
                if not entry.origin:  # -o names a setting on purpose: an unknown one is a mistake
                    raise ConfigError(f"Unknown broker config {entry.key!r}")
                if entry.key not in ignored:
                    ignored.append(entry.key)
        except ConfigError as problem:
            problems.append(_located(entry.origin, str(problem)))

    levels = LogLevels()
    log_format = "text"
    option_problems: list[str] = []
    options: list[tuple[str, object, str]] = [
        (name, entry.value, entry.origin) for name, entry in env_options.items() if name != "config"
    ]
    options += [(name, raw, "") for name, raw in flags.items() if raw is not None and raw is not False]
    for name, raw, origin in options:
        if name == "config":
            continue
        try:
            if name == "log_level":
                texts = [str(item) for item in raw] if isinstance(raw, (list, tuple)) else [str(raw)]
                levels = parse_log_levels(texts, origin or "option --log-level").over(levels)
            elif name == "log_format":
                log_format = _log_format(str(raw), origin)
            else:
                _apply_option(config, name, raw, origin)
        except ConfigError as problem:
            option_problems.append(str(problem))

    # kwire's options first: a bad --port is the first thing to read about.
    problems = option_problems + problems
    problems.extend(problem for problem in config.problems() if problem not in problems)
    if problems:
        raise ConfigError("\n".join(problems))
    return Loaded(config, levels.root_or_default, ignored + unknown_variables, levels.loggers, log_format)


def apply_kafka_settings(config: BrokerConfig, settings: Mapping[str, str]) -> None:
    """Kafka settings given in code (kwire.Broker), with what only a
    properties file otherwise takes: `listeners`, `advertised.listeners`,
    `listener.security.protocol.map`, `listener.name.…`. Raises ConfigError
    (one line per problem)."""
    entries = [Entry(str(key), str(value)) for key, value in settings.items()]
    context = _Context.of(entries)
    problems = context.problems()
    for entry in entries:
        try:
            if not _apply_setting(config, entry, context):
                raise ConfigError(f"Unknown broker config {entry.key!r}")
        except ConfigError as problem:
            problems.append(str(problem))
    if problems:
        raise ConfigError("\n".join(problems))


def _located(origin: str, problem: str) -> str:
    return f"{origin}: {problem}" if origin else problem


# --- Kafka settings -----------------------------------------------------------------------------------------------


@attrs.frozen
class _Context:
    """What the sources say, taken together, about settings that depend on others."""

    controller_listeners: frozenset[str]
    protocols: Mapping[str, str]
    has_log_dirs: bool
    bad_protocol_map: Entry | None = None
    ids: tuple[Entry, ...] = ()

    @classmethod
    def of(cls, entries: Sequence[Entry]) -> _Context:
        last = {entry.key: entry for entry in entries}
        controllers = last.get("controller.listener.names")
        names = frozenset(_names(controllers.value)) if controllers else frozenset()
        protocols: Mapping[str, str] = DEFAULT_PROTOCOLS
        bad = None
        if "listener.security.protocol.map" in last:
            entry = last["listener.security.protocol.map"]
            pairs = [item.split(":") for item in _names(entry.value)]
            if all(len(pair) == 2 for pair in pairs):
                protocols = {name.strip().upper(): protocol.strip().upper() for name, protocol in pairs}
            else:
                bad = entry
        ids = tuple(last[key] for key in ("node.id", "broker.id") if key in last)
        return cls(names, protocols, "log.dirs" in last, bad, ids)

    def problems(self) -> list[str]:
        found = []
        if self.bad_protocol_map is not None:
            entry = self.bad_protocol_map
            found.append(
                _located(
                    entry.origin,
                    f"Invalid value {entry.value} for configuration listener.security.protocol.map: "
                    "expected NAME:PROTOCOL pairs separated by commas",
                )
            )
        if len(self.ids) == 2 and self.ids[0].value.strip() != self.ids[1].value.strip():
            node, broker = self.ids
            found.append(
                f"node.id ({node.value}, {node.origin or '-o'}) and broker.id ({broker.value}, "
                f"{broker.origin or '-o'}) must be the same when both are set"
            )
        return found


def _names(text: str) -> list[str]:
    return [item.strip().upper() for item in text.split(",") if item.strip()]


def _apply_setting(config: BrokerConfig, entry: Entry, context: _Context) -> bool:
    """Apply one Kafka setting; False when kwire does not know it (ConfigError when Kafka would refuse it)."""
    key, value = entry.key, entry.value
    if key in ("listeners", "advertised.listeners"):
        endpoints = _endpoints(key, value, context)
        if key == "listeners":
            _set_listeners(config, key, value, endpoints)
        else:
            _set_advertised(config, key, value, endpoints)
        config.explicit.add(key)
    elif key in ("log.dirs", "log.dir"):
        if key == "log.dir" and context.has_log_dirs:
            return True  # log.dirs wins over log.dir, as in Kafka
        directories = [item.strip() for item in value.split(",") if item.strip()]
        if not directories:  # (Kafka splits log.dir at commas too)
            raise ConfigError(
                f"Invalid value {value} for configuration {key}: at least one log directory must be given"
            )
        config.data_dir = Path(directories[0])
        config.other_log_dirs = tuple(Path(directory) for directory in directories[1:])
    elif key == "broker.id":
        config.apply_override("node.id", value)
    elif key in LISTENER_CONTEXT:
        return True
    elif key.startswith("listener.name."):
        config.listener_overrides[key] = value  # per-listener TLS/SASL settings (BrokerConfig.listener_setting)
    elif is_setting(key):
        config.apply_override(key, value)
    else:
        return False
    return True


def _set_listeners(config: BrokerConfig, key: str, value: str, endpoints: list[tuple[str, str, str, int]]) -> None:
    if not endpoints:
        raise ConfigError(f"Invalid value {value} for configuration {key}: no listener left to serve")
    checked = []
    for name, protocol, host, port in endpoints:
        port = int(_PORT.parse(f"configuration {key} (port)", str(port)))
        checked.append((name, protocol, host or "0.0.0.0", port))  # no host: every interface
    ports = [port for _, _, _, port in checked if port]
    if len(set(ports)) != len(ports):
        raise ConfigError(f"Invalid value {value} for configuration {key}: Each listener must have a different port")
    config.listener_specs = tuple(checked)
    config.host, config.port = checked[0][2], checked[0][3]


def _set_advertised(config: BrokerConfig, key: str, value: str, endpoints: list[tuple[str, str, str, int]]) -> None:
    advertised = {}
    for name, _protocol, host, port in endpoints:
        advertised[name] = (host, int(_ADVERTISED_PORT.parse(f"configuration {key} (port)", str(port))))
    config.advertised_listener_specs = advertised
    first = config.listeners()[0].name if config.listener_specs else next(iter(advertised), "PLAINTEXT")
    if first in advertised:
        host, port = advertised[first]
        config.advertised_host = host or None  # no host: the listen host
        config.advertised_port = port


def _endpoints(key: str, value: str, context: _Context) -> list[tuple[str, str, str, int]]:
    """(name, security protocol, host, port) of each endpoint in a listeners
    value, leaving out KRaft controller listeners (controller.listener.names)."""
    endpoints: list[tuple[str, str, str, int]] = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        match = _ENDPOINT.fullmatch(item)
        if not match:
            raise ConfigError(
                f"Invalid value {value} for configuration {key}: Unable to parse {item} to a broker endpoint"
            )
        name = match["name"].upper()
        if name in context.controller_listeners:
            continue  # KRaft's controller quorum: kwire has none to listen for
        if name not in context.protocols:
            raise ConfigError(
                f"Invalid value {value} for configuration {key}: No security protocol defined for listener {name}"
            )
        if any(name == known for known, _, _, _ in endpoints):
            raise ConfigError(
                f"Invalid value {value} for configuration {key}: Each listener must have a different name"
            )
        host = match["v6"] if match["v6"] is not None else match["host"]
        endpoints.append((name, context.protocols[name], host, int(match["port"])))
    return endpoints


# --- kwire's options ----------------------------------------------------------------------------------------------


def _apply_option(config: BrokerConfig, name: str, raw: object, origin: str) -> None:
    """One of kwire's own options, from a flag (origin "") or a KWIRE_… variable."""
    label = origin or None
    if name in ("host", "advertised_host"):
        setattr(config, name, str(raw))
    elif name == "data_dir":
        config.data_dir = Path(str(raw))  # the one-directory shortcut for log.dirs
        config.other_log_dirs = ()
    elif name == "memory":
        memory = raw if isinstance(raw, bool) else Rule(BOOLEAN).parse(origin, str(raw))
        if memory:
            config.data_dir = None
            config.other_log_dirs = ()
    elif name == "node_id":
        config.node_id = int(parse_option("node_id", str(raw), label))
    else:  # port, advertised_port and the fault-injection counts
        setattr(config, name, parse_option(name, str(raw), label))


def _log_format(raw: str, origin: str) -> str:
    log_format = raw.strip().lower()
    if log_format not in LOG_FORMATS:
        raise ConfigError(
            f"Invalid value {raw} for {origin or 'option --log-format'}: String must be one of: {', '.join(LOG_FORMATS)}"
        )
    return log_format
