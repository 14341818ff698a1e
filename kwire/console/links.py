"""URLs of console pages; names in paths are percent-encoded (group ids may hold anything)."""

from __future__ import annotations

import time
from urllib.parse import quote, urlencode


def topic(name: str) -> str:
    return "/topics/" + quote(name, safe="")


def messages(name: str, **query: object) -> str:
    return topic(name) + "/messages" + ("?" + urlencode(query) if query else "")


def group(group_id: str) -> str:
    return "/groups/" + quote(group_id, safe="")


def iso(wall_ms: int) -> str:
    """A timestamp as ISO 8601 in UTC, to the millisecond."""
    if wall_ms < 0:
        return "-"
    seconds, ms = divmod(wall_ms, 1000)
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"
    except (OverflowError, OSError, ValueError):
        return str(wall_ms)
