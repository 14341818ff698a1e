"""Hand-built protocol requests over plain sockets (for hostile-input tests)."""

from __future__ import annotations

import socket
import struct

from tests.wire import decode_response, request_frame

SOCKET_TIMEOUT_S = 10


# Every socket `connect` made, closed after each test (compat_tests/conftest.py)
# so that none is left for the garbage collector to warn about.
OPENED: list[socket.socket] = []


def connect(bootstrap: str) -> socket.socket:
    host, port = bootstrap.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=SOCKET_TIMEOUT_S)
    sock.settimeout(SOCKET_TIMEOUT_S)
    OPENED.append(sock)
    return sock


def close_opened() -> None:
    while OPENED:
        OPENED.pop().close()


def read_frame(sock: socket.socket) -> bytes:
    size = struct.unpack(">i", _read_exactly(sock, 4))[0]
    return _read_exactly(sock, size)


def _read_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("closed by the broker")
        data += chunk
    return data


def call(sock: socket.socket, api_key: int, version: int, values: dict, correlation_id: int = 1):
    sock.sendall(request_frame(api_key, version, values, correlation_id))
    got_correlation, response = decode_response(api_key, version, read_frame(sock))
    assert got_correlation == correlation_id
    return response


def closed_by_peer(sock: socket.socket) -> bool:
    """True when the broker closes the connection (recv gives b"" or a reset)."""
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
