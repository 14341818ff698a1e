"""The error codes a kio response carries, found without knowing its API:
every `error_code` field, at the top and in nested entries (topics,
partitions, resources…), counted into the request's event for the metrics
and the request log. Used by the dispatcher only when someone watches
requests; bounded, so a response with a million entries costs at most
MAX_ENTRIES steps. Hot responses (Produce, Fetch) are encoded by their
handlers, which note their errors themselves.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from kwire.observability.request_events import RequestEvent

MAX_ENTRIES = 10_000
_FIELDS: dict[type, tuple[bool, tuple[str, ...]]] = {}  # class -> (has error_code, its other fields)


def _fields_of(cls: type) -> tuple[bool, tuple[str, ...]]:
    known = _FIELDS.get(cls)
    if known is None:
        names = tuple(field.name for field in dataclasses.fields(cls))
        known = _FIELDS[cls] = ("error_code" in names, tuple(name for name in names if name != "error_code"))
    return known


def note_response_errors(event: RequestEvent, response: Any) -> None:
    """Add every non-zero `error_code` in `response` (a kio entity; anything
    else is left alone) to the event's errors."""
    if not dataclasses.is_dataclass(response) or isinstance(response, type):
        return
    pending: list[Any] = [response]
    steps = 0
    while pending and steps < MAX_ENTRIES:
        entity = pending.pop()
        steps += 1
        has_error, others = _fields_of(type(entity))
        if has_error:
            code = getattr(entity, "error_code", 0)
            if isinstance(code, int) and code:
                event.note_error(int(code))
        for name in others:
            value = getattr(entity, name, None)
            if isinstance(value, (tuple, list)):
                if value and dataclasses.is_dataclass(value[0]):
                    pending.extend(value)
            elif dataclasses.is_dataclass(value) and not isinstance(value, type):
                pending.append(value)
