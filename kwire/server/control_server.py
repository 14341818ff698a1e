"""The fault-injection HTTP endpoint (`kwire serve --control-port PORT`): a
tiny HTTP/1.1 server on 127.0.0.1 only, one request per connection
(answered with `Connection: close`), bounded head and body, a deadline per
connection. The API itself is kwire/faults/control.py. Whatever a client
sends, the answer is a status and one line of JSON; the broker carries on.
"""

from __future__ import annotations

import json
import logging
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


async def serve_control(
    core: BrokerCore, port: int, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
) -> None:
    listeners = await trio.open_tcp_listeners(port, host=CONTROL_HOST)
    bound = listeners[0].socket.getsockname()[1]
    log.info("fault control endpoint on http://%s:%d", CONTROL_HOST, bound)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_accept_forever, listeners[0], core, nursery)
            task_status.started(bound)
    finally:
        with trio.CancelScope(shield=True):
            for listener in listeners:
                await listener.aclose()


async def _accept_forever(listener: trio.SocketListener, core: BrokerCore, nursery: trio.Nursery) -> None:
    while True:
        try:
            stream = await listener.accept()
        except OSError as error:
            log.warning("fault control endpoint cannot accept: %s", error)
            await trio.sleep(0.1)
            continue
        nursery.start_soon(_serve_one, core, stream)


async def _serve_one(core: BrokerCore, stream: trio.SocketStream) -> None:
    kill = False
    try:
        with trio.move_on_after(REQUEST_DEADLINE_S) as deadline:
            status, value = await _answer(core, stream)
            kill = status == 202 and isinstance(value, dict) and value.get("killing") is True
            await _send(stream, status, value)
        if deadline.cancelled_caught:
            await _send(stream, 408, {"error": "request not received in time"})
    except (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionError):
        pass
    except Exception:
        log.exception("fault control endpoint: internal error")
    finally:
        with trio.CancelScope(shield=True):
            await stream.aclose()
    if kill:
        core.state.faults.kill()


async def _answer(core: BrokerCore, stream: trio.SocketStream) -> tuple[int, Any]:
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
            status, value = control.handle(core.state.faults, method, path, bytes(body))
        except control.HttpError:
            raise
        except Exception as error:  # never the broker's problem: answer and carry on
            log.exception("fault control: %s %s failed", method, path)
            return 500, {"error": f"internal error: {error!r}"}
        log.info("fault control: %s %s -> %d", method, path, status)
        return status, value
    except control.HttpError as error:
        log.info("fault control: refused (%d): %s", error.status, error.message)
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
