"""`--log-level` (and KWIRE_LOG_LEVEL): a level for everything and levels for
single loggers, e.g. `INFO,kafka.request.logger=DEBUG`.

Entries are separated by commas (the option may also be repeated); a bare
level sets the root level, `LOGGER=LEVEL` one logger and what is under it.
Log4j's WARN and TRACE are taken as WARNING and DEBUG, so a Kafka habit works.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from kwire.config import ConfigError

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_ALIASES = {"WARN": "WARNING", "TRACE": "DEBUG"}


@attrs.frozen
class LogLevels:
    """The root level (None: not given) and levels by logger name."""

    root: str | None = None
    loggers: tuple[tuple[str, str], ...] = ()

    def over(self, lower: LogLevels) -> LogLevels:
        """These levels given precedence over `lower`'s (a flag over the environment)."""
        merged = dict(lower.loggers)
        merged.update(self.loggers)
        return LogLevels(self.root if self.root is not None else lower.root, tuple(merged.items()))

    @property
    def root_or_default(self) -> str:
        return self.root or "INFO"


def parse_log_levels(texts: str | Iterable[str], origin: str = "option --log-level") -> LogLevels:
    """The entries of one or more --log-level values; ConfigError names the bad entry."""
    if isinstance(texts, str):
        texts = [texts]
    root: str | None = None
    loggers: dict[str, str] = {}
    for text in texts:
        for entry in (part.strip() for part in str(text).split(",")):
            if not entry:
                continue
            name, separator, level_text = entry.rpartition("=")
            level = _level(level_text, text, origin)
            if not separator:
                root = level
            elif not name.strip() or any(char.isspace() for char in name.strip()):
                raise ConfigError(f"Invalid value {text} for {origin}: {entry!r} names no logger (LOGGER=LEVEL)")
            else:
                loggers[name.strip()] = level
    return LogLevels(root, tuple(loggers.items()))


def _level(raw: str, text: str, origin: str) -> str:
    level = raw.strip().upper()
    level = _ALIASES.get(level, level)
    if level not in LOG_LEVELS:
        raise ConfigError(f"Invalid value {text} for {origin}: String must be one of: {', '.join(LOG_LEVELS)}")
    return level
