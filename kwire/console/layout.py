"""The frame around every console page: a header with the navigation, the
page's title and body, and the stylesheet (inline: no files to serve, no CDN)."""

from __future__ import annotations

from kwire.console.markup import Markup, h, join

NAV = (
    ("/", "Overview"),
    ("/topics", "Topics"),
    ("/groups", "Consumer groups"),
    ("/transactions", "Transactions"),
)

STYLE = Markup("""
:root { --fg: #1d2430; --muted: #5d6b7e; --line: #d9dee5; --bg: #f6f7f9; --accent: #1f6feb; --bad: #b42318; --ok: #067647; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { background: #17202e; color: #fff; display: flex; align-items: center; gap: 24px; padding: 0 24px; height: 48px; }
header .brand { font-weight: 700; letter-spacing: .5px; }
header nav a { color: #c9d4e3; text-decoration: none; margin-right: 18px; padding: 14px 0; }
header nav a.active, header nav a:hover { color: #fff; border-bottom: 2px solid #5fa8ff; }
main { padding: 20px 24px 40px; max-width: 1400px; }
h1 { font-size: 22px; margin: 4px 0 16px; }
h2 { font-size: 16px; margin: 26px 0 10px; }
a { color: var(--accent); }
table { border-collapse: collapse; background: #fff; border: 1px solid var(--line); margin-bottom: 8px; }
th, td { padding: 6px 12px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: #eef1f5; font-weight: 600; font-size: 13px; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr:hover td { background: #f9fbfd; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 8px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 16px; min-width: 150px; }
.card .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .4px; }
.card .value { font-size: 20px; font-weight: 600; }
.muted, .empty { color: var(--muted); }
.note { font-size: 11px; }
.error { background: #fef3f2; border: 1px solid #fecdca; color: var(--bad); padding: 8px 12px; border-radius: 6px; }
.notice { background: #ecfdf3; border: 1px solid #abefc6; color: var(--ok); padding: 8px 12px; border-radius: 6px; }
.tag { display: inline-block; padding: 0 6px; border-radius: 4px; background: #eef1f5; font-size: 12px; }
.tag.control { background: #fff4e5; color: #93370d; }
form.inline { display: inline; }
form.panel { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; display: flex; flex-wrap: wrap; gap: 12px; align-items: end; margin-bottom: 12px; }
form.panel label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); gap: 2px; }
input, select, button { font: inherit; padding: 4px 8px; border: 1px solid var(--line); border-radius: 4px; background: #fff; }
button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
button.danger { background: #fff; color: var(--bad); border-color: #fecdca; }
pre, code { font: 12px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
pre { margin: 0; white-space: pre-wrap; word-break: break-all; font: 12px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; max-width: 560px; }
svg.chart { background: #fff; border: 1px solid var(--line); border-radius: 6px; }
svg.chart text { font-size: 11px; fill: var(--muted); }
""")


def page(title: str, body: Markup, active: str = "") -> str:
    links = join(
        h('<a href="{}" class="active">{}</a>', path, label)
        if path == active
        else h('<a href="{}">{}</a>', path, label)
        for path, label in NAV
    )
    return h(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        "<title>{title} · kwire</title><style>{style}</style></head>"
        '<body><header><span class="brand">kwire</span><nav>{links}</nav></header>'
        "<main><h1>{title}</h1>{body}</main></body></html>\n",
        title=title,
        style=STYLE,
        links=links,
        body=body,
    )
