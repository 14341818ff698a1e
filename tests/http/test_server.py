"""The HTTP server behind --http-port over real sockets: routes, keep-alive,
HEAD, and hostile bytes (oversized heads and bodies, garbage, truncation)
answered or closed for that client alone."""

from __future__ import annotations

import random

import pytest
import trio

from kwire.http.messages import HttpRequest, HttpResponse
from kwire.http.router import Router
from kwire.http.server import MAX_BODY_BYTES, MAX_HEAD_BYTES, bind_http, serve_http


async def _echo(request: HttpRequest) -> HttpResponse:
    return HttpResponse.json(
        200, {"method": request.method, "path": request.path, "q": request.arg("q"), "n": len(request.body)}
    )


async def _broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a route that fails")


def _router() -> Router:
    router = Router()
    router.add("/echo", _echo)
    router.add("/broken", _broken)
    router.add_prefix("/tree/", _echo)
    return router


async def _serve(nursery: trio.Nursery) -> int:
    listeners = await bind_http("127.0.0.1", 0)
    port: int = await nursery.start(serve_http, listeners, _router())
    return port


async def _exchange(port: int, raw: bytes, *, half_close: bool = True) -> bytes:
    """Send `raw`, then read until the server closes (bounded)."""
    with trio.fail_after(5):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            try:
                await stream.send_all(raw)
                if half_close:
                    await stream.send_eof()
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass
            answer = b""
            while True:
                try:
                    chunk = await stream.receive_some(65536)
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                    break
                if not chunk:
                    break
                answer += chunk
            return answer


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


async def test_routes_query_and_404_and_a_failing_route() -> None:
    async with trio.open_nursery() as nursery:
        port = await _serve(nursery)
        answer = await _exchange(port, b"GET /echo?q=a%20b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert _status(answer) == 200 and b'"q": "a b"' in answer
        assert b"HTTP/1.1 200 OK" in answer
        answer = await _exchange(port, b"GET /tree/deep/page HTTP/1.1\r\nHost: x\r\n\r\n")
        assert _status(answer) == 200 and b'"path": "/tree/deep/page"' in answer
        assert _status(await _exchange(port, b"GET /none HTTP/1.1\r\nHost: x\r\n\r\n")) == 404
        assert _status(await _exchange(port, b"GET /broken HTTP/1.1\r\nHost: x\r\n\r\n")) == 500
        nursery.cancel_scope.cancel()


async def test_keep_alive_answers_several_requests_on_one_connection_and_head_has_no_body() -> None:
    async with trio.open_nursery() as nursery:
        port = await _serve(nursery)
        requests = b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n" + b"HEAD /echo HTTP/1.1\r\nHost: x\r\n\r\n"
        requests += b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        answer = await _exchange(port, requests)
        assert answer.count(b"HTTP/1.1 200") == 3
        assert answer.count(b'"method"') == 2  # the HEAD answer has headers only
        assert b'"n": 3' in answer
        nursery.cancel_scope.cancel()


async def test_oversized_head_and_body_are_refused() -> None:
    async with trio.open_nursery() as nursery:
        port = await _serve(nursery)
        big_head = b"GET /echo HTTP/1.1\r\nHost: x\r\nX: " + b"a" * (MAX_HEAD_BYTES + 10) + b"\r\n\r\n"
        assert _status(await _exchange(port, big_head)) == 431
        big_body = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY_BYTES + 1)
        assert _status(await _exchange(port, big_body)) == 413
        chunked = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        chunked += b"%x\r\n" % (MAX_BODY_BYTES // 2 + 1) + b"a" * (MAX_BODY_BYTES // 2 + 1) + b"\r\n"
        chunked += b"%x\r\n" % (MAX_BODY_BYTES // 2 + 1) + b"a" * (MAX_BODY_BYTES // 2 + 1) + b"\r\n0\r\n\r\n"
        assert _status(await _exchange(port, chunked)) == 413
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("seed", range(3))
async def test_garbage_truncations_and_mutations_never_stop_the_server(seed: int) -> None:
    valid = b"POST /echo?q=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    rng = random.Random(seed)
    async with trio.open_nursery() as nursery:
        port = await _serve(nursery)
        for _ in range(60):
            raw = bytearray(valid)
            kind = rng.randrange(4)
            if kind == 0:
                raw = raw[: rng.randrange(len(raw))]
            elif kind == 1:
                for _ in range(rng.randrange(1, 6)):
                    raw[rng.randrange(len(raw))] = rng.randrange(256)
            elif kind == 2:
                raw = bytearray(rng.randbytes(rng.randrange(1, 300)))
            else:
                raw = raw.replace(b"5", str(rng.choice([-1, 10**30, 2**63])).encode(), 1)
            answer = await _exchange(port, bytes(raw))
            assert answer == b"" or answer.startswith(b"HTTP/1.1 ")
        # Still serving everyone else.
        assert _status(await _exchange(port, b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")) == 200
        nursery.cancel_scope.cancel()


async def test_connections_past_the_limit_are_answered_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kwire.http.server.MAX_CONNECTIONS", 2)
    async with trio.open_nursery() as nursery:
        port = await _serve(nursery)
        held = [await trio.open_tcp_stream("127.0.0.1", port) for _ in range(2)]
        for stream in held:  # each answered once and kept alive: the server holds both
            await stream.send_all(b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            with trio.fail_after(5):
                while not answer.endswith(b"}\n"):
                    answer += await stream.receive_some(65536)
        assert _status(await _exchange(port, b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")) == 503
        for stream in held:
            await stream.aclose()
        with trio.fail_after(5):
            while True:  # the held ones close on the server's side too, then there is room again
                answer = await _exchange(port, b"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
                if _status(answer) == 200:
                    break
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()
