"""The records of a KIP-848 consumer group in `__consumer_offsets`, in
Kafka 4.x's formats, so that the group outlives a restart (and a Kafka
tool reading the topic sees what it expects).

Every key is an int16 record type followed by non-flexible fields (int16
length strings); every value is an int16 version (0) followed by a
flexible body (compact strings and arrays, tagged fields). A null value
deletes the key. The record types written:

  3  group metadata     key: group       value: Epoch int32,
                                          tag 0 MetadataHash int64 (Kafka 4.1+, omitted when 0)
  5  member metadata    key: group, member  value: InstanceId?, RackId?, ClientId,
                          ClientHost, SubscribedTopicNames [string], SubscribedTopicRegex?,
                          RebalanceTimeoutMs int32, ServerAssignor?,
                          tag 0 ClassicMemberMetadata? {SessionTimeoutMs int32,
                          SupportedProtocols [{Name, Metadata bytes}]}
  6  target assignment metadata  key: group  value: AssignmentEpoch int32
  7  target assignment member    key: group, member  value: TopicPartitions [{TopicId uuid, Partitions [int32]}]
  8  current member assignment   key: group, member  value: MemberEpoch int32,
                          PreviousMemberEpoch int32, State int8, AssignedPartitions,
                          PartitionsPendingRevocation (both [{TopicId, Partitions}])

Kafka 4.1 replaced type 4 (the subscribed topics' partition metadata) by
the metadata hash of type 3 and no longer writes it; kwire neither writes
it nor needs it. Type 16 (a regex's resolved topics) is Kafka's cache:
kwire resolves regexes when needed. Both are recognised and skipped.

Bad bytes raise RecordFormatError, never anything else.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterable

import attrs

from kwire.coordinator.consumer_group.model import Assignment, ClassicMemberMetadata, MemberState, TopicPartition
from kwire.protocol.fast_responses import uvarint

GROUP_METADATA = 3
PARTITION_METADATA = 4  # read and skipped (Kafka before 4.1)
MEMBER_METADATA = 5
TARGET_ASSIGNMENT_METADATA = 6
TARGET_ASSIGNMENT_MEMBER = 7
CURRENT_MEMBER_ASSIGNMENT = 8
REGULAR_EXPRESSION = 16  # read and skipped
RECORD_TYPES = frozenset({3, 4, 5, 6, 7, 8, 16})
_MEMBER_KEYED = frozenset({MEMBER_METADATA, TARGET_ASSIGNMENT_MEMBER, CURRENT_MEMBER_ASSIGNMENT})
_VALUE_VERSION = 0

# Kafka's MemberState bytes.
_STATE_BYTE = {MemberState.STABLE: 0, MemberState.UNREVOKED_PARTITIONS: 1, MemberState.UNRELEASED_PARTITIONS: 2}
_STATE_OF_BYTE = {byte: state for state, byte in _STATE_BYTE.items()}

_I8 = struct.Struct(">b")
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")


class RecordFormatError(ValueError):
    """A key or value that is not a well-formed record of these types."""


@attrs.frozen
class RecordKey:
    record_type: int
    group_id: str
    member_id: str | None = None  # for the member-keyed types (5, 7, 8)
    regex: str | None = None  # for type 16


@attrs.frozen
class MemberMetadata:
    """What type 5 holds of a member: who it is and what it subscribes to."""

    instance_id: str | None
    rack_id: str | None
    client_id: str
    client_host: str
    subscribed_topic_names: tuple[str, ...]
    subscribed_topic_regex: str | None
    rebalance_timeout_ms: int
    server_assignor: str | None
    classic: ClassicMemberMetadata | None = None


@attrs.frozen
class CurrentAssignment:
    """What type 8 holds of a member: where its reconciliation stands."""

    member_epoch: int
    previous_member_epoch: int
    state: MemberState
    assigned: Assignment
    pending_revocation: Assignment


# --- writing --------------------------------------------------------------------


def _key_string(text: str) -> bytes:
    data = text.encode()
    if len(data) > 0x7FFF:
        raise RecordFormatError("string longer than 32767 bytes")
    return _I16.pack(len(data)) + data


def record_key(record_type: int, group_id: str, member_id: str | None = None) -> bytes:
    key = _I16.pack(record_type) + _key_string(group_id)
    if record_type in _MEMBER_KEYED:
        key += _key_string(member_id or "")
    return key


def _compact_string(text: str | None) -> bytes:
    if text is None:
        return b"\x00"
    data = text.encode()
    return uvarint(len(data) + 1) + data


def _compact_bytes(data: bytes) -> bytes:
    return uvarint(len(data) + 1) + data


def _compact_array(items: list[bytes]) -> bytes:
    return uvarint(len(items) + 1) + b"".join(items)


def _tagged(fields: Iterable[tuple[int, bytes]]) -> bytes:
    present = sorted(fields)
    return uvarint(len(present)) + b"".join(uvarint(tag) + uvarint(len(data)) + data for tag, data in present)


_NO_TAGS = b"\x00"


def _topic_partitions(assignment: Assignment) -> bytes:
    """[{TopicId uuid, Partitions [int32]}], topics and partitions in order."""
    by_topic: dict[uuid.UUID, list[int]] = {}
    for topic_id, index in assignment:
        by_topic.setdefault(topic_id, []).append(index)
    return _compact_array(
        [
            topic_id.bytes + _compact_array([_I32.pack(i) for i in sorted(indexes)]) + _NO_TAGS
            for topic_id, indexes in sorted(by_topic.items(), key=lambda item: item[0].bytes)
        ]
    )


def _value(body: bytes, tags: Iterable[tuple[int, bytes]] = ()) -> bytes:
    return _I16.pack(_VALUE_VERSION) + body + _tagged(tags)


def group_metadata_value(epoch: int, metadata_hash: int = 0) -> bytes:
    return _value(_I32.pack(epoch), [(0, _I64.pack(metadata_hash))] if metadata_hash else [])


def member_metadata_value(member: MemberMetadata) -> bytes:
    body = (
        _compact_string(member.instance_id)
        + _compact_string(member.rack_id)
        + _compact_string(member.client_id)
        + _compact_string(member.client_host)
        + _compact_array([_compact_string(name) for name in member.subscribed_topic_names])
        + _compact_string(member.subscribed_topic_regex)
        + _I32.pack(member.rebalance_timeout_ms)
        + _compact_string(member.server_assignor)
    )
    tags = []
    if member.classic is not None:
        protocols = [
            _compact_string(name) + _compact_bytes(metadata) + _NO_TAGS for name, metadata in member.classic.protocols
        ]
        tags.append((0, _I32.pack(member.classic.session_timeout_ms) + _compact_array(protocols) + _NO_TAGS))
    return _value(body, tags)


def target_assignment_metadata_value(assignment_epoch: int) -> bytes:
    return _value(_I32.pack(assignment_epoch))


def target_assignment_member_value(assignment: Assignment) -> bytes:
    return _value(_topic_partitions(assignment))


def current_assignment_value(current: CurrentAssignment) -> bytes:
    return _value(
        _I32.pack(current.member_epoch)
        + _I32.pack(current.previous_member_epoch)
        + _I8.pack(_STATE_BYTE[current.state])
        + _topic_partitions(current.assigned)
        + _topic_partitions(current.pending_revocation)
    )


# --- reading --------------------------------------------------------------------


class _Reader:
    """Bounds-checked reads: every length is checked against the bytes left."""

    def __init__(self, buf: bytes) -> None:
        self.buf, self.pos = buf, 0

    def _take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.buf):
            raise RecordFormatError(f"truncated at byte {self.pos}: {size} more bytes wanted")
        self.pos += size
        return self.buf[self.pos - size : self.pos]

    def _fixed(self, fmt: struct.Struct) -> int:
        return int(fmt.unpack(self._take(fmt.size))[0])

    def i8(self) -> int:
        return self._fixed(_I8)

    def i16(self) -> int:
        return self._fixed(_I16)

    def i32(self) -> int:
        return self._fixed(_I32)

    def i64(self) -> int:
        return self._fixed(_I64)

    def uuid(self) -> uuid.UUID:
        return uuid.UUID(bytes=bytes(self._take(16)))

    def uvarint(self) -> int:
        result = shift = 0
        while True:
            byte = self._take(1)[0]
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7
            if shift > 28:
                raise RecordFormatError("varint longer than 5 bytes")

    def _text(self, data: bytes) -> str:
        try:
            return data.decode()
        except UnicodeDecodeError as exc:
            raise RecordFormatError(f"string not UTF-8: {exc}") from None

    def key_string(self) -> str:
        length = self.i16()
        if length < 0:
            raise RecordFormatError("null string in a key")
        return self._text(self._take(length))

    def compact_nullable_string(self) -> str | None:
        length = self.uvarint() - 1
        return None if length < 0 else self._text(self._take(length))

    def compact_string(self) -> str:
        text = self.compact_nullable_string()
        if text is None:
            raise RecordFormatError("null where a string is required")
        return text

    def compact_bytes(self) -> bytes:
        length = self.uvarint() - 1
        if length < 0:
            raise RecordFormatError("null where bytes are required")
        return bytes(self._take(length))

    def count(self, smallest_item: int) -> int:
        """A compact array's length, no more than the bytes left could hold."""
        count = self.uvarint() - 1
        if count < 0:
            raise RecordFormatError("null where an array is required")
        if count * smallest_item > len(self.buf) - self.pos:
            raise RecordFormatError(f"array of {count} items longer than the record")
        return count

    def tags(self) -> dict[int, bytes]:
        """Tagged fields: their count (a plain varint), then tag, size, data each."""
        fields = {}
        count = self.uvarint()
        if count * 2 > len(self.buf) - self.pos:
            raise RecordFormatError(f"{count} tagged fields, more than the record holds")
        for _ in range(count):
            tag = self.uvarint()
            fields[tag] = bytes(self._take(self.uvarint()))
        return fields

    def end(self) -> None:
        if self.pos != len(self.buf):
            raise RecordFormatError(f"{len(self.buf) - self.pos} bytes past the end of the record")


def parse_key(key: bytes) -> RecordKey | None:
    """The key of a consumer-group record; None for a key of another type
    (offsets, classic groups, share groups …)."""
    reader = _Reader(key)
    record_type = reader.i16()
    if record_type not in RECORD_TYPES:
        return None
    group_id = reader.key_string()
    member_id = reader.key_string() if record_type in _MEMBER_KEYED else None
    regex = reader.key_string() if record_type == REGULAR_EXPRESSION else None
    reader.end()
    return RecordKey(record_type, group_id, member_id, regex)


def _body(value: bytes) -> _Reader:
    reader = _Reader(value)
    version = reader.i16()
    if version != _VALUE_VERSION:
        raise RecordFormatError(f"value version {version}, only 0 is known")
    return reader


def parse_group_metadata(value: bytes) -> tuple[int, int]:
    """(group epoch, metadata hash: 0 if absent)."""
    reader = _body(value)
    epoch = reader.i32()
    tags = reader.tags()
    reader.end()
    metadata_hash = 0
    if 0 in tags:
        tag = _Reader(tags[0])
        metadata_hash = tag.i64()
        tag.end()
    return epoch, metadata_hash


def parse_member_metadata(value: bytes) -> MemberMetadata:
    reader = _body(value)
    instance_id, rack_id = reader.compact_nullable_string(), reader.compact_nullable_string()
    client_id, client_host = reader.compact_string(), reader.compact_string()
    names = tuple(reader.compact_string() for _ in range(reader.count(1)))
    regex = reader.compact_nullable_string()
    rebalance_timeout = reader.i32()
    assignor = reader.compact_nullable_string()
    tags = reader.tags()
    reader.end()
    classic = _parse_classic(tags[0]) if 0 in tags else None
    return MemberMetadata(
        instance_id, rack_id, client_id, client_host, names, regex, rebalance_timeout, assignor, classic
    )


def _parse_classic(data: bytes) -> ClassicMemberMetadata:
    reader = _Reader(data)
    session_timeout = reader.i32()
    protocols = []
    for _ in range(reader.count(3)):
        name, metadata = reader.compact_string(), reader.compact_bytes()
        reader.tags()
        protocols.append((name, metadata))
    reader.tags()
    reader.end()
    return ClassicMemberMetadata(session_timeout, tuple(protocols))


def parse_target_assignment_metadata(value: bytes) -> int:
    reader = _body(value)
    epoch = reader.i32()
    reader.tags()
    reader.end()
    return epoch


def _read_topic_partitions(reader: _Reader) -> Assignment:
    partitions: set[TopicPartition] = set()
    for _ in range(reader.count(18)):
        topic_id = reader.uuid()
        partitions.update((topic_id, reader.i32()) for _ in range(reader.count(4)))
        reader.tags()
    return frozenset(partitions)


def parse_target_assignment_member(value: bytes) -> Assignment:
    reader = _body(value)
    assignment = _read_topic_partitions(reader)
    reader.tags()
    reader.end()
    return assignment


def parse_current_assignment(value: bytes) -> CurrentAssignment:
    reader = _body(value)
    epoch, previous = reader.i32(), reader.i32()
    state_byte = reader.i8()
    state = _STATE_OF_BYTE.get(state_byte)
    if state is None:
        raise RecordFormatError(f"unknown member state {state_byte}")
    assigned = _read_topic_partitions(reader)
    pending = _read_topic_partitions(reader)
    reader.tags()
    reader.end()
    return CurrentAssignment(epoch, previous, state, assigned, pending)
