"""Start-up and shutdown of the data directory: the lock, the clean-shutdown
marker and recovery points, damaged small files, and topics recovered from
their partition directories when the metadata log lost them."""

import logging
import os

import pytest

from kwire.clock import ManualClock
from kwire.cluster.cluster import Cluster
from kwire.cluster.data_dir import CLEAN_SHUTDOWN_FILE
from kwire.cluster.log_maintenance import LogMaintenance
from kwire.cluster.meta_files import base64_uuid
from kwire.cluster.offset_checkpoint import RECOVERY_POINT, read_checkpoint, write_checkpoint
from kwire.config import BrokerConfig
from kwire.errors import StartupError
from kwire.log.keyed_records import append_keyed_records
from kwire.protocol.record_codec import iter_all_records
from tests.log.segment_files import segment_paths

GARBAGE = bytes(range(128, 256)) + b"\x00\xff\xfe"


def open_cluster(data_dir, **overrides) -> Cluster:
    return Cluster(BrokerConfig(port=0, data_dir=data_dir, **overrides))


def fill(cluster, topic="t", partitions=2, batches=10, configs=None):
    if cluster.get(topic) is None:
        cluster.create_topic(topic, partitions, configs=configs or {"segment.bytes": "600"})
    for index in range(partitions):
        for i in range(batches):
            append_keyed_records(cluster.partition(topic, index).log, [(b"k%d" % i, b"v" * 50)])


def crash(cluster):
    """As if killed: no flush, no checkpoint, no marker; the lock goes with the process."""
    for topic in cluster.topics.values():
        for partition in topic.partitions:
            for segment in partition.log.segments:
                segment.close()
    cluster._lock.release()


def values(cluster, topic, index):
    log = cluster.partition(topic, index).log
    data = b"".join(bytes(c) for s in log.segments for c in s.store.read(0, s.size))
    return [(r.offset, r.value) for r in iter_all_records(data)]


def directory_state(root):
    return {
        path: (path.stat().st_size, path.stat().st_mtime_ns, path.read_bytes() if path.is_file() else None)
        for path in sorted(root.rglob("*"))
    }


def test_a_clean_shutdown_leaves_the_marker_and_the_recovery_points(tmp_path):
    cluster = open_cluster(tmp_path)
    fill(cluster)
    assert not (tmp_path / CLEAN_SHUTDOWN_FILE).exists()
    cluster.close()
    assert (tmp_path / CLEAN_SHUTDOWN_FILE).exists()
    points = read_checkpoint(tmp_path, RECOVERY_POINT)
    assert points[("t", 0)] == points[("t", 1)] == 10
    assert ("__cluster_metadata", 0) in points
    again = open_cluster(tmp_path)
    assert not (tmp_path / CLEAN_SHUTDOWN_FILE).exists()  # a crash from now on is unclean
    assert sum(p.log.load_report.recovered_segments for p in again.topics["t"].partitions) == 0
    assert again.partition("t", 0).log.recovery_point == 10
    again.close()


def test_after_a_crash_recovery_starts_at_the_checkpointed_recovery_points(tmp_path):
    cluster = open_cluster(tmp_path)
    fill(cluster, batches=10)
    cluster.close()
    cluster = open_cluster(tmp_path)  # recovery points now 10
    fill(cluster, batches=10)
    cluster.save_recovery_points()
    crash(cluster)
    segments = len(segment_paths(tmp_path / "t-0"))
    bases = [int(p.name[:20]) for p in segment_paths(tmp_path / "t-0")]
    again = open_cluster(tmp_path)
    report = again.partition("t", 0).log.load_report
    holding = max(i for i, base in enumerate(bases) if base <= 10)
    assert report.recovered_segments == segments - holding
    assert again.partition("t", 0).log.log_end_offset == 20
    again.close()


def test_a_damaged_recovery_point_checkpoint_means_recovering_everything(tmp_path, caplog):
    cluster = open_cluster(tmp_path)
    fill(cluster)
    cluster.close()
    (tmp_path / RECOVERY_POINT).write_bytes(GARBAGE)
    with caplog.at_level(logging.WARNING):
        again = open_cluster(tmp_path)
    assert again.partition("t", 0).log.load_report.recovered_segments == len(segment_paths(tmp_path / "t-0"))
    assert any(RECOVERY_POINT in r.getMessage() and "damaged" in r.getMessage() for r in caplog.records)
    again.close()


@pytest.mark.parametrize("file_name", ["log-start-offset-checkpoint", "cleaner-offset-checkpoint"])
def test_a_damaged_checkpoint_is_ignored_with_a_warning(tmp_path, caplog, file_name):
    cluster = open_cluster(tmp_path)
    fill(cluster)
    cluster.delete_records("t", 0, 4)
    cluster.save_cleaner_offsets()
    cluster.close()
    (tmp_path / file_name).write_bytes(GARBAGE)
    with caplog.at_level(logging.WARNING):
        again = open_cluster(tmp_path)
    assert again.partition("t", 1).log.log_end_offset == 10
    assert [r for r in caplog.records if file_name in r.getMessage() and "damaged" in r.getMessage()]
    again.close()


def test_a_damaged_partition_metadata_is_rewritten_from_the_metadata_log(tmp_path, caplog):
    cluster = open_cluster(tmp_path)
    fill(cluster)
    topic_id = cluster.get("t").topic_id
    cluster.close()
    (tmp_path / "t-1" / "partition.metadata").write_bytes(GARBAGE)
    with caplog.at_level(logging.WARNING):
        again = open_cluster(tmp_path)
    assert (tmp_path / "t-1" / "partition.metadata").read_text() == f"version: 0\ntopic_id: {base64_uuid(topic_id)}\n"
    assert [r for r in caplog.records if "t-1/partition.metadata" in r.getMessage()]
    assert values(again, "t", 1)[-1] == (9, b"v" * 50)
    again.close()


@pytest.mark.parametrize("content", [GARBAGE, b"version=1\nnode.id=1\n", b"cluster.id=abc\nno equals sign here\n"])
def test_a_damaged_meta_properties_refuses_to_start_in_one_line(tmp_path, content):
    cluster = open_cluster(tmp_path)
    fill(cluster)
    cluster.close()
    (tmp_path / "meta.properties").write_bytes(content)
    before = directory_state(tmp_path)
    with pytest.raises(StartupError) as raised:
        open_cluster(tmp_path)
    message = str(raised.value)
    assert "\n" not in message and str(tmp_path / "meta.properties") in message and "damaged" in message
    assert directory_state(tmp_path) == before  # nothing touched
    (tmp_path / "meta.properties").unlink()
    open_cluster(tmp_path).close()  # without it, a new cluster id


def test_a_second_broker_on_the_directory_is_refused(tmp_path):
    first = open_cluster(tmp_path)
    fill(first)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(StartupError) as raised:
        open_cluster(tmp_path)
    assert str(raised.value) == (
        f"data directory {tmp_path} is in use by another process (lock {tmp_path / '.lock'} is held)"
    )
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    first.close()
    open_cluster(tmp_path).close()  # free again once the first is gone


def _tear_the_metadata_log_end(data_dir, cut=7):
    (segment,) = segment_paths(data_dir / "__cluster_metadata-0")
    os.truncate(segment, segment.stat().st_size - cut)


@pytest.mark.parametrize("clean", [True, False])
def test_a_topic_lost_from_a_torn_metadata_log_is_recovered_from_its_directories(tmp_path, caplog, clean):
    cluster = open_cluster(tmp_path)
    fill(cluster, "kept", partitions=1)
    fill(cluster, "lost", partitions=3, configs={"segment.bytes": "600", "retention.ms": "-1"})
    topic_id = cluster.get("lost").topic_id
    if clean:
        cluster.close()
    else:
        crash(cluster)
    _tear_the_metadata_log_end(tmp_path)  # the last record, creating "lost", is torn
    with caplog.at_level(logging.WARNING):
        again = open_cluster(tmp_path)
    lost = again.get("lost")
    assert lost is not None and lost.topic_id == topic_id and len(lost.partitions) == 3
    assert lost.configs == {}  # the configs went with the record
    assert values(again, "lost", 2)[-1] == (9, b"v" * 50)
    messages = [r.getMessage() for r in caplog.records]
    assert any("Truncated partition __cluster_metadata-0" in m for m in messages), messages
    assert any("Recovered topic lost" in m and "3 partition(s)" in m for m in messages), messages
    again.close()
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        third = open_cluster(tmp_path)  # registered again in the metadata log: no more warnings
    assert third.get("lost").topic_id == topic_id
    assert not [r for r in caplog.records if "Recovered topic" in r.getMessage()]
    third.close()


def test_directories_that_cannot_be_attributed_are_left_alone(tmp_path, caplog):
    cluster = open_cluster(tmp_path)
    fill(cluster, "lost", partitions=2)
    cluster.close()
    _tear_the_metadata_log_end(tmp_path)
    (tmp_path / "lost-1" / "partition.metadata").write_bytes(GARBAGE)
    (tmp_path / "not-a-topic!-0").mkdir()
    before = directory_state(tmp_path / "lost-0")
    with caplog.at_level(logging.WARNING):
        again = open_cluster(tmp_path)
    assert again.get("lost") is None
    assert directory_state(tmp_path / "lost-0") == before
    assert any("Left directories lost-0, lost-1 untouched" in r.getMessage() for r in caplog.records)
    again.close()


def test_producer_ids_in_the_logs_are_never_handed_out_again(tmp_path):
    from kwire.protocol.record_codec import Record, build_batch
    from kwire.protocol.records import parse_header

    cluster = open_cluster(tmp_path)
    cluster.create_topic("t", 1)
    batch = build_batch([Record(0, 0, None, b"x")], producer_id=4_321, producer_epoch=0, base_sequence=0)
    cluster.partition("t", 0).log.append(batch, parse_header(batch))
    cluster.close()
    again = open_cluster(tmp_path)
    assert again.next_producer_id_floor == 4_322
    again.close()


def test_recovery_points_are_saved_every_checkpoint_interval(tmp_path):
    cluster = open_cluster(tmp_path, log_flush_offset_checkpoint_interval_ms=60_000)
    fill(cluster, batches=3)
    clock = ManualClock(monotonic=1_000.0)
    maintenance = LogMaintenance(cluster, clock)
    for partition in cluster.topics["t"].partitions:
        partition.log.recovery_point = 3  # as a flush would have advanced it
    maintenance.tick()
    assert not (tmp_path / RECOVERY_POINT).exists()
    clock.advance(60)
    maintenance.tick()
    assert read_checkpoint(tmp_path, RECOVERY_POINT)[("t", 1)] == 3
    cluster.close()


def test_checkpoint_garbage_of_every_kind_is_reported_not_raised(tmp_path):
    write_checkpoint(tmp_path, RECOVERY_POINT, {("t", 0): 5})
    assert read_checkpoint(tmp_path, RECOVERY_POINT) == {("t", 0): 5}
    for bad in (GARBAGE, b"", b"0\n", b"1\n1\nt 0 5\n", b"0\n2\nt 0 5\n", b"0\n1\nt zero 5\n", b"0\n1\nt 0 -5\n"):
        (tmp_path / RECOVERY_POINT).write_bytes(bad)
        assert read_checkpoint(tmp_path, RECOVERY_POINT) == {}
