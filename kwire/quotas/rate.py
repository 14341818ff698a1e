"""A rate over sampled time windows, measured as Kafka's metrics do (a
`Rate` over a `WindowedSum` of `quota.window.num` samples of
`quota.window.size.seconds` each), and the throttle time of a violation.

Times are milliseconds on a monotonic clock; values are whatever is
counted (bytes, or percent-seconds of a thread's time).
"""

from __future__ import annotations


class _Sample:
    __slots__ = ("start_ms", "value")

    def __init__(self, start_ms: float) -> None:
        self.start_ms = start_ms
        self.value = 0.0

    def reset(self, now_ms: float) -> None:
        self.start_ms = now_ms
        self.value = 0.0


class WindowedRate:
    """Values recorded into `samples` windows of `window_ms` each; the rate
    is their sum over the time they span, per second."""

    def __init__(self, samples: int, window_ms: int) -> None:
        if samples < 1 or window_ms < 1:
            raise ValueError("a rate needs at least one sample of at least 1 ms")
        self.samples = samples
        self.window_ms = window_ms
        self._samples: list[_Sample] = []
        self._current = 0
        self.last_record_ms = 0.0

    def record(self, value: float, now_ms: float) -> None:
        """Add `value` at `now_ms` (negative: take back an earlier value)."""
        if not self._samples:
            self._samples.append(_Sample(now_ms))
        sample = self._samples[self._current]
        if now_ms - sample.start_ms >= self.window_ms:
            sample = self._advance(now_ms)
        sample.value += value
        self.last_record_ms = now_ms

    def total(self, now_ms: float) -> float:
        """The sum of the values still inside the windows."""
        self._purge(now_ms)
        return sum(sample.value for sample in self._samples)

    def window_size_ms(self, now_ms: float) -> float:
        """The time the rate is taken over: since the oldest sample began,
        but never less than all samples but the last one complete (so a
        burst just after start-up is not measured over a few milliseconds)."""
        self._purge(now_ms)
        if not self._samples:
            self._samples.append(_Sample(now_ms))
        elapsed = now_ms - min(sample.start_ms for sample in self._samples)
        full_windows = int(elapsed // self.window_ms)
        if full_windows < self.samples - 1:
            elapsed += (self.samples - 1 - full_windows) * self.window_ms
        return max(elapsed, 1.0)

    def measure(self, now_ms: float) -> float:
        """The rate, per second."""
        total = self.total(now_ms)
        return total / (self.window_size_ms(now_ms) / 1000)

    def idle(self, now_ms: float) -> bool:
        """Nothing recorded within the span of all windows: measures zero."""
        return now_ms - self.last_record_ms >= self.samples * self.window_ms

    def _advance(self, now_ms: float) -> _Sample:
        self._current = (self._current + 1) % self.samples
        if self._current >= len(self._samples):
            sample = _Sample(now_ms)
            self._samples.append(sample)
            return sample
        sample = self._samples[self._current]
        sample.reset(now_ms)
        return sample

    def _purge(self, now_ms: float) -> None:
        expire_after = self.samples * self.window_ms
        for sample in self._samples:
            if now_ms - sample.start_ms >= expire_after:
                sample.reset(now_ms)


def throttle_time_ms(observed: float, bound: float, window_ms: float) -> int:
    """How long the client must send nothing for the observed rate over the
    window to fall back to the bound: (observed - bound) / bound x window."""
    if observed <= bound:
        return 0
    return round((observed - bound) / bound * window_ms)
