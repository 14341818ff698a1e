"""The consumer protocol's embedded formats (subscription, assignment),
read only where the broker must look inside them: OffsetDelete,
`kwire groups describe`, and the classic members of a KIP-848 group."""

from __future__ import annotations

import struct

import attrs

_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")


def _string(buf: bytes, pos: int) -> tuple[str, int]:
    (length,) = _I16.unpack_from(buf, pos)
    pos += 2
    return buf[pos : pos + length].decode(), pos + length


def subscription_topics(metadata: bytes) -> set[str]:
    """Topics of a ConsumerProtocolSubscription (any version: all start
    with int16 version, then the topic array)."""
    try:
        (count,) = _I32.unpack_from(metadata, 2)
        pos, topics = 6, set()
        for _ in range(max(count, 0)):
            topic, pos = _string(metadata, pos)
            topics.add(topic)
        return topics
    except (struct.error, UnicodeDecodeError):
        return set()


def assignment_partitions(assignment: bytes) -> list[tuple[str, int]]:
    """(topic, partition) pairs of a ConsumerProtocolAssignment."""
    try:
        (count,) = _I32.unpack_from(assignment, 2)
        pos, pairs = 6, []
        for _ in range(max(count, 0)):
            topic, pos = _string(assignment, pos)
            (n,) = _I32.unpack_from(assignment, pos)
            pos += 4
            for _ in range(max(n, 0)):
                (partition,) = _I32.unpack_from(assignment, pos)
                pos += 4
                pairs.append((topic, partition))
        return pairs
    except (struct.error, UnicodeDecodeError):
        return []


# --- the whole subscription, and assignments written by the broker ---------------------
# A classic member inside a KIP-848 group (online migration) is assigned by
# the coordinator: its subscription is read in full and its assignment
# written in the version its subscription uses, as Kafka does.


class MalformedConsumerProtocol(ValueError):
    """The embedded consumer protocol bytes do not parse."""


@attrs.frozen
class Subscription:
    """A ConsumerProtocolSubscription (v0 topics and user data; v1 owned
    partitions; v2 generation; v3 rack)."""

    version: int
    topics: tuple[str, ...]
    owned_partitions: tuple[tuple[str, int], ...] = ()
    generation_id: int = -1
    rack_id: str | None = None


class _Reader:
    """Reads the classic (non-flexible) encoding; every length is checked
    against the bytes there, so no input can make it allocate or loop long."""

    def __init__(self, buf: bytes) -> None:
        self.buf, self.pos = buf, 0

    def _take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.buf):
            raise MalformedConsumerProtocol(f"{n} byte(s) wanted at {self.pos} of {len(self.buf)}")
        chunk = self.buf[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int16(self) -> int:
        value: int = _I16.unpack(self._take(2))[0]
        return value

    def int32(self) -> int:
        value: int = _I32.unpack(self._take(4))[0]
        return value

    def string(self, nullable: bool = False) -> str | None:
        length = self.int16()
        if length == -1 and nullable:
            return None
        try:
            return self._take(length).decode()
        except UnicodeDecodeError as exc:
            raise MalformedConsumerProtocol(str(exc)) from None

    def name(self) -> str:
        value = self.string()
        assert value is not None
        return value

    def count(self, least_bytes_each: int) -> int:
        n = self.int32()
        if n < 0 or n * least_bytes_each > len(self.buf) - self.pos:
            raise MalformedConsumerProtocol(f"array of {n} at {self.pos} of {len(self.buf)}")
        return n

    def nullable_bytes(self) -> bytes | None:
        n = self.int32()
        return None if n == -1 else self._take(n)

    def partitions(self) -> tuple[tuple[str, int], ...]:
        pairs: list[tuple[str, int]] = []
        for _ in range(self.count(6)):
            topic = self.name()
            pairs.extend((topic, self.int32()) for _ in range(self.count(4)))
        return tuple(pairs)


def parse_subscription(metadata: bytes) -> Subscription:
    """MalformedConsumerProtocol if the bytes do not parse. A version newer
    than 3 is read as v3 (its fields are a prefix), as Kafka reads it."""
    reader = _Reader(metadata)
    version = reader.int16()
    if version < 0:
        raise MalformedConsumerProtocol(f"version {version}")
    topics = tuple(reader.name() for _ in range(reader.count(2)))
    reader.nullable_bytes()  # user data: only the client-side assignor reads it
    owned = reader.partitions() if version >= 1 else ()
    generation = reader.int32() if version >= 2 else -1
    rack = reader.string(nullable=True) if version >= 3 else None
    return Subscription(version, topics, owned, generation, rack)


def subscription_version(metadata: bytes) -> int:
    """The version a subscription is written in (0 if unreadable)."""
    try:
        version: int = _I16.unpack_from(metadata, 0)[0]
    except struct.error:
        return 0
    return max(version, 0)


def encode_assignment(partitions: list[tuple[str, int]], version: int) -> bytes:
    """A ConsumerProtocolAssignment of `partitions` (no user data); every
    version from 0 to 3 has this layout."""
    by_topic: dict[str, list[int]] = {}
    for topic, partition in sorted(partitions):
        by_topic.setdefault(topic, []).append(partition)
    out = bytearray(_I16.pack(min(version, 3)))
    out += _I32.pack(len(by_topic))
    for topic, indexes in by_topic.items():
        name = topic.encode()
        out += _I16.pack(len(name)) + name + _I32.pack(len(indexes))
        for index in indexes:
            out += _I32.pack(index)
    out += _I32.pack(-1)  # no user data
    return bytes(out)


def parse_assignment(assignment: bytes) -> tuple[tuple[str, int], ...]:
    """(topic, partition) pairs of a ConsumerProtocolAssignment;
    MalformedConsumerProtocol if the bytes do not parse."""
    return parse_assignment_with_user_data(assignment)[0]


def parse_assignment_with_user_data(assignment: bytes) -> tuple[tuple[tuple[str, int], ...], bytes | None]:
    """The pairs and the user data (a custom assignor's) of a
    ConsumerProtocolAssignment; MalformedConsumerProtocol if they do not parse."""
    reader = _Reader(assignment)
    if reader.int16() < 0:
        raise MalformedConsumerProtocol("negative version")
    pairs = reader.partitions()
    return pairs, reader.nullable_bytes()
