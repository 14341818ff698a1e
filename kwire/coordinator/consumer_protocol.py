"""The consumer protocol's embedded formats (subscription, assignment),
read only where the broker must look inside them: OffsetDelete and
`kwire groups describe`."""

from __future__ import annotations

import struct

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
