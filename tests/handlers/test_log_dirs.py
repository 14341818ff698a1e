"""DescribeLogDirs (35) and AlterReplicaLogDirs (34), driven in-process."""

import pytest

from kwire.protocol.errors import ErrorCode
from tests.core_client import CoreClient, make_core
from tests.handlers import requests as rq

pytestmark = pytest.mark.timeout(60)

DESCRIBE_LOG_DIRS, ALTER_REPLICA_LOG_DIRS = 35, 34


@pytest.fixture
def two_dirs(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    core = make_core(a, other_log_dirs=(b,))
    yield CoreClient(core), a, b
    core.close()


def create(client, name, partitions=1):
    (topic,) = client.call(19, 7, rq.create(name, partitions)).topics
    assert topic.error_code == ErrorCode.none


def produce(client, topic, partition, count):
    response = client.call(0, 9, rq.produce(topic, partition, rq.batch(*[b"v"] * count)))
    assert response.responses[0].partition_responses[0].error_code == ErrorCode.none


def describe(client, topics=None, version=4):
    request = dict(topics=None if topics is None else [dict(topic=t, partitions=p) for t, p in topics.items()])
    response = client.call(DESCRIBE_LOG_DIRS, version, request)
    assert getattr(response, "error_code", ErrorCode.none) == ErrorCode.none  # (v3+)
    return {
        result.log_dir: {
            (topic.name, p.partition_index, p.is_future_key): p.partition_size
            for topic in result.topics
            for p in topic.partitions
        }
        for result in response.results
    }, response


def alter(client, moves, version=2):
    """moves: {path: {topic: [partitions]}} -> {(topic, partition): error}"""
    dirs = [
        dict(path=str(path), topics=[dict(name=t, partitions=list(p)) for t, p in topics.items()])
        for path, topics in moves.items()
    ]
    response = client.call(ALTER_REPLICA_LOG_DIRS, version, dict(dirs=dirs))
    return {(t.topic_name, p.partition_index): p.error_code for t in response.results for p in t.partitions}


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_describe_log_dirs_answers_each_directory(two_dirs, version):
    client, a, b = two_dirs
    create(client, "t", 2)
    produce(client, "t", 1, 5)
    by_dir, response = describe(client, version=version)
    assert set(by_dir) == {str(a), str(b)}
    assert by_dir[str(a)] == {("t", 0, False): 0}
    assert by_dir[str(b)][("t", 1, False)] > 0
    if version >= 4:
        assert all(r.total_bytes > 0 and 0 <= r.usable_bytes <= r.total_bytes for r in response.results)
    # asked for one partition: the other directory answers with no topic
    by_dir, _ = describe(client, {"t": [1], "missing": [0]}, version=version)
    assert by_dir == {
        str(a): {},
        str(b): {("t", 1, False): by_dir[str(b)][("t", 1, False)]},
    }


def test_describe_log_dirs_in_memory_is_one_memory_directory():
    core = make_core(None)
    client = CoreClient(core)
    create(client, "t", 1)
    by_dir, response = describe(client)
    assert by_dir == {"(memory)": {("t", 0, False): 0}}
    assert response.results[0].total_bytes == -1
    assert alter(client, {"/anywhere": {"t": [0]}}) == {("t", 0): ErrorCode.log_dir_not_found}
    core.close()


@pytest.mark.parametrize("version", [1, 2])
def test_alter_replica_log_dirs_moves_a_partition(two_dirs, version):
    client, a, b = two_dirs
    create(client, "t", 2)
    produce(client, "t", 0, 7)
    assert alter(client, {b: {"t": [0]}}, version) == {("t", 0): ErrorCode.none}
    by_dir, _ = describe(client)
    assert set(by_dir[str(b)]) == {("t", 0, False), ("t", 1, False)}  # no future replica after the move
    assert by_dir[str(a)] == {}
    part = client.call(1, 12, rq.fetch("t", 0, 0)).responses[0].partitions[0]
    assert part.error_code == ErrorCode.none and part.high_watermark == 7
    produce(client, "t", 0, 1)
    # its own directory: nothing to do
    assert alter(client, {b: {"t": [0]}}, version) == {("t", 0): ErrorCode.none}
    assert client.core.state.cluster.log_dir_of(client.core.state.cluster.partition("t", 0)) == b


def test_alter_replica_log_dirs_errors_are_kafkas(two_dirs):
    client, a, b = two_dirs
    create(client, "t", 1)
    answers = alter(client, {"/not/configured": {"t": [0]}, b: {"t": [5], "nope": [0]}})
    assert answers == {
        ("t", 0): ErrorCode.log_dir_not_found,
        ("t", 5): ErrorCode.unknown_topic_or_partition,
        ("nope", 0): ErrorCode.unknown_topic_or_partition,
    }
    # as in Kafka, the absolute path as DescribeLogDirs shows it, nothing else
    assert alter(client, {"b": {"t": [0]}, f"{b}/../b": {"t": [0]}}) == {("t", 0): ErrorCode.log_dir_not_found}
    long_name = "x" * 249
    create(client, long_name, 1)
    assert alter(client, {b: {long_name: [0]}}) == {(long_name, 0): ErrorCode.invalid_topic_exception}


def test_a_move_waiting_for_the_cleaner_shows_a_future_replica(two_dirs):
    client, a, b = two_dirs
    create(client, "t", 1)
    produce(client, "t", 0, 3)
    cluster = client.core.state.cluster
    log = cluster.partition("t", 0).log
    log.start_cleaning()
    assert alter(client, {b: {"t": [0]}}) == {("t", 0): ErrorCode.none}
    by_dir, response = describe(client)
    assert ("t", 0, False) in by_dir[str(a)]
    assert by_dir[str(b)] == {("t", 0, True): 0}
    (future,) = [p for r in response.results for t in r.topics for p in t.partitions if p.is_future_key]
    assert future.offset_lag == 3
    log.finish_cleaning()
    cluster.complete_pending_moves()
    by_dir, _ = describe(client)
    assert by_dir[str(a)] == {} and set(by_dir[str(b)]) == {("t", 0, False)}


def test_committed_offsets_survive_a_move_of_their_consumer_offsets_partition(tmp_path):
    from tests.handlers.test_groups_and_offsets import OFFSET_COMMIT, OFFSET_FETCH, commit_values, fetch_values

    a, b = tmp_path / "a", tmp_path / "b"
    core = make_core(a, other_log_dirs=(b,))
    client = CoreClient(core)
    create(client, "t", 2)
    client.call(OFFSET_COMMIT, 8, commit_values("g", -1, "", {("t", 1): (10, "m10")}))
    cluster = core.cluster
    offsets = cluster.get("__consumer_offsets")
    # spread like every other topic: 50 partitions, after t's two (a, b): 25 each
    assert cluster.partition_counts() == {a: 26, b: 26}
    index = core.state.groups.offsets.partition_of("g")  # the partition holding g's offsets
    other = a if cluster.log_dir_of(offsets.partitions[index]) == b else b
    assert alter(client, {other: {"__consumer_offsets": [index]}}) == {("__consumer_offsets", index): ErrorCode.none}
    assert cluster.log_dir_of(offsets.partitions[index]) == other
    client.call(OFFSET_COMMIT, 8, commit_values("g", -1, "", {("t", 1): (11, "m11")}))
    core.close()
    core = make_core(a, other_log_dirs=(b,))
    client = CoreClient(core)
    part = client.call(OFFSET_FETCH, 7, fetch_values("g", {"t": [1]})).topics[0].partitions[0]
    assert (part.committed_offset, part.metadata) == (11, "m11")
    core.close()
