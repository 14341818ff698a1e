"""Every console page rendered from an in-memory node: the content, and
that client-made names and bytes stay text."""

import re

from kwire.coordinator.consumer_group.coordinator import HeartbeatRequest
from tests.console.console_state import EVIL, START_MS, add_transaction, console_for, filled_core, get, text


def _cells(page: str) -> list[list[str]]:
    rows = re.findall(r"<tr>(.*?)</tr>", page, re.S)
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)] for row in rows
    ]


async def test_overview():
    console = console_for(filled_core())
    page = text(await get(console, "/"))
    assert "kwire 0.1.0" in page and "PLAINTEXT" in page and "No requests yet." in page
    assert "Overview</a>" in page  # the navigation


async def test_topics_and_a_topic():
    console = console_for(filled_core())
    listing = text(await get(console, "/topics"))
    orders = next(row for row in _cells(listing) if row and row[0] == "orders")
    assert orders[1:4] == ["2", "1", "10"]  # partitions, replication, messages
    assert "Delete" in orders[5]
    assert next(row for row in _cells(listing) if row and row[0] == "__consumer_offsets")[5] == "internal"
    page = text(await get(console, "/topics/orders"))
    partition0 = next(row for row in _cells(page) if row and row[0] == "0")
    assert partition0[5:10] == ["0", "10", "10", "10", "10"]  # log start, high watermark, log end, LSO, messages
    assert "retention.ms" in page and "DEFAULT_CONFIG" in page


async def test_unknown_pages_are_not_found():
    console = console_for(filled_core())
    assert (await get(console, "/topics/nope")).status == 404
    assert (await get(console, "/groups/nope")).status == 404
    assert (await get(console, "/nothing/here")).status == 404
    missing = await get(console, "/topics/%3Cb%3E")
    assert missing.status == 404 and "<b>" not in text(missing) and "&lt;b&gt;" in text(missing)


async def test_group_lag_and_escaped_group_id():
    console = console_for(filled_core())
    listing = text(await get(console, "/groups"))
    assert EVIL not in listing and "&lt;script&gt;" in listing
    assert any(row and row[-1] == "6" for row in _cells(listing))  # total lag
    page = text(await get(console, "/groups/%3Cscript%3Ealert(1)%3C%2Fscript%3E"))
    assert EVIL not in page
    lag = next(row for row in _cells(page) if row and row[0] == "orders")
    assert lag[1:5] == ["0", "4", "10", "6"]
    assert "<svg" in page and "<polyline" in page  # the chart, with the current lag at least


async def test_messages_as_text_json_and_hex():
    console = console_for(filled_core())
    page = text(await get(console, "/topics/orders/messages?partition=0&offset=2&limit=3&format=text"))
    assert EVIL not in page
    rows = [row for row in _cells(page) if row]
    assert [row[0] for row in rows] == ["2", "3", "4"]
    assert rows[0][2] == "key-2&lt;script&gt;alert(1)&lt;/script&gt;"
    assert "\\xff\\x00" in rows[0][4]  # the header's invalid UTF-8 and control byte, escaped
    assert "2025-06-15T15:06:42.000Z" in rows[0][1] and f"{START_MS + 2000} ms" in rows[0][1]
    assert 'id="next"' in page and "offset=5" in page

    page = text(await get(console, "/topics/orders/messages?partition=0&offset=0&limit=1&format=json"))
    assert "{\n  &quot;n&quot;: 0,\n  &quot;note&quot;: &quot;&lt;script&gt;" in page

    page = text(await get(console, "/topics/orders/messages?partition=0&offset=9&format=hex"))
    assert "7b 22 6e 22 3a 20 39" in page  # {"n": 9
    assert len([row for row in _cells(page) if row]) == 1


async def test_messages_from_a_timestamp():
    console = console_for(filled_core())
    page = text(await get(console, f"/topics/orders/messages?partition=0&timestamp={START_MS + 7000}"))
    assert [row[0] for row in _cells(page) if row] == ["7", "8", "9"]
    page = text(await get(console, "/topics/orders/messages?partition=0&timestamp=2025-06-15T15:06:48Z"))
    assert [row[0] for row in _cells(page) if row] == ["8", "9"]


async def test_bad_browser_queries_are_explained():
    console = console_for(filled_core())
    for query, said in [
        ("partition=9", "has no partition 9"),
        ("partition=x", "partition must be a whole number"),
        ("limit=100000", "limit must be between 1 and 500"),
        ("format=<b>", "format must be one of"),
        ("timestamp=yesterday", "timestamp must be milliseconds or ISO 8601"),
    ]:
        response = await get(console, f"/topics/orders/messages?{query}")
        assert response.status == 200 and said in text(response), query
    shown = text(await get(console, "/topics/orders/messages?offset=<b>"))
    assert "not &#x27;&lt;b&gt;&#x27;" in shown and "<b>" not in shown.split("<main>")[1]


async def test_transaction_markers_and_producers():
    core = filled_core()
    add_transaction(core, commit=True, producer_id=7)
    add_transaction(core, commit=False, producer_id=8)
    console = console_for(core)
    page = text(await get(console, "/topics/orders/messages?partition=1"))
    rows = [row for row in _cells(page) if row]
    assert [(row[0], row[3], row[5]) for row in rows] == [
        ("0", "committed", "transactional (producer 7)"),
        ("1", "", "COMMIT marker"),
        ("2", "aborted", "aborted transaction (producer 8)"),
        ("3", "", "ABORT marker"),
    ]
    page = text(await get(console, "/transactions"))
    assert "No transactional ids." in page
    producer = next(row for row in _cells(page) if row and row[0] == "orders" and row[2] == "7")
    assert producer[1] == "1" and producer[-1] == "-"


async def test_a_kip848_group_shows_its_epochs_and_assignment():
    core = filled_core()
    joined = core.groups.consumer_heartbeat(
        HeartbeatRequest(
            group_id="new-protocol",
            member_id="m1",
            member_epoch=0,
            instance_id=None,
            rack_id=None,
            rebalance_timeout_ms=30000,
            subscribed_topic_names=("orders",),
            subscribed_topic_regex=None,
            server_assignor=None,
            owned=frozenset(),
            client_id="rdkafka",
        )
    )
    assert joined.member_epoch == 1
    console = console_for(core)
    listing = next(row for row in _cells(text(await get(console, "/groups"))) if row and "new-protocol" in row[0])
    assert listing[1:4] == ["Stable", "consumer", "uniform"]
    page = text(await get(console, "/groups/new-protocol"))
    assert "Group epoch" in page and "Member epoch" in page
    member = next(row for row in _cells(page) if row and row[0] == "m1")
    assert member[4:] == ["1", "orders-0, orders-1"]
