"""A structurally broken batch in a segment never reaches a client as bytes:
reads stop at the last whole batch before it, a read of the broken part
raises CorruptSegment (CORRUPT_MESSAGE), the damage is logged once per
segment, and no reader of segments crashes or loops on it."""

import logging
import struct

import pytest

from kwire.log import CorruptSegment, PartitionLog
from kwire.log.cleaner import build, plan
from kwire.log.config import LogConfig
from kwire.log.keyed_records import iter_keyed_records
from kwire.log.segment_scan import batches_in as scanned_batches
from kwire.protocol.record_codec import Record, build_batch, iter_all_records
from kwire.protocol.records import parse_header
from tests.log.segment_files import batches_in, patch, segment_paths, write_log

CONFIG = LogConfig(segment_bytes=2_000, index_interval_bytes=200)
BATCHES = 40


def _records(chunks):
    return [r.offset for r in iter_all_records(b"".join(bytes(c) for c in chunks))]


DAMAGE = {
    "bad magic": (16, b"\x07"),
    "batch length -12 (zero size)": (8, struct.pack(">i", -12)),
    "batch length past the file": (8, struct.pack(">i", 10_000_000)),
    "offsets going backwards": (0, struct.pack(">q", 1)),
    "negative last offset delta": (23, struct.pack(">i", -5)),
}


@pytest.fixture(params=sorted(DAMAGE))
def broken(request, tmp_path):
    """A clean-shut log whose second segment has a broken batch header in
    its middle; opened without re-validation, as after a clean shutdown."""
    directory = tmp_path / "t-0"
    write_log(directory, BATCHES, CONFIG)
    second = segment_paths(directory)[1]
    batches = batches_in(second)
    position, header = batches[len(batches) // 2]
    field, new = DAMAGE[request.param]
    patch(second, position + field, new)
    log = PartitionLog.open(directory, CONFIG, recovery_point=3 * BATCHES, clean_shutdown=True)
    return log, header.base_offset, int(second.name[:20]), int(segment_paths(directory)[2].name[:20])


@pytest.mark.timeout(20)
def test_reads_stop_before_the_broken_batch(broken, caplog):
    log, bad_offset, segment_base, next_segment_base = broken
    with caplog.at_level(logging.WARNING, logger="kwire.log"):
        assert _records(log.read(segment_base, 1 << 20)) == list(range(segment_base, bad_offset))
        for offset in range(bad_offset, bad_offset + 3):  # the broken batch's own offsets
            with pytest.raises(CorruptSegment) as raised:
                log.read(offset, 1 << 20)
            assert raised.value.resume_offset == next_segment_base
        for offset in range(bad_offset + 3, next_segment_base):
            # Past it, a read starts only where the offset index vouches for
            # a sound batch; else it is refused. Never anything broken.
            try:
                chunks = log.read(offset, 1 << 20)
            except CorruptSegment:
                continue
            data = b"".join(bytes(c) for c in chunks)
            assert [h.base_offset for _p, h, _data in scanned_batches(data)][0] == offset - offset % 3
            assert sum(h.size for _p, h, _data in scanned_batches(data)) == len(data)
        assert _records(log.read(segment_base, 1 << 20)) == list(range(segment_base, bad_offset))
    # What follows the broken segment is served as before.
    assert _records(log.read(next_segment_base, 1 << 20))[0] == next_segment_base
    warnings = [r.getMessage() for r in caplog.records if "is broken" in r.getMessage()]
    assert len(warnings) == 1 and "partition t-0 segment" in warnings[0], warnings


@pytest.mark.timeout(20)
def test_timestamp_lookups_through_a_broken_part_raise(broken):
    log, bad_offset, segment_base, _next = broken
    assert log.offset_for_timestamp(1_000 + 10 * (segment_base // 3)) == segment_base
    with pytest.raises(CorruptSegment):
        log.offset_for_timestamp(1_000 + 10 * (bad_offset // 3) + 1)


@pytest.mark.timeout(20)
def test_a_first_read_past_the_checked_part_stops_too(tmp_path):
    """The read check runs on the bytes being returned, also when no earlier
    read has checked the segment from its start."""
    directory = tmp_path / "t-0"
    write_log(directory, 20, LogConfig(index_interval_bytes=200))
    (only,) = segment_paths(directory)
    batches = batches_in(only)
    patch(only, batches[15][0] + 16, b"\x09")  # magic of the batch at offset 45
    log = PartitionLog.open(directory, LogConfig(index_interval_bytes=200), recovery_point=60, clean_shutdown=True)
    assert _records(log.read(30, 1 << 20)) == list(range(30, 45))


def test_a_read_cut_by_max_bytes_is_not_damage(tmp_path, caplog):
    directory = tmp_path / "t-0"
    write_log(directory, 20, CONFIG)
    log = PartitionLog.open(directory, CONFIG, recovery_point=60, clean_shutdown=True)
    with caplog.at_level(logging.WARNING, logger="kwire.log"):
        for max_bytes in (1, 300, 333, 700):
            chunks = log.read(0, max_bytes)
            assert sum(len(c) for c in chunks) >= min(max_bytes, 1)
    assert not caplog.records


def test_the_cleaner_leaves_a_broken_segment_alone(tmp_path):
    directory = tmp_path / "c-0"
    config = LogConfig(segment_bytes=2_000, index_interval_bytes=200, cleanup_policy=frozenset({"compact"}))
    log = PartitionLog.open(directory, config)
    for _ in range(40):
        records = [Record(offset_delta=j, timestamp_delta=0, key=b"k%d" % (j % 2), value=b"x" * 60) for j in range(3)]
        batch = build_batch(records, base_timestamp=1_000)
        log.append(batch, parse_header(batch))
    log.close()
    first = segment_paths(directory)[0]
    position, _header = batches_in(first)[2]
    patch(first, position + 16, b"\x05")
    log = PartitionLog.open(directory, config, recovery_point=120, clean_shutdown=True)
    before = [p.read_bytes() for p in segment_paths(directory)]
    work = plan(log, now_ms=10**12)
    assert work is not None
    with pytest.raises(CorruptSegment):
        build(work)  # never rewrites a segment past a broken batch
    assert plan(log, now_ms=10**12) is None  # and is not tried again
    assert [p.read_bytes() for p in segment_paths(directory)] == before


def test_a_replay_skips_a_broken_segment_and_goes_on(tmp_path, caplog):
    directory = tmp_path / "m-0"
    config = LogConfig(segment_bytes=400, index_interval_bytes=100)
    log = PartitionLog.open(directory, config)
    for i in range(30):
        batch = build_batch([Record(offset_delta=0, timestamp_delta=0, key=b"k%d" % i, value=b"v" * 40)])
        log.append(batch, parse_header(batch))
    log.close()
    second = segment_paths(directory)[1]
    patch(second, batches_in(second)[0][0] + 16, b"\x03")
    log = PartitionLog.open(directory, config, recovery_point=30, clean_shutdown=True)
    with caplog.at_level(logging.WARNING, logger="kwire.log"):
        keys = [key for key, _value in iter_keyed_records(log)]
    second_base, third_base = (int(p.name[:20]) for p in segment_paths(directory)[1:3])
    assert keys == [b"k%d" % i for i in range(30) if not second_base <= i < third_base]
    assert any("skips offsets" in r.getMessage() for r in caplog.records)
