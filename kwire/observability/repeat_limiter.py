"""Rate limiting for repeated identical log lines: a client retrying a
refused request ten times a second must not bury everything else.

`RepeatLimiter` is a logging.Filter (on a handler it covers every logger
whose lines that handler writes; on a logger, that logger's own lines).
Lines are the same when logger, level, message and fields match once the
volatile parts are left out (correlation ids, durations, sizes, a client's
port). Of each such line the first `burst` in a window of `window_s`
seconds are let through; the rest are counted, and when the window is over
one line says how many were suppressed. That line goes out with the next
line logged after the window ends (nothing runs in the background). Memory
is bounded: at most `max_keys` lines are tracked, the oldest given up first.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from kwire.observability.logs import FIELDS, fields_of

SUMMARY = "kwire_repeat_summary"  # the attribute that marks the limiter's own summary lines
# Fields that differ between otherwise identical lines.
VOLATILE_FIELDS = frozenset(
    {
        "correlation_id",
        "request_bytes",
        "response_bytes",
        "total_ms",
        "queue_ms",
        "local_ms",
        "remote_ms",
        "send_ms",
        "throttle_ms",
    }
)
# host:port in a message or a field (IPv4, or IPv6 in brackets): the port differs per connection.
_PORT = re.compile(r"((?:\d{1,3}\.){3}\d{1,3}|\[[0-9A-Fa-f:.]+\]):\d+")


class _Window:
    __slots__ = ("started", "seen", "suppressed", "record")

    def __init__(self, started: float, record: logging.LogRecord) -> None:
        self.started = started
        self.seen = 1
        self.suppressed = 0
        self.record = record  # the first line of the window, for the summary


class RepeatLimiter(logging.Filter):
    def __init__(
        self,
        burst: int = 10,
        window_s: float = 60.0,
        *,
        max_keys: int = 1024,
        exempt: Iterable[str] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.burst = max(1, burst)
        self.window_s = window_s
        self.max_keys = max(1, max_keys)
        # Loggers (and those under them) never limited, e.g. the request log, which records every request.
        self.exempt = tuple(exempt)
        self._clock = clock
        self._windows: OrderedDict[tuple[Any, ...], _Window] = OrderedDict()
        self._lock = threading.Lock()
        self._next_sweep = 0.0

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, SUMMARY, False) or self._is_exempt(record.name):
            return True
        key = self.key(record)
        now = self._clock()
        due: list[_Window] = []
        with self._lock:
            if now >= self._next_sweep:
                due = self._sweep(now)
            window = self._windows.get(key)
            if window is not None and now - window.started >= self.window_s:
                del self._windows[key]
                if window.suppressed:
                    due.append(window)
                window = None
            if window is None:
                self._windows[key] = _Window(now, record)
                while len(self._windows) > self.max_keys:
                    _, oldest = self._windows.popitem(last=False)
                    if oldest.suppressed:
                        due.append(oldest)
                passed = True
            else:
                window.seen += 1
                passed = window.seen <= self.burst
                if not passed:
                    window.suppressed += 1
        for ended in due:
            self._summarize(ended, now)
        return passed

    def flush(self) -> None:
        """Report every window that suppressed something now (at shutdown, say) and forget them all."""
        now = self._clock()
        with self._lock:
            due = [window for window in self._windows.values() if window.suppressed]
            self._windows.clear()
        for window in due:
            self._summarize(window, now)

    def key(self, record: logging.LogRecord) -> tuple[Any, ...]:
        try:
            message = record.getMessage()
        except Exception:  # a broken %-template: its parts still tell lines apart
            message = f"{record.msg!r} {record.args!r}"
        fields = tuple(
            (name, _PORT.sub(r"\1", value) if isinstance(value, str) else repr(value))
            for name, value in fields_of(record).items()
            if name not in VOLATILE_FIELDS
        )
        return record.name, record.levelno, _PORT.sub(r"\1", message), fields

    def _is_exempt(self, name: str) -> bool:
        return any(name == exempt or name.startswith(exempt + ".") for exempt in self.exempt)

    def _sweep(self, now: float) -> list[_Window]:
        """Ended windows dropped; those that suppressed lines returned for their summary (under the lock)."""
        self._next_sweep = now + min(1.0, self.window_s)
        ended = [key for key, window in self._windows.items() if now - window.started >= self.window_s]
        due = []
        for key in ended:
            window = self._windows.pop(key)
            if window.suppressed:
                due.append(window)
        return due

    def _summarize(self, window: _Window, now: float) -> None:
        first = window.record
        try:
            message = first.getMessage()
        except Exception:
            message = str(first.msg)
        seconds = max(0.0, min(now - window.started, self.window_s))
        summary = logging.LogRecord(
            first.name,
            first.levelno,
            first.pathname,
            first.lineno,
            "suppressed %d identical messages in the last %.0f s: %s",
            (window.suppressed, seconds, message),
            None,
        )
        setattr(summary, SUMMARY, True)
        setattr(summary, FIELDS, {"suppressed": window.suppressed, **fields_of(first)})
        logging.getLogger(first.name).handle(summary)
