"""Hostile requests against the whole broker core: any well-framed request
of any served API and version, with arbitrary field values, gets an answer
a client can decode, or closes that one connection (ProtocolViolation) —
never an internal error — and the broker still serves a well-behaved
client afterwards."""

import io
import os
import struct

import hypothesis.strategies as st
import kio.static.primitive as primitive
import pytest
from hypothesis import HealthCheck, given, settings
from kio.index import UnknownEntity, load_request_schema, load_response_schema
from kio.serial import entity_writer
from kio.serial.errors import OutOfBoundValue

from kwire.core import ProtocolViolation
from kwire.handlers import build_registry
from kwire.handlers.base import CLOSE_CONNECTION, NO_RESPONSE, Delayed
from kwire.protocol.record_codec import iter_all_records
from kwire.protocol.registry import request_is_flexible
from tests.core_client import CoreClient, make_core
from tests.handlers import requests as rq
from tests.wire import decode_response

# KWIRE_FUZZ_EXAMPLES=1000 for a longer, randomised hunt; CI runs a fixed sample.
DEFAULT_EXAMPLES = 30
EXAMPLES = int(os.environ.get("KWIRE_FUZZ_EXAMPLES", DEFAULT_EXAMPLES))

st.register_type_strategy(primitive.Records, st.one_of(st.none(), st.binary(max_size=200)))


@pytest.fixture(scope="module")
def core():
    core = make_core()
    CoreClient(core).call(19, 7, rq.create("t", partitions=2))
    yield core
    core.close()


def served_api_keys():
    return [api_key for api_key, _low, _high in build_registry().supported()]


def kio_knows(api_key: int, version: int) -> bool:
    try:
        load_request_schema(api_key, version)
    except UnknownEntity:
        return False
    return True


def encode(api_key: int, version: int, request) -> bytes:
    body = io.BytesIO()
    entity_writer(type(request))(body, request)
    header = struct.pack(">hhih", api_key, version, 7, 5) + b"fuzzy"
    if request_is_flexible(api_key, version):
        header += b"\x00"
    return header + body.getvalue()


def answer(core, frame: bytes):
    """What a connection would send back: bytes, or None when it closes or stays silent."""
    try:
        outcome = core.handle_frame(frame)
    except ProtocolViolation:
        return None
    if isinstance(outcome, tuple):
        delayed, finish = outcome
        assert isinstance(delayed, Delayed)
        outcome = finish(delayed.complete(True))
    if outcome is NO_RESPONSE or outcome is CLOSE_CONNECTION:
        return None
    return b"".join(bytes(part) for part in outcome)


def test_every_advertised_version_can_be_decoded_and_answered():
    registry = build_registry()
    for api_key, _advertised_min, high in registry.supported():
        spec = registry.get(api_key)  # Produce lists v0-2 but refuses them on purpose
        for version in range(spec.min_version, high + 1):
            assert kio_knows(api_key, version), (api_key, version)
            load_response_schema(api_key, version)


@pytest.mark.parametrize("api_key", served_api_keys(), ids=lambda key: f"api-{key}")
def test_arbitrary_requests_get_an_answer_or_close_only_their_connection(core, api_key):
    spec = core.registry.get(api_key)
    versions = list(range(spec.min_version, spec.max_version + 1))

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=EXAMPLES == DEFAULT_EXAMPLES,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(st.data())
    def check(data):
        version = data.draw(st.sampled_from(versions), label="version")
        request = data.draw(st.from_type(load_request_schema(api_key, version)), label="request")
        payload = answer(core, encode(api_key, version, request))
        if payload is not None:
            (size,) = struct.unpack_from(">i", payload)
            assert size == len(payload) - 4
            try:
                correlation_id, _response = decode_response(api_key, version, payload[4:])
            except OutOfBoundValue as exc:
                # Kafka itself answers -1 for "no start time" (DescribeTransactions
                # of an Empty transaction), which kio's reader cannot represent.
                assert "negative timestamp" in str(exc)
                correlation_id = struct.unpack_from(">i", payload, 4)[0]
            assert correlation_id == 7

    check()
    # Whatever came before, a well-behaved client is still served.
    client = CoreClient(core)
    written = client.call(0, 9, rq.produce("t", 1, rq.batch(b"still-served")))
    offset = written.responses[0].partition_responses[0].base_offset
    fetched = client.call(1, 12, rq.fetch("t", 1, offset)).responses[0].partitions[0]
    assert [r.value for r in iter_all_records(fetched.records)][-1] == b"still-served"
