"""Deleting topics and growing them in the cluster: the metadata record
first, then the directories renamed `<topic>-<partition>.<id>-delete` and
removed after `log.segment.delete.delay.ms`; restarts, crashes in between,
and a new topic of the same name."""

import os

from kwire.clock import ManualClock
from kwire.cluster.cluster import Cluster
from kwire.cluster.log_maintenance import LogMaintenance
from kwire.cluster.metadata_log import TopicRecord
from kwire.cluster.offset_checkpoint import LOG_START, RECOVERY_POINT, read_checkpoint
from kwire.config import BrokerConfig
from kwire.log.files import deleted_dir_name, is_deleted_dir_name, parse_partition_dir_name
from kwire.log.keyed_records import append_keyed_records
from tests.cluster.test_startup import crash, fill


def open_cluster(data_dir, clock=None, **overrides) -> Cluster:
    config = BrokerConfig(port=0, data_dir=data_dir, **overrides)
    return Cluster(config, clock) if clock is not None else Cluster(config)


def entries(root):
    return sorted(name for name in os.listdir(root) if not name.startswith("."))


def deleted_dirs(root):
    return [name for name in entries(root) if is_deleted_dir_name(name)]


def test_deleted_dir_names_are_kafkas_and_never_partitions():
    name = deleted_dir_name("orders", 3, "ab" * 16)
    assert name == "orders-3." + "ab" * 16 + "-delete"
    assert is_deleted_dir_name(name) and parse_partition_dir_name(name) is None
    assert not is_deleted_dir_name("x.y-delete-0") and not is_deleted_dir_name("orders-3")
    assert len(deleted_dir_name("t" * 249, 9999, "ab" * 16)) == 255


def test_directories_are_renamed_at_once_and_removed_after_the_delay(tmp_path):
    clock = ManualClock()
    cluster = open_cluster(tmp_path, clock, log_segment_delete_delay_ms=5_000)
    maintenance = LogMaintenance(cluster, clock)
    fill(cluster, "t", partitions=2)
    version = cluster.version
    cluster.delete_topics(["t"])
    assert cluster.version > version
    assert "t-0" not in entries(tmp_path) and len(deleted_dirs(tmp_path)) == 2
    clock.advance(4.0)
    maintenance.tick()
    assert len(deleted_dirs(tmp_path)) == 2
    clock.advance(1.5)
    maintenance.tick()
    assert deleted_dirs(tmp_path) == []
    cluster.close()


def test_a_deleted_topic_stays_deleted_across_a_restart(tmp_path):
    cluster = open_cluster(tmp_path)
    fill(cluster, "gone", partitions=2)
    fill(cluster, "kept", partitions=1)
    cluster.delete_topics(["gone"])
    cluster.close()
    assert len(deleted_dirs(tmp_path)) == 2  # not yet due when the broker stopped
    again = open_cluster(tmp_path)
    assert sorted(again.topics) == ["kept"]
    assert deleted_dirs(tmp_path) == []  # leftovers go at start-up
    again.close()


def test_a_crash_between_the_record_and_the_renames_leaves_no_half_topic(tmp_path):
    cluster = open_cluster(tmp_path)
    fill(cluster, "half", partitions=3)
    topic = cluster.get("half")
    # The record is written, then the broker dies before touching a file.
    cluster.metadata.delete_topics([TopicRecord("half", topic.topic_id, 3, topic.configs)])
    crash(cluster)
    assert {"half-0", "half-1", "half-2"} <= set(entries(tmp_path))
    again = open_cluster(tmp_path)
    assert again.get("half") is None  # not recovered as an orphan
    assert not any(name.startswith("half") for name in entries(tmp_path))
    again.create_topic("half", 1)
    assert again.partition("half", 0).log.log_end_offset == 0
    again.close()


def test_a_crash_after_the_record_leaves_no_stale_checkpoint_for_a_new_topic(tmp_path):
    cluster = open_cluster(tmp_path)
    fill(cluster, "t", partitions=1, batches=10)
    cluster.delete_records("t", 0, 6)
    topic = cluster.get("t")
    cluster.metadata.delete_topics([TopicRecord("t", topic.topic_id, 1, topic.configs)])
    crash(cluster)  # before the directories and the checkpoints were touched
    again = open_cluster(tmp_path)
    again.create_topic("t", 1)
    for i in range(8):
        append_keyed_records(again.partition("t", 0).log, [(b"k%d" % i, b"v")])
    again.close()
    third = open_cluster(tmp_path)
    assert third.partition("t", 0).log.log_start_offset == 0
    third.close()


def test_a_crash_before_the_record_keeps_the_topic(tmp_path):
    cluster = open_cluster(tmp_path)
    fill(cluster, "whole", partitions=2, batches=4)
    crash(cluster)
    again = open_cluster(tmp_path)
    assert again.partition("whole", 1).log.log_end_offset == 4
    again.close()


def test_a_new_topic_of_the_same_name_inherits_no_checkpoint(tmp_path):
    cluster = open_cluster(tmp_path)
    fill(cluster, "t", partitions=1, batches=10)
    cluster.delete_records("t", 0, 6)
    assert read_checkpoint(tmp_path, LOG_START)[("t", 0)] == 6
    cluster.delete_topics(["t"])
    assert ("t", 0) not in read_checkpoint(tmp_path, LOG_START)
    assert ("t", 0) not in read_checkpoint(tmp_path, RECOVERY_POINT)
    cluster.create_topic("t", 1)
    for i in range(8):
        append_keyed_records(cluster.partition("t", 0).log, [(b"k%d" % i, b"v")])
    cluster.close()
    again = open_cluster(tmp_path)
    assert again.partition("t", 0).log.log_start_offset == 0
    assert again.partition("t", 0).log.log_end_offset == 8
    again.close()


def test_a_directory_a_failed_rename_left_is_moved_aside_by_a_new_partition(tmp_path, monkeypatch):
    cluster = open_cluster(tmp_path)
    fill(cluster, "stuck", partitions=1, batches=5)
    real_rename, real_rmtree = os.rename, __import__("shutil").rmtree

    def refuse(*args, **kwargs):
        raise PermissionError(13, "refused")

    monkeypatch.setattr(os, "rename", refuse)
    monkeypatch.setattr("shutil.rmtree", refuse)
    cluster.delete_topics(["stuck"])
    assert "stuck-0" in entries(tmp_path)  # neither renamed nor removed
    monkeypatch.setattr(os, "rename", real_rename)
    monkeypatch.setattr("shutil.rmtree", real_rmtree)
    cluster.create_topic("stuck", 1)
    assert cluster.partition("stuck", 0).log.log_end_offset == 0  # the old data was not adopted
    assert len(deleted_dirs(tmp_path)) == 1
    cluster.close()


def test_growing_a_topic_survives_a_restart_and_a_crash(tmp_path):
    cluster = open_cluster(tmp_path)
    fill(cluster, "g", partitions=2, batches=3)
    cluster.add_partitions("g", 5)
    fill(cluster, "g", partitions=5, batches=1)
    crash(cluster)
    again = open_cluster(tmp_path)
    assert [p.log.log_end_offset for p in again.get("g").partitions] == [4, 4, 1, 1, 1]
    again.close()


def test_kwire_check_notes_a_deleted_topics_leftover_directory(tmp_path):
    from kwire.admin.check import check_data_dir

    cluster = open_cluster(tmp_path)
    fill(cluster, "left", partitions=1)
    topic = cluster.get("left")
    cluster.metadata.delete_topics([TopicRecord("left", topic.topic_id, 1, topic.configs)])
    cluster.close()
    report = check_data_dir(tmp_path)
    assert not [problem for problem in report.problems if problem.startswith("left-0")]
    assert any("left-0" in note and "deleted topic" in note for note in report.notes)
