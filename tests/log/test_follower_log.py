"""A follower's side of the log: batches appended as the leader stored them
(append_replicated), truncation to an offset (truncate_to) and starting
over at the leader's log start (truncate_fully_and_start_at)."""

import errno
import os

import pytest

from kwire.log import OffsetOutOfRange, PartitionLog, cleaner
from kwire.log.config import LogConfig
from kwire.log.leader_epochs import EpochEntry
from kwire.log.producer_state import ProducerStateError
from kwire.log.storage_errors import StorageError
from kwire.log.transaction_index import read_txn_index
from kwire.protocol.records import parse_header
from tests.log.faults import FailingCalls
from tests.log.follower_logs import PID, batch, marker, offsets, put, replicate, stored_batches

SMALL = dict(segment_bytes=300, index_interval_bytes=100)


@pytest.fixture(params=["disk", "memory"])
def make_log(request, tmp_path):
    """make_log(name, **config): a log on disk (in its own directory) or in memory."""
    logs = []

    def opener(name="t-0", **config):
        cfg = LogConfig(**{**SMALL, **config})
        log = PartitionLog.open(tmp_path / name, cfg) if request.param == "disk" else PartitionLog.in_memory(cfg)
        logs.append(log)
        return log

    yield opener
    for log in logs:
        log.close()


def names(directory, suffix):
    return sorted(path.name for path in directory.glob("*" + suffix))


# --- append_replicated -----------------------------------------------------


def test_a_follower_stores_the_leaders_batches_byte_for_byte(make_log):
    leader, follower = make_log("leader-0"), make_log("follower-0")
    put(leader, batch(3), leader_epoch=0)
    put(leader, batch(2), leader_epoch=0)
    put(leader, batch(4), leader_epoch=3)
    put(leader, batch(1), leader_epoch=5)
    replicate(leader, follower)
    assert follower.log_end_offset == leader.log_end_offset == 10
    assert [raw for _h, raw in stored_batches(follower)] == [raw for _h, raw in stored_batches(leader)]
    assert [h.partition_leader_epoch for h, _raw in stored_batches(follower)] == [0, 0, 3, 5]
    assert (
        follower.leader_epochs.entries
        == leader.leader_epochs.entries
        == [
            EpochEntry(0, 0),
            EpochEntry(3, 5),
            EpochEntry(5, 9),
        ]
    )
    assert follower.max_timestamp_and_offset == leader.max_timestamp_and_offset


def test_a_batch_must_start_at_the_log_end(make_log):
    leader, follower = make_log("leader-0"), make_log("follower-0")
    put(leader, batch(2))
    put(leader, batch(2))
    (_first, _), (second, raw) = stored_batches(leader)
    with pytest.raises(ValueError):
        follower.append_replicated(bytearray(raw), second)
    assert follower.log_end_offset == 0


def test_replicated_batches_roll_segments_and_honour_flush_messages(make_log):
    leader = make_log("leader-0")
    follower = make_log("follower-0", flush_messages=1)
    for _ in range(12):
        put(leader, batch(2, value=b"x" * 40))
    replicate(leader, follower)
    assert follower.segment_base_offsets() == leader.segment_base_offsets()
    assert len(follower.segment_base_offsets()) > 2
    assert offsets(follower) == list(range(24))
    if follower.directory is not None:
        assert follower.recovery_point == follower.log_end_offset  # fsynced before each answer


def test_a_follower_knows_its_producers_and_transactions(make_log):
    leader, follower = make_log("leader-0"), make_log("follower-0")
    put(leader, batch(2, pid=PID, seq=0))
    put(leader, batch(2, pid=7, seq=0, transactional=True))  # 2-3, then aborted
    put(leader, batch(2, pid=8, seq=0, transactional=True))  # 4-5, left open
    marker(leader, 7, commit=False)  # 6
    replicate(leader, follower)
    # Become leader: a retry is answered with its offset, a gap is refused.
    assert follower.producer_state.check(parse_header(batch(2, pid=PID, seq=0))).base_offset == 0
    with pytest.raises(ProducerStateError):
        follower.producer_state.check(parse_header(batch(1, pid=PID, seq=5)))
    assert follower.last_stable_offset == 4
    assert follower.transactions.aborted == leader.transactions.aborted
    if follower.directory is not None:
        assert read_txn_index(follower.segments[-1].txn_index_path) == leader.transactions.aborted


def test_a_failed_replicated_append_changes_nothing(tmp_path, monkeypatch):
    leader = PartitionLog.in_memory(LogConfig())
    follower = PartitionLog.open(tmp_path / "t-0", LogConfig())
    put(leader, batch(2))
    put(leader, batch(2))
    (header, raw), (second, raw2) = stored_batches(leader)
    follower.append_replicated(bytearray(raw), header)
    faults = FailingCalls(monkeypatch, "write", ".log", errno.ENOSPC)
    with pytest.raises(StorageError):
        follower.append_replicated(bytearray(raw2), second)
    faults.failing = False
    assert follower.log_end_offset == 2 and follower.offline_reason is None
    follower.append_replicated(bytearray(raw2), second)
    assert offsets(follower) == [0, 1, 2, 3]
    follower.close()


# --- truncate_to -----------------------------------------------------------


def several_segments(log, batches=10, leader_epoch=0):
    for _ in range(batches):
        put(log, batch(3, value=b"x" * 40), leader_epoch)  # about 2 batches per segment
    assert len(log.segment_base_offsets()) >= 4


def test_truncation_to_the_log_end_or_past_it_changes_nothing(make_log):
    log = make_log()
    several_segments(log)
    bases = log.segment_base_offsets()
    log.truncate_to(30)
    log.truncate_to(99)
    assert log.log_end_offset == 30 and log.segment_base_offsets() == bases


def test_truncation_across_segments(make_log):
    log = make_log()
    several_segments(log)
    log.truncate_to(15)
    assert log.log_end_offset == 15
    assert all(base <= 15 for base in log.segment_base_offsets())
    assert offsets(log) == list(range(15))
    with pytest.raises(OffsetOutOfRange):
        log.read(16, 100)
    assert log.read(15, 100) == []
    assert put(log, batch(2)) == 15  # the leader's way goes on from the new end
    assert offsets(log, 12) == [12, 13, 14, 15, 16]
    if log.directory is not None:
        bases = log.segment_base_offsets()
        assert names(log.directory, ".log") == [f"{base:020d}.log" for base in bases]
        assert all(int(name[:20]) <= 17 for name in names(log.directory, ".index") + names(log.directory, ".timeindex"))


def test_truncation_inside_a_batch_drops_the_whole_batch(make_log):
    log = make_log()
    several_segments(log)
    log.truncate_to(16)  # batch 15-17 goes whole
    assert log.log_end_offset == 15
    assert offsets(log, 12) == [12, 13, 14]


def test_truncation_at_a_segment_base_leaves_it_empty_and_active(make_log):
    log = make_log()
    several_segments(log)
    base = log.segment_base_offsets()[2]
    log.truncate_to(base)
    assert log.segment_base_offsets()[-1] == base and log.segments[-1].size == 0
    assert log.log_end_offset == base
    assert put(log, batch(1)) == base


def test_truncation_cuts_the_indexes_and_the_max_timestamp(make_log):
    log = make_log(segment_bytes=10_000, index_interval_bytes=1)
    for i in range(10):
        put(log, batch(1, timestamp=1_000 + i))
    log.truncate_to(4)
    segment = log.segments[-1]
    assert list(segment.offset_index.relative_offsets) == [1, 2, 3]  # an entry per batch but the first
    assert list(segment.time_index.relative_offsets) == [0, 1, 2, 3]
    assert log.max_timestamp_and_offset == (1_003, 3)
    assert log.offset_for_timestamp(1_003) == 3 and log.offset_for_timestamp(1_004) is None


def test_truncated_index_files_match_the_log_after_a_restart(tmp_path):
    config = LogConfig(segment_bytes=10_000, index_interval_bytes=1)
    log = PartitionLog.open(tmp_path / "t-0", config)
    for i in range(10):
        put(log, batch(1, timestamp=1_000 + i))
    log.truncate_to(4)
    log.close()
    assert os.path.getsize(tmp_path / "t-0" / f"{0:020d}.index") == 3 * 8
    assert os.path.getsize(tmp_path / "t-0" / f"{0:020d}.timeindex") == 4 * 12
    again = PartitionLog.open(tmp_path / "t-0", config, clean_shutdown=True)
    assert again.load_report.rebuilt_indexes == 0 and again.log_end_offset == 4
    assert again.offset_for_timestamp(1_003) == 3
    again.close()


def test_truncation_clamps_the_recovery_point_first_dirty_offset_and_high_watermark(make_log):
    log = make_log()
    several_segments(log)
    log.flush()
    log.cleaned_up_to(24)
    log.replicated = True
    log.set_high_watermark(27)
    log.truncate_to(12)
    assert log.log_end_offset == 12
    assert log.high_watermark == 12 and log.first_dirty_offset == 12
    assert log.recovery_point <= 12


def test_truncation_below_the_log_start_inside_the_first_segment_moves_it_down(make_log):
    log = make_log()
    several_segments(log)
    log.advance_log_start(4)
    log.truncate_to(3)  # as Kafka: the log start follows
    assert log.log_start_offset == log.log_end_offset == 3


def test_truncation_keeps_aborted_transactions_below_the_cut_and_reopens_open_ones(make_log):
    log = make_log()
    put(log, batch(2, pid=7, seq=0, transactional=True))  # 0-1
    marker(log, 7, commit=False)  # 2: aborted
    put(log, batch(2, pid=8, seq=0, transactional=True))  # 3-4
    put(log, batch(2))  # 5-6
    marker(log, 8, commit=False)  # 7: aborted
    put(log, batch(2))  # 8-9
    assert log.last_stable_offset == 10 and len(log.transactions.aborted) == 2
    log.truncate_to(7)  # the second abort marker goes: its transaction is open again
    assert [(a.producer_id, a.first_offset, a.last_offset) for a in log.transactions.aborted] == [(7, 0, 2)]
    assert log.transactions.ongoing == {8: 3}
    assert log.last_stable_offset == 3
    if log.directory is not None:
        on_disk = [entry for segment in log.segments for entry in segment.aborted_txns()]
        assert on_disk == log.transactions.aborted
    marker(log, 8, commit=True)
    assert log.last_stable_offset == log.log_end_offset


def test_truncation_rebuilds_idempotent_producer_state(make_log):
    log = make_log()
    for seq in range(0, 20, 2):
        put(log, batch(2, pid=PID, seq=seq, value=b"x" * 30))  # several segments, snapshots at the rolls
    log.truncate_to(9)  # batches of sequences 8-9 (offsets 8-9) go on
    assert log.log_end_offset == 8
    entry = log.producer_state.entries[PID]
    assert (entry.last_seq, entry.last_offset) == (7, 7)
    assert log.producer_state.check(parse_header(batch(2, pid=PID, seq=6))).base_offset == 6  # still a retry
    assert log.producer_state.check(parse_header(batch(2, pid=PID, seq=8))) is None  # next in sequence again
    with pytest.raises(ProducerStateError):
        log.producer_state.check(parse_header(batch(2, pid=PID, seq=12)))
    if log.directory is not None:
        assert all(int(name[:20]) <= 8 for name in names(log.directory, ".snapshot"))


def test_truncation_below_every_batch_of_a_producer_forgets_it(make_log):
    log = make_log()
    put(log, batch(2))
    put(log, batch(2, pid=PID, seq=0))
    log.truncate_to(2)
    assert log.producer_state.entries == {}


def test_truncation_cuts_the_epoch_cache(make_log):
    log = make_log()
    put(log, batch(3), leader_epoch=1)  # 0-2
    put(log, batch(3), leader_epoch=2)  # 3-5
    put(log, batch(3), leader_epoch=2)  # 6-8
    put(log, batch(3), leader_epoch=4)  # 9-11
    log.truncate_to(9)  # epoch 4 started right at the cut: it goes (remove_from)
    assert log.leader_epochs.entries == [EpochEntry(1, 0), EpochEntry(2, 3)]
    log.truncate_to(5)
    assert log.leader_epochs.entries == [EpochEntry(1, 0)]
    assert log.end_offset_for_epoch(1) == (1, 3)


def test_truncation_then_replication_converges_on_the_leader(make_log):
    """The diverging follower: its uncommitted batches of an old epoch go
    and the new leader's take their place."""
    leader, follower = make_log("leader-0"), make_log("follower-0")
    for _ in range(4):
        put(leader, batch(3), leader_epoch=1)
    replicate(leader, follower)
    put(follower, batch(3, pid=PID, seq=0), leader_epoch=1)  # written as leader, never replicated
    put(leader, batch(2, pid=PID, seq=0), leader_epoch=2)  # the new leader's
    put(leader, batch(2), leader_epoch=2)
    follower.truncate_to(leader.leader_epochs.end_offset_for(1, leader.log_end_offset)[1])
    replicate(leader, follower)
    assert [raw for _h, raw in stored_batches(follower)] == [raw for _h, raw in stored_batches(leader)]
    assert follower.leader_epochs.entries == leader.leader_epochs.entries
    assert follower.producer_state.entries[PID].last_offset == 13


@pytest.mark.parametrize("clean", [True, False])
def test_a_truncated_log_reopens_as_it_was(tmp_path, clean):
    # (The default index interval: a one-batch segment over the interval has
    # no offset index file, which start-up reports as rebuilt, truncated or not.)
    config = LogConfig(segment_bytes=300)
    log = PartitionLog.open(tmp_path / "t-0", config)
    put(log, batch(2, pid=7, seq=0, transactional=True), leader_epoch=1)  # 0-1
    marker(log, 7, commit=False, leader_epoch=1)  # 2
    for seq in range(0, 10, 2):
        put(log, batch(2, pid=PID, seq=seq, value=b"x" * 40), leader_epoch=2)  # 3-12
    put(log, batch(2, pid=8, seq=0, transactional=True), leader_epoch=3)  # 13-14
    marker(log, 8, commit=False, leader_epoch=3)  # 15
    log.truncate_to(9)
    expected = (
        log.log_end_offset,
        log.segment_base_offsets(),
        offsets(log),
        log.transactions.aborted,
        log.leader_epochs.entries,
        log.producer_state.entries[PID].last_offset,
    )
    if clean:
        log.close()
    again = PartitionLog.open(tmp_path / "t-0", config, recovery_point=log.recovery_point, clean_shutdown=clean)
    assert again.load_report.truncated is False and again.load_report.rebuilt_indexes == 0
    assert (
        again.log_end_offset,
        again.segment_base_offsets(),
        offsets(again),
        again.transactions.aborted,
        again.leader_epochs.entries,
        again.producer_state.entries[PID].last_offset,
    ) == expected
    assert expected[0] == 9
    assert put(again, batch(2, pid=PID, seq=6), leader_epoch=4) == 9
    again.close()


def test_a_truncation_that_fails_takes_the_partition_offline(disk_log, monkeypatch):
    log = disk_log(**SMALL)
    several_segments(log)
    FailingCalls(monkeypatch, "ftruncate", ".log")
    with pytest.raises(StorageError):
        log.truncate_to(14)
    assert log.offline_reason is not None
    with pytest.raises(StorageError):
        log.truncate_to(3)


def test_a_background_flush_started_before_a_truncation_does_not_move_the_recovery_point(disk_log):
    from kwire.log.flusher import FLUSHER

    log = disk_log(**SMALL)
    several_segments(log)  # rolls queue background flushes up to their bases
    log.truncate_to(4)
    FLUSHER.wait_idle(5)
    FLUSHER.apply_completed()
    assert log.recovery_point <= log.log_end_offset == 3


def test_a_compaction_planned_before_a_truncation_is_not_installed(tmp_path):
    log = PartitionLog.open(
        tmp_path / "t-0", LogConfig(**SMALL, cleanup_policy=frozenset({"compact"}), min_cleanable_dirty_ratio=0)
    )
    several_segments(log)
    work = cleaner.plan(log, now_ms=10**15)
    assert work is not None
    output = cleaner.build(work)
    cleaner.write_cleaned_files(log, output)
    log.truncate_to(20)
    assert cleaner.install(log, work, output) is False
    assert offsets(log) == list(range(18))
    log.close()


# --- truncate_fully_and_start_at ---------------------------------------------


def test_starting_over_at_the_leaders_log_start(make_log):
    log = make_log()
    put(log, batch(2, pid=PID, seq=0), leader_epoch=1)
    put(log, batch(2, pid=7, seq=0, transactional=True), leader_epoch=1)
    several_segments(log, leader_epoch=2)
    log.truncate_fully_and_start_at(100)
    assert (log.log_start_offset, log.log_end_offset, log.segment_base_offsets()) == (100, 100, [100])
    assert log.leader_epochs.entries == [] and log.producer_state.entries == {}
    assert log.transactions.ongoing == {} and log.transactions.aborted == []
    assert log.last_stable_offset == 100 and log.max_timestamp_and_offset == (-1, -1)
    with pytest.raises(OffsetOutOfRange):
        log.read(50, 100)
    leader = make_log("leader-0")
    leader.truncate_fully_and_start_at(100)
    put(leader, batch(2), leader_epoch=5)
    replicate(leader, log)
    assert offsets(log, 100) == [100, 101]
    assert log.leader_epochs.entries == [EpochEntry(5, 100)]
    if log.directory is not None:
        assert names(log.directory, ".log") == [f"{100:020d}.log"]
        assert names(log.directory, ".snapshot") == []


def test_truncation_below_the_first_segment_starts_over(make_log):
    log = make_log()
    several_segments(log)
    log.delete_oldest_segments(2)
    first = log.segment_base_offsets()[0]
    log.truncate_to(first - 1)
    assert log.segment_base_offsets() == [first - 1] and log.log_end_offset == first - 1


def test_a_log_started_over_reopens_there(tmp_path):
    log = PartitionLog.open(tmp_path / "t-0", LogConfig(**SMALL))
    several_segments(log)
    log.truncate_fully_and_start_at(7)
    log.close()
    again = PartitionLog.open(tmp_path / "t-0", LogConfig(**SMALL), clean_shutdown=True)
    assert (again.log_start_offset, again.log_end_offset, again.leader_epochs.entries) == (7, 7, [])
    assert os.path.exists(tmp_path / "t-0" / f"{7:020d}.log")
    again.close()


def test_segments_retention_deferred_while_cleaning_go_with_a_truncation(tmp_path):
    log = PartitionLog.open(tmp_path / "t-0", LogConfig(**SMALL))
    several_segments(log)
    log.start_cleaning()
    log.delete_oldest_segments(2)  # kept on disk while the cleaner reads
    assert len(names(tmp_path / "t-0", ".log")) == len(log.segments) + 2
    log.truncate_fully_and_start_at(0)  # reuses the first deferred segment's name
    log.finish_cleaning()
    assert names(tmp_path / "t-0", ".log") == [f"{0:020d}.log"]
    put(log, batch(2))
    assert offsets(log) == [0, 1]
    log.close()
