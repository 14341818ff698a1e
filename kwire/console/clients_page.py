"""Clients that push their own metrics (KIP-714 client telemetry): who they
are and what they said, per node that received their pushes.

The list shows the figures a CI run most wants at a glance (queue times,
request latency, retries, errors, rebalance latency) where a client pushed
them; one client's page shows every series it pushed."""

from __future__ import annotations

import uuid

from kwire.console import links
from kwire.console.markup import Markup, h, join, number, table
from kwire.observability.node_view import NodeView
from kwire.telemetry.store import ClientTelemetry, MetricValue

# Name endings shown on the list, in this order (producer and consumer names share them).
HEADLINES = (
    ("record.queue.time.avg", "queue time avg"),
    ("request.latency.avg", "request latency avg"),
    ("record.retry.total", "retries"),
    ("record.error.total", "errors"),
    ("rebalance.latency.avg", "rebalance latency avg"),
    ("fetch.latency.avg", "fetch latency avg"),
)


def all_clients(view: NodeView) -> list[tuple[int, ClientTelemetry]]:
    """(node id, client) for every client any running node of this process heard from."""
    found: list[tuple[int, ClientTelemetry]] = []
    for core in view.all_nodes():
        node_id = core.state.config.node_id
        found.extend((node_id, client) for client in core.state.telemetry.clients())
    found.sort(key=lambda pair: -pair[1].last_push_ms)
    return found


def render_list(view: NodeView) -> Markup:
    clients = all_clients(view)
    rows = [
        (
            h('<a href="{}">{}</a>', f"/clients/{client.client_instance_id}", client.client_id or "(no client id)"),
            _software(client),
            f"{client.source_address or '?'}:{client.source_port or '?'}",
            number(client.push_count),
            links.iso(client.last_push_ms),
            node,
            join(h("<div>{}: <b>{}</b></div>", label, value) for label, value in headlines(client)) or "-",
        )
        for node, client in clients
    ]
    intro = Markup(
        '<p class="muted">Clients push their metrics once a client-metrics subscription matches them, e.g. '
        "<code>kwire configs alter --entity-type client-metrics --entity-name ci --add-config "
        "'metrics=org.apache.kafka.,interval.ms=5000'</code> (librdkafka 2.5+ and Kafka's Java clients).</p>"
    )
    return join(
        [
            intro,
            table(
                ["Client id", "Software", "Address", "Pushes", "Last push", "Node", "Headline figures"],
                rows,
                numeric=(3, 5),
                empty="No client has pushed metrics.",
            ),
        ]
    )


def render_client(view: NodeView, instance: str) -> tuple[str, Markup] | None:
    """The title and body of one client's page, None when no node knows it."""
    try:
        wanted = uuid.UUID(instance)
    except ValueError:
        return None
    for node, client in all_clients(view):
        if client.client_instance_id == wanted:
            return f"Client {client.client_id or instance}", _client_body(node, client)
    return None


def _client_body(node: int, client: ClientTelemetry) -> Markup:
    identity = table(
        [
            "Instance id",
            "Client id",
            "Software",
            "Address",
            "Subscriptions",
            "Pushes",
            "First push",
            "Last push",
            "Node",
        ],
        [
            (
                client.client_instance_id,
                client.client_id or "-",
                _software(client),
                f"{client.source_address or '?'}:{client.source_port or '?'}",
                ", ".join(client.subscriptions) or "-",
                number(client.push_count),
                links.iso(client.first_push_ms),
                links.iso(client.last_push_ms) + (" (terminated)" if client.terminated else ""),
                node,
            )
        ],
        numeric=(5, 8),
    )
    resource = table(["Attribute", "Value"], sorted(client.resource.items()), empty="No resource attributes.")
    series = table(
        ["Metric", "Attributes", "Kind", "Value", "Count"],
        [
            (
                metric.name,
                ", ".join(f"{key}={value}" for key, value in metric.attributes) or "-",
                metric.kind,
                _value(metric),
                "-" if metric.count is None else number(metric.count),
            )
            for metric in sorted(client.metrics(), key=lambda metric: (metric.name, metric.attributes))
        ],
        numeric=(3, 4),
        empty="Nothing pushed yet.",
    )
    return join([identity, Markup("<h2>Resource</h2>"), resource, Markup("<h2>Metrics (latest values)</h2>"), series])


def headlines(client: ClientTelemetry) -> list[tuple[str, str]]:
    """The headline figures this client pushed, summed over attribute sets (per topic, per node …)."""
    metrics = client.metrics()
    shown = []
    for ending, label in HEADLINES:
        matching = [metric for metric in metrics if metric.name.endswith(ending)]
        if not matching:
            continue
        prefix = matching[0].name[: -len(ending)].rstrip(".").rsplit(".", 1)[-1]  # producer, consumer, coordinator
        if ending.endswith(".avg"):
            value = max(metric.value for metric in matching)
        else:
            value = sum(metric.value for metric in matching)
        shown.append((f"{prefix} {label}", _number(value)))
    return shown


def _software(client: ClientTelemetry) -> str:
    return " ".join(part for part in (client.software_name, client.software_version) if part) or "-"


def _value(metric: MetricValue) -> str:
    text = _number(metric.value)
    return f"{text} {metric.unit}" if metric.unit and metric.unit != "1" else text


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.3f}"
