"""GET /metrics: the node's registry in Prometheus' text format."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from kwire.http.messages import HttpRequest, HttpResponse
from kwire.http.router import Router
from kwire.observability.broker_metrics import BrokerMetrics
from kwire.observability.node_view import NodeView
from kwire.observability.state_collector import RUNNING, SHUTTING_DOWN, STARTING
from kwire.telemetry.prometheus import TelemetryCollector


def add_routes(router: Router, view: NodeView) -> None:
    metrics = view.core.state.metrics
    if not isinstance(metrics, BrokerMetrics):  # a node whose metrics are off (built without an HTTP port)
        return
    registry = metrics.registry
    metrics.broker_state = lambda: _broker_state(view)
    # What clients pushed to this node (KIP-714), read at each scrape.
    registry.register(TelemetryCollector(view.core.state.telemetry))

    async def scrape(request: HttpRequest) -> HttpResponse:
        # In the broker's thread: the state is read between requests, never mid-change.
        return HttpResponse(200, generate_latest(registry), CONTENT_TYPE_LATEST)

    router.add("/metrics", scrape)


def _broker_state(view: NodeView) -> int:
    if view.stopping:
        return SHUTTING_DOWN
    return RUNNING if view.ready else STARTING
