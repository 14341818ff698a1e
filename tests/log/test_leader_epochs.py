"""The leader-epoch cache and its leader-epoch-checkpoint file (Kafka's
LeaderEpochFileCache): assignment, end offsets, truncation, recovery."""

import pytest

from kwire.log import PartitionLog
from kwire.log.config import LogConfig
from kwire.log.leader_epochs import (
    CHECKPOINT_FILE,
    DamagedEpochCheckpoint,
    EpochEntry,
    LeaderEpochCache,
    format_epoch_checkpoint,
    parse_epoch_checkpoint,
)
from kwire.protocol.record_codec import Record, build_batch
from kwire.protocol.records import parse_header


def append(log, count=1, epoch=0, value=b"v"):
    batch = build_batch([Record(i, i, None, value, ()) for i in range(count)], base_timestamp=1_000)
    return log.append(batch, parse_header(batch), epoch)


def entries(*pairs):
    return [EpochEntry(epoch, start) for epoch, start in pairs]


def test_the_file_is_kafkas_format():
    data = format_epoch_checkpoint(entries((0, 0), (3, 150)))
    assert data == b"0\n2\n0 0\n3 150\n"
    assert parse_epoch_checkpoint(data) == entries((0, 0), (3, 150))


@pytest.mark.parametrize(
    "data",
    [b"", b"1\n0\n", b"0\n2\n0 0\n", b"0\n1\nx 0\n", b"0\n2\n3 10\n2 20\n", b"0\n2\n1 10\n2 5\n", b"0\n1\n-1 0\n"],
)
def test_a_damaged_file_is_refused(data):
    with pytest.raises(DamagedEpochCheckpoint):
        parse_epoch_checkpoint(data)


def test_end_offsets_as_kafka_answers_them():
    cache = LeaderEpochCache(None, entries((1, 10), (3, 20), (5, 40)))
    log_end = 55
    assert cache.end_offset_for(5, log_end) == (5, 55)  # the current epoch ends at the log end
    assert cache.end_offset_for(3, log_end) == (3, 40)
    assert cache.end_offset_for(4, log_end) == (3, 40)  # the largest epoch at or below 4
    assert cache.end_offset_for(0, log_end) == (0, 10)  # older than all: where the first known starts
    assert cache.end_offset_for(6, log_end) == (-1, -1)  # newer than all: unknown
    assert cache.end_offset_for(-1, log_end) == (-1, -1)
    assert LeaderEpochCache(None).end_offset_for(0, 0) == (-1, -1)


def test_assign_keeps_epochs_and_offsets_increasing():
    cache = LeaderEpochCache(None)
    assert cache.assign(0, 0)
    assert not cache.assign(0, 5)  # the same epoch later on: nothing new
    assert cache.assign(2, 10)
    assert cache.entries == entries((0, 0), (2, 10))
    assert cache.assign(1, 8)  # an older epoch replaces what would follow it (as Kafka)
    assert cache.entries == entries((0, 0), (1, 8))
    assert not cache.assign(-1, 20)


def test_truncation_from_start_and_end():
    cache = LeaderEpochCache(None, entries((0, 0), (1, 10), (2, 20)))
    cache.truncate_from_start(15)
    assert cache.entries == entries((1, 15), (2, 20))
    cache.truncate_from_end(18)
    assert cache.entries == entries((1, 15))


def test_appends_are_stamped_and_tracked(tmp_path):
    log = PartitionLog.open(tmp_path / "t-0", LogConfig())
    append(log, 3, epoch=0)
    log.start_leader_epoch(2)
    append(log, 2, epoch=2)
    assert log.leader_epochs.entries == entries((0, 0), (2, 3))
    assert log.end_offset_for_epoch(0) == (0, 3)
    assert log.end_offset_for_epoch(1) == (0, 3)
    assert log.end_offset_for_epoch(2) == (2, 5)
    data = b"".join(bytes(b) for b in log.read(3, 1 << 20))
    assert parse_header(data).partition_leader_epoch == 2
    log.close()
    assert (tmp_path / "t-0" / CHECKPOINT_FILE).read_bytes() == b"0\n2\n0 0\n2 3\n"
    again = PartitionLog.open(tmp_path / "t-0", LogConfig(), clean_shutdown=True)
    assert again.leader_epochs.entries == entries((0, 0), (2, 3))
    again.close()


def test_a_new_epoch_at_the_log_end_is_durable_at_once(tmp_path):
    log = PartitionLog.open(tmp_path / "t-0", LogConfig())
    append(log, 4)
    log.start_leader_epoch(1)
    assert (tmp_path / "t-0" / CHECKPOINT_FILE).read_bytes() == b"0\n2\n0 0\n1 4\n"
    assert log.end_offset_for_epoch(0) == (0, 4)
    assert log.end_offset_for_epoch(1) == (1, 4)
    log.close()


def test_without_a_file_the_cache_is_rebuilt_from_the_batches(tmp_path):
    log = PartitionLog.open(tmp_path / "t-0", LogConfig(segment_bytes=200))
    append(log, 2, epoch=0, value=b"x" * 100)
    append(log, 2, epoch=3, value=b"x" * 100)  # another segment
    log.close()
    (tmp_path / "t-0" / CHECKPOINT_FILE).unlink()
    again = PartitionLog.open(tmp_path / "t-0", LogConfig(segment_bytes=200), clean_shutdown=True)
    assert len(again.segments) == 2
    assert again.leader_epochs.entries == entries((0, 0), (3, 2))
    assert (tmp_path / "t-0" / CHECKPOINT_FILE).read_bytes() == b"0\n2\n0 0\n3 2\n"
    again.close()


def test_a_damaged_file_is_rebuilt(tmp_path, caplog):
    log = PartitionLog.open(tmp_path / "t-0", LogConfig())
    append(log, 2, epoch=1)
    log.close()
    (tmp_path / "t-0" / CHECKPOINT_FILE).write_bytes(b"garbage")
    again = PartitionLog.open(tmp_path / "t-0", LogConfig(), clean_shutdown=True)
    assert again.leader_epochs.entries == entries((1, 0))
    assert "damaged" in caplog.text
    again.close()


def test_a_stale_file_is_completed_from_the_unflushed_batches(tmp_path):
    """An append writes the file without fsync: after a crash it may lag
    the log; the batches past the recovery point say what it missed."""
    log = PartitionLog.open(tmp_path / "t-0", LogConfig())
    append(log, 2, epoch=0)
    log.flush()
    append(log, 2, epoch=4)
    (tmp_path / "t-0" / CHECKPOINT_FILE).write_bytes(b"0\n1\n0 0\n")  # the write of epoch 4 was lost
    for segment in log.segments:
        segment.close()
    again = PartitionLog.open(tmp_path / "t-0", LogConfig(), recovery_point=2, clean_shutdown=False)
    assert again.leader_epochs.entries == entries((0, 0), (4, 2))
    again.close()


def test_epochs_past_the_recovered_log_end_go(tmp_path):
    log = PartitionLog.open(tmp_path / "t-0", LogConfig())
    append(log, 2, epoch=0)
    append(log, 2, epoch=1)
    append(log, 2, epoch=2)
    log.close()
    path = tmp_path / "t-0" / "00000000000000000000.log"
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size - 5)  # a torn write of the epoch-2 batch
    (tmp_path / "t-0" / CHECKPOINT_FILE).write_bytes(b"0\n4\n0 0\n1 2\n2 4\n7 100\n")
    again = PartitionLog.open(tmp_path / "t-0", LogConfig(), recovery_point=0, clean_shutdown=False)
    assert again.log_end_offset == 4
    # Epoch 2 starts right at the new log end: it stays, so the leader's
    # epoch never goes back; epoch 7 started past the end and goes.
    assert again.leader_epochs.entries == entries((0, 0), (1, 2), (2, 4))
    assert again.end_offset_for_epoch(1) == (1, 4)
    again.close()


def test_retention_and_delete_records_move_the_first_epoch(tmp_path):
    log = PartitionLog.open(tmp_path / "t-0", LogConfig())
    append(log, 3, epoch=0)
    append(log, 3, epoch=1)
    log.advance_log_start(4)
    assert log.leader_epochs.entries == entries((1, 4))
    log.close()
    assert (tmp_path / "t-0" / CHECKPOINT_FILE).read_bytes() == b"0\n1\n1 4\n"


def test_an_in_memory_log_tracks_epochs_without_a_file():
    log = PartitionLog.in_memory(LogConfig())
    append(log, 2, epoch=0)
    log.start_leader_epoch(1)
    assert log.end_offset_for_epoch(0) == (0, 2)
    assert log.leader_epochs.path is None


def test_a_new_partitions_first_epoch_is_written_at_close(tmp_path):
    """Creating a partition writes no epoch file (thousands may be created
    at once): an empty log needs none, one with records gets it at close."""
    log = PartitionLog.open(tmp_path / "t-0", LogConfig())
    log.start_leader_epoch(0)
    assert log.end_offset_for_epoch(0) == (0, 0)
    log.close()
    assert not (tmp_path / "t-0" / CHECKPOINT_FILE).exists()
    again = PartitionLog.open(tmp_path / "t-0", LogConfig(), clean_shutdown=True)
    again.start_leader_epoch(0)
    assert again.end_offset_for_epoch(0) == (0, 0)
    append(again, 2)  # epoch 0 again: nothing new to write now
    assert not (tmp_path / "t-0" / CHECKPOINT_FILE).exists()
    again.close()
    assert (tmp_path / "t-0" / CHECKPOINT_FILE).read_bytes() == b"0\n1\n0 0\n"


def test_a_failed_write_is_retried_at_close(tmp_path, monkeypatch, caplog):
    import kwire.log.leader_epochs as leader_epochs

    log = PartitionLog.open(tmp_path / "t-0", LogConfig())
    real = leader_epochs.write_atomically

    def refuse(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(leader_epochs, "write_atomically", refuse)
    log.start_leader_epoch(3)
    assert "Could not write" in caplog.text
    assert log.end_offset_for_epoch(3) == (3, 0)  # kept in memory
    monkeypatch.setattr(leader_epochs, "write_atomically", real)
    log.close()
    assert (tmp_path / "t-0" / CHECKPOINT_FILE).read_bytes() == b"0\n1\n3 0\n"
