"""The generic error response, for every API and version real clients send
(the request corpus of the frame fuzzer): a decodable response whose every
error_code is the injected one, or, where none can be built, the
connection closed."""

import dataclasses
import struct
from pathlib import Path

import pytest

from kwire.handlers.base import DROP_CONNECTION
from kwire.protocol.errors import ErrorCode
from tests.core_client import make_core
from tests.wire import decode_response

CORPUS = Path(__file__).resolve().parents[2] / "compat_tests" / "data" / "request_corpus.txt"
INJECTED = ErrorCode.coordinator_not_available


def corpus():
    for line in CORPUS.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        api, version, source, hex_frame = line.split()
        yield int(api), int(version), source, bytes.fromhex(hex_frame)


def error_codes(entity):
    for field in dataclasses.fields(entity):
        value = getattr(entity, field.name)
        if isinstance(value, ErrorCode):
            yield value
        elif dataclasses.is_dataclass(value):
            yield from error_codes(value)
        elif isinstance(value, tuple):
            for item in value:
                if dataclasses.is_dataclass(item):
                    yield from error_codes(item)


@pytest.fixture(scope="module")
def core():
    core = make_core()
    yield core
    core.close()


def test_every_api_and_version_of_the_corpus(core):
    dropped = []
    seen = 0
    for api, version, source, frame in corpus():
        core.state.faults.inject_error(api, int(INJECTED), count=1)
        outcome = core.handle_frame(frame)
        core.state.faults.clear()
        seen += 1
        if outcome is DROP_CONNECTION:
            dropped.append((api, version, source))
            continue
        payload = b"".join(bytes(part) for part in outcome)
        (size,) = struct.unpack_from(">i", payload)
        assert size == len(payload) - 4
        _correlation, response = decode_response(api, version, payload[4:])
        codes = list(error_codes(response))
        assert codes and set(codes) == {INJECTED}, (api, version, source, response)
    assert seen > 200
    # Only Metadata for every topic: its response has no error_code to carry the error.
    assert {api for api, _version, _source in dropped} <= {3}, dropped
