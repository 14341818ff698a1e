import struct

import pytest

from kwire.protocol.headers import HeaderError, encode_response_header, parse_request_header


def header_v1(api_key=3, version=5, correlation=42, client_id=b"me"):
    prefix = struct.pack(">hhi", api_key, version, correlation)
    if client_id is None:
        return prefix + struct.pack(">h", -1)
    return prefix + struct.pack(">h", len(client_id)) + client_id


def test_header_v1_fields_and_body_offset():
    frame = header_v1() + b"BODY"
    header = parse_request_header(frame, flexible=False)
    assert (header.api_key, header.api_version, header.correlation_id, header.client_id) == (3, 5, 42, "me")
    assert frame[header.body_offset :] == b"BODY"


def test_null_client_id():
    header = parse_request_header(header_v1(client_id=None), flexible=False)
    assert header.client_id is None


def test_header_v2_skips_tagged_fields():
    tagged = bytes([2, 0, 3]) + b"abc" + bytes([5, 1]) + b"z"
    frame = header_v1() + tagged + b"BODY"
    header = parse_request_header(frame, flexible=True)
    assert frame[header.body_offset :] == b"BODY"


@pytest.mark.parametrize(
    "frame",
    [
        b"\x00\x03",  # shorter than the fixed part
        struct.pack(">hhi", 3, 5, 1) + b"\x00",  # truncated client_id length
        struct.pack(">hhih", 3, 5, 1, 10) + b"abc",  # client_id longer than the frame
        struct.pack(">hhih", 3, 5, 1, -7),  # negative length other than -1
        struct.pack(">hhih", 3, 5, 1, 2) + b"\xff\xfe",  # not UTF-8
    ],
)
def test_malformed_headers_raise(frame):
    with pytest.raises(HeaderError):
        parse_request_header(frame, flexible=False)


def test_truncated_tagged_field_raises():
    frame = header_v1() + bytes([1, 0, 50]) + b"short"
    with pytest.raises(HeaderError):
        parse_request_header(frame, flexible=True)


def test_response_headers():
    assert encode_response_header(7, flexible=False) == struct.pack(">i", 7)
    assert encode_response_header(7, flexible=True) == struct.pack(">i", 7) + b"\x00"


def test_header_tagged_fields_cannot_claim_more_than_the_frame():
    huge_count = b"\xff\xff\xff\xff\x0f"  # 2^32 - 1 tagged fields, then nothing
    with pytest.raises(HeaderError):
        parse_request_header(header_v1() + huge_count, flexible=True)
    huge_size = bytes([1, 0]) + b"\xff\xff\xff\xff\x0f" + b"x"
    with pytest.raises(HeaderError, match="truncated header tagged field"):
        parse_request_header(header_v1() + huge_size, flexible=True)
    with pytest.raises(HeaderError, match="varint too long"):
        parse_request_header(header_v1() + b"\xff" * 6, flexible=True)


def test_header_versions_come_from_kios_header_schemas():
    from kwire.protocol.api_keys import ApiKey
    from kwire.protocol.registry import (
        request_header_version,
        request_is_flexible,
        response_header_version,
        response_is_flexible,
    )

    assert (request_header_version(ApiKey.METADATA, 8), request_header_version(ApiKey.METADATA, 9)) == (1, 2)
    assert (response_header_version(ApiKey.METADATA, 8), response_header_version(ApiKey.METADATA, 9)) == (0, 1)
    # ApiVersions: flexible requests from v3, but its response header is always v0.
    assert request_is_flexible(ApiKey.API_VERSIONS, 3)
    assert not any(response_is_flexible(ApiKey.API_VERSIONS, v) for v in range(5))
