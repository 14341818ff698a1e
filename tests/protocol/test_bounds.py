"""The bounds pass: every request kio's writer produces passes it (so no
valid client request is refused), no declared length survives it that
points past the frame, and where it lets a frame through kio's reader
reads exactly the bytes it walked."""

import io
import random
import struct

import hypothesis.strategies as st
import kio.static.primitive as primitive
import pytest
from hypothesis import HealthCheck, given, settings
from kio.index import load_request_schema
from kio.serial import entity_reader, entity_writer

from kwire.handlers import build_registry
from kwire.protocol.bounds import MAX_REQUEST_ELEMENTS, LengthField, RequestBoundsError, bounds_check, length_fields
from tests.frame_mutations import EXTREMES, Mutator, write_value
from tests.wire import request_frame

st.register_type_strategy(primitive.Records, st.one_of(st.none(), st.binary(max_size=200)))

REGISTRY = build_registry()
SERVED = {
    api_key: list(range(REGISTRY.get(api_key).min_version, high + 1)) for api_key, _low, high in REGISTRY.supported()
}
MUTATIONS_PER_REQUEST = 40


def write(request) -> bytes:
    body = io.BytesIO()
    entity_writer(type(request))(body, request)
    return body.getvalue()


def body_of(api_key: int, version: int, values: dict) -> bytes:
    """A request body (no size prefix, no header) built from plain values."""
    frame = request_frame(api_key, version, values)[4:]
    header_size = 10 + len(b"kwire") + (1 if load_request_schema(api_key, version).__flexible__ else 0)
    return frame[header_size:]


def refused(api_key: int, version: int, body: bytes) -> str:
    with pytest.raises(RequestBoundsError) as failure:
        bounds_check(api_key, version)(body, 0)
    return str(failure.value)


def requests_of(api_key):
    versions = SERVED[api_key]
    return st.sampled_from(versions).flatmap(
        lambda version: st.tuples(st.just(version), st.from_type(load_request_schema(api_key, version)))
    )


FUZZ_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("api_key", sorted(SERVED), ids=lambda key: f"api-{key}")
def test_valid_requests_pass_and_what_passes_kio_reads_exactly(api_key):
    """Every request kio's writer produces (any served version, arbitrary
    values) passes and is walked to its end: no valid request is refused.
    Then mutated and extreme-valued copies: either refused here, or kio
    reads precisely the bytes walked (or refuses them itself, catchably). A
    disagreement could let kio trust a length this pass never saw."""

    @FUZZ_SETTINGS
    @given(requests_of(api_key), st.randoms(use_true_random=False))
    def check(drawn, rng):
        version, request = drawn
        body = write(request)
        assert bounds_check(api_key, version)(body, 0) == len(body)
        fields = length_fields(api_key, version, body, 0)
        assert all(0 <= field.position < len(body) for field in fields)
        mutator = Mutator(random.Random(rng.random()), SERVED)
        candidates = [mutator.mutate(body, fields) for _ in range(MUTATIONS_PER_REQUEST)]
        candidates += [write_value(body, field, value) for field in fields for value in EXTREMES[field.encoding]]
        for candidate in candidates:
            try:
                end = bounds_check(api_key, version)(candidate, 0)
            except RequestBoundsError:
                continue
            try:
                _request, size = entity_reader(load_request_schema(api_key, version))(candidate, 0)
            except Exception:
                continue  # kio refuses it itself, catchably
            assert size == end

    check()


# --- each kind of length, one by one ----------------------------------------

FIND_COORDINATOR_V4 = dict(key_type=0, coordinator_keys=["fuzz"])


def test_the_frame_from_the_issue_is_refused_before_kio_allocates():
    frame = bytes.fromhex("000a00040000019b000466757a7a00bf9ab1f2da322854f68c022334b6a88a18d9")
    message = refused(10, 4, frame[10 + 4 + 1 :])
    assert "coordinator_keys" in message and "elements declared" in message


@pytest.mark.parametrize(
    "count, message",
    [(0xFFFFFFFF, "elements declared"), (2**35 - 2, "elements declared"), (7, "elements declared"), (6, "null where")],
)
def test_compact_array_counts_are_bounded_by_the_bytes_left(count, message):
    body = body_of(10, 4, FIND_COORDINATOR_V4)
    (keys,) = [f for f in length_fields(10, 4, body, 0) if f.path.endswith("coordinator_keys")]
    assert message in refused(10, 4, write_value(body, keys, count + 1))


@pytest.mark.parametrize("count", [0x7FFFFFFF, 2, -2, -(2**31)])
def test_legacy_array_counts_are_bounded_and_never_negative(count):
    values = dict(topics=[dict(name="t", partitions=[dict(partition_index=0, offset=1)])], timeout=1000)
    body = body_of(21, 1, values)  # DeleteRecords v1: legacy arrays
    topics = next(f for f in length_fields(21, 1, body, 0) if f.path == "DeleteRecordsRequest.topics")
    assert topics.encoding == "int32"
    refused(21, 1, write_value(body, topics, count))


def test_a_null_array_only_where_the_schema_allows_one():
    body = body_of(21, 1, dict(topics=[], timeout=1000))
    (topics,) = [f for f in length_fields(21, 1, body, 0) if f.path == "DeleteRecordsRequest.topics"]
    assert "invalid array length -1" in refused(21, 1, write_value(body, topics, -1))
    metadata = body_of(3, 4, dict(topics=None, allow_auto_topic_creation=False))  # nullable there
    assert bounds_check(3, 4)(metadata, 0) == len(metadata)


@pytest.mark.parametrize(
    "api_key, version, length, encoding",
    [
        (10, 1, 0x7FFF, "int16"),  # FindCoordinator v1: legacy string
        (10, 3, 0xFFFF, "uvarint"),  # v3: compact string
    ],
)
def test_string_lengths_past_the_frame_are_refused(api_key, version, length, encoding):
    body = body_of(api_key, version, dict(key="group", key_type=0))
    (key,) = [f for f in length_fields(api_key, version, body, 0) if f.path.endswith(".key")]
    assert key.encoding == encoding
    assert "past the frame" in refused(api_key, version, write_value(body, key, length))


def test_null_strings_only_where_nullable():
    body = body_of(10, 3, dict(key="group", key_type=0))
    (key,) = [f for f in length_fields(10, 3, body, 0) if f.path.endswith(".key")]
    assert "null where the schema allows none" in refused(10, 3, write_value(body, key, 0))
    legacy = body_of(10, 1, dict(key="group", key_type=0))
    (key,) = [f for f in length_fields(10, 1, legacy, 0) if f.path.endswith(".key")]
    assert "invalid length -1" in refused(10, 1, write_value(legacy, key, -1))


def produce_body(version: int, records: bytes) -> bytes:
    return body_of(
        0,
        version,
        dict(
            transactional_id=None,
            acks=-1,
            timeout=1000,
            topic_data=[dict(name="t", partition_data=[dict(index=0, records=records)])],
        ),
    )


@pytest.mark.parametrize("version, length", [(7, 0x7FFFFFFF), (7, -2), (9, 0xFFFFFFFF), (9, 2**35 - 1)])
def test_records_lengths_are_bounded_on_the_produce_path(version, length):
    body = produce_body(version, b"x" * 70)
    (records,) = [f for f in length_fields(0, version, body, 0) if f.path.endswith(".records")]
    refused(0, version, write_value(body, records, length))


def test_varints_longer_than_five_bytes_are_refused():
    body = produce_body(9, b"x" * 70)
    (records,) = [f for f in length_fields(0, 9, body, 0) if f.path.endswith(".records")]
    assert "varint longer than 5 bytes" in refused(0, 9, write_value(body, records, "overlong"))


def test_tagged_fields_are_checked_within_their_declared_size():
    body = produce_body(9, b"")
    tail = [f for f in length_fields(0, 9, body, 0) if f.path == "ProduceRequest._tagged_fields"][-1]
    assert tail.position == len(body) - 1
    unknown_tag = body[:-1] + bytes([1, 7, 3]) + b"abc"
    assert bounds_check(0, 9)(unknown_tag, 0) == len(unknown_tag)  # skipped, as Kafka does
    assert "runs past the frame" in refused(0, 9, body[:-1] + bytes([1, 7, 30]) + b"abc")
    assert "tagged fields declared" in refused(0, 9, body[:-1] + b"\xff\xff\xff\xff\x07")
    # FetchRequest v12 tag 0 is cluster_id, a nullable compact string: its value must fill the size.
    fetch = body_of(
        1,
        12,
        dict(
            replica_id=-1,
            max_wait=500,
            min_bytes=1,
            max_bytes=1 << 20,
            isolation_level=0,
            session_id=0,
            session_epoch=-1,
            topics=[],
            forgotten_topics_data=[],
            rack_id="",
        ),
    )
    short = fetch[:-1] + bytes([1, 0, 5, 3]) + b"ab" + b"zz"  # value "ab" (3 bytes) in a 5-byte slot
    assert "does not fill its declared" in refused(1, 12, short)
    exact = fetch[:-1] + bytes([1, 0, 3, 3]) + b"ab"
    assert bounds_check(1, 12)(exact, 0) == len(exact)


def test_nullable_struct_markers_are_minus_one_or_one():
    # No served request has a nullable struct; DescribeTopicPartitions v0 (75)
    # has one (its cursor), and the bounds pass works for any kio schema.
    with_cursor = body_of(
        75,
        0,
        dict(topics=[dict(name="t")], response_partition_limit=10, cursor=dict(topic_name="t", partition_index=0)),
    )
    without = body_of(75, 0, dict(topics=[dict(name="t")], response_partition_limit=10, cursor=None))
    for body in (with_cursor, without):
        assert bounds_check(75, 0)(body, 0) == len(body)
    (marker,) = [f for f in length_fields(75, 0, with_cursor, 0) if f.encoding == "marker"]
    assert marker.path == "DescribeTopicPartitionsRequest.cursor"
    for value in (0, 2, 0x7F, -128):
        assert "is neither -1 nor 1" in refused(75, 0, write_value(with_cursor, marker, value))


def test_more_elements_than_the_request_limit_are_refused():
    count = MAX_REQUEST_ELEMENTS + 1
    partitions = struct.pack(">i", count) + b"\x00" * (4 * count)
    # OffsetDelete v0: group, topics[name, partitions[int32 index]] — legacy arrays of int32.
    body = struct.pack(">h", 1) + b"g" + struct.pack(">i", 1) + struct.pack(">h", 1) + b"t" + partitions
    assert "array elements in one request" in refused(47, 0, body)
    smaller = (
        struct.pack(">h", 1)
        + b"g"
        + struct.pack(">i", 1)
        + struct.pack(">h", 1)
        + b"t"
        + struct.pack(">i", 1000)
        + b"\x00" * 4000
    )
    assert bounds_check(47, 0)(smaller, 0) == len(smaller)


def test_length_fields_reports_positions_and_encodings():
    body = body_of(10, 4, FIND_COORDINATOR_V4)
    assert length_fields(10, 4, body, 0) == [
        LengthField(1, "uvarint", "FindCoordinatorRequest.coordinator_keys"),
        LengthField(2, "uvarint", "FindCoordinatorRequest.coordinator_keys[]"),
        LengthField(7, "uvarint", "FindCoordinatorRequest._tagged_fields"),
    ]
