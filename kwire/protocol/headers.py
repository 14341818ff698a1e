"""Request header parsing (v0-v2) and response header encoding."""

from __future__ import annotations

import struct
from typing import NamedTuple

_KEY_VERSION_CORRELATION = struct.Struct(">hhi")
_INT16 = struct.Struct(">h")
_INT32 = struct.Struct(">i")


class HeaderError(Exception):
    """The request header cannot be parsed."""


class RequestHeader(NamedTuple):
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None
    body_offset: int  # where the request body starts in the frame


def peek_api(frame: bytes) -> tuple[int, int, int]:
    """(api_key, api_version, correlation_id): the fixed start of every header."""
    if len(frame) < 8:
        raise HeaderError("frame shorter than a request header")
    return _KEY_VERSION_CORRELATION.unpack_from(frame, 0)


def read_uvarint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise HeaderError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 28:
            raise HeaderError("varint too long")


def parse_request_header(frame: bytes, flexible: bool) -> RequestHeader:
    """Header v1 (client_id as an int16-length string, even in v2) plus, for
    flexible request versions, header v2's tagged fields."""
    api_key, api_version, correlation_id = peek_api(frame)
    pos = 8
    if len(frame) < pos + 2:
        raise HeaderError("truncated client_id")
    (length,) = _INT16.unpack_from(frame, pos)
    pos += 2
    client_id = None
    if length >= 0:
        if len(frame) < pos + length:
            raise HeaderError("truncated client_id")
        try:
            client_id = frame[pos : pos + length].decode()
        except UnicodeDecodeError as exc:
            raise HeaderError("client_id is not UTF-8") from exc
        pos += length
    elif length != -1:
        raise HeaderError(f"invalid client_id length {length}")
    if flexible:
        count, pos = read_uvarint(frame, pos)
        for _ in range(count):
            _tag, pos = read_uvarint(frame, pos)
            size, pos = read_uvarint(frame, pos)
            pos += size
            if pos > len(frame):
                raise HeaderError("truncated header tagged field")
    return RequestHeader(api_key, api_version, correlation_id, client_id, pos)


def encode_response_header(correlation_id: int, flexible: bool) -> bytes:
    """Response header v0, or v1 (with an empty tagged-field section)."""
    if flexible:
        return _INT32.pack(correlation_id) + b"\x00"
    return _INT32.pack(correlation_id)
