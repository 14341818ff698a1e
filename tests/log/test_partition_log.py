import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kwire.log import OffsetOutOfRange, PartitionLog
from kwire.log.config import LogConfig
from kwire.log.segment_scan import batches_in
from kwire.protocol.record_codec import iter_all_records
from kwire.protocol.records import parse_header
from tests.log.segment_files import append, make_batch


def read_offsets(log, offset, max_bytes=1 << 20):
    return [r.offset for r in iter_all_records(b"".join(bytes(c) for c in log.read(offset, max_bytes)))]


@pytest.fixture(params=["disk", "memory"])
def open_log(request, tmp_path):
    def opener(**config):
        cfg = LogConfig(**config)
        return PartitionLog.open(tmp_path / "t-0", cfg) if request.param == "disk" else PartitionLog.in_memory(cfg)

    return opener


def test_append_assigns_offsets_and_read_returns_batches(open_log):
    log = open_log()
    assert append(log, 3) == 0
    assert append(log, 2) == 3
    assert log.log_end_offset == 5
    assert read_offsets(log, 0) == [0, 1, 2, 3, 4]
    # From inside a batch: the whole batch holding the offset comes back.
    assert read_offsets(log, 4) == [3, 4]
    assert read_offsets(log, 1) == [0, 1, 2, 3, 4]
    assert log.read(5, 100) == []


def test_stored_batches_keep_a_valid_crc(open_log):
    log = open_log()
    append(log, 3)
    append(log, 1)
    data = b"".join(bytes(c) for c in log.read(0, 1 << 20))
    assert [h.base_offset for _pos, h, _data in batches_in(data)] == [0, 3]


def test_out_of_range(open_log):
    log = open_log()
    append(log, 2)
    with pytest.raises(OffsetOutOfRange):
        log.read(3, 100)
    with pytest.raises(OffsetOutOfRange):
        log.read(-1, 100)


def test_first_batch_comes_whole_even_over_max_bytes(open_log):
    log = open_log()
    append(log, 1, value=b"x" * 5000)
    append(log, 1, value=b"y" * 5000)
    chunks = log.read(0, 10)
    assert sum(len(c) for c in chunks) == len(make_batch(1, b"x" * 5000))


def test_segments_roll_and_reads_cross_them(open_log):
    log = open_log(segment_bytes=300, index_interval_bytes=100)
    for _ in range(20):
        append(log, 2, value=b"z" * 50)
    assert len(log.segment_base_offsets()) > 3
    assert log.segment_base_offsets()[0] == 0
    offsets = []
    position = 0
    while position < log.log_end_offset:
        got = read_offsets(log, position)
        assert got and got[0] <= position
        offsets.extend(o for o in got if o >= position)
        position = offsets[-1] + 1
    assert offsets == list(range(40))


@pytest.mark.parametrize("rising_timestamps,batches_per_segment", [(False, 3), (True, 2)])
def test_full_indexes_roll_the_segment(open_log, rising_timestamps, batches_per_segment):
    # segment.index.bytes=24: three 8-byte offset entries, two 12-byte time entries.
    log = open_log(index_interval_bytes=0, segment_index_bytes=24)
    for i in range(12):
        append(log, 1, timestamp=1_000 + (i if rising_timestamps else 0))
    assert log.segment_base_offsets() == list(range(0, 12, batches_per_segment))
    assert [read_offsets(log, i)[0] for i in range(12)] == list(range(12))


def test_offsets_beyond_int32_of_the_segment_base_roll_it(open_log):
    log = open_log()
    append(log)
    wide = make_batch(1)
    struct.pack_into(">i", wide, 23, 2**31 - 1)  # its last offset is 2**31 past the segment base
    log.append(wide, parse_header(wide))
    assert log.segment_base_offsets() == [0, 1]


def test_index_files_hold_sparse_entries_at_batch_starts(tmp_path):
    log = PartitionLog.open(tmp_path / "t-0", LogConfig(index_interval_bytes=200))
    for _ in range(30):
        append(log, 1, value=b"q" * 40)
    log.close()
    index = (tmp_path / "t-0" / "00000000000000000000.index").read_bytes()
    entries = list(struct.iter_unpack(">ii", index))
    assert 0 < len(entries) < 30
    data = (tmp_path / "t-0" / "00000000000000000000.log").read_bytes()
    for relative, position in entries:
        assert parse_header(data, position).base_offset == relative
    assert (tmp_path / "t-0" / "00000000000000000000.timeindex").stat().st_size % 12 == 0


def test_reopen_keeps_everything(tmp_path):
    log = PartitionLog.open(tmp_path / "t-0", LogConfig(segment_bytes=400))
    for i in range(10):
        append(log, 3, timestamp=1_000 + i)
    log.close()
    again = PartitionLog.open(tmp_path / "t-0", LogConfig(segment_bytes=400))
    assert again.log_end_offset == 30
    assert read_offsets(again, 27) == [27, 28, 29]
    assert append(again, 1) == 30


@pytest.mark.parametrize("damage", ["garbage", "torn", "flipped"])
def test_recovery_cuts_a_bad_tail(tmp_path, damage):
    directory = tmp_path / "t-0"
    log = PartitionLog.open(directory, LogConfig())
    append(log, 2)
    append(log, 3)
    log.close()
    segment = directory / "00000000000000000000.log"
    data = bytearray(segment.read_bytes())
    good_size = len(make_batch(2))
    if damage == "garbage":
        data += b"\x00\x13garbage" * 30
        expected_end = 5
    elif damage == "torn":
        del data[-7:]
        expected_end = 2
    else:
        data[-3] ^= 0x40
        expected_end = 2
    segment.write_bytes(bytes(data))
    recovered = PartitionLog.open(directory, LogConfig())
    assert recovered.log_end_offset == expected_end
    assert read_offsets(recovered, 0)[:2] == [0, 1]
    if expected_end == 2:
        assert segment.stat().st_size == good_size
    assert append(recovered, 1) == expected_end
    assert read_offsets(recovered, expected_end) == [expected_end]


def test_offset_for_timestamp_and_max_timestamp(open_log):
    log = open_log(index_interval_bytes=50)
    append(log, 2, timestamp=100)  # 100, 101
    append(log, 2, timestamp=500)  # 500, 501
    append(log, 1, timestamp=300)  # out of order: 300
    assert log.offset_for_timestamp(50) == 0
    assert log.offset_for_timestamp(101) == 0
    assert log.offset_for_timestamp(102) == 2
    assert log.offset_for_timestamp(502) is None
    assert log.max_timestamp_and_offset == (501, 2)


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.tuples(st.integers(1, 5), st.integers(0, 300)), min_size=1, max_size=25),
    segment_bytes=st.integers(200, 3000),
    interval=st.integers(1, 2000),
    data=st.data(),
)
def test_read_always_starts_at_the_batch_holding_the_offset(sizes, segment_bytes, interval, data):
    log = PartitionLog.in_memory(LogConfig(segment_bytes=segment_bytes, index_interval_bytes=interval))
    starts = []
    for count, value_size in sizes:
        starts.append(append(log, count, value=b"p" * value_size))
    target = data.draw(st.integers(0, log.log_end_offset - 1))
    holder = max(s for s in starts if s <= target)
    first = parse_header(b"".join(bytes(c) for c in log.read(target, 1)))
    assert first.base_offset == holder
