"""The embedded consumer protocol read and written by the broker, checked
against kio's codecs (generated from Kafka's schemas); any bytes give a
parse or MalformedConsumerProtocol, nothing else."""

import io
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kio.schema.consumer_protocol_assignment.v0 import ConsumerProtocolAssignment
from kio.schema.consumer_protocol_subscription import v0, v1, v2, v3
from kio.serial import entity_reader, entity_writer
from kio.static.primitive import i32

from kwire.coordinator.consumer_protocol import (
    MalformedConsumerProtocol,
    encode_assignment,
    parse_assignment,
    parse_subscription,
    subscription_version,
)


def kio_subscription(version: int, topics, owned=(), generation=-1, rack=None) -> bytes:
    module = {0: v0, 1: v1, 2: v2, 3: v3}[version]
    fields = dict(topics=tuple(topics), user_data=b"ud")
    if version >= 1:
        tp = module.data.TopicPartition
        fields["owned_partitions"] = tuple(tp(topic=t, partitions=tuple(i32(p) for p in ps)) for t, ps in owned)
    if version >= 2:
        fields["generation_id"] = i32(generation)
    if version >= 3:
        fields["rack_id"] = rack
    buf = io.BytesIO()
    entity_writer(module.ConsumerProtocolSubscription)(buf, module.ConsumerProtocolSubscription(**fields))
    return struct.pack(">h", version) + buf.getvalue()


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_subscriptions_of_every_version(version):
    metadata = kio_subscription(version, ["a", "b"], owned=[("a", [0, 2])], generation=7, rack="r1")
    parsed = parse_subscription(metadata)
    assert parsed.version == version and parsed.topics == ("a", "b")
    assert parsed.owned_partitions == (((("a", 0), ("a", 2))) if version >= 1 else ())
    assert parsed.generation_id == (7 if version >= 2 else -1)
    assert parsed.rack_id == ("r1" if version >= 3 else None)
    assert subscription_version(metadata) == version


def test_a_newer_version_is_read_as_far_as_known():
    metadata = kio_subscription(3, ["a"], rack="r")
    assert parse_subscription(struct.pack(">h", 9) + metadata[2:] + b"more").rack_id == "r"


def test_assignments_written_as_kio_reads_them():
    encoded = encode_assignment([("b", 1), ("a", 0), ("a", 3)], version=1)
    assert struct.unpack_from(">h", encoded)[0] == 1
    decoded, _ = entity_reader(ConsumerProtocolAssignment)(encoded[2:], 0)
    assert [(t.topic, list(t.partitions)) for t in decoded.assigned_partitions] == [("a", [0, 3]), ("b", [1])]
    assert decoded.user_data is None
    assert parse_assignment(encoded) == (("a", 0), ("a", 3), ("b", 1))
    assert parse_assignment(encode_assignment([], version=0)) == ()


@pytest.mark.parametrize(
    "metadata",
    [
        b"",
        b"\x00",
        b"\xff\xff",
        b"\x00\x00\x7f\xff\xff\xff",
        b"\x00\x01\x00\x00\x00\x01\x00\x05ab",
        b"\x00\x00\x00\x00\x00\x01\x00\x02\xff\xfe",
    ],
)
def test_malformed_subscriptions_are_refused(metadata):
    with pytest.raises(MalformedConsumerProtocol):
        parse_subscription(metadata)


@given(st.binary(max_size=64))
def test_any_bytes_parse_or_are_refused_cleanly(data):
    for parse in (parse_subscription, parse_assignment):
        try:
            parse(data)
        except MalformedConsumerProtocol:
            pass
