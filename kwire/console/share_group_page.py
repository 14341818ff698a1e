"""A share group's page (KIP-932): its members and, per share-partition, the
in-flight records (state, delivery count, holder, the lock's remaining
time), from the same live view as GET /share-groups/in-flight; and the
share groups' table on the groups page."""

from __future__ import annotations

from typing import Any

from kwire.console import links
from kwire.console.markup import Markup, h, join, number, table


def render_list(groups: list[dict[str, Any]]) -> Markup:
    rows = [
        (
            h('<a href="{}">{}</a>', links.group(g["group"]), g["group"]),
            g["state"],
            number(len(g["members"])),
            g["coordinator"],
            number(len(g["partitions"])),
        )
        for g in groups
    ]
    return join(
        [
            Markup("<h2>Share groups</h2>"),
            table(
                ["Group", "State", "Members", "Coordinator", "Share-partitions"],
                rows,
                numeric=(2, 3, 4),
                empty="No share groups.",
            ),
        ]
    )


def render_group(group: dict[str, Any]) -> Markup:
    cards = join(
        h('<div class="card"><div class="label">{}</div><div class="value">{}</div></div>', label, value)
        for label, value in (
            ("Type", "share"),
            ("State", group["state"]),
            ("Members", number(len(group["members"]))),
            ("Coordinator", str(group["coordinator"])),
        )
    )
    members = table(
        ["Member", "Epoch", "Client id", "Host"],
        [(m["member_id"], m["member_epoch"], m["client_id"], m["client_host"]) for m in group["members"]],
        empty="No members.",
    )
    parts = [h('<div class="cards">{}</div>', cards), Markup("<h2>Members</h2>"), members]
    parts.append(Markup("<h2>In-flight records</h2>"))
    if not group["partitions"]:
        parts.append(Markup('<p class="empty">The group has read no partition yet.</p>'))
    for p in group["partitions"]:
        parts.append(
            h(
                '<h3><a href="{}">{}</a>-{} <span class="muted">start offset {}, end offset {}, leader {}</span></h3>',
                links.topic(p["topic"]),
                p["topic"],
                p["partition"],
                p["start_offset"],
                p["end_offset"],
                p["leader"],
            )
        )
        parts.append(
            table(
                ["First offset", "Last offset", "State", "Delivery count", "Member", "Lock remaining (ms)"],
                [
                    (
                        r["first_offset"],
                        r["last_offset"],
                        r["state"],
                        r["delivery_count"],
                        r["member_id"] or "-",
                        "-" if r["lock_remaining_ms"] is None else number(r["lock_remaining_ms"]),
                    )
                    for r in p["records"]
                ],
                numeric=(0, 1, 3, 5),
                empty="Nothing in flight: every record before the end offset is done.",
            )
        )
    return join(parts)
