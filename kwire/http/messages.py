"""What an HTTP route sees and answers: plain values, no I/O, so routes are
tested without a socket."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs


@attrs.frozen
class HttpRequest:
    method: str
    target: str  # the path and query as sent
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    @property
    def path(self) -> str:
        return urlsplit(self.target).path or "/"

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)

    def arg(self, name: str, default: str = "") -> str:
        """The first value of query parameter `name`."""
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str, default: str = "") -> str:
        wanted = name.lower()
        for key, value in self.headers:
            if key == wanted:
                return value
        return default

    def form(self) -> dict[str, list[str]]:
        """An application/x-www-form-urlencoded body."""
        return parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)


@attrs.frozen
class HttpResponse:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def text(cls, status: int, text: str) -> HttpResponse:
        return cls(status, text.encode())

    @classmethod
    def json(cls, status: int, value: Any) -> HttpResponse:
        return cls(status, (json.dumps(value) + "\n").encode(), "application/json")

    @classmethod
    def html(cls, status: int, page: str) -> HttpResponse:
        return cls(status, page.encode(), "text/html; charset=utf-8")

    @classmethod
    def redirect(cls, location: str) -> HttpResponse:
        """See Other: after a form's POST, the page to show."""
        return cls(303, b"", headers=(("location", location),))


# A route: the request to its answer. Routes run in the broker's trio thread,
# so they may read (and, through the broker's own paths, change) its state.
Route = Callable[[HttpRequest], Awaitable[HttpResponse]]
