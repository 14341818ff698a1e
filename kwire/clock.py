"""One clock per node, passed down to everything that needs the time.

Two readings, because Kafka uses both: `monotonic()` (seconds) for
deadlines and "run every N ms" timers, which must not jump when the wall
clock is set; `wall_ms()` (milliseconds since the epoch) for what is compared
with record timestamps — retention, segment.ms, flush.ms, LogAppendTime,
transaction and producer-id expiry. Tests pass a `ManualClock` and move
time with `advance()` instead of patching attributes.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (deadlines, timers)."""
        ...

    def wall_ms(self) -> int:
        """Milliseconds since the Unix epoch (compared with record timestamps)."""
        ...


class SystemClock:
    """The real time."""

    def monotonic(self) -> float:
        return time.monotonic()

    def wall_ms(self) -> int:
        return time.time_ns() // 1_000_000


SYSTEM_CLOCK = SystemClock()


class ManualClock:
    """A clock that moves only when told: both readings advance together."""

    def __init__(self, wall_ms: int | None = None, monotonic: float = 1_000.0) -> None:
        self._wall_ms = time.time_ns() // 1_000_000 if wall_ms is None else wall_ms
        self._monotonic = monotonic

    def monotonic(self) -> float:
        return self._monotonic

    def wall_ms(self) -> int:
        return self._wall_ms

    def advance(self, seconds: float = 0.0, *, ms: int = 0) -> None:
        step_ms = ms + round(seconds * 1000)
        if step_ms < 0:
            raise ValueError("a clock does not go back")
        self._wall_ms += step_ms
        self._monotonic += step_ms / 1000


class Every:
    """A periodic job's bookkeeping: `due(now)` is true at most once per
    interval (monotonic seconds) and then schedules the next run one interval
    after `now`. With `first_after_interval` the first run waits a whole
    interval; otherwise the first `due()` call is true."""

    def __init__(self, interval_ms: int, now: float, *, first_after_interval: bool = False) -> None:
        self.interval_s = interval_ms / 1000
        self._next = now + self.interval_s if first_after_interval else float("-inf")

    def due(self, now: float) -> bool:
        if now < self._next:
            return False
        self._next = now + self.interval_s
        return True

    def run_soon(self) -> None:
        """Make the next `due()` call true (after a change that needs the job)."""
        self._next = float("-inf")
