"""The logging of a `kwire serve` process: one handler on the root logger
(stderr, text or JSON, repeated lines limited) and the levels of
--log-level.

The request log (`kafka.request.logger`, Kafka's log4j name) is quiet
unless asked for: its level is WARNING unless --log-level names it, and
`kafka.request.logging=true` writes its INFO lines anyway
(kwire/observability/request_log.py).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import TextIO

from kwire.observability.logs import formatter_for
from kwire.observability.repeat_limiter import RepeatLimiter

REQUEST_LOGGER = "kafka.request.logger"
# Loggers whose level --log-level set by name (their level is the user's choice, never changed).
_NAMED: set[str] = set()
# The installed handler's limiter, for flush_suppressed.
_LIMITERS: list[RepeatLimiter] = []


class _KwireHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler configure_logging installs (so a second call replaces it)."""


def configure_logging(
    level: str = "INFO",
    logger_levels: Iterable[tuple[str, str]] = (),
    log_format: str = "text",
    stream: TextIO | None = None,
    limiter: RepeatLimiter | None = None,
) -> bool:
    """Set up the process's logging; False (and nothing changed) when the root
    logger already has handlers of someone else's (a test runner's), as
    logging.basicConfig leaves them."""
    root = logging.getLogger()
    if any(not isinstance(handler, _KwireHandler) for handler in root.handlers):
        return False
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    handler = _KwireHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(formatter_for(log_format))
    limiter = limiter if limiter is not None else RepeatLimiter(exempt=(REQUEST_LOGGER,))
    handler.addFilter(limiter)
    _LIMITERS[:] = [limiter]
    root.addHandler(handler)
    root.setLevel(getattr(logging, level))
    logging.captureWarnings(True)  # Python's warnings as log lines too (one JSON object each with json)
    _NAMED.clear()
    for name, logger_level in logger_levels:
        logging.getLogger(name).setLevel(getattr(logging, logger_level))
        _NAMED.add(name)
    if REQUEST_LOGGER not in _NAMED:
        # As Kafka's log4j file: the request log stays quiet unless asked for.
        logging.getLogger(REQUEST_LOGGER).setLevel(logging.WARNING)
    return True


def flush_suppressed() -> None:
    """Write the summaries of lines held back so far (the process is stopping)."""
    for limiter in _LIMITERS:
        limiter.flush()


def level_was_named(name: str) -> bool:
    """Whether --log-level set this logger's level by name."""
    return name in _NAMED
