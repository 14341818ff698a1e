"""The cluster's side of durability and storage faults: checkpoints the
disk refuses, flushing at shutdown, time-based flushes from the timer, and
partitions going offline invalidating cached metadata."""

import errno
import logging
import os

from kwire.clock import ManualClock
from kwire.cluster.cluster import Cluster
from kwire.cluster.log_maintenance import LogMaintenance
from kwire.config import BrokerConfig
from kwire.log.flusher import FLUSHER
from kwire.protocol.record_codec import Record, build_batch
from kwire.protocol.records import parse_header
from tests.log.faults import FailingCalls, FailingWrites


def append(partition_log, value=b"v"):
    batch = build_batch([Record(0, 0, None, value, ())], base_timestamp=1_000)
    return partition_log.append(batch, parse_header(batch))


def test_a_checkpoint_the_disk_refuses_keeps_the_old_one(tmp_path, monkeypatch, caplog):
    cluster = Cluster(BrokerConfig(data_dir=tmp_path))
    cluster.create_topic("t", 1)
    for _ in range(3):
        append(cluster.partition("t", 0).log)
    cluster.delete_records("t", 0, 1)
    checkpoint = tmp_path / "log-start-offset-checkpoint"
    before = checkpoint.read_text()
    FailingCalls(monkeypatch, "fsync", "log-start-offset-checkpoint.tmp", errno.ENOSPC)
    with caplog.at_level(logging.WARNING):
        assert cluster.delete_records("t", 0, 2) == 2  # DeleteRecords still succeeds
    assert "log-start-offset-checkpoint" in caplog.text
    assert checkpoint.read_text() == before
    monkeypatch.undo()
    cluster.close()


def test_close_fsyncs_a_few_logs_one_by_one(tmp_path, monkeypatch):
    cluster = Cluster(BrokerConfig(data_dir=tmp_path))
    cluster.create_topic("t", 3)
    logs = [cluster.partition("t", i).log for i in range(3)]
    for partition_log in logs:
        append(partition_log)
    synced = []
    monkeypatch.setattr(os, "sync", lambda: synced.append(True))
    cluster.close()
    assert synced == [] and [log.recovery_point for log in logs] == [1, 1, 1]


def test_close_syncs_the_disk_once_for_many_logs(tmp_path, monkeypatch):
    cluster = Cluster(BrokerConfig(data_dir=tmp_path))
    cluster.create_topic("t", 100)
    logs = [cluster.partition("t", i).log for i in range(100)]
    for partition_log in logs:
        append(partition_log)
    synced, fsynced = [], []
    monkeypatch.setattr(os, "sync", lambda: synced.append(True))
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: fsynced.append(os.readlink(f"/proc/self/fd/{fd}")) or real_fsync(fd))
    cluster.close()
    # One sync() instead of hundreds of fsyncs: only the files written after
    # it (the recovery-point and high-watermark checkpoints, the clean-shutdown
    # marker) and the data directory holding them are fsynced one by one.
    assert synced
    assert {os.path.basename(path) for path in fsynced} <= {
        "recovery-point-offset-checkpoint.tmp",
        "replication-offset-checkpoint.tmp",
        ".kafka_cleanshutdown",
        tmp_path.name,
    }
    assert {log.recovery_point for log in logs} == {1}


def test_flush_ms_is_checked_every_flush_scheduler_interval(tmp_path):
    clock = ManualClock(monotonic=0.0)
    config = BrokerConfig(data_dir=tmp_path)
    cluster = Cluster(config)
    cluster.create_topic("timed", 1, configs={"flush.ms": "0"})
    partition_log = cluster.partition("timed", 0).log
    append(partition_log)
    maintenance = LogMaintenance(cluster, clock)
    clock.advance(10**9)
    maintenance.tick()
    assert FLUSHER.wait_idle(10)
    maintenance.tick()
    assert partition_log.recovery_point == 0  # Kafka's default interval: never checked
    config.log_flush_scheduler_interval_ms = 1_000
    maintenance = LogMaintenance(cluster, clock)
    maintenance.tick()
    assert FLUSHER.wait_idle(10)
    maintenance.tick()
    assert partition_log.recovery_point == 0  # not before one interval
    clock.advance(1.0)
    maintenance.tick()
    assert FLUSHER.wait_idle(10)
    maintenance.tick()  # applies the finished flush
    assert partition_log.recovery_point == 1
    cluster.close()


def test_a_partition_going_offline_changes_the_metadata_version(tmp_path, monkeypatch):
    cluster = Cluster(BrokerConfig(data_dir=tmp_path))
    cluster.create_topic("t", 1)
    version = cluster.version
    FailingWrites(monkeypatch, "t-0/00000000000000000000.log", errno.EIO)
    try:
        append(cluster.partition("t", 0).log)
    except Exception:
        pass
    assert cluster.partition("t", 0).log.offline_reason is not None
    assert cluster.version == version + 1  # cached Metadata answers go
    monkeypatch.undo()
    cluster.close()


def test_meta_properties_is_fsynced_before_it_is_renamed_into_place(tmp_path, monkeypatch):
    from tests.log.faults import SyncEvents

    syncs = SyncEvents(monkeypatch)
    cluster = Cluster(BrokerConfig(data_dir=tmp_path))
    path = str(tmp_path / "meta.properties")
    rename = syncs.events.index(("replace", path + ".tmp", path))
    assert ("fsync", path + ".tmp") in syncs.events[:rename]
    assert ("fsync", str(tmp_path)) in syncs.events[rename:]
    cluster.close()
