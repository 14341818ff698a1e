"""Consumer groups: the list with each group's lag, and one group's page
(members, assignments, lag per partition, and its lag over the last minutes)."""

from __future__ import annotations

from kwire.console import links
from kwire.console.chart import line_chart
from kwire.console.cluster_data import GroupInfo
from kwire.console.lag_history import LagSample
from kwire.console.markup import Markup, h, join, number, table

CHART_PARTITIONS = 6  # partitions drawn beside the total (the most lagging)


def _lag(value: int | None) -> str:
    return "-" if value is None else number(value)


def render_list(groups: list[GroupInfo]) -> Markup:
    rows = [
        (
            h('<a href="{}">{}</a>', links.group(info.group_id), info.group_id),
            info.state,
            info.protocol_type or "-",
            info.protocol or "-",
            number(len(info.members)),
            info.coordinator,
            number(info.total_lag),
        )
        for info in groups
    ]
    return table(
        ["Group", "State", "Protocol type", "Assignor", "Members", "Coordinator", "Total lag"],
        rows,
        numeric=(4, 5, 6),
        empty="No consumer groups.",
    )


def render_group(info: GroupInfo, history: list[LagSample], now_ms: int) -> Markup:
    cards = join(
        h('<div class="card"><div class="label">{}</div><div class="value">{}</div></div>', label, value)
        for label, value in (
            ("State", info.state),
            ("Members", number(len(info.members))),
            ("Group epoch" if info.group_type == "consumer" else "Generation", number(info.generation)),
            ("Coordinator", str(info.coordinator)),
            ("Total lag", number(info.total_lag)),
        )
    )
    epochs = info.group_type == "consumer"  # KIP-848: each member has its epoch
    members = table(
        ["Member", "Instance id", "Client id", "Host", *(["Member epoch"] if epochs else []), "Assigned partitions"],
        [
            (
                m.member_id,
                m.instance_id or "-",
                m.client_id,
                m.client_host,
                *([number(m.epoch if m.epoch is not None else -1)] if epochs else []),
                ", ".join(f"{topic}-{partition}" for topic, partition in m.assignment) or "-",
            )
            for m in info.members
        ],
        empty="No members.",
    )
    lags = table(
        ["Topic", "Partition", "Committed offset", "High watermark", "Lag", "Member"],
        [
            (
                h('<a href="{}">{}</a>', links.topic(row.topic), row.topic),
                row.partition,
                _lag(row.committed),
                _lag(row.end),
                h(
                    '<span class="lag" data-topic="{}" data-partition="{}">{}</span>',
                    row.topic,
                    row.partition,
                    _lag(row.lag),
                ),
                row.member or "-",
            )
            for row in info.lags
        ],
        numeric=(1, 2, 3, 4),
        empty="No committed offsets or assignments.",
    )
    return join(
        [
            h('<div class="cards">{}</div>', cards),
            Markup("<h2>Members</h2>"),
            members,
            Markup("<h2>Lag per partition</h2>"),
            lags,
            Markup('<h2>Lag over the last minutes <span class="muted">(sampled every few seconds)</span></h2>'),
            _chart(info, history, now_ms),
        ]
    )


def _chart(info: GroupInfo, history: list[LagSample], now_ms: int) -> Markup:
    # The samples, and now (so a new group's chart has its first point at once).
    current = {(row.topic, row.partition): row.lag for row in info.lags if row.lag is not None}
    samples = [*history, LagSample(now_ms, sum(current.values()), current)]
    worst = sorted(current, key=lambda key: (-current[key], key))[:CHART_PARTITIONS]
    series = [("total", [(s.wall_ms, s.total) for s in samples])]
    if len(current) > 1:
        for topic, partition in worst:
            points = [
                (s.wall_ms, s.partitions[(topic, partition)]) for s in samples if (topic, partition) in s.partitions
            ]
            series.append((f"{topic}-{partition}", points))
    return line_chart(series)
