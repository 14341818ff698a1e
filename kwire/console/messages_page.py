"""The message browser: one partition's records from an offset or a
timestamp, keys and values as text, JSON or hex, with headers, timestamps
and transaction markers."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs

from kwire.cluster.cluster import Topic
from kwire.console import links
from kwire.console.markup import Markup, h, join, number, table
from kwire.console.record_browser import DEFAULT_RECORDS, MAX_RECORDS, BrowsedRecord, Page
from kwire.console.value_formats import FORMATS, show


class BadQuery(ValueError):
    """A browser query that cannot be answered (shown on the page)."""


@attrs.frozen
class Query:
    partition: int
    offset: int | None  # None: from `timestamp`, or from the log start
    timestamp: int | None
    limit: int
    form: str


def parse_query(args: dict[str, list[str]]) -> Query:
    def first(name: str) -> str:
        values = args.get(name)
        return values[0].strip() if values else ""

    partition = _integer(first("partition") or "0", "partition")
    offset_text, timestamp_text = first("offset"), first("timestamp")
    offset = _integer(offset_text, "offset") if offset_text else None
    timestamp = _timestamp(timestamp_text) if timestamp_text and offset is None else None
    limit = _integer(first("limit") or str(DEFAULT_RECORDS), "limit")
    if not 1 <= limit <= MAX_RECORDS:
        raise BadQuery(f"limit must be between 1 and {MAX_RECORDS}")
    form = first("format") or "text"
    if form not in FORMATS:
        raise BadQuery(f"format must be one of {', '.join(FORMATS)}")
    return Query(partition, offset, timestamp, limit, form)


def _integer(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise BadQuery(f"{name} must be a whole number, not {text!r}") from None
    if not -(2**63) <= value < 2**63:
        raise BadQuery(f"{name} is out of range")
    return value


def _timestamp(text: str) -> int:
    """Milliseconds since the epoch, or an ISO 8601 time (UTC unless it says otherwise)."""
    if text.lstrip("-").isdigit():
        return _integer(text, "timestamp")
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return int(parsed.timestamp() * 1000)
    except (ValueError, OverflowError, OSError):
        raise BadQuery(f"timestamp must be milliseconds or ISO 8601 (2026-01-31T12:00:00Z), not {text!r}") from None


def render_form(topic: Topic, query: Query | None) -> Markup:
    partitions = join(
        h('<option value="{}" selected>{}</option>', i, i)
        if query is not None and i == query.partition
        else h('<option value="{}">{}</option>', i, i)
        for i in range(len(topic.partitions))
    )
    formats = join(
        h('<option value="{}" selected>{}</option>', f, f)
        if query is not None and f == query.form
        else h('<option value="{}">{}</option>', f, f)
        for f in FORMATS
    )
    return h(
        '<form class="panel" method="get" action="{action}">'
        '<label>Partition<select name="partition">{partitions}</select></label>'
        '<label>From offset<input name="offset" value="{offset}" size="10" placeholder="log start"></label>'
        '<label>or from timestamp<input name="timestamp" value="{timestamp}" size="24" placeholder="ms or 2026-01-31T12:00:00Z"></label>'
        '<label>Records<input name="limit" type="number" min="1" max="{max}" value="{limit}" size="5"></label>'
        '<label>Show as<select name="format">{formats}</select></label>'
        '<button type="submit">Browse</button></form>',
        action=links.messages(topic.name),
        partitions=partitions,
        offset="" if query is None or query.offset is None else query.offset,
        timestamp="" if query is None or query.timestamp is None else query.timestamp,
        max=MAX_RECORDS,
        limit=DEFAULT_RECORDS if query is None else query.limit,
        formats=formats,
    )


def render_page(topic: Topic, query: Query, page: Page, start: int) -> Markup:
    rows = [_row(record, query.form) for record in page.records]
    records = table(
        ["Offset", "Timestamp", "Key", "Value", "Headers", ""],
        rows,
        numeric=(0,),
        empty="No records from here (the end of the partition).",
    )
    more = ""
    if page.records:
        more = links.messages(
            topic.name, partition=query.partition, offset=page.next_offset, limit=query.limit, format=query.form
        )
    summary = h(
        '<p class="muted">Partition {} from offset {}: {} record(s){}.</p>',
        query.partition,
        number(start),
        len(page.records),
        " (stopped at the page's byte budget)" if page.truncated else "",
    )
    next_link = (
        h('<p><a href="{}" id="next">Next page from offset {}</a></p>', more, number(page.next_offset))
        if more
        else Markup("")
    )
    return join([summary, records, next_link])


def _cell(data: bytes | None, form: str) -> Markup:
    text, note = show(data, form)
    shown = h("<pre>{}</pre>", text) if text else Markup("")
    return h('{}<span class="muted note">{}</span>', shown, note) if note else shown


def _header(name: str, value: bytes | None, form: str) -> Markup:
    text, note = show(value, "text" if form == "json" else form)
    return h('<div class="header"><b>{}</b>: <code>{}</code> <span class="muted">{}</span></div>', name, text, note)


def _row(record: BrowsedRecord, form: str) -> tuple[object, ...]:
    headers = join(_header(name, value, form) for name, value in record.headers)
    flags = []
    if record.marker:
        flags.append(h('<span class="tag control">{} marker</span>', record.marker))
    elif record.aborted:
        flags.append(h('<span class="tag control">aborted transaction (producer {})</span>', record.producer_id))
    elif record.transactional:
        flags.append(h('<span class="tag">transactional (producer {})</span>', record.producer_id))
    return (
        number(record.offset),
        h('{}<br><span class="muted">{} ms</span>', links.iso(record.timestamp), record.timestamp),
        Markup("") if record.marker else _cell(record.key, form),
        Markup("") if record.marker else h('<div class="value">{}</div>', _cell(record.value, form)),
        headers,
        join(flags),
    )
