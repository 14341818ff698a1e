"""Open transactions, the last stable offset and the aborted index in a
partition log, and what read_committed reads."""

import pytest

from kwire.log import PartitionLog
from kwire.log.config import LogConfig
from kwire.protocol.control_batches import build_marker
from kwire.protocol.record_codec import Record, build_batch, iter_all_records
from kwire.protocol.records import parse_header


def data(log, pid=-1, count=2, transactional=False, seq=0, epoch=0):
    records = [Record(offset_delta=i, timestamp_delta=0, key=b"k", value=b"v") for i in range(count)]
    batch = build_batch(
        records,
        producer_id=pid,
        producer_epoch=epoch,
        base_sequence=seq if pid >= 0 else -1,
        is_transactional=transactional,
    )
    return log.append(batch, parse_header(batch))


def marker(log, pid, commit, epoch=0):
    batch = build_marker(pid, epoch, commit, 1000)
    return log.append(batch, parse_header(batch))


def offsets(log, start, upper=None):
    data_ = b"".join(bytes(c) for c in log.read(start, 1 << 20, upper))
    return [r.offset for r in iter_all_records(data_)]


@pytest.fixture(params=["disk", "memory"])
def log(request, tmp_path):
    if request.param == "disk":
        return PartitionLog.open(tmp_path / "t-0", LogConfig(segment_bytes=300))
    return PartitionLog.in_memory(LogConfig(segment_bytes=300))


def test_last_stable_offset_and_aborted_index(log):
    data(log)  # 0-1 plain
    data(log, pid=7, transactional=True)  # 2-3 txn of 7
    data(log)  # 4-5 plain
    assert log.last_stable_offset == 2
    data(log, pid=8, transactional=True)  # 6-7 txn of 8
    marker(log, 7, commit=False)  # 8: abort 7
    assert log.last_stable_offset == 6
    assert log.transactions.aborted_overlapping(0, 100) == [(7, 2)]
    marker(log, 8, commit=True)  # 9: commit 8
    assert log.last_stable_offset == log.log_end_offset == 10
    assert log.transactions.aborted_overlapping(9, 100) == []
    assert log.transactions.aborted_overlapping(3, 100) == [(7, 2)]


def test_reads_stop_at_the_last_stable_offset(log):
    data(log)  # 0-1
    data(log, pid=7, transactional=True)  # 2-3
    data(log)  # 4-5
    assert offsets(log, 0, upper=log.last_stable_offset) == [0, 1]
    assert log.read(2, 1 << 20, upper=2) == []
    assert offsets(log, 0)[-1] == 5  # read_uncommitted sees everything


def test_the_last_stable_offset_never_falls_below_the_log_start(log):
    data(log)  # 0-1
    data(log, pid=7, transactional=True)  # 2-3, left open
    data(log)  # 4-5
    log.advance_log_start(3)  # DeleteRecords past the transaction's first offset
    assert log.last_stable_offset == 3
    assert offsets(log, 3, upper=log.last_stable_offset) == []
    marker(log, 7, commit=True)
    assert log.last_stable_offset == log.log_end_offset == 7


def test_state_comes_back_after_a_restart(tmp_path):
    config = LogConfig(segment_bytes=300)
    log = PartitionLog.open(tmp_path / "t-0", config)
    data(log, pid=7, transactional=True, count=3)
    marker(log, 7, commit=False)
    data(log, pid=9, transactional=True, seq=0)
    for _ in range(4):
        data(log)  # roll segments: snapshots happen
    open_first = 4
    log.close()
    again = PartitionLog.open(tmp_path / "t-0", config)
    assert again.transactions.aborted_overlapping(0, 100) == [(7, 0)]
    assert again.last_stable_offset == open_first
    assert list((tmp_path / "t-0").glob("*.txnindex"))
    marker(again, 9, commit=True)
    assert again.last_stable_offset == again.log_end_offset


def test_a_marker_with_a_bumped_epoch_resets_the_sequence(log):
    data(log, pid=5, transactional=True, seq=0, epoch=0)
    data(log, pid=5, transactional=True, seq=2, epoch=0)
    marker(log, 5, commit=False, epoch=1)  # fenced: aborted with a bumped epoch
    from kwire.log.producer_state import ProducerStateError

    records = [Record(offset_delta=0, timestamp_delta=0, key=b"k", value=b"v")]
    stale = parse_header(build_batch(records, producer_id=5, producer_epoch=0, base_sequence=4))
    with pytest.raises(ProducerStateError):
        log.producer_state.check(stale)
    fresh = parse_header(build_batch(records, producer_id=5, producer_epoch=1, base_sequence=0))
    assert log.producer_state.check(fresh) is None
