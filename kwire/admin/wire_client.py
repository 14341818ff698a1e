"""A minimal blocking Kafka protocol client: encode a request with kio,
send it, read and decode the answer. Used by the `kwire groups` commands
and by tests that speak the raw protocol."""

from __future__ import annotations

import io
import socket
import struct
from typing import TYPE_CHECKING, Any

from kio.index import load_request_schema, load_response_schema
from kio.serial import entity_reader, entity_writer

from kwire.protocol.kio_build import build
from kwire.protocol.registry import request_is_flexible, response_is_flexible

if TYPE_CHECKING:
    import ssl

_SIZE = struct.Struct(">i")
_MAX_RESPONSE = 100 * 1024 * 1024


def request_frame(
    api_key: int, version: int, values: dict[str, Any], correlation_id: int = 1, client_id: str = "kwire"
) -> bytes:
    schema = load_request_schema(api_key, version)
    body = io.BytesIO()
    entity_writer(schema)(body, build(schema, values))
    client = client_id.encode()
    header = struct.pack(">hhih", api_key, version, correlation_id, len(client)) + client
    if request_is_flexible(api_key, version):
        header += b"\x00"  # no tagged fields
    payload = header + body.getvalue()
    return _SIZE.pack(len(payload)) + payload


def decode_response(api_key: int, version: int, payload: bytes) -> tuple[int, Any]:
    """(correlation id, response entity) from a response frame without its size prefix."""
    (correlation_id,) = _SIZE.unpack_from(payload, 0)
    offset = 5 if response_is_flexible(api_key, version) else 4
    response, _ = entity_reader(load_response_schema(api_key, version))(payload, offset)
    return correlation_id, response


class WireError(Exception):
    pass


class WireClient:
    """One connection, over TLS when given an `ssl_context` (the handshake
    happens here; ssl.SSLError, an OSError, when it fails); requests answered in order."""

    def __init__(
        self,
        host: str,
        port: int,
        timeout_s: float = 10.0,
        client_id: str = "kwire-cli",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        sock = socket.create_connection((host, port), timeout=timeout_s)
        if ssl_context is not None:
            try:
                sock = ssl_context.wrap_socket(sock, server_hostname=host)
            except BaseException:
                sock.close()
                raise
        self._sock = sock
        self._client_id = client_id
        self._correlation_id = 0

    def call(self, api_key: int, version: int, values: dict[str, Any]) -> Any:
        self._correlation_id += 1
        self._sock.sendall(request_frame(api_key, version, values, self._correlation_id, self._client_id))
        (size,) = _SIZE.unpack(self._read_exactly(4))
        if not 0 < size <= _MAX_RESPONSE:
            raise WireError(f"bad response size {size}")
        correlation_id, response = decode_response(api_key, version, self._read_exactly(size))
        if correlation_id != self._correlation_id:
            raise WireError(f"answer to request {correlation_id}, expected {self._correlation_id}")
        return response

    def send(self, api_key: int, version: int, values: dict[str, Any]) -> None:
        """Send a request that gets no answer (a produce with acks=0)."""
        self._correlation_id += 1
        self._sock.sendall(request_frame(api_key, version, values, self._correlation_id, self._client_id))

    def _read_exactly(self, count: int) -> bytes:
        chunks = bytearray()
        while len(chunks) < count:
            chunk = self._sock.recv(count - len(chunks))
            if not chunk:
                raise WireError("connection closed by the broker")
            chunks += chunk
        return bytes(chunks)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> WireClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
