"""Encode requests and decode responses with kio, for tests that speak the
raw protocol to a broker."""

from __future__ import annotations

import io
import struct

import kwire.protocol  # noqa: F401  (fast kio import)
from kio.index import load_request_schema, load_response_schema
from kio.serial import entity_reader, entity_writer

from kwire.protocol.kio_build import build
from kwire.protocol.registry import request_is_flexible, response_is_flexible


def request_frame(api_key: int, version: int, values: dict, correlation_id: int = 1, client_id: str = "test") -> bytes:
    schema = load_request_schema(api_key, version)
    body = io.BytesIO()
    entity_writer(schema)(body, build(schema, values))
    header = struct.pack(">hhih", api_key, version, correlation_id, len(client_id)) + client_id.encode()
    if request_is_flexible(api_key, version):
        header += b"\x00"
    payload = header + body.getvalue()
    return struct.pack(">i", len(payload)) + payload


def decode_response(api_key: int, version: int, payload: bytes):
    """(correlation id, response entity) from a response frame without its size prefix."""
    (correlation_id,) = struct.unpack_from(">i", payload, 0)
    offset = 5 if response_is_flexible(api_key, version) else 4
    response, _ = entity_reader(load_response_schema(api_key, version))(payload, offset)
    return correlation_id, response
