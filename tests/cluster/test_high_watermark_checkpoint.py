"""The high watermarks in each log directory's replication-offset-checkpoint:
written with the recovery points, read back at start-up."""

from kwire.cluster.cluster import Cluster
from kwire.cluster.offset_checkpoint import REPLICATION, read_checkpoint
from kwire.config import BrokerConfig
from tests.log.follower_logs import batch, put


def test_high_watermarks_are_checkpointed_and_restored(tmp_path):
    cluster = Cluster(BrokerConfig(data_dir=tmp_path))
    cluster.create_topic("t", 2)
    plain, replicated = cluster.partition("t", 0).log, cluster.partition("t", 1).log
    put(plain, batch(3))
    replicated.replicated = True
    put(replicated, batch(5))
    replicated.set_high_watermark(2)
    cluster.close()
    assert read_checkpoint(tmp_path, REPLICATION) == {("t", 0): 3, ("t", 1): 2}
    again = Cluster(BrokerConfig(data_dir=tmp_path))
    restored = again.partition("t", 1).log
    assert restored.high_watermark == 5  # not replicated (yet): the log end
    restored.replicated = True
    assert restored.high_watermark == 2  # what the checkpoint said
    again.close()


def test_a_checkpointed_high_watermark_past_the_log_end_is_clamped(tmp_path):
    cluster = Cluster(BrokerConfig(data_dir=tmp_path))
    cluster.create_topic("t", 1)
    put(cluster.partition("t", 0).log, batch(4))
    cluster.close()
    (tmp_path / REPLICATION).write_text("0\n1\nt 0 99\n")
    again = Cluster(BrokerConfig(data_dir=tmp_path))
    partition_log = again.partition("t", 0).log
    partition_log.replicated = True
    assert partition_log.high_watermark == 4
    again.close()


def test_a_moved_partition_keeps_its_high_watermark(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    cluster = Cluster(BrokerConfig(port=0, data_dir=a, other_log_dirs=(b,)))
    cluster.create_topic("t", 1)
    partition_log = cluster.partition("t", 0).log
    partition_log.replicated = True
    put(partition_log, batch(4))
    partition_log.set_high_watermark(3)
    target = b if partition_log.directory.parent == a else a
    assert cluster.move_partition("t", 0, target) is True
    moved = cluster.partition("t", 0).log
    assert moved.directory.parent == target
    assert moved.replicated and moved.high_watermark == 3
    cluster.close()
