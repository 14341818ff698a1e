"""A line chart as inline SVG: lag over time without a script library."""

from __future__ import annotations

import time

from kwire.console.markup import Markup, h, join

COLOURS = ("#1f6feb", "#e8590c", "#2b8a3e", "#ae3ec9", "#c92a2a", "#0c8599", "#5c940d", "#495057")
WIDTH, HEIGHT = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 12, 28
MIN_SPAN_MS = 60_000  # the time axis shows at least the last minute


def line_chart(series: list[tuple[str, list[tuple[int, int]]]]) -> Markup:
    """`series`: (label, [(wall ms, value), ...]); time runs left to right."""
    points = [point for _label, values in series for point in values]
    if not points:
        return h('<p class="empty">{}</p>', "No lag samples yet.")
    last = max(t for t, _v in points)
    first = min(min(t for t, _v in points), last - MIN_SPAN_MS)
    span = last - first
    top_value = max(max(v for _t, v in points), 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: int) -> float:
        return LEFT + (t - first) / span * plot_w

    def y(v: int) -> float:
        return TOP + plot_h - v / top_value * plot_h

    parts = [
        h('<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#d9dee5"/>', LEFT, TOP + plot_h, WIDTH - RIGHT, TOP + plot_h),
        h('<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#d9dee5"/>', LEFT, TOP, LEFT, TOP + plot_h),
        h('<text x="{}" y="{}" text-anchor="end">{}</text>', LEFT - 6, TOP + 10, f"{top_value:,}"),
        h('<text x="{}" y="{}" text-anchor="end">0</text>', LEFT - 6, TOP + plot_h),
        h('<text x="{}" y="{}">{}</text>', LEFT, HEIGHT - 8, _clock(first)),
        h('<text x="{}" y="{}" text-anchor="end">{}</text>', WIDTH - RIGHT, HEIGHT - 8, _clock(last)),
    ]
    legend = []
    for i, (label, values) in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        if not values:
            continue
        coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in values)
        parts.append(h('<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>', colour, coords))
        t, v = values[-1]
        parts.append(h('<circle cx="{}" cy="{}" r="3" fill="{}"/>', f"{x(t):.1f}", f"{y(v):.1f}", colour))
        legend.append(h('<span class="tag" style="color:{}">&#9632; {}</span> ', colour, label))
    svg = h(
        '<svg class="chart" role="img" aria-label="lag over time" width="{}" height="{}" viewBox="0 0 {} {}">{}</svg>',
        WIDTH,
        HEIGHT,
        WIDTH,
        HEIGHT,
        join(parts),
    )
    return h("<div>{}</div><div>{}</div>", svg, join(legend))


def _clock(wall_ms: int) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(wall_ms / 1000)) + " UTC"
