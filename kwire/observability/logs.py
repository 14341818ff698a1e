"""How kwire's log lines look: text (the classic layout plus ` key=value`
fields) or JSON (one object per line), and events that carry fields.

A line with fields is logged with `log_event(logger, level, message, **fields)`;
the fields travel on the record (attribute FIELDS) so every formatter and
filter sees them. Lines logged the plain way (`log.info("...", args)`) keep
working unchanged: they simply have no fields.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Mapping
from typing import Any

FIELDS = "kwire_fields"  # the record attribute that holds an event's fields
LOG_FORMATS = ("text", "json")
TEXT_LAYOUT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_event(logger: logging.Logger, level: int, message: str, /, **fields: Any) -> None:
    """Log `message` with `fields` (shown as key=value, or as JSON members);
    nothing is built when the level is off."""
    if logger.isEnabledFor(level):
        # No args: the message is not used as a %-template, so a '%' in a name is harmless.
        logger.log(level, message, extra={FIELDS: fields})


def emit_event(logger: logging.Logger, level: int, message: str, /, **fields: Any) -> None:
    """Like log_event, but past the logger's level (its handlers and filters
    still decide): for a line a setting asked for, not the level."""
    record = logger.makeRecord(logger.name, level, __file__, 0, message, (), None, extra={FIELDS: fields})
    logger.handle(record)


def fields_of(record: logging.LogRecord) -> Mapping[str, Any]:
    fields = getattr(record, FIELDS, None)
    return fields if isinstance(fields, Mapping) else {}


def text_value(value: Any) -> str:
    """A field's value for a text line: bare when it is one plain word,
    double-quoted (JSON string escapes) when it holds spaces, quotes, '=' or
    nothing at all, so a line splits back into its fields."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = f"{value:.3f}".rstrip("0").rstrip(".")
    elif isinstance(value, Mapping):
        text = ",".join(f"{key}:{item}" for key, item in value.items())
    elif isinstance(value, (list, tuple, set, frozenset)):
        text = ",".join(str(item) for item in value)
    else:
        text = str(value)
    if not text or any(char.isspace() or char in '"=\\' for char in text) or not text.isprintable():
        return json.dumps(text)
    return text


def text_fields(fields: Mapping[str, Any]) -> str:
    return " ".join(f"{key}={text_value(value)}" for key, value in fields.items())


class TextFormatter(logging.Formatter):
    """`TIME LEVEL LOGGER: message key=value ...` (a traceback, if any, follows on its own lines)."""

    def __init__(self) -> None:
        super().__init__(TEXT_LAYOUT)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        line = super().formatMessage(record)
        fields = fields_of(record)
        return f"{line} {text_fields(fields)}" if fields else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (ISO-8601, UTC), level, logger, message,
    then the event's fields (and `exception`, a traceback, when there is one)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": iso_utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in fields_of(record).items():
            line.setdefault(key, json_value(value))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str)


def json_value(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return value


def iso_utc(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def formatter_for(log_format: str) -> logging.Formatter:
    """The formatter of a --log-format value ("text" or "json")."""
    if log_format == "json":
        return JsonFormatter()
    return TextFormatter()
