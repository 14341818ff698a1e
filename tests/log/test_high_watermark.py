"""The high watermark of a partition log: the log end unless the log is
replicated; then what replication set, kept within the log."""

import pytest

from kwire.log import OffsetOutOfRange, PartitionLog
from kwire.log.config import LogConfig
from tests.log.follower_logs import batch, put


@pytest.fixture(params=["disk", "memory"])
def log(request, tmp_path):
    config = LogConfig(segment_bytes=300)
    opened = PartitionLog.open(tmp_path / "t-0", config) if request.param == "disk" else PartitionLog.in_memory(config)
    yield opened
    opened.close()


def test_an_unreplicated_log_has_its_high_watermark_at_the_log_end(log):
    put(log, batch(3))
    log.set_high_watermark(1)  # ignored: nothing replicates this log
    assert log.high_watermark == log.log_end_offset == 3
    assert log.last_stable_offset == 3


def test_a_replicated_log_uses_the_high_watermark_it_is_given(log):
    log.replicated = True
    assert log.high_watermark == 0  # as Kafka: the log start until replication says more
    put(log, batch(3))
    put(log, batch(3))
    assert log.high_watermark == 0
    log.set_high_watermark(3)
    assert log.high_watermark == 3 and log.last_stable_offset == 3
    log.set_high_watermark(100)
    assert log.high_watermark == 6  # clamped to the log end
    log.set_high_watermark(-5)
    assert log.high_watermark == 0  # and to the log start


def test_the_last_stable_offset_never_passes_the_high_watermark(log):
    log.replicated = True
    put(log, batch(2))  # 0-1
    put(log, batch(2, pid=7, seq=0, transactional=True))  # 2-3, open
    log.set_high_watermark(1)
    assert log.last_stable_offset == 1
    log.set_high_watermark(4)
    assert log.last_stable_offset == 2


def test_reads_bounded_by_the_high_watermark_stop_there(log):
    log.replicated = True
    put(log, batch(2))
    put(log, batch(2))
    log.set_high_watermark(2)
    data = b"".join(bytes(chunk) for chunk in log.read(0, 1 << 20, log.high_watermark))
    assert len(data) == len(batch(2))
    assert log.read(2, 1 << 20, log.high_watermark) == []  # between it and the log end: valid, empty
    assert log.read(3, 1 << 20, log.high_watermark) == []


def test_the_log_start_moving_past_it_carries_it_along(log):
    log.replicated = True
    for _ in range(6):
        put(log, batch(2, value=b"x" * 60))
    log.set_high_watermark(4)
    log.delete_oldest_segments(3)
    assert log.high_watermark == log.log_start_offset > 4


def test_delete_records_stops_at_the_high_watermark(log):
    log.replicated = True
    put(log, batch(4))
    log.set_high_watermark(2)
    with pytest.raises(OffsetOutOfRange):
        log.advance_log_start(3)
    log.advance_log_start(2)
    assert log.log_start_offset == 2


def test_starting_over_puts_it_at_the_new_start(log):
    log.replicated = True
    put(log, batch(4))
    log.set_high_watermark(4)
    log.truncate_fully_and_start_at(50)
    assert log.high_watermark == 50
