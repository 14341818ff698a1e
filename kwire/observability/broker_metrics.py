"""A node's Prometheus metrics (its HTTP port is on): one registry per node,
public as `.registry` so other parts (client telemetry) can add collectors.

What is counted where:
- every answered request: RequestMetrics and the all-topics failure counts,
  through `state.request_observers`;
- produce and fetch partitions, connections, cleanings: the hot paths call
  `produced`, `fetched`, `connection_opened/closed`, `log_cleaned`;
- everything else is read from the node's state at scrape time
  (StateCollector, GroupCollector, GroupCoordinatorCollector), plus the process's own metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector

from kwire.observability.group_collector import GroupCollector
from kwire.observability.group_coordinator_metrics import GroupCoordinatorCollector
from kwire.observability.metrics import NodeMetrics
from kwire.observability.request_events import RequestEvent
from kwire.observability.request_metrics import RequestMetrics
from kwire.observability.state_collector import RUNNING, CleanerStats, StateCollector
from kwire.observability.topic_metrics import ConnectionMetrics, TopicMetrics

if TYPE_CHECKING:
    from kwire.broker_state import BrokerState


class BrokerMetrics(NodeMetrics):
    enabled = True

    def __init__(self, state: BrokerState) -> None:
        self.registry: CollectorRegistry = CollectorRegistry()
        self.requests = RequestMetrics()
        cluster = state.cluster
        self.topics = TopicMetrics(lambda name: name in cluster.topics)
        self.connections = ConnectionMetrics()
        self.cleaner = CleanerStats()
        # Kafka's BrokerState; the HTTP port's routes say when the node is ready or stopping.
        self.broker_state: Callable[[], int] = lambda: RUNNING
        self.registry.register(self.requests)
        self.registry.register(self.topics)
        self.registry.register(self.connections)
        self.registry.register(StateCollector(state, self.cleaner, lambda: self.broker_state()))
        self.registry.register(GroupCollector(state))
        self.registry.register(GroupCoordinatorCollector(state))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        state.request_observers.append(self.observe)

    def observe(self, event: RequestEvent) -> None:
        self.requests.observe(event)
        self.topics.observe(event)

    def produced(self, topic: str, error_code: int, records: Any) -> None:
        self.topics.produced(topic, error_code, records)

    def fetched(self, topic: str, error_code: int, size: int) -> None:
        self.topics.fetched(topic, error_code, size)

    def connection_opened(self, listener: str) -> None:
        self.connections.opened(listener)

    def connection_closed(self, listener: str) -> None:
        self.connections.closed(listener)

    def log_cleaned(self, bytes_read: int, bytes_written: int, elapsed_s: float) -> None:
        self.cleaner.cleaned(bytes_read, bytes_written, elapsed_s)
