"""Committed offsets: Kafka's record formats, group placement, replay."""

from kwire.coordinator.offsets import (
    CommittedOffset,
    OffsetStore,
    java_string_hash,
    offset_key,
    offset_value,
    parse_offset_value,
    partition_for,
)
from kwire.log import PartitionLog
from kwire.log.config import LogConfig
from kwire.log.keyed_records import iter_keyed_records


def test_java_string_hash_matches_java():
    # Values of String.hashCode() as the JVM computes them.
    assert java_string_hash("") == 0
    assert java_string_hash("hello") == 99162322
    assert java_string_hash("polygenelubricants") == -2147483648
    assert java_string_hash("é€😀") == java_string_hash(
        "é€\ud83d\ude00".encode("utf-16", "surrogatepass").decode("utf-16")
    )


def test_partition_for_is_kafkas_abs_mod():
    assert partition_for("polygenelubricants", 50) == 0  # MIN_VALUE & 0x7fffffff == 0
    assert partition_for("hello", 50) == 99162322 % 50
    assert all(0 <= partition_for(f"group-{i}", 7) < 7 for i in range(100))


def test_key_and_value_layout():
    key = offset_key("g", "t", 3)
    assert key == b"\x00\x01" + b"\x00\x01g" + b"\x00\x01t" + b"\x00\x00\x00\x03"
    committed = CommittedOffset(offset=42, leader_epoch=5, metadata="meta", commit_timestamp_ms=1000)
    value = offset_value(committed)
    assert value[:2] == b"\x00\x03"
    assert parse_offset_value(value) == committed


class _Logs:
    def __init__(self, count):
        self.logs = [PartitionLog.in_memory(LogConfig()) for _ in range(count)]
        self.asked = []

    def __call__(self, index):
        self.asked.append(index)
        return self.logs[index]


def test_commits_go_to_the_groups_partition_and_replay():
    logs = _Logs(5)
    store = OffsetStore(5, logs)
    a = CommittedOffset(10, 1, "", 1)
    store.commit("g1", {("t", 0): a, ("t", 1): CommittedOffset(20, -1, "m", 2)})
    store.commit("g1", {("t", 0): CommittedOffset(11, 1, "", 3)})
    store.commit("g2", {("u", 0): a})
    store.delete("g1", [("t", 1), ("never", 9)])
    assert set(logs.asked) == {partition_for("g1", 5), partition_for("g2", 5)}
    replayed = OffsetStore(5, logs)
    replayed.replay(logs.logs)
    assert (
        replayed.offsets
        == store.offsets
        == {
            "g1": {("t", 0): CommittedOffset(11, 1, "", 3)},
            "g2": {("u", 0): a},
        }
    )


def test_deleted_group_leaves_tombstones_and_replays_as_gone():
    logs = _Logs(3)
    store = OffsetStore(3, logs)
    store.commit("g", {("t", 0): CommittedOffset(1, -1, "", 0)})
    store.delete_group("g")
    assert store.committed("g") == {}
    log = logs.logs[partition_for("g", 3)]
    values = [value for _key, value in iter_keyed_records(log)]
    assert values[1:] == [None, None]  # offset tombstone, then group tombstone
    replayed = OffsetStore(3, logs)
    replayed.replay(logs.logs)
    assert replayed.offsets == {}


def test_replay_places_groups_by_the_topic_as_found():
    logs = _Logs(3)
    OffsetStore(3, logs).commit("g", {("t", 0): CommittedOffset(1, -1, "", 0)})
    replayed = OffsetStore(50, logs)  # offsets.topic.num.partitions changed since
    replayed.replay(logs.logs)
    assert replayed.partition_of("g") == partition_for("g", 3)
    assert replayed.committed("g") == {("t", 0): CommittedOffset(1, -1, "", 0)}


def test_a_marker_completes_the_pending_offsets_of_its_own_partition_only():
    store = OffsetStore(2, lambda index: None)
    a, b = (next(g for g in map(str, range(100)) if store.partition_of(g) == p) for p in (0, 1))
    offset = CommittedOffset(1, -1, "", 0)
    store.pending[7] = {a: {("t", 0): offset}, b: {("t", 1): offset}}
    store.complete_transaction(7, True, store.partition_of(a))
    assert store.committed(a) == {("t", 0): offset} and store.committed(b) == {}
    assert store.pending_partitions(b) == {("t", 1)}
    store.complete_transaction(7, False, store.partition_of(b))
    assert store.pending == {} and store.committed(b) == {}
