"""Requests per API over the last minute, for the overview: a request
observer (BrokerState.request_observers) that adds one to a per-second
bucket. Cheap on purpose: one dict increment per answered request."""

from __future__ import annotations

from collections.abc import Callable

from kwire.observability.request_events import RequestEvent

WINDOW_S = 60


class RequestRates:
    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        # second (int monotonic) -> api key -> requests answered in it
        self._buckets: dict[int, dict[int, int]] = {}
        self.started = monotonic()

    def __call__(self, event: RequestEvent) -> None:
        second = int(self._monotonic())
        bucket = self._buckets.get(second)
        if bucket is None:
            bucket = self._buckets[second] = {}
            self._forget_before(second - WINDOW_S)
        bucket[event.api_key] = bucket.get(event.api_key, 0) + 1

    def _forget_before(self, oldest: int) -> None:
        for second in [s for s in self._buckets if s < oldest]:
            del self._buckets[second]

    def last_minute(self) -> tuple[dict[int, int], float]:
        """(requests per API key in the last minute, the seconds that covers:
        less than a minute just after start-up)."""
        now = self._monotonic()
        oldest = int(now) - WINDOW_S + 1
        counts: dict[int, int] = {}
        for second, bucket in self._buckets.items():
            if second >= oldest:
                for api_key, count in bucket.items():
                    counts[api_key] = counts.get(api_key, 0) + count
        return counts, max(1.0, min(float(WINDOW_S), now - self.started))
