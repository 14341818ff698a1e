"""A write the disk refuses leaves the log exactly as it was: files, sizes,
indexes, producer and transaction state, max timestamp. Space errors are
transient; other errors, or an undo that fails, take the partition offline."""

import errno
import logging

import pytest

from kwire.log import PartitionLog
from kwire.log.config import LogConfig
from kwire.log.producer_state import latest_snapshot
from kwire.log.storage_errors import StorageError
from kwire.log.stores import FileStore
from kwire.protocol.control_batches import build_marker
from kwire.protocol.record_codec import Record, build_batch, iter_all_records
from kwire.protocol.records import parse_header
from tests.log.faults import FailingCalls, FailingWrites


def make_batch(count=1, value=b"v", timestamp=1_000, producer_id=-1, epoch=-1, sequence=-1, transactional=False):
    records = [Record(offset_delta=i, timestamp_delta=i, key=None, value=value, headers=()) for i in range(count)]
    return build_batch(
        records,
        base_timestamp=timestamp,
        producer_id=producer_id,
        producer_epoch=epoch,
        base_sequence=sequence,
        is_transactional=transactional,
    )


def append(log, batch):
    return log.append(batch, parse_header(batch))


def file_bytes(directory) -> dict:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def state(log):
    """Everything an undone append must leave unchanged."""
    active = log.segments[-1]
    producers = {pid: (e.epoch, e.last_seq, e.last_offset) for pid, e in log.producer_state.entries.items()}
    return (
        log.log_end_offset,
        log.size_bytes(),
        log.max_timestamp_and_offset,
        len(log.segments),
        list(active.offset_index.relative_offsets),
        list(active.time_index.timestamps),
        active.next_offset,
        producers,
        dict(log.transactions.ongoing),
        list(log.transactions.aborted),
        file_bytes(log.directory),
    )


def values(log, offset=0):
    return [r.value for r in iter_all_records(b"".join(bytes(c) for c in log.read(offset, 1 << 20)))]


def test_file_store_undoes_a_partial_write(tmp_path, monkeypatch):
    store = FileStore(str(tmp_path / "s.log"))
    store.append(b"first")
    faults = FailingWrites(monkeypatch, "s.log")
    with pytest.raises(OSError) as caught:
        store.append(b"0123456789")
    assert caught.value.errno == errno.ENOSPC
    assert (tmp_path / "s.log").read_bytes() == b"first" and store.size == 5
    faults.failing = False
    store.append(b"second")
    assert store.read_bytes(0, 100) == b"firstsecond"
    store.close()


@pytest.mark.parametrize("failing_file", [".log", ".timeindex", ".index"])
def test_a_failed_append_changes_nothing(disk_log, monkeypatch, failing_file):
    log = disk_log(index_interval_bytes=1)  # an offset index entry with every batch
    append(log, make_batch(2, timestamp=1_000, producer_id=7, epoch=0, sequence=0))
    before = state(log)
    faults = FailingWrites(monkeypatch, failing_file)
    # A newer timestamp, so the time index has an entry to write too.
    with pytest.raises(StorageError) as caught:
        append(log, make_batch(3, timestamp=5_000, producer_id=7, epoch=0, sequence=2))
    assert faults.failures == 1
    assert caught.value.error_code == 56
    assert state(log) == before
    assert log.offline_reason is None  # a full disk is transient
    assert values(log) == [b"v", b"v"]

    faults.failing = False
    assert append(log, make_batch(3, timestamp=5_000, producer_id=7, epoch=0, sequence=2)) == 2
    assert values(log) == [b"v"] * 5
    assert log.producer_state.entries[7].last_seq == 4


def test_an_undone_append_survives_a_restart(tmp_path, monkeypatch):
    log = PartitionLog.open(tmp_path / "t-0", LogConfig(index_interval_bytes=1))
    append(log, make_batch(1, value=b"a"))
    faults = FailingWrites(monkeypatch, ".log")
    with pytest.raises(StorageError):
        append(log, make_batch(1, value=b"lost"))
    faults.failing = False
    append(log, make_batch(1, value=b"b"))
    log.close()
    reopened = PartitionLog.open(tmp_path / "t-0", LogConfig(index_interval_bytes=1))
    assert values(reopened) == [b"a", b"b"] and reopened.log_end_offset == 2
    reopened.close()


def test_an_abort_marker_whose_txn_index_fails_is_undone(disk_log, monkeypatch):
    log = disk_log()
    append(log, make_batch(2, producer_id=9, epoch=0, sequence=0, transactional=True))
    before = state(log)
    faults = FailingWrites(monkeypatch, ".txnindex")
    marker = build_marker(9, 0, False, 2_000)
    with pytest.raises(StorageError):
        append(log, marker)
    assert state(log) == before and log.last_stable_offset == 0  # the transaction is still open
    faults.failing = False
    append(log, build_marker(9, 0, False, 2_000))
    assert log.last_stable_offset == 3 and [a.producer_id for a in log.transactions.aborted] == [9]


def test_a_roll_that_cannot_create_its_segment_changes_nothing(disk_log, monkeypatch):
    log = disk_log(segment_bytes=200)
    append(log, make_batch(1, value=b"x" * 150))
    before = state(log)
    faults = FailingCalls(monkeypatch, "open", "00000000000000000001.log", errno.ENOSPC)
    with pytest.raises(StorageError):
        append(log, make_batch(1, value=b"y" * 150))
    assert faults.calls == 1
    assert log.segment_base_offsets() == [0]
    after = state(log)
    # The roll's producer-state snapshot may stand (it describes offset 1 correctly).
    assert after[:-1] == before[:-1]
    faults.failing = False
    assert append(log, make_batch(1, value=b"y" * 150)) == 1
    assert log.segment_base_offsets() == [0, 1]


def test_an_io_error_takes_the_partition_offline(disk_log, monkeypatch, caplog):
    log = disk_log()
    append(log, make_batch(1, value=b"a"))
    went_offline = []
    log.on_offline = lambda: went_offline.append(True)
    before = state(log)
    FailingWrites(monkeypatch, ".log", errno.EIO)
    with caplog.at_level(logging.ERROR, logger="kwire.log"), pytest.raises(StorageError):
        append(log, make_batch(1, value=b"b"))
    assert state(log) == before  # undone all the same
    assert log.offline_reason is not None and went_offline == [True]
    assert [r.levelname for r in caplog.records] == ["ERROR"] and "t-0" in caplog.records[0].message
    monkeypatch.undo()
    with pytest.raises(StorageError):
        append(log, make_batch(1, value=b"c"))  # offline until restart
    with pytest.raises(StorageError):
        log.read(0, 100)


def test_an_undo_that_fails_takes_the_partition_offline(disk_log, monkeypatch):
    log = disk_log()
    append(log, make_batch(1))
    FailingWrites(monkeypatch, ".log", errno.ENOSPC)
    FailingCalls(monkeypatch, "ftruncate", ".log", errno.EIO)
    with pytest.raises(StorageError):
        append(log, make_batch(1))
    assert log.offline_reason is not None and "truncate" in log.offline_reason


def test_a_read_error_takes_the_partition_offline(disk_log, monkeypatch):
    log = disk_log()
    append(log, make_batch(1))
    FailingCalls(monkeypatch, "pread", ".log", errno.EIO)
    with pytest.raises(StorageError):
        log.read(0, 100)
    assert log.offline_reason is not None


def test_a_snapshot_that_cannot_be_written_keeps_the_older_one(disk_log, monkeypatch, caplog):
    log = disk_log(segment_bytes=300)
    append(log, make_batch(1, value=b"x" * 200, producer_id=5, epoch=0, sequence=0))
    append(log, make_batch(1, value=b"x" * 200, producer_id=5, epoch=0, sequence=1))  # rolls: snapshot at 1
    assert latest_snapshot(log.directory, 10)[0] == 1
    FailingCalls(monkeypatch, "fsync", ".snapshot.tmp", errno.ENOSPC)
    with caplog.at_level(logging.WARNING, logger="kwire.log"):
        append(log, make_batch(1, value=b"x" * 200, producer_id=5, epoch=0, sequence=2))  # rolls again
    assert log.log_end_offset == 3 and log.segment_base_offsets() == [0, 1, 2]
    assert "snapshot" in caplog.text
    monkeypatch.undo()
    offset, manager = latest_snapshot(log.directory, 10)
    assert offset == 1 and manager.entries[5].last_seq == 0
    assert not list(log.directory.glob("*.tmp"))


def test_space_errors_are_logged_once_until_a_write_succeeds(disk_log, monkeypatch, caplog):
    log = disk_log()
    faults = FailingWrites(monkeypatch, ".log")
    with caplog.at_level(logging.INFO, logger="kwire.log"):
        for _ in range(3):
            with pytest.raises(StorageError):
                append(log, make_batch(1))
        faults.failing = False
        append(log, make_batch(1))
    assert [r.levelname for r in caplog.records] == ["WARNING", "INFO"]
