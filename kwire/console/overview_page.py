"""The overview: this node, the cluster's nodes, listeners, uptime and request rates."""

from __future__ import annotations

import kwire
from kwire.console import cluster_data
from kwire.console.markup import Markup, duration, h, join, number, size, table
from kwire.console.request_rates import RequestRates
from kwire.observability.node_view import NodeView
from kwire.protocol.api_keys import ApiKey, api_name


def _api(key: int) -> str:
    try:
        return api_name(ApiKey(key))
    except ValueError:
        return f"unknown ({key})"


def render(view: NodeView, rates: RequestRates) -> Markup:
    state = view.core.state
    cluster = state.cluster
    now = state.clock.wall_ms()
    topics = list(cluster.topics.values())
    partitions = sum(len(topic.partitions) for topic in topics)
    stored = sum(
        partition.replica.size_bytes() for _topic, partition in cluster.hosted_partitions() if partition.replica
    )
    counts, seconds = rates.last_minute()
    cards = [
        ("Version", f"kwire {kwire.__version__}"),
        ("Node", str(state.config.node_id)),
        ("Uptime", duration(now - view.started_at_ms)),
        ("Topics", number(len(topics))),
        ("Partitions", number(partitions)),
        ("Groups", number(len(cluster_data.groups(view)))),
        ("Stored here", size(stored)),
        ("Requests/s", f"{sum(counts.values()) / seconds:,.2f}"),
    ]
    card_html = join(
        h('<div class="card"><div class="label">{}</div><div class="value">{}</div></div>', label, value)
        for label, value in cards
    )
    running = {core.config.node_id for core in view.all_nodes()}
    nodes = table(
        ["Node", "Host", "Port", "Rack", "Role"],
        [
            (
                broker.node_id,
                broker.host,
                broker.port,
                broker.rack or "-",
                ", ".join(
                    role
                    for role, yes in (
                        ("this node", broker.node_id == state.config.node_id),
                        ("controller", broker.node_id == cluster.topology.controller_id),
                        ("in this process", broker.node_id in running and len(running) > 1),
                    )
                    if yes
                )
                or "-",
            )
            for broker in cluster.topology.sorted_brokers()
        ],
        numeric=(0, 2),
    )
    listeners = table(
        ["Listener", "Security protocol", "Host", "Port"],
        [
            (spec.name, spec.protocol, spec.host or "0.0.0.0", view.ports.get(spec.name, spec.port))
            for spec in state.config.listeners()
        ],
        numeric=(3,),
    )
    rate_rows = [
        (_api(key), number(count), f"{count / seconds:,.2f}")
        for key, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]
    rates_table = table(["API", "Requests", "Per second"], rate_rows, numeric=(1, 2), empty="No requests yet.")
    return h(
        '<div class="cards">{cards}</div><h2>Cluster {cluster_id}</h2>{nodes}<h2>Listeners</h2>{listeners}'
        '<h2>Request rates <span class="muted">(this node, last {window})</span></h2>{rates}',
        cards=card_html,
        cluster_id=cluster.cluster_id,
        nodes=nodes,
        listeners=listeners,
        window=duration(int(seconds * 1000)),
        rates=rates_table,
    )
