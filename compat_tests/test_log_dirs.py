"""Several log directories (`log.dirs=a,b`): kwire started as a user starts
it, partitions placed across the directories, DescribeLogDirs and
AlterReplicaLogDirs through kafka-python's admin client (confluent-kafka's
AdminClient has neither call), records produced and consumed by
confluent-kafka, kafka-python and aiokafka before and after a move and a
restart."""

from __future__ import annotations

import subprocess
import sys

import pytest

from compat_tests.broker import KwireProcess
from compat_tests.clients import Outgoing, consume, create_topic, produce

pytestmark = pytest.mark.timeout(120)

NODE_ID = 1


@pytest.fixture
def two_dirs(tmp_path):
    """start(how) -> a kwire serving log dirs a and b, given by `-o log.dirs` or KAFKA_LOG_DIRS."""
    a, b = (tmp_path / "a").resolve(), (tmp_path / "b").resolve()
    started: list[KwireProcess] = []

    def start(how: str = "option") -> KwireProcess:
        setting = f"{a},{b}"
        args, env = ["--port", "0"], {}
        if how == "option":
            args += ["-o", f"log.dirs={setting}"]
        else:
            env["KAFKA_LOG_DIRS"] = setting
        broker = KwireProcess(None, tmp_path / f"kwire{len(started)}.log", args, env=env, bare=True)
        started.append(broker)
        return broker.start()

    yield start, a, b
    for broker in started:
        broker.kill()  # only the processes this fixture started, by their pid


def outgoing(tag: str, count: int, partition: int) -> list[Outgoing]:
    return [Outgoing(b"k%d" % i, f"{tag}-{i}".encode(), partition=partition) for i in range(count)]


def describe(bootstrap: str) -> dict[str, dict[tuple[str, int], tuple[int, bool]]]:
    """kafka-python's describe_log_dirs -> {log dir: {(topic, partition): (size, is future)}}."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        (broker,) = admin.describe_log_dirs()
    finally:
        admin.close()
    assert broker["broker"] == NODE_ID
    found = {}
    for log_dir in broker["log_dirs"]:
        assert log_dir["error_code"] == 0
        found[log_dir["log_dir"]] = {
            (topic["name"], p["partition_index"]): (p["partition_size"], p["is_future_key"])
            for topic in log_dir["topics"]
            for p in topic["partitions"]
        }
    return found


def alter(bootstrap: str, moves: dict[tuple[str, int], str]) -> dict[tuple[str, int], str]:
    """kafka-python's alter_replica_log_dirs -> {(topic, partition): error class name}."""
    from kafka import KafkaAdminClient, TopicPartitionReplica

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        answers = admin.alter_replica_log_dirs(
            {TopicPartitionReplica(topic, partition, NODE_ID): path for (topic, partition), path in moves.items()}
        )
    finally:
        admin.close()
    return {(tpr.topic, tpr.partition): error.__name__ for tpr, error in answers.items()}


def values(messages) -> list[bytes]:
    return [m.value for m in messages]


def test_each_log_dir_is_a_kafka_log_dir_and_the_first_holds_the_metadata_log(two_dirs):
    start, a, b = two_dirs
    start()
    # (a kwire without several log directories refuses `log.dirs=a,b`)
    assert (a / "meta.properties").exists() and (b / "meta.properties").exists()
    assert (a / "__cluster_metadata-0").is_dir() and not (b / "__cluster_metadata-0").exists()


def test_a_partition_moved_between_log_dirs_keeps_every_record(two_dirs, topic_name):
    start, a, b = two_dirs
    broker = start()
    create_topic("confluent-kafka", broker.bootstrap, topic_name, partitions=2)
    first = produce("confluent-kafka", broker.bootstrap, topic_name, outgoing("before", 100, 0))
    assert [offset for _p, offset in first] == list(range(100))
    layout = describe(broker.bootstrap)
    assert set(layout) == {str(a), str(b)}
    # the fewest partitions first, the first directory on a tie
    assert layout[str(a)][(topic_name, 0)][0] > 100 * 10 and (topic_name, 1) in layout[str(b)]
    assert (a / f"{topic_name}-0").is_dir() and (b / f"{topic_name}-1").is_dir()

    assert alter(broker.bootstrap, {(topic_name, 0): str(b)}) == {(topic_name, 0): "NoError"}
    layout = describe(broker.bootstrap)
    assert (topic_name, 0) not in layout[str(a)]
    size, future = layout[str(b)][(topic_name, 0)]
    assert size > 100 * 10 and not future  # moved at once: no future replica left
    assert not (a / f"{topic_name}-0").exists() and (b / f"{topic_name}-0").is_dir()
    assert "Moved " in broker.log_path.read_text()

    second = produce("kafka-python", broker.bootstrap, topic_name, outgoing("after", 50, 0))
    assert [offset for _p, offset in second] == list(range(100, 150))
    expected = [f"before-{i}".encode() for i in range(100)] + [f"after-{i}".encode() for i in range(50)]
    assert values(consume("confluent-kafka", broker.bootstrap, topic_name, [0], 150)) == expected
    assert values(consume("kafka-python", broker.bootstrap, topic_name, [0], 150)) == expected

    assert broker.stop() == 0
    broker.start()
    assert values(consume("aiokafka", broker.bootstrap, topic_name, [0], 150)) == expected
    assert values(consume("confluent-kafka", broker.bootstrap, topic_name, [0], 150)) == expected
    layout = describe(broker.bootstrap)
    assert (topic_name, 0) in layout[str(b)] and (topic_name, 0) not in layout[str(a)]
    third = produce("confluent-kafka", broker.bootstrap, topic_name, outgoing("restarted", 1, 0))
    assert third == [(0, 150)]
    # and back again, then read through a restart once more
    assert alter(broker.bootstrap, {(topic_name, 0): str(a)}) == {(topic_name, 0): "NoError"}
    assert broker.stop() == 0
    broker.start()
    assert values(consume("kafka-python", broker.bootstrap, topic_name, [0], 151)) == expected + [b"restarted-0"]
    assert (topic_name, 0) in describe(broker.bootstrap)[str(a)]


def test_alter_replica_log_dirs_answers_kafkas_errors(two_dirs, topic_name, tmp_path):
    start, a, b = two_dirs
    broker = start("environment")  # KAFKA_LOG_DIRS
    create_topic("kafka-python", broker.bootstrap, topic_name, partitions=1)
    assert set(describe(broker.bootstrap)) == {str(a), str(b)}
    answers = alter(
        broker.bootstrap,
        {
            (topic_name, 0): str(tmp_path / "elsewhere"),
            (topic_name, 7): str(b),
        },
    )
    assert answers == {(topic_name, 0): "LogDirNotFoundError", (topic_name, 7): "UnknownTopicOrPartitionError"}
    # its own directory: nothing to do, and no error
    assert alter(broker.bootstrap, {(topic_name, 0): str(a)}) == {(topic_name, 0): "NoError"}
    assert (a / f"{topic_name}-0").is_dir()


def run_serve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kwire", "serve", "--port", "0", *args], capture_output=True, text=True, timeout=30
    )


def test_an_unusable_log_dir_stops_start_up_in_one_line_naming_it(tmp_path):
    a, not_a_dir = tmp_path / "a", tmp_path / "file"
    not_a_dir.write_text("x")
    result = run_serve("-o", f"log.dirs={a},{not_a_dir}")
    assert result.returncode == 1 and result.stdout == "" and "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert str(not_a_dir) in line and "not a directory" in line
    assert not a.exists()  # nothing created before every directory is known usable
    # a directory given twice
    result = run_serve("-o", f"log.dirs={a},{a}/")
    assert result.returncode == 1 and "duplicate log directory" in result.stderr and "Traceback" not in result.stderr


def test_log_dirs_of_two_clusters_refuse_to_start_in_one_line(two_dirs, tmp_path):
    start, a, b = two_dirs
    start().stop()
    other = tmp_path / "other"
    broker = KwireProcess(other, tmp_path / "other.log", ["--port", "0"])
    try:
        broker.start()
        assert broker.stop() == 0
    finally:
        broker.kill()  # (only if it is still running)
    result = run_serve("-o", f"log.dirs={a},{other}")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert str(other) in line and str(a) in line and "cluster" in line
