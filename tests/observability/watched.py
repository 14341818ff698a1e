"""Drive a BrokerCore whose metrics are on (http_port=0, no socket) the way
a connection does: each request gets a RequestEvent, told to the observers
once answered; and read the registry back through Prometheus' own parser."""

from __future__ import annotations

import struct
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from kwire.core import BrokerCore
from kwire.handlers.base import CLOSE_CONNECTION, NO_RESPONSE, Delayed
from kwire.observability.request_events import RequestEvent
from tests.core_client import make_core
from tests.wire import decode_response, request_frame


def metered_core(tmp_path=None, **overrides: Any) -> BrokerCore:
    return make_core(tmp_path, http_port=0, **overrides)


class WatchedClient:
    def __init__(self, core: BrokerCore) -> None:
        self.core = core
        self.events: list[RequestEvent] = []

    def call(self, api_key: int, version: int, values: dict) -> Any:
        """The decoded answer (None when there is none); the event is self.events[-1]."""
        clock = self.core.clock
        frame = request_frame(api_key, version, values)[4:]
        event = RequestEvent("PLAINTEXT", "127.0.0.1:50000", received=clock.monotonic())
        event.dispatched = clock.monotonic()
        outcome = self.core.handle_frame(frame, "/127.0.0.1", None, event)
        event.handled = event.completed = clock.monotonic()
        if isinstance(outcome, tuple):
            delayed, finish = outcome
            assert isinstance(delayed, Delayed)
            outcome = finish(delayed.complete(True))
            event.completed = clock.monotonic()
        event.sent = clock.monotonic()
        response = None
        if outcome is NO_RESPONSE:
            event.answered = False
        elif outcome is CLOSE_CONNECTION:
            event.answered, event.closed = False, "failed acks=0 produce"
        else:
            payload = b"".join(bytes(part) for part in outcome)
            event.response_bytes = len(payload)
            (size,) = struct.unpack_from(">i", payload)
            response = decode_response(api_key, version, payload[4:])[1]
        for observer in self.core.state.request_observers:
            observer(event)
        self.events.append(event)
        return response


def scrape(core: BrokerCore) -> dict[str, Any]:
    """The node's metric families by name, as Prometheus would parse them."""
    registry = core.state.metrics.registry
    assert registry is not None
    text = generate_latest(registry).decode()
    return {family.name: family for family in text_string_to_metric_families(text)}


def sample(families: dict[str, Any], name: str, **labels: str) -> float | None:
    """The value of the sample `name` with exactly these labels (None: no such sample)."""
    candidates = [name] + [name.removesuffix(suffix) for suffix in ("_total", "_count", "_sum", "_bucket")]
    for family_name in candidates:
        for each in families[family_name].samples if family_name in families else ():
            if each.name == name and each.labels == labels:
                return float(each.value)
    return None
