"""HTML built safely by construction: every value is escaped unless it is
already `Markup` (made here, from a literal template). Topic names, keys,
values and headers come from clients, so nothing reaches a page unescaped."""

from __future__ import annotations

import html
from collections.abc import Iterable


class Markup(str):
    """A string that is already HTML (escaped or written here)."""

    __slots__ = ()


def escape(value: object) -> Markup:
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


def h(template: str, *args: object, **kwargs: object) -> Markup:
    """`template` is a literal written in this package; every argument is escaped."""
    return Markup(template.format(*(escape(a) for a in args), **{k: escape(v) for k, v in kwargs.items()}))


def join(parts: Iterable[object], separator: str = "") -> Markup:
    return Markup(separator.join(escape(part) for part in parts))


def number(value: int) -> str:
    """Thousands separated: 1,234,567."""
    return f"{value:,}"


def size(value: int) -> str:
    """Bytes in the unit that reads best (1,024-based, as log sizes usually are)."""
    amount = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{value:,} B" if unit == "B" else f"{amount:,.1f} {unit}"
        amount /= 1024
    return f"{value:,} B"  # not reached


def duration(ms: int) -> str:
    seconds = max(0, ms) // 1000
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days}d {hours}h {minutes}m"
    if hours:
        return f"{hours}h {minutes}m {seconds}s"
    return f"{minutes}m {seconds}s" if minutes else f"{seconds}s"


def table(
    headings: Iterable[str], rows: Iterable[Iterable[object]], *, numeric: Iterable[int] = (), empty: str = "none"
) -> Markup:
    """A table; the columns in `numeric` are right-aligned. Cells are escaped unless Markup."""
    right = set(numeric)
    head = join(h('<th class="num">{}</th>', t) if i in right else h("<th>{}</th>", t) for i, t in enumerate(headings))
    body = []
    for row in rows:
        cells = join(
            h('<td class="num">{}</td>', cell) if i in right else h("<td>{}</td>", cell) for i, cell in enumerate(row)
        )
        body.append(h("<tr>{}</tr>", cells))
    if not body:
        return h('<p class="empty">{}</p>', empty)
    return h("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, join(body))
