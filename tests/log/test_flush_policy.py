"""When the log fsyncs: flush.messages after an append, flush.ms from the
timer, a rolled segment in the background; the recovery point follows.
Files replaced whole are fsynced before the rename, and their directory after."""

import errno
import os

import pytest

from kwire.clock import ManualClock
from kwire.cluster.offset_checkpoint import write_checkpoint
from kwire.log import PartitionLog
from kwire.log.config import LogConfig
from kwire.log.durable_files import write_atomically
from kwire.log.flusher import FLUSHER
from kwire.log.index import OffsetIndex
from kwire.log.producer_state import ProducerStateManager, write_snapshot
from kwire.log.storage_errors import StorageError
from kwire.log.transaction_index import AbortedTxn, write_txn_index
from kwire.protocol.record_codec import Record, build_batch
from kwire.protocol.records import parse_header
from tests.log.faults import FailingCalls, SyncEvents


def append(log, count=1, value=b"v", timestamp=1_000):
    batch = build_batch([Record(i, i, None, value, ()) for i in range(count)], base_timestamp=timestamp)
    return log.append(batch, parse_header(batch))


def wait_for_background_flushes():
    assert FLUSHER.wait_idle(10)
    FLUSHER.apply_completed()


def test_by_default_an_append_is_not_fsynced(disk_log, monkeypatch):
    log = disk_log()
    syncs = SyncEvents(monkeypatch)
    for _ in range(100):
        append(log, 10)
    assert syncs.fsynced() == []
    assert log.recovery_point == 0 and log.log_end_offset == 1000


def test_flush_messages_fsyncs_the_log_then_its_indexes(disk_log, monkeypatch, tmp_path):
    log = disk_log(flush_messages=5, index_interval_bytes=1)
    syncs = SyncEvents(monkeypatch)
    append(log, 2)
    append(log, 2)
    assert syncs.fsynced() == [] and log.recovery_point == 0
    append(log, 2)  # 6 unflushed messages: fsync before the append returns
    fsynced = [os.path.basename(path) for path in syncs.fsynced()]
    assert fsynced[:3] == ["00000000000000000000.log", "00000000000000000000.index", "00000000000000000000.timeindex"]
    # The leader-epoch-checkpoint the first append wrote (not fsynced then).
    assert fsynced[3:] == ["leader-epoch-checkpoint", "t-0", tmp_path.name]  # the new directory, and its parent, once
    assert log.recovery_point == 6
    syncs.clear()
    append(log, 1)
    assert syncs.fsynced() == []


def test_flush_messages_one_fsyncs_every_append(disk_log, monkeypatch):
    log = disk_log(flush_messages=1)
    append(log)
    syncs = SyncEvents(monkeypatch)
    for n in range(2, 5):
        append(log)
        assert log.recovery_point == n
    assert [os.path.basename(p) for p in syncs.fsynced()].count("00000000000000000000.log") == 3


def test_a_rolled_segment_is_flushed_in_the_background(disk_log, monkeypatch):
    log = disk_log(segment_bytes=300)
    syncs = SyncEvents(monkeypatch)
    append(log, 1, b"x" * 200)
    append(log, 1, b"x" * 200)  # rolls at offset 1
    wait_for_background_flushes()
    names = [os.path.basename(p) for p in syncs.fsynced()]
    assert "00000000000000000000.log" in names and "t-0" in names
    assert "00000000000000000001.log" not in names  # the active segment waits for its own roll
    assert log.recovery_point == 1


def test_flush_ms_flushes_from_the_timer(disk_log, monkeypatch):
    clock = ManualClock()
    log = disk_log(clock, flush_ms=1_000)
    now = [log.last_flush_ms]
    append(log, 3)
    syncs = SyncEvents(monkeypatch)
    assert not log.flush_if_due(now[0] + 999)
    assert log.flush_if_due(now[0] + 1_000)
    assert not log.flush_if_due(now[0] + 1_000)  # one at a time
    wait_for_background_flushes()
    assert any(p.endswith("00000000000000000000.log") for p in syncs.fsynced())
    assert log.recovery_point == 3
    assert not log.flush_if_due(now[0] + 100_000)  # nothing new to flush


def test_a_failed_fsync_takes_the_partition_offline(disk_log, monkeypatch):
    log = disk_log(flush_messages=1)
    FailingCalls(monkeypatch, "fsync", ".log", errno.EIO)
    with pytest.raises(StorageError):
        append(log)
    assert log.offline_reason is not None and log.recovery_point == 0


def test_a_failed_background_flush_takes_the_partition_offline(disk_log, monkeypatch):
    log = disk_log(segment_bytes=300)
    FailingCalls(monkeypatch, "fsync", "00000000000000000000.log", errno.EIO)
    append(log, 1, b"x" * 200)
    append(log, 1, b"x" * 200)
    wait_for_background_flushes()
    assert log.offline_reason is not None and log.recovery_point == 0


def test_close_flushes_what_is_unflushed(tmp_path, monkeypatch):
    log = PartitionLog.open(tmp_path / "t-0", LogConfig())
    append(log, 3)
    syncs = SyncEvents(monkeypatch)
    log.close()
    assert any(p.endswith("00000000000000000000.log") for p in syncs.fsynced())
    assert log.recovery_point == 3


# --- files replaced whole --------------------------------------------------------


def assert_fsynced_then_renamed(syncs: SyncEvents, path) -> None:
    path = str(path)
    temporary = path + ".tmp"
    events = syncs.events
    rename = events.index(("replace", temporary, path))
    assert ("fsync", temporary) in events[:rename]  # the data first
    assert ("fsync", os.path.dirname(path)) in events[rename:]  # then the name


def test_write_atomically_fsyncs_the_file_then_the_directory(tmp_path, monkeypatch):
    syncs = SyncEvents(monkeypatch)
    write_atomically(tmp_path / "f", b"new")
    assert_fsynced_then_renamed(syncs, tmp_path / "f")


def test_a_failed_atomic_write_leaves_the_old_file(tmp_path, monkeypatch):
    (tmp_path / "f").write_bytes(b"old")
    FailingCalls(monkeypatch, "fsync", "f.tmp", errno.ENOSPC)
    with pytest.raises(OSError):
        write_atomically(tmp_path / "f", b"new")
    assert (tmp_path / "f").read_bytes() == b"old" and not (tmp_path / "f.tmp").exists()


@pytest.mark.parametrize(
    "writer,name",
    [
        (lambda d: write_snapshot(d, 5, ProducerStateManager()), "00000000000000000005.snapshot"),
        (lambda d: write_checkpoint(d, "log-start-offset-checkpoint", {("t", 0): 3}), "log-start-offset-checkpoint"),
        (lambda d: write_txn_index(str(d / "0.txnindex"), [AbortedTxn(3, 1, 0, 0)]), "0.txnindex"),
    ],
)
def test_atomic_writers_fsync(tmp_path, monkeypatch, writer, name):
    syncs = SyncEvents(monkeypatch)
    writer(tmp_path)
    assert_fsynced_then_renamed(syncs, tmp_path / name)


def test_an_index_rewrite_is_fsynced_and_skipped_when_unchanged(tmp_path, monkeypatch):
    index = OffsetIndex(str(tmp_path / "0.index"))
    index.relative_offsets.append(1)
    index.positions.append(100)
    syncs = SyncEvents(monkeypatch)
    index.rewrite()
    assert_fsynced_then_renamed(syncs, tmp_path / "0.index")
    syncs.clear()
    index.rewrite()  # already what memory holds: not written again
    assert syncs.events == []
