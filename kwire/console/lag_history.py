"""Each group's lag over the last minutes, for the group page's chart: a
sampler task (run beside the HTTP server) records every group's total and
per-partition lag every SAMPLE_INTERVAL_S into a bounded ring buffer."""

from __future__ import annotations

import logging
from collections import deque

import attrs
import trio

from kwire.console import cluster_data
from kwire.observability.node_view import NodeView

SAMPLE_INTERVAL_S = 5.0
KEEP_SAMPLES = 180  # 15 minutes at one sample every 5 s
MAX_GROUPS = 1000  # a bound on memory whatever clients do

log = logging.getLogger("kwire.console")


@attrs.frozen
class LagSample:
    wall_ms: int
    total: int
    partitions: dict[tuple[str, int], int]


class LagHistory:
    def __init__(self, view: NodeView) -> None:
        self._view = view
        self._samples: dict[str, deque[LagSample]] = {}

    def sample(self) -> None:
        """Record every group's lag now; groups that are gone are forgotten."""
        now = self._view.core.state.clock.wall_ms()
        seen = set()
        for info in cluster_data.groups(self._view)[:MAX_GROUPS]:
            seen.add(info.group_id)
            lags = {(row.topic, row.partition): row.lag for row in info.lags if row.lag is not None}
            history = self._samples.setdefault(info.group_id, deque(maxlen=KEEP_SAMPLES))
            history.append(LagSample(now, sum(lags.values()), lags))
        for gone in set(self._samples) - seen:
            del self._samples[gone]

    def of(self, group_id: str) -> list[LagSample]:
        return list(self._samples.get(group_id, ()))

    async def run(self) -> None:
        """The sampler task: until cancelled."""
        while True:
            try:
                self.sample()
            except Exception:  # the console's chart must never stop the broker
                log.exception("The console's lag sampler failed; it tries again in %.0f s", SAMPLE_INTERVAL_S)
            await trio.sleep(SAMPLE_INTERVAL_S)
