"""Retention and the log start: segments deleted whole by age and by size,
never the active one; DeleteRecords; segment.ms rolling. Time is faked."""

import pytest

from kwire.clock import ManualClock
from kwire.log import OffsetOutOfRange, PartitionLog
from kwire.log.config import LogConfig
from tests.log.test_partition_log import append, read_offsets

HOUR_MS = 3600_000


@pytest.fixture(params=["disk", "memory"])
def make_log(request, tmp_path):
    def make(**config):
        cfg = LogConfig(**config)
        return (
            PartitionLog.open(tmp_path / "t-0", cfg, clock=make.clock)
            if request.param == "disk"
            else PartitionLog.in_memory(cfg, make.clock)
        )

    make.clock = ManualClock(wall_ms=10 * HOUR_MS)
    return make


def segments_of(log, timestamps, size=200):
    """One batch per segment (segment.bytes just above a batch), with these timestamps."""
    for timestamp in timestamps:
        append(log, 1, b"x" * size, timestamp=timestamp)


def test_time_retention_deletes_old_closed_segments(make_log):
    log = make_log(segment_bytes=300, retention_ms=HOUR_MS)
    segments_of(log, [1 * HOUR_MS, 2 * HOUR_MS, 9 * HOUR_MS + 1, 9 * HOUR_MS + 2])
    assert log.segment_base_offsets() == [0, 1, 2, 3]
    assert log.expired_segment_count() == 2  # 1h and 2h are past 10h - 1h
    log.delete_oldest_segments(log.expired_segment_count())
    assert log.segment_base_offsets() == [2, 3]
    assert log.log_start_offset == 2
    with pytest.raises(OffsetOutOfRange):
        log.read(1, 1000)
    assert read_offsets(log, 2) == [2]


def test_the_active_segment_is_never_deleted(make_log):
    log = make_log(segment_bytes=300, retention_ms=HOUR_MS)
    segments_of(log, [HOUR_MS, HOUR_MS])
    make_log.clock.advance(ms=90 * HOUR_MS)  # now 100 hours
    assert log.expired_segment_count() == 1
    log.delete_oldest_segments(5)
    assert log.segment_base_offsets() == [1]
    assert log.log_end_offset == 2


def test_size_retention_keeps_the_log_under_retention_bytes(make_log):
    log = make_log(segment_bytes=300, retention_ms=-1)
    segments_of(log, [make_log.clock.wall_ms()] * 5)
    one = log.segments[0].size
    log.reconfigure(LogConfig(segment_bytes=300, retention_ms=-1, retention_bytes=2 * one))
    assert log.expired_segment_count() == 3  # 5 segments down to 2
    # As Kafka: a segment goes only if the log stays at least retention.bytes without it.
    log.reconfigure(LogConfig(segment_bytes=300, retention_ms=-1, retention_bytes=2 * one + 1))
    assert log.expired_segment_count() == 2
    log.reconfigure(LogConfig(segment_bytes=300, retention_ms=-1, retention_bytes=-1))
    assert log.expired_segment_count() == 0


def test_deleted_segment_files_are_gone(tmp_path):
    log = PartitionLog.open(
        tmp_path / "t-0", LogConfig(segment_bytes=300, retention_ms=HOUR_MS), clock=ManualClock(wall_ms=10 * HOUR_MS)
    )
    segments_of(log, [HOUR_MS, HOUR_MS, 10 * HOUR_MS])
    log.delete_oldest_segments(log.expired_segment_count())
    stems = {p.name.split(".")[0] for p in (tmp_path / "t-0").iterdir() if p.name != "leader-epoch-checkpoint"}
    assert stems == {"00000000000000000002"}
    log.close()
    again = PartitionLog.open(tmp_path / "t-0", LogConfig())
    assert (again.log_start_offset, again.log_end_offset) == (2, 3)


def test_delete_records_moves_the_log_start_inside_a_segment(make_log):
    log = make_log(segment_bytes=300)
    for _ in range(3):
        append(log, 3, b"y" * 60)  # offsets 0-2 | 3-5 | 6-8 in three segments
    log.advance_log_start(4)
    assert log.log_start_offset == 4
    assert log.segment_base_offsets() == [3, 6]  # 0-2 went whole; 3-5 stays (4 and 5 readable)
    with pytest.raises(OffsetOutOfRange):
        log.read(3, 1000)
    assert read_offsets(log, 4) == [3, 4, 5]  # the batch holding 4; clients skip below their position
    log.advance_log_start(2)  # never backwards
    assert log.log_start_offset == 4
    with pytest.raises(OffsetOutOfRange):
        log.advance_log_start(10)
    log.advance_log_start(9)  # the high watermark: everything
    assert (log.log_start_offset, log.log_end_offset) == (9, 9)
    assert log.read(9, 100) == []


def test_segment_ms_rolls_by_the_batches_timestamps(make_log):
    log = make_log(segment_ms=HOUR_MS)
    append(log, 1, timestamp=HOUR_MS)
    append(log, 1, timestamp=HOUR_MS + HOUR_MS // 2)
    assert log.segment_base_offsets() == [0]
    append(log, 1, timestamp=2 * HOUR_MS + 1)
    assert log.segment_base_offsets() == [0, 2]
