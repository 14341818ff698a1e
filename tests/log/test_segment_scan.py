"""The one batch walk: bytes handed out with each batch, whole even when a
batch straddles the blocks the walk reads in."""

import pytest

from kwire.log import segment_scan
from kwire.log.segment_scan import BufferStore, SegmentScan, batches_in
from kwire.protocol.record_codec import Record, build_batch
from kwire.protocol.records import patch_offsets


def a_log(sizes):
    batches, offset = [], 0
    for size in sizes:
        batch = build_batch([Record(offset_delta=0, timestamp_delta=0, key=b"k", value=b"v" * size)])
        patch_offsets(batch, offset)
        batches.append(bytes(batch))
        offset += 1
    return batches


@pytest.mark.parametrize("block", [100, 300, 8 * 1024 * 1024])
def test_batches_come_whole_across_block_boundaries(monkeypatch, block):
    monkeypatch.setattr(segment_scan, "CRC_BLOCK", block)
    batches = a_log([10, 200, 30, 500, 5])
    scan = SegmentScan(BufferStore(b"".join(batches)), 0, verify_crc=True)
    assert [data for _position, _header, data in scan.batches()] == batches
    assert scan.problem is None and scan.next_offset == len(batches)


def test_a_broken_batch_ends_the_walk_and_says_why():
    batches = a_log([10, 20, 30])
    corrupt = bytearray(b"".join(batches))
    corrupt[len(batches[0]) + len(batches[1]) - 1] ^= 1
    scan = SegmentScan(BufferStore(corrupt), 0, verify_crc=True)
    assert [header.base_offset for _position, header, _data in scan.batches()] == [0]
    assert scan.problem == "CRC-32C mismatch" and scan.end == len(batches[0])
    assert [header.base_offset for _p, header, _d in batches_in(corrupt[: len(batches[0]) + 5])] == [0]
