"""Transactions (each transactional id's state at its coordinator) and the
producers the partition leaders know (DescribeProducers' view)."""

from __future__ import annotations

from kwire.console import cluster_data, links
from kwire.console.markup import Markup, h, join, number, table
from kwire.observability.node_view import NodeView

MAX_PRODUCERS = 500


def render(view: NodeView) -> Markup:
    transactions = table(
        ["Transactional id", "State", "Producer id", "Epoch", "Timeout", "Started", "Partitions", "Coordinator"],
        [
            (
                meta.transactional_id,
                meta.state.kafka_name,
                meta.producer_id,
                meta.producer_epoch,
                f"{meta.timeout_ms:,} ms",
                links.iso(meta.start_ms),
                ", ".join(f"{topic}-{partition}" for topic, partition in sorted(meta.partitions)) or "-",
                node,
            )
            for node, meta in cluster_data.transactions(view)
        ],
        numeric=(2, 3, 4, 7),
        empty="No transactional ids.",
    )
    rows, cut = cluster_data.producers(view, MAX_PRODUCERS)
    producers = table(
        ["Topic", "Partition", "Producer id", "Epoch", "Last sequence", "Last offset", "Open transaction from"],
        [
            (
                h('<a href="{}">{}</a>', links.topic(row.topic), row.topic),
                row.partition,
                row.producer_id,
                row.epoch,
                row.last_sequence,
                number(row.last_offset),
                "-" if row.open_transaction_from < 0 else number(row.open_transaction_from),
            )
            for row in rows
        ],
        numeric=(1, 2, 3, 4, 5, 6),
        empty="No producer state.",
    )
    note = h('<p class="muted">The first {} producers only.</p>', MAX_PRODUCERS) if cut else Markup("")
    return join([Markup("<h2>Transactional ids</h2>"), transactions, Markup("<h2>Producers</h2>"), producers, note])
