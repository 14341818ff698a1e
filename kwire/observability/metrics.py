"""A node's metrics as the request paths see them: `state.metrics`.

With the HTTP port off (`http_port` None) it is a `NodeMetrics`, whose
methods do nothing and which imports nothing (prometheus_client costs ~50 ms
at start-up); with it on, a `BrokerMetrics` (broker_metrics.py) that counts
into a prometheus_client registry. Hot paths read `metrics.enabled` once per
request and call nothing when it is False.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from kwire.broker_state import BrokerState


class NodeMetrics:
    """What the request paths call; this base counts nothing (the HTTP port is off)."""

    enabled = False
    registry: CollectorRegistry | None = None

    def produced(self, topic: str, error_code: int, records: Any) -> None:
        """One partition of a produce request: `records` the batch written (error_code 0)."""

    def fetched(self, topic: str, error_code: int, size: int) -> None:
        """One partition of a fetch answer: `size` the record bytes sent."""

    def connection_opened(self, listener: str) -> None:
        """A client connection on `listener` (its name, e.g. PLAINTEXT) is served."""

    def connection_closed(self, listener: str) -> None:
        """A connection counted by connection_opened ended."""

    def log_cleaned(self, bytes_read: int, bytes_written: int, elapsed_s: float) -> None:
        """The cleaner compacted one log: its segments' bytes before and after, and how long it took."""


def metrics_for(state: BrokerState) -> NodeMetrics:
    """The node's metrics: counting ones only when its HTTP port is on."""
    if state.config.http_port is None:
        return NodeMetrics()
    from kwire.observability.broker_metrics import BrokerMetrics

    return BrokerMetrics(state)
