"""Where a produced record goes: Kafka's default partitioner.

A keyed record goes to `toPositive(murmur2(key)) % partitions`, exactly as
the Java client's default partitioner and librdkafka's `murmur2_random`
place it, so `kwire produce`, Java and confluent-kafka (with
partitioner=murmur2_random) agree on every key's partition. Keyless records
stick to one partition until its batch is sent, then move on (Kafka's
sticky partitioning; here the next partition in turn rather than a random
one, which spreads them evenly).
"""

from __future__ import annotations

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """MurmurHash2 as org.apache.kafka.common.utils.Utils.murmur2 computes it (a signed 32-bit int)."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    whole = length & ~3
    for i in range(0, whole, 4):
        k = data[i] | data[i + 1] << 8 | data[i + 2] << 16 | data[i + 3] << 24
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    rest = length & 3
    if rest:
        # Java's switch falls through: the third byte, then the second, then the first.
        if rest == 3:
            h ^= data[whole + 2] << 16
        if rest >= 2:
            h ^= data[whole + 1] << 8
        h ^= data[whole]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for_key(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for a non-null key."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


class StickyPartitioner:
    """Keyless records: one partition until its batch is sent, then the next."""

    def __init__(self, partitions: int) -> None:
        self.partitions = partitions
        self.current = 0

    def batch_sent(self, partition: int) -> None:
        """Move on when the batch that keyless records were filling goes out."""
        if partition == self.current:
            self.current = (self.current + 1) % self.partitions
