"""An in-memory node with data in it, and a way to ask the console for pages."""

from __future__ import annotations

from kwire.clock import ManualClock
from kwire.console import Console
from kwire.coordinator.offsets import CommittedOffset
from kwire.core import BrokerCore
from kwire.http.messages import HttpRequest, HttpResponse
from kwire.observability.node_view import NodeView
from kwire.protocol.control_batches import build_marker
from kwire.protocol.record_codec import Record, build_batch
from kwire.protocol.records import parse_header
from tests.core_client import make_core

HOST = "127.0.0.1:8080"
START_MS = 1_750_000_000_000
EVIL = "<script>alert(1)</script>"


def append(core: BrokerCore, topic: str, partition: int, records: list[Record], **batch: object) -> int:
    log = core.cluster.partition(topic, partition).log  # type: ignore[union-attr]
    data = build_batch(records, base_timestamp=core.clock.wall_ms(), **batch)  # type: ignore[arg-type]
    return log.append(data, parse_header(data))


def filled_core() -> BrokerCore:
    """Topic `orders` (2 partitions): 10 records on partition 0, a second
    apart, JSON values, `<script>` in keys, values and headers; group
    `<script>` committed at 4 on orders-0 (lag 6)."""
    core = make_core(clock=ManualClock(wall_ms=START_MS))
    core.cluster.create_topic("orders", 2)
    for i in range(10):
        value = f'{{"n": {i}, "note": "{EVIL}"}}'.encode()
        append(core, "orders", 0, [Record(0, 0, f"key-{i}{EVIL}".encode(), value, ((EVIL, b"\xff\x00"),))])
        core.clock.advance(1)  # type: ignore[attr-defined]
    core.groups.commit(EVIL, {("orders", 0): CommittedOffset(4, -1, "", START_MS)})
    return core


def add_transaction(core: BrokerCore, commit: bool = True, producer_id: int = 7) -> None:
    """A transaction on orders-1: one record, then its marker."""
    append(
        core,
        "orders",
        1,
        [Record(0, 0, b"k", b"committed" if commit else b"aborted")],
        producer_id=producer_id,
        producer_epoch=0,
        base_sequence=0,
        is_transactional=True,
    )
    marker = build_marker(producer_id, 0, commit, core.clock.wall_ms())
    log = core.cluster.partition("orders", 1).log  # type: ignore[union-attr]
    log.append(marker, parse_header(marker))


def console_for(core: BrokerCore) -> Console:
    return Console(NodeView(core, START_MS))


async def get(console: Console, target: str) -> HttpResponse:
    return await console(HttpRequest("GET", target, (("host", HOST),)))


async def post(console: Console, target: str, body: str, origin: str | None = f"http://{HOST}") -> HttpResponse:
    headers = [("host", HOST), ("content-type", "application/x-www-form-urlencoded")]
    if origin is not None:
        headers.append(("origin", origin))
    return await console(HttpRequest("POST", target, tuple(headers), body.encode()))


def text(response: HttpResponse) -> str:
    return response.body.decode()
