"""Several log directories: placement, per-directory files, start-up, and
moving a partition (AlterReplicaLogDirs) including a crash in the middle."""

import logging
import os
import shutil
from pathlib import Path

import pytest

from kwire.cluster.cluster import Cluster
from kwire.cluster.data_dir import CLEAN_SHUTDOWN_FILE
from kwire.cluster.log_dirs import least_loaded
from kwire.cluster.meta_files import parse_properties
from kwire.cluster.metadata_log import METADATA_TOPIC
from kwire.cluster.offset_checkpoint import LOG_START, RECOVERY_POINT, read_checkpoint
from kwire.config import BrokerConfig, ConfigError
from kwire.config_sources import load
from kwire.errors import StartupError
from kwire.log.files import future_dir_name, parse_future_dir_name
from kwire.log.keyed_records import append_keyed_records
from kwire.protocol.errors import KafkaError
from tests.cluster.test_startup import crash, values

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def dirs(tmp_path):
    return (tmp_path / "a", tmp_path / "b")


def open_cluster(dirs, **overrides) -> Cluster:
    return Cluster(BrokerConfig(port=0, data_dir=dirs[0], other_log_dirs=tuple(dirs[1:]), **overrides))


def append(cluster, topic, index, count, start=0):
    for i in range(start, start + count):
        append_keyed_records(cluster.partition(topic, index).log, [(b"k%d" % i, b"v%d" % i)])


def where(cluster, topic, index) -> Path:
    return cluster.log_dir_of(cluster.partition(topic, index))


# --- placement ------------------------------------------------------------------


def test_least_loaded_takes_the_fewest_and_the_first_on_a_tie():
    a, b, c = Path("/a"), Path("/b"), Path("/c")
    assert least_loaded((a, b, c), {}) == a
    assert least_loaded((a, b, c), {a: 1}) == b
    assert least_loaded((a, b, c), {a: 1, b: 1}) == c
    assert least_loaded((a, b, c), {a: 2, b: 1, c: 1}) == b


def test_new_partitions_go_to_the_directory_with_the_fewest(dirs):
    a, b = dirs
    cluster = open_cluster(dirs)
    cluster.create_topic("t", 3)
    assert [where(cluster, "t", i) for i in range(3)] == [a, b, a]
    cluster.create_topic("u", 1)
    assert where(cluster, "u", 0) == b
    cluster.add_partitions("u", 3)
    assert [where(cluster, "u", i) for i in range(3)] == [b, a, b]
    assert cluster.partition_counts() == {a: 3, b: 3}
    # the metadata log lives in the first directory and counts for none
    assert (a / f"{METADATA_TOPIC}-0").is_dir() and not (b / f"{METADATA_TOPIC}-0").exists()
    cluster.close()


def test_each_directory_has_its_meta_properties_lock_and_checkpoints(dirs):
    a, b = dirs
    cluster = open_cluster(dirs)
    cluster.create_topic("t", 2)
    append(cluster, "t", 0, 5)
    append(cluster, "t", 1, 7)
    cluster.delete_records("t", 1, 2)
    cluster.close()
    props = {d: parse_properties((d / "meta.properties").read_bytes()) for d in dirs}
    assert props[a]["cluster.id"] == props[b]["cluster.id"] == cluster.cluster_id
    assert props[a]["node.id"] == props[b]["node.id"] == "1"
    assert props[a]["directory.id"] != props[b]["directory.id"]
    assert all((d / ".lock").exists() and (d / CLEAN_SHUTDOWN_FILE).exists() for d in dirs)
    assert read_checkpoint(a, RECOVERY_POINT) == {("t", 0): 5, (METADATA_TOPIC, 0): cluster.metadata.recovery_point}
    assert read_checkpoint(b, RECOVERY_POINT) == {("t", 1): 7}
    assert read_checkpoint(a, LOG_START) == {}
    assert read_checkpoint(b, LOG_START) == {("t", 1): 2}
    again = open_cluster(dirs)
    assert where(again, "t", 0) == a and where(again, "t", 1) == b
    assert again.partition("t", 1).log.log_start_offset == 2
    assert [v for _, v in values(again, "t", 1)] == [b"v%d" % i for i in range(7)]
    # directory ids stay
    again.close()
    assert {d: parse_properties((d / "meta.properties").read_bytes()) for d in dirs} == props


def test_a_directory_added_later_gets_meta_properties_and_new_partitions(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    one = open_cluster((a,))
    one.create_topic("t", 2)
    append(one, "t", 1, 3)
    one.close()
    two = open_cluster((a, b))
    assert where(two, "t", 0) == a and where(two, "t", 1) == a
    two.create_topic("u", 2)
    assert where(two, "u", 0) == b and where(two, "u", 1) == b
    assert len(values(two, "t", 1)) == 3
    two.close()
    assert parse_properties((b / "meta.properties").read_bytes())["cluster.id"] == two.cluster_id


def test_a_second_broker_on_any_of_the_directories_is_refused(dirs):
    a, b = dirs
    first = open_cluster((b,))
    with pytest.raises(StartupError) as raised:
        open_cluster(dirs)
    assert str(raised.value) == f"data directory {b} is in use by another process (lock {b / '.lock'} is held)"
    first.close()
    open_cluster(dirs).close()  # and a's lock was released on the way out


def test_directories_of_two_clusters_are_refused_in_one_line(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    open_cluster((a,)).close()
    open_cluster((b,)).close()
    with pytest.raises(StartupError) as raised:
        open_cluster((a, c, b))
    message = str(raised.value)
    assert "\n" not in message and str(b) in message and str(a) in message and "cluster" in message
    assert not c.exists() or not (c / "meta.properties").exists()


def test_a_partition_in_two_directories_is_refused_in_one_line(dirs):
    a, b = dirs
    cluster = open_cluster(dirs)
    cluster.create_topic("t", 1)
    cluster.close()
    shutil.copytree(a / "t-0", b / "t-0")
    with pytest.raises(StartupError) as raised:
        open_cluster(dirs)
    message = str(raised.value)
    assert "\n" not in message and str(a / "t-0") in message and str(b / "t-0") in message


def test_deleting_a_topic_removes_it_from_whichever_directory_holds_it(dirs):
    a, b = dirs
    cluster = open_cluster(dirs, log_segment_delete_delay_ms=0)
    cluster.create_topic("t", 2)
    append(cluster, "t", 1, 3)
    cluster.delete_topics(["t"])
    assert not (a / "t-0").exists() and not (b / "t-1").exists()
    assert any(p.name.endswith("-delete") for p in b.iterdir())
    cluster.remove_deleted_directories(cluster.clock.monotonic() + 1)
    assert not any(p.name.endswith("-delete") for d in dirs for p in d.iterdir())
    cluster.create_topic("t", 1)
    assert values(cluster, "t", 0) == []
    cluster.close()


# --- configuration ------------------------------------------------------------------


def test_log_dirs_setting_gives_several_directories(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    loaded = load(flags={}, overrides=[f"log.dirs={a}, {b}"])
    assert loaded.config.data_dir == a and loaded.config.other_log_dirs == (b,)
    assert loaded.config.log_dirs == (a, b)
    env = load(flags={}, environ={"KAFKA_LOG_DIRS": f"{a},{b}"})
    assert env.config.log_dirs == (a, b)
    properties = tmp_path / "server.properties"
    properties.write_text(f"log.dir=/ignored\nlog.dirs={a},{b},{tmp_path / 'c'}\n")
    assert load(flags={}, config_file=properties).config.log_dirs == (a, b, tmp_path / "c")
    # --data-dir is the one-directory shortcut and wins
    flag = load(flags={"data_dir": str(a)}, overrides=[f"log.dirs={b},{tmp_path / 'c'}"])
    assert flag.config.log_dirs == (a,)
    assert load(flags={"memory": True}, overrides=[f"log.dirs={a},{b}"]).config.log_dirs == ()


def test_a_directory_given_twice_is_refused(tmp_path):
    a = tmp_path / "a"
    with pytest.raises(ConfigError) as raised:
        load(flags={}, overrides=[f"log.dirs={a},{tmp_path}/x/../a"])
    assert "duplicate log directory" in str(raised.value)


# --- moving a partition ----------------------------------------------------------


def test_a_move_keeps_every_record_and_the_log_state(dirs, caplog):
    a, b = dirs
    cluster = open_cluster(dirs, log_segment_delete_delay_ms=0)
    cluster.create_topic("t", 1, configs={"segment.bytes": "300"})
    append(cluster, "t", 0, 20)
    cluster.delete_records("t", 0, 3)
    epoch = cluster.new_leader_epoch("t", 0)
    append(cluster, "t", 0, 5, start=20)
    before = values(cluster, "t", 0)
    with caplog.at_level(logging.INFO, logger="kwire.cluster"):
        assert cluster.move_partition("t", 0, b) is True
    assert any("Moved t-0 from" in r.getMessage() for r in caplog.records)
    log = cluster.partition("t", 0).log
    assert log.directory == b / "t-0" and where(cluster, "t", 0) == b
    assert values(cluster, "t", 0) == before and log.log_start_offset == 3 and log.log_end_offset == 25
    assert cluster.partition("t", 0).leader_epoch == epoch
    assert not (a / "t-0").exists()
    assert read_checkpoint(b, LOG_START) == {("t", 0): 3} and read_checkpoint(a, LOG_START) == {}
    append(cluster, "t", 0, 2, start=25)
    cluster.remove_deleted_directories(cluster.clock.monotonic() + 1)
    assert not any(p.name.endswith("-delete") for p in a.iterdir())
    # a move to where it is is nothing
    assert cluster.move_partition("t", 0, b) is False
    cluster.close()
    again = open_cluster(dirs)
    assert where(again, "t", 0) == b
    log = again.partition("t", 0).log
    assert (log.log_start_offset, log.log_end_offset) == (3, 27)
    assert values(again, "t", 0)[-1] == (26, b"v26")
    # and back
    again.move_partition("t", 0, a)
    assert where(again, "t", 0) == a and values(again, "t", 0)[-1] == (26, b"v26")
    again.close()


def test_moving_an_unknown_partition_is_refused(dirs):
    cluster = open_cluster(dirs)
    with pytest.raises(KafkaError):
        cluster.move_partition("nope", 0, dirs[1])
    cluster.close()


def test_a_move_waits_for_the_cleaner(dirs):
    a, b = dirs
    cluster = open_cluster(dirs)
    cluster.create_topic("t", 1)
    append(cluster, "t", 0, 3)
    log = cluster.partition("t", 0).log
    log.start_cleaning()
    assert cluster.move_partition("t", 0, b) is False
    assert cluster.pending_moves == {("t", 0): b} and where(cluster, "t", 0) == a
    assert cluster.partition_counts() == {a: 1, b: 1}  # the future replica counts, as in Kafka
    assert cluster.complete_pending_moves() == 0
    log.finish_cleaning()
    assert cluster.complete_pending_moves() == 1
    assert cluster.pending_moves == {} and where(cluster, "t", 0) == b and len(values(cluster, "t", 0)) == 3
    cluster.close()


def test_future_dir_names_are_kafkas():
    name = future_dir_name("my-topic", 12, "0123456789abcdef0123456789abcdef")
    assert name == "my-topic-12.0123456789abcdef0123456789abcdef-future"
    assert parse_future_dir_name(name) == ("my-topic", 12)
    assert parse_future_dir_name("my-topic-12") is None
    assert parse_future_dir_name("my-topic-12.abc-delete") is None


def test_an_unfinished_copy_left_by_a_crash_is_discarded(dirs, caplog):
    a, b = dirs
    cluster = open_cluster(dirs)
    cluster.create_topic("t", 1)
    append(cluster, "t", 0, 10)
    cluster.close()
    # a crash while copying: part of the files in the future directory
    future = b / future_dir_name("t", 0, "f" * 32)
    future.mkdir()
    log_file = next((a / "t-0").glob("*.log"))
    (future / log_file.name).write_bytes(log_file.read_bytes()[:50])
    with caplog.at_level(logging.WARNING):
        again = open_cluster(dirs)
    assert any("Discarding" in r.getMessage() for r in caplog.records)
    assert not future.exists() and not (b / "t-0").exists()
    assert where(again, "t", 0) == a and len(values(again, "t", 0)) == 10
    again.close()


def test_a_crash_after_the_old_directory_was_renamed_completes_the_move(dirs):
    a, b = dirs
    cluster = open_cluster(dirs)
    cluster.create_topic("t", 1)
    append(cluster, "t", 0, 10)
    # what _move does up to its crash point: the copy, then the old directory renamed
    log = cluster.partition("t", 0).log
    log.close()
    future = b / future_dir_name("t", 0, "e" * 32)
    shutil.copytree(a / "t-0", future)
    os.rename(a / "t-0", a / "t-0.0123456789abcdef0123456789abcdef-delete")
    crash(cluster)
    again = open_cluster(dirs)
    assert where(again, "t", 0) == b and (b / "t-0").is_dir() and not future.exists()
    assert [v for _, v in values(again, "t", 0)] == [b"v%d" % i for i in range(10)]
    assert not any(p.name.endswith("-delete") for p in a.iterdir())  # the old copy is gone
    append(again, "t", 0, 1, start=10)
    again.close()
    third = open_cluster(dirs)
    assert len(values(third, "t", 0)) == 11
    third.close()


def test_a_crash_after_a_move_recovers_in_the_new_directory(dirs):
    a, b = dirs
    cluster = open_cluster(dirs)
    cluster.create_topic("t", 2)
    append(cluster, "t", 0, 10)
    cluster.move_partition("t", 0, b)
    append(cluster, "t", 0, 5, start=10)
    crash(cluster)
    again = open_cluster(dirs)
    assert where(again, "t", 0) == b and len(values(again, "t", 0)) == 15
    again.close()


# --- kwire check ------------------------------------------------------------------


def test_kwire_check_takes_the_log_dirs_together(dirs, capsys):
    from kwire.admin.check import check_data_dir
    from kwire.cli import main

    a, b = dirs
    cluster = open_cluster(dirs)
    cluster.create_topic("t", 3, configs={"segment.bytes": "300"})
    for index in range(3):
        append(cluster, "t", index, 8)
    cluster.delete_records("t", 1, 2)
    cluster.move_partition("t", 0, b)
    cluster.close()
    report = check_data_dir(a, [b])
    assert report.problems == [] and report.counts["partitions"] == 4  # the metadata log and t's 3
    assert main(["check", "--log-dirs", f"{a},{b}"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith(f"checked {a}, {b}: 4 partition(s)")
    # one directory alone misses the partitions in the other
    assert any("t-0" in p and "missing" in p for p in check_data_dir(a).problems)
    # a move a crash interrupted is noted; a partition in both is a problem
    (b / future_dir_name("t", 2, "a" * 32)).mkdir()
    shutil.copytree(b / "t-1", a / "t-1")
    report = check_data_dir(a, [b])
    assert any("did not finish" in note for note in report.notes)
    assert any("t-1" in p and "another log directory" in p for p in report.problems)


def test_a_move_keeps_producer_and_transaction_state(dirs):
    from tests.log.test_cleaner import end_txn, put_txn

    a, b = dirs
    cluster = open_cluster(dirs)
    cluster.create_topic("t", 1)
    log = cluster.partition("t", 0).log
    put_txn(log, 7, [(b"a", b"aborted")], 0)  # 0
    end_txn(log, 7, commit=False)  # 1
    put_txn(log, 8, [(b"b", b"open")], 0)  # 2: still open
    before = (log.last_stable_offset, dict(log.transactions.ongoing), set(log.producer_state.entries))
    aborted = list(log.transactions.aborted)
    cluster.move_partition("t", 0, b)
    moved = cluster.partition("t", 0).log
    assert (moved.last_stable_offset, dict(moved.transactions.ongoing), set(moved.producer_state.entries)) == before
    assert before[0] == 2 and before[1] == {8: 2}
    assert list(moved.transactions.aborted) == aborted and len(aborted) == 1
    end_txn(moved, 8, commit=True)
    assert moved.last_stable_offset == moved.log_end_offset == 4
    cluster.close()


def test_a_deleted_topics_directory_beside_a_new_one_of_its_name_is_removed_at_start_up(dirs):
    a, b = dirs
    cluster = open_cluster(dirs)
    cluster.create_topic("t", 2)
    append(cluster, "t", 1, 3)  # t-1 in b
    cluster.delete_topics(["t"])
    # as if its rename and removal had failed: the old t-1 still under its name
    (renamed,) = [p for p in b.iterdir() if p.name.endswith("-delete")]
    os.rename(renamed, b / "t-1")
    cluster.create_topic("u", 1)  # in a
    cluster.create_topic("t", 2)  # t-0 in b, t-1 in a
    assert where(cluster, "t", 1) == a and values(cluster, "t", 1) == []
    append(cluster, "t", 1, 1)
    cluster.close()
    again = open_cluster(dirs)
    assert where(again, "t", 1) == a and len(values(again, "t", 1)) == 1
    assert not (b / "t-1").exists()
    again.close()


def test_deleting_a_topic_forgets_its_waiting_moves(dirs):
    a, b = dirs
    cluster = open_cluster(dirs)
    cluster.create_topic("t", 1)
    cluster.partition("t", 0).log.start_cleaning()
    cluster.move_partition("t", 0, b)
    cluster.delete_topics(["t"])
    assert cluster.pending_moves == {}
    cluster.create_topic("t", 1)
    assert cluster.complete_pending_moves() == 0 and where(cluster, "t", 0) == a
    cluster.close()


def test_a_partition_whose_directory_is_gone_starts_empty_with_a_warning(dirs, caplog):
    a, b = dirs
    cluster = open_cluster(dirs)
    cluster.create_topic("t", 2)
    append(cluster, "t", 1, 3)
    cluster.close()
    with caplog.at_level(logging.WARNING):
        only_a = open_cluster((a,))  # b left out of log.dirs
    assert any("t-1 has no directory in any log directory" in r.getMessage() for r in caplog.records)
    assert values(only_a, "t", 1) == []
    only_a.close()


def test_a_copy_the_disk_refuses_leaves_the_partition_where_it_was(dirs, monkeypatch):
    import errno

    from kwire.log.storage_errors import StorageError

    a, b = dirs
    cluster = open_cluster(dirs)
    cluster.create_topic("t", 1)
    append(cluster, "t", 0, 5)
    before = values(cluster, "t", 0)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil, "copyfile", full)
    with pytest.raises(StorageError) as raised:
        cluster.move_partition("t", 0, b)
    assert "No space left on device" in str(raised.value)
    monkeypatch.undo()
    assert where(cluster, "t", 0) == a and values(cluster, "t", 0) == before
    assert list(b.glob("t-0*")) == []
    append(cluster, "t", 0, 1, start=5)
    assert cluster.partition("t", 0).log.log_end_offset == 6
    cluster.close()
