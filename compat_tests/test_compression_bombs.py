"""A produced batch the broker must decompress (compacted topics,
compression.type recompression) is decompressed only up to a bound: a
compression bomb is refused as CORRUPT_MESSAGE without the broker's memory
following the bomb's claim, while real clients' highly compressible batches
within the bound are stored and read back intact."""

from __future__ import annotations

from pathlib import Path

import pytest

from compat_tests.clients import Outgoing, consume, create_topic, produce
from compat_tests.test_bad_input import produce_raw
from kwire.protocol.record_codec import MAX_DECOMPRESSED_BYTES, Record, build_batch

ZSTD = 4
CORRUPT_MESSAGE = 2
CLAIMED = 10 * MAX_DECOMPRESSED_BYTES  # 1 GiB of zeros in ~30 KB
PEAK_RSS_BOUND = 4 * MAX_DECOMPRESSED_BYTES


def zstd_bomb(size: int) -> bytes:
    import zstandard

    chunk = bytes(1 << 20)
    compressor = zstandard.ZstdCompressor().compressobj()
    return b"".join(compressor.compress(chunk) for _ in range(size >> 20)) + compressor.flush()


def bomb_batch() -> bytes:
    batch = bytearray(build_batch([Record(0, 0, b"k", b"v")])[:61]) + zstd_bomb(CLAIMED)
    batch[21:23] = ZSTD.to_bytes(2, "big")
    batch[8:12] = (len(batch) - 12).to_bytes(4, "big")
    from crc32c import crc32c

    batch[17:21] = crc32c(bytes(batch[21:])).to_bytes(4, "big")
    return bytes(batch)


def peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


@pytest.mark.parametrize(
    "configs", [{"cleanup.policy": "compact"}, {"compression.type": "gzip"}], ids=["compacted", "recompressed"]
)
def test_a_compression_bomb_is_corrupt_message_and_memory_stays_bounded(start_kwire, topic_name, configs):
    broker = start_kwire()
    create_topic("confluent-kafka", broker.bootstrap, topic_name, 1, configs)
    batch = bomb_batch()
    assert len(batch) < 100_000  # well under max.message.bytes
    result = produce_raw(broker.bootstrap, topic_name, batch)
    assert result.error_code == CORRUPT_MESSAGE
    assert broker.alive()
    assert peak_rss_bytes(broker.pid) < PEAK_RSS_BOUND
    produce("confluent-kafka", broker.bootstrap, topic_name, [Outgoing(key=b"k", value=b"after", partition=0)])
    got = consume("kafka-python", broker.bootstrap, topic_name, [0], 1)
    assert [(m.offset, m.value) for m in got] == [(0, b"after")]


@pytest.mark.parametrize(
    "client, options",
    [
        ("confluent-kafka", {"compression.type": "zstd", "message.max.bytes": 20_000_000}),
        ("kafka-python", {"compression_type": "gzip", "max_request_size": 20_000_000}),
    ],
)
def test_highly_compressible_batches_within_the_bound_are_kept(shared_kwire, topic_name, client, options):
    create_topic("confluent-kafka", shared_kwire.bootstrap, topic_name, 1, {"cleanup.policy": "compact"})
    value = b"0123456789abcdef" * (8 << 16)  # 8 MiB that compresses to a few KB
    produce(client, shared_kwire.bootstrap, topic_name, [Outgoing(key=b"big", value=value, partition=0)], **options)
    got = consume("confluent-kafka", shared_kwire.bootstrap, topic_name, [0], 1)
    assert [(m.key, m.value == value) for m in got] == [(b"big", True)]
