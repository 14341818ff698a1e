"""The HTTP server behind `--http-port`: h11 (the HTTP/1.1 state machine)
on trio streams, keep-alive, one request at a time per connection.

Everything a client sends is bounded: the request head (MAX_HEAD_BYTES), the
body (MAX_BODY_BYTES), the time to send a request (REQUEST_DEADLINE_S), an
idle keep-alive connection (IDLE_TIMEOUT_S) and the connections open at once
(MAX_CONNECTIONS). A route that fails answers
500 and is logged; the broker carries on.
"""

from __future__ import annotations

import http
import logging
from typing import Any

import h11
import trio

from kwire.http.messages import HttpRequest, HttpResponse, Route

log = logging.getLogger("kwire.http")

MAX_HEAD_BYTES = 16 * 1024
MAX_BODY_BYTES = 1024 * 1024
REQUEST_DEADLINE_S = 10.0
IDLE_TIMEOUT_S = 30.0
MAX_CONNECTIONS = 256  # at once; more are answered 503 and closed
RECEIVE_BYTES = 64 * 1024


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


async def bind_http(host: str, port: int) -> list[trio.SocketListener]:
    """The HTTP port's sockets (0: a free port); an OSError names nothing, the caller does."""
    return await trio.open_tcp_listeners(port, host=host)


async def serve_http(
    listeners: list[trio.SocketListener],
    route: Route,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve `route` on sockets from bind_http until cancelled; `task_status`
    gets the bound port."""
    task_status.started(listeners[0].socket.getsockname()[1])
    open_connections = 0

    async def handler(stream: trio.SocketStream) -> None:
        nonlocal open_connections
        if open_connections >= MAX_CONNECTIONS:
            await _refuse_busy(stream)
            return
        open_connections += 1
        try:
            await serve_http_connection(stream, route)
        finally:
            open_connections -= 1

    await trio.serve_listeners(handler, listeners)


async def serve_http_connection(stream: trio.abc.Stream, route: Route) -> None:
    """One client connection, until it closes, idles or misbehaves."""
    connection = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
    try:
        while True:
            try:
                request = await _read_request(stream, connection)
            except _Refused as refused:
                if connection.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                    await _send(stream, connection, HttpResponse.text(refused.status, f"{refused}\n"), close=True)
                return
            if request is None:
                return
            response = await _answer(route, request)
            close = connection.their_state is not h11.DONE or _wants_close(request)
            await _send(stream, connection, response, close=close, head_only=request.method == "HEAD")
            if close or connection.our_state is h11.MUST_CLOSE:
                return
            connection.start_next_cycle()
    except (trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError, ConnectionError):
        pass  # the client went away or reads nothing
    except h11.LocalProtocolError as error:
        log.warning("HTTP connection closed: %s", error)
    finally:
        with trio.CancelScope(shield=True), trio.move_on_after(1):
            await stream.aclose()


async def _read_request(stream: trio.abc.Stream, connection: h11.Connection) -> HttpRequest | None:
    """The next whole request, or None when the client closed or idled
    between requests."""
    head: h11.Request | None = None
    body = bytearray()
    deadline = trio.current_time() + IDLE_TIMEOUT_S
    while True:
        try:
            event = connection.next_event()
        except h11.RemoteProtocolError as error:
            raise _Refused(error.error_status_hint, f"bad request: {error}") from None
        if event is h11.NEED_DATA:
            with trio.move_on_at(deadline) as waited:
                data = await stream.receive_some(RECEIVE_BYTES)
            if waited.cancelled_caught:
                if head is None and not connection.trailing_data[0]:
                    return None  # an idle keep-alive connection
                raise _Refused(408, "request not received in time")
            connection.receive_data(bytes(data))
            if not data and head is None:
                return None
            if head is None and deadline - trio.current_time() > REQUEST_DEADLINE_S:
                deadline = trio.current_time() + REQUEST_DEADLINE_S  # a request has begun
            continue
        if isinstance(event, h11.Request):
            head = event
            # h11 bounds a head that arrives in pieces; one that arrives whole is measured here.
            if len(event.target) + sum(len(name) + len(value) + 4 for name, value in event.headers) > MAX_HEAD_BYTES:
                raise _Refused(431, f"a request head of at most {MAX_HEAD_BYTES} bytes")
            declared = _content_length(event)
            if declared is not None and declared > MAX_BODY_BYTES:
                raise _Refused(413, f"a body of at most {MAX_BODY_BYTES} bytes")
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > MAX_BODY_BYTES:
                raise _Refused(413, f"a body of at most {MAX_BODY_BYTES} bytes")
        elif isinstance(event, h11.EndOfMessage):
            assert head is not None
            return HttpRequest(
                head.method.decode("ascii", "replace"),
                head.target.decode("ascii", "replace"),
                tuple((name.decode("latin-1"), value.decode("latin-1")) for name, value in head.headers),
                bytes(body),
            )
        elif isinstance(event, (h11.ConnectionClosed, h11.PAUSED)):
            return None


async def _refuse_busy(stream: trio.abc.Stream) -> None:
    busy = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    with trio.move_on_after(1):
        try:
            await stream.send_all(busy)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
    await trio.aclose_forcefully(stream)


def _content_length(request: h11.Request) -> int | None:
    for name, value in request.headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _wants_close(request: HttpRequest) -> bool:
    return request.header("connection").lower() == "close"


async def _answer(route: Route, request: HttpRequest) -> HttpResponse:
    try:
        return await route(request)
    except Exception:
        log.exception("HTTP %s %s failed", request.method, request.path)
        return HttpResponse.text(500, "internal error (logged by the broker)\n")


async def _send(
    stream: trio.abc.Stream, connection: h11.Connection, response: HttpResponse, *, close: bool, head_only: bool = False
) -> None:
    body = b"" if head_only else response.body
    headers: list[tuple[str, Any]] = [
        ("content-type", response.content_type),
        ("content-length", str(len(response.body))),
        ("cache-control", "no-store"),
        *response.headers,
    ]
    if close:
        headers.append(("connection", "close"))
    with trio.fail_after(REQUEST_DEADLINE_S):
        await stream.send_all(
            connection.send(h11.Response(status_code=response.status, headers=headers, reason=_reason(response.status)))
        )
        if body:
            await stream.send_all(connection.send(h11.Data(data=body)))
        await stream.send_all(connection.send(h11.EndOfMessage()))


def _reason(status: int) -> bytes:
    try:
        return http.HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""
