"""Kafka's default partitioner: murmur2 exactly as Kafka computes it (the
vectors of Kafka's own UtilsTest), keyed placement, sticky keyless batches."""

import pytest

from kwire.admin.partitioner import StickyPartitioner, murmur2, partition_for_key

# From org.apache.kafka.common.utils.UtilsTest#testMurmur2.
KAFKA_VECTORS = [
    (b"21", -973932308),
    (b"foobar", -790332482),
    (b"a-little-bit-long-string", -985981536),
    (b"a-little-bit-longer-string", -1486304829),
    (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    (b"abc", 479470107),
]


@pytest.mark.parametrize(("data", "expected"), KAFKA_VECTORS)
def test_murmur2_matches_kafkas_vectors(data, expected):
    assert murmur2(data) == expected


def test_every_tail_length_and_the_empty_key_hash_as_32_bit_signed_ints():
    hashes = [murmur2(b"x" * n) for n in range(9)]
    assert len(set(hashes)) == 9
    assert all(-(1 << 31) <= h < (1 << 31) for h in hashes)


def test_keys_go_to_the_positive_hash_modulo_the_partition_count():
    # -973932308 & 0x7fffffff = 1173551340
    assert partition_for_key(b"21", 7) == 1173551340 % 7
    assert partition_for_key(b"21", 1) == 0
    assert {partition_for_key(b"key-%d" % i, 5) for i in range(100)} == set(range(5))


def test_keyless_records_stick_to_a_partition_until_its_batch_is_sent():
    sticky = StickyPartitioner(3)
    assert sticky.current == 0
    sticky.batch_sent(2)  # another partition's batch: no move
    assert sticky.current == 0
    for expected in (1, 2, 0):
        sticky.batch_sent(sticky.current)
        assert sticky.current == expected
