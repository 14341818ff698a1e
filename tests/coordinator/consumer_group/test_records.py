"""The KIP-848 records of `__consumer_offsets`: bytes as Kafka 4.x writes
them (worked out by hand from its schemas), round trips, and any bytes
giving either a record or RecordFormatError."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kwire.coordinator.consumer_group import records as r
from kwire.coordinator.consumer_group.model import ClassicMemberMetadata, MemberState

TOPIC = uuid.UUID("00112233-4455-6677-8899-aabbccddeeff")


def test_keys_are_the_record_type_then_int16_length_strings():
    assert r.record_key(r.GROUP_METADATA, "g") == bytes.fromhex("0003 0001 67")
    assert r.record_key(r.MEMBER_METADATA, "g", "m") == bytes.fromhex("0005 0001 67 0001 6d")
    assert r.record_key(r.TARGET_ASSIGNMENT_METADATA, "g") == bytes.fromhex("0006 0001 67")
    assert r.record_key(r.TARGET_ASSIGNMENT_MEMBER, "g", "m") == bytes.fromhex("0007 0001 67 0001 6d")
    assert r.record_key(r.CURRENT_MEMBER_ASSIGNMENT, "g", "m") == bytes.fromhex("0008 0001 67 0001 6d")
    assert r.parse_key(bytes.fromhex("0008 0001 67 0001 6d")) == r.RecordKey(8, "g", "m")
    assert r.parse_key(bytes.fromhex("0010 0001 67 0002 612a")) == r.RecordKey(16, "g", None, "a*")
    assert r.parse_key(bytes.fromhex("0002 0001 67")) is None  # a classic group: not ours
    assert r.parse_key(bytes.fromhex("0001 0001 67 0001 74 00000000")) is None  # an offset


def test_group_metadata_carries_the_epoch_and_a_tagged_metadata_hash():
    assert r.group_metadata_value(5) == bytes.fromhex("0000 00000005 00")
    with_hash = bytes.fromhex("0000 00000005 01 00 08 0000000000000001")
    assert r.group_metadata_value(5, 1) == with_hash
    assert r.parse_group_metadata(with_hash) == (5, 1)
    assert r.parse_group_metadata(bytes.fromhex("0000 00000005 00")) == (5, 0)


def test_member_metadata_with_and_without_the_classic_protocol():
    plain = r.MemberMetadata(None, None, "c", "/h", ("t",), None, 30000, None)
    expected = bytes.fromhex("0000 00 00 0263 032f68 020274 00 00007530 00 00")
    assert r.member_metadata_value(plain) == expected
    assert r.parse_member_metadata(expected) == plain
    classic = ClassicMemberMetadata(45000, (("range", b"\x01"),))
    member = r.MemberMetadata("i", "rack", "c", "/h", (), "t.*", 30000, "uniform", classic)
    encoded = r.member_metadata_value(member)
    body = bytes.fromhex("0269 057261636b 0263 032f68 01 04742e2a 00007530 08756e69666f726d")
    tag = bytes.fromhex("0000afc8 02 0672616e6765 0201 00 00")
    assert encoded == bytes.fromhex("0000") + body + bytes([1, 0, len(tag)]) + tag
    assert r.parse_member_metadata(encoded) == member


def test_assignments_list_each_topic_id_with_its_partitions():
    target = frozenset({(TOPIC, 2), (TOPIC, 0)})
    partitions = bytes([2]) + TOPIC.bytes + bytes.fromhex("03 00000000 00000002 00")
    assert r.target_assignment_member_value(target) == bytes.fromhex("0000") + partitions + b"\x00"
    assert r.parse_target_assignment_member(bytes.fromhex("0000") + partitions + b"\x00") == target
    assert r.target_assignment_metadata_value(7) == bytes.fromhex("0000 00000007 00")
    current = r.CurrentAssignment(3, 2, MemberState.UNREVOKED_PARTITIONS, target, frozenset())
    expected = bytes.fromhex("0000 00000003 00000002 01") + partitions + bytes.fromhex("01 00")
    assert r.current_assignment_value(current) == expected
    assert r.parse_current_assignment(expected) == current


def test_unknown_tagged_fields_are_skipped():
    # A newer Kafka may add tagged fields: they are read past.
    assert r.parse_target_assignment_metadata(bytes.fromhex("0000 00000007 01 05 02 abcd")) == 7


names = st.text(max_size=8)
assignments = st.frozensets(st.tuples(st.uuids(), st.integers(0, 2**31 - 1)), max_size=6)
classics = st.none() | st.builds(
    ClassicMemberMetadata,
    st.integers(-(2**31), 2**31 - 1),
    st.lists(st.tuples(names, st.binary(max_size=8))).map(tuple),
)
members = st.builds(
    r.MemberMetadata,
    st.none() | names,
    st.none() | names,
    names,
    names,
    st.lists(names, max_size=4).map(tuple),
    st.none() | names,
    st.integers(-(2**31), 2**31 - 1),
    st.none() | names,
    classics,
)
currents = st.builds(
    r.CurrentAssignment,
    st.integers(-(2**31), 2**31 - 1),
    st.integers(-(2**31), 2**31 - 1),
    st.sampled_from(list(MemberState)),
    assignments,
    assignments,
)


@settings(max_examples=50, deadline=None)
@given(members)
def test_member_metadata_round_trips(member):
    assert r.parse_member_metadata(r.member_metadata_value(member)) == member


@settings(max_examples=50, deadline=None)
@given(currents)
def test_current_assignments_round_trip(current):
    assert r.parse_current_assignment(r.current_assignment_value(current)) == current


@settings(max_examples=50, deadline=None)
@given(assignments, st.integers(-(2**31), 2**31 - 1), st.integers(-(2**63), 2**63 - 1))
def test_targets_and_epochs_round_trip(target, epoch, metadata_hash):
    assert r.parse_target_assignment_member(r.target_assignment_member_value(target)) == target
    assert r.parse_target_assignment_metadata(r.target_assignment_metadata_value(epoch)) == epoch
    assert r.parse_group_metadata(r.group_metadata_value(epoch, metadata_hash)) == (epoch, metadata_hash)


_PARSERS = [
    r.parse_key,
    r.parse_group_metadata,
    r.parse_member_metadata,
    r.parse_target_assignment_metadata,
    r.parse_target_assignment_member,
    r.parse_current_assignment,
]


@pytest.mark.parametrize("parse", _PARSERS)
@settings(max_examples=50, deadline=None)
@given(data=st.binary(max_size=64))
def test_any_bytes_give_a_record_or_a_format_error(parse, data):
    try:
        parse(data)
    except r.RecordFormatError:
        pass


_DAMAGEABLE = [
    (currents, r.current_assignment_value, r.parse_current_assignment),
    (members, r.member_metadata_value, r.parse_member_metadata),
]


@pytest.mark.parametrize(("values", "encode", "parse"), _DAMAGEABLE)
@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_damaged_values_give_a_format_error(values, encode, parse, data):
    encoded = bytearray(encode(data.draw(values)))
    index = data.draw(st.integers(0, len(encoded) - 1))
    encoded[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(encoded)))
    try:
        parse(bytes(encoded[:cut]))
    except r.RecordFormatError:
        pass


def test_a_huge_declared_array_is_refused_before_anything_is_allocated():
    value = bytes.fromhex("0000 00000001 00000000 00") + bytes.fromhex("ffffffff0f")
    with pytest.raises(r.RecordFormatError):
        r.parse_current_assignment(value)
