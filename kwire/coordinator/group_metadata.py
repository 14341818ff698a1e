"""A classic group as a record of `__consumer_offsets`, in Kafka's format,
so that a coordinator that loads the partition (after a restart, or when
leadership moves to it) finds the group's generation, leader, members and
assignments.

Key: group key v2 (offsets.py). Value: GroupMetadataValue v3 (written) or
v0-v3 (read): int16 version, string protocol type, int32 generation,
nullable string protocol, nullable string leader, int64 current state
timestamp (v2+), [member: string member id, nullable string group instance
id (v3+), string client id, string client host, int32 rebalance timeout
(v1+), int32 session timeout, bytes subscription, bytes assignment].
"""

from __future__ import annotations

import struct

import attrs

from kwire.coordinator.group import Group

_VERSION = 3
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")


@attrs.frozen
class StoredMember:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    rebalance_timeout_ms: int
    session_timeout_ms: int
    subscription: bytes  # the member's metadata for the group's protocol
    assignment: bytes


@attrs.frozen
class StoredGroup:
    protocol_type: str
    generation_id: int
    protocol_name: str | None
    leader_id: str | None
    current_state_timestamp_ms: int
    members: tuple[StoredMember, ...]


def stored_group(group: Group, now_ms: int) -> StoredGroup:
    """What Kafka stores of a group: its generation and, per member, the
    metadata of the chosen protocol and the member's assignment."""
    protocol = group.protocol_name or ""
    return StoredGroup(
        group.protocol_type or "",
        group.generation_id,
        group.protocol_name,
        group.leader_id,
        now_ms,
        tuple(
            StoredMember(
                m.member_id,
                m.group_instance_id,
                m.client_id,
                m.client_host,
                m.rebalance_timeout_ms,
                m.session_timeout_ms,
                m.metadata_for(protocol),
                m.assignment,
            )
            for m in group.members.values()
        ),
    )


def _string(text: str | None) -> bytes:
    if text is None:
        return _I16.pack(-1)
    data = text.encode()
    return _I16.pack(len(data)) + data


def _bytes(data: bytes) -> bytes:
    return _I32.pack(len(data)) + data


def group_value(group: StoredGroup) -> bytes:
    out = bytearray(_I16.pack(_VERSION))
    out += _string(group.protocol_type) + _I32.pack(group.generation_id)
    out += _string(group.protocol_name) + _string(group.leader_id) + _I64.pack(group.current_state_timestamp_ms)
    out += _I32.pack(len(group.members))
    for m in group.members:
        out += _string(m.member_id) + _string(m.group_instance_id) + _string(m.client_id) + _string(m.client_host)
        out += _I32.pack(m.rebalance_timeout_ms) + _I32.pack(m.session_timeout_ms)
        out += _bytes(m.subscription) + _bytes(m.assignment)
    return bytes(out)


class _Reader:
    def __init__(self, buf: bytes) -> None:
        self.buf, self.pos = buf, 0

    def _take(self, fmt: struct.Struct) -> int:
        (value,) = fmt.unpack_from(self.buf, self.pos)
        self.pos += fmt.size
        return int(value)

    def i16(self) -> int:
        return self._take(_I16)

    def i32(self) -> int:
        return self._take(_I32)

    def i64(self) -> int:
        return self._take(_I64)

    def string(self) -> str | None:
        length = self.i16()
        if length < 0:
            return None
        self.pos += length
        return self.buf[self.pos - length : self.pos].decode()

    def bytes_(self) -> bytes:
        length = max(self.i32(), 0)
        self.pos += length
        return bytes(self.buf[self.pos - length : self.pos])


def parse_group_value(value: bytes) -> StoredGroup | None:
    """The group in a GroupMetadataValue v0-v3; None for a version kwire
    does not read (v4 is flexible: tagged fields)."""
    r = _Reader(value)
    version = r.i16()
    if not 0 <= version <= 3:
        return None
    protocol_type, generation, protocol, leader = r.string() or "", r.i32(), r.string(), r.string()
    timestamp = r.i64() if version >= 2 else -1
    members = []
    for _ in range(max(r.i32(), 0)):
        member_id = r.string() or ""
        instance_id = r.string() if version >= 3 else None
        client_id, client_host = r.string() or "", r.string() or ""
        rebalance_timeout = r.i32() if version >= 1 else -1
        session_timeout = r.i32()
        if rebalance_timeout < 0:
            rebalance_timeout = session_timeout  # v0 had none: Kafka uses the session timeout
        members.append(
            StoredMember(
                member_id,
                instance_id,
                client_id,
                client_host,
                rebalance_timeout,
                session_timeout,
                r.bytes_(),
                r.bytes_(),
            )
        )
    return StoredGroup(protocol_type, generation, protocol, leader, timestamp, tuple(members))
