"""The fault-injection HTTP endpoint (`kwire serve --control-port PORT`): a
tiny HTTP/1.1 server on 127.0.0.1 only, one request per connection
(answered with `Connection: close`), bounded head and body, a deadline per
connection. The API itself is kwire/faults/control.py. Whatever a client
sends, the answer is a status and one line of JSON; the broker carries on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from kwire.core import BrokerCore
from kwire.faults import control

log = logging.getLogger("kwire.faults")

CONTROL_HOST = "127.0.0.1"
REQUEST_DEADLINE_S = 10.0
_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    411: "Length Required",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
}


Handler = Callable[[str, str, bytes], Awaitable[tuple[int, Any]]]


async def serve_control(
    core: BrokerCore, port: int, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
) -> None:
    """One node's fault-injection endpoint."""

    async def handle(method: str, path: str, body: bytes) -> tuple[int, Any]:
        return control.handle(core.state.faults, method, path, body)

    def after(status: int, value: Any) -> None:
        if status == 202 and isinstance(value, dict) and value.get("killing") is True:
            core.state.faults.kill()

    await serve_http(port, handle, after, "fault control", task_status=task_status)


async def serve_http(
    port: int,
    handle: Handler,
    after: Callable[[int, Any], None],
    what: str,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """A tiny JSON-over-HTTP endpoint on 127.0.0.1:`port`: `handle` answers
    each request, `after` runs once the answer is sent."""
    listeners = await trio.open_tcp_listeners(port, host=CONTROL_HOST)
    bound = listeners[0].socket.getsockname()[1]
    log.info("%s endpoint on http://%s:%d", what, CONTROL_HOST, bound)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_accept_forever, listeners[0], handle, after, what, nursery)
            task_status.started(bound)
    finally:
        with trio.CancelScope(shield=True):
            for listener in listeners:
                await listener.aclose()


async def _accept_forever(
    listener: trio.SocketListener, handle: Handler, after: Callable[[int, Any], None], what: str, nursery: trio.Nursery
) -> None:
    while True:
        try:
            stream = await listener.accept()
        except OSError as error:
            log.warning("%s endpoint cannot accept: %s", what, error)
            await trio.sleep(0.1)
            continue
        nursery.start_soon(_serve_one, handle, after, what, stream)


async def _serve_one(handle: Handler, after: Callable[[int, Any], None], what: str, stream: trio.SocketStream) -> None:
    answered: tuple[int, Any] | None = None
    try:
        with trio.move_on_after(REQUEST_DEADLINE_S) as deadline:
            status, value = await _answer(handle, what, stream)
            await _send(stream, status, value)
            answered = status, value
        if deadline.cancelled_caught:
            await _send(stream, 408, {"error": "request not received in time"})
    except (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionError):
        pass
    except Exception:
        log.exception("%s endpoint: internal error", what)
    finally:
        with trio.CancelScope(shield=True):
            await stream.aclose()
    if answered is not None:
        after(*answered)


async def _answer(handle: Handler, what: str, stream: trio.SocketStream) -> tuple[int, Any]:
    buffer = bytearray()
    try:
        while b"\r\n\r\n" not in buffer:
            if len(buffer) > control.MAX_HEADER_BYTES:
                raise control.HttpError(431, f"request head over {control.MAX_HEADER_BYTES} bytes")
            data = await stream.receive_some(4096)
            if not data:
                raise control.HttpError(400, "request truncated")
            buffer += data
        head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
        if len(head) > control.MAX_HEADER_BYTES:
            raise control.HttpError(431, f"request head over {control.MAX_HEADER_BYTES} bytes")
        method, path, headers = control.parse_head(head)
        length = control.body_length(headers)
        body = bytearray(rest[:length])
        while len(body) < length:
            data = await stream.receive_some(min(65536, length - len(body)))
            if not data:
                raise control.HttpError(400, "request body truncated")
            body += data
        try:
            status, value = await handle(method, path, bytes(body))
        except control.HttpError:
            raise
        except Exception as error:  # never the broker's problem: answer and carry on
            log.exception("%s: %s %s failed", what, method, path)
            return 500, {"error": f"internal error: {error!r}"}
        log.info("%s: %s %s -> %d", what, method, path, status)
        return status, value
    except control.HttpError as error:
        log.info("%s: refused (%d): %s", what, error.status, error.message)
        return error.status, {"error": error.message}


async def _send(stream: trio.SocketStream, status: int, value: Any) -> None:
    body = (json.dumps(value) + "\n").encode()
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    await stream.send_all(head + body)
