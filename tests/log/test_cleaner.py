"""Compaction: latest value per key, offsets preserved, tombstones kept for
delete.retention.ms, the lag and dirty-ratio rules, merged segments, and
transactions (committed compact, aborted go, nothing past the LSO)."""

import attrs
import pytest

from kwire.clock import ManualClock
from kwire.log import PartitionLog
from kwire.log.cleaner import build, install, plan, write_cleaned_files
from kwire.log.config import LogConfig
from kwire.protocol.control_batches import build_marker
from kwire.protocol.record_codec import GZIP, Record, build_batch, iter_all_records
from kwire.protocol.records import parse_header

HOUR_MS = 3600_000
COMPACT = frozenset({"compact"})


@pytest.fixture(params=["disk", "memory"])
def make_log(request, tmp_path):
    def make(**config):
        cfg = LogConfig(cleanup_policy=COMPACT, **config)
        clock = ManualClock(wall_ms=make.now)
        return (
            PartitionLog.open(tmp_path / "c-0", cfg, clock=clock)
            if request.param == "disk"
            else PartitionLog.in_memory(cfg, clock)
        )

    make.now = 100 * HOUR_MS
    return make


def put(log, pairs, timestamp=HOUR_MS, compression=0):
    """One batch of (key, value) records; value None is a tombstone."""
    records = [Record(offset_delta=i, timestamp_delta=0, key=k, value=v) for i, (k, v) in enumerate(pairs)]
    batch = build_batch(records, base_timestamp=timestamp, compression=compression)
    log.append(batch, parse_header(batch))


def everything(log):
    data = b"".join(bytes(c) for s in log.segments for c in s.store.read(0, s.size))
    return [(r.offset, r.key, r.value) for r in iter_all_records(data)]


def clean(log, now_ms):
    work = plan(log, now_ms)
    if work is None:
        return None
    output = build(work)
    if log.directory is not None:
        write_cleaned_files(log, output)
    assert install(log, work, output)
    return output


def test_latest_value_per_key_and_offsets_kept(make_log):
    log = make_log(segment_bytes=60, delete_retention_ms=HOUR_MS)  # a segment per batch
    put(log, [(b"a", b"1"), (b"b", b"1")])
    put(log, [(b"a", b"2")])
    put(log, [(b"c", b"1"), (b"b", b"2")], compression=GZIP)
    put(log, [(b"a", b"3")])
    put(log, [(b"z", b"active")])  # the active segment is never cleaned
    before_end = log.log_end_offset
    output = clean(log, make_log.now)
    assert output.records_removed == 3
    assert everything(log) == [(3, b"c", b"1"), (4, b"b", b"2"), (5, b"a", b"3"), (6, b"z", b"active")]
    assert log.log_end_offset == before_end and log.log_start_offset == 0
    # Reading from any offset in a gap lands on the next surviving record.
    data = b"".join(bytes(c) for c in log.read(0, 1 << 20))
    assert [r.offset for r in iter_all_records(data)][0] == 3
    data = b"".join(bytes(c) for c in log.read(1, 1 << 20))
    assert [r.offset for r in iter_all_records(data)][0] == 3


def test_tombstones_stay_for_delete_retention_then_go(make_log):
    log = make_log(segment_bytes=120, delete_retention_ms=HOUR_MS)
    put(log, [(b"a", b"1")], timestamp=10 * HOUR_MS)
    put(log, [(b"a", None)], timestamp=10 * HOUR_MS)
    put(log, [(b"b", b"1")], timestamp=10 * HOUR_MS)
    put(log, [(b"live", b"x")], timestamp=10 * HOUR_MS)
    clean(log, 10 * HOUR_MS + 1)
    assert (1, b"a", None) in everything(log) and (0, b"a", b"1") not in everything(log)
    log.restore_first_dirty_offset(0)  # a later pass over the same data
    clean(log, 11 * HOUR_MS + 1)
    assert [k for _o, k, _v in everything(log)] == [b"b", b"live"]


def test_min_compaction_lag_keeps_young_segments_dirty(make_log):
    log = make_log(segment_bytes=120, min_compaction_lag_ms=HOUR_MS)
    put(log, [(b"a", b"1")], timestamp=HOUR_MS)
    put(log, [(b"a", b"2")], timestamp=50 * HOUR_MS)
    put(log, [(b"a", b"3")], timestamp=50 * HOUR_MS)
    assert plan(log, 50 * HOUR_MS + 1).segments == (log.segments[0],)
    assert plan(log, 51 * HOUR_MS + 1).segments == tuple(log.segments[:2])


def test_dirty_ratio_gates_cleaning(make_log):
    log = make_log(segment_bytes=120, min_cleanable_dirty_ratio=0.9)
    for i in range(4):
        put(log, [(b"k", b"%d" % i)])
    assert plan(log, make_log.now) is not None  # all dirty at first
    clean(log, make_log.now)
    put(log, [(b"k", b"new")])
    put(log, [(b"k", b"newer")])
    assert plan(log, make_log.now) is None  # a small dirty share now


def test_small_cleaned_segments_are_merged(make_log):
    log = make_log(segment_bytes=100)
    for i in range(6):
        put(log, [(b"k%d" % (i % 2), b"v%d" % i)])
    assert len(log.segments) == 6
    log.reconfigure(attrs.evolve(log.config, segment_bytes=1000))
    clean(log, make_log.now)
    # The active segment is not looked at: k1's v3 survives until v5's segment is closed.
    assert everything(log) == [(3, b"k1", b"v3"), (4, b"k0", b"v4"), (5, b"k1", b"v5")]
    assert len(log.segments) == 2  # five cleaned segments merged into one


def test_install_backs_off_when_retention_moved_the_log(make_log):
    log = make_log(segment_bytes=100)
    for i in range(4):
        put(log, [(b"k", b"%d" % i)])
    work = plan(log, make_log.now)
    output = build(work)
    if log.directory is not None:
        write_cleaned_files(log, output)
    log.delete_oldest_segments(1)
    assert not install(log, work, output)
    assert [v for _o, _k, v in everything(log)] == [b"1", b"2", b"3"]


def test_cleaned_log_reopens(tmp_path):
    log = PartitionLog.open(tmp_path / "c-0", LogConfig(cleanup_policy=COMPACT, segment_bytes=100))
    for i in range(5):
        put(log, [(b"k", b"%d" % i)])
    clean(log, 100 * HOUR_MS)
    log.close()
    again = PartitionLog.open(tmp_path / "c-0", LogConfig(cleanup_policy=COMPACT, segment_bytes=100))
    assert [(o, v) for o, _k, v in everything(again)] == [(3, b"3"), (4, b"4")]
    assert again.log_end_offset == 5
    assert not list((tmp_path / "c-0").glob("*.cleaned"))


def put_txn(log, producer_id, pairs, sequence, timestamp=HOUR_MS):
    records = [Record(offset_delta=i, timestamp_delta=0, key=k, value=v) for i, (k, v) in enumerate(pairs)]
    batch = build_batch(
        records,
        base_timestamp=timestamp,
        producer_id=producer_id,
        producer_epoch=0,
        base_sequence=sequence,
        is_transactional=True,
    )
    log.append(batch, parse_header(batch))


def end_txn(log, producer_id, commit, timestamp=HOUR_MS):
    marker = build_marker(producer_id, 0, commit, timestamp)
    log.append(marker, parse_header(marker))


def test_committed_transactions_compact_and_aborted_ones_go(make_log):
    log = make_log(segment_bytes=60, delete_retention_ms=HOUR_MS)
    put(log, [(b"a", b"plain-1")])  # 0
    put_txn(log, 7, [(b"a", b"committed")], 0)  # 1
    put_txn(log, 8, [(b"b", b"aborted")], 0)  # 2
    end_txn(log, 7, commit=True)  # 3
    end_txn(log, 8, commit=False)  # 4
    put(log, [(b"b", b"plain-2")])  # 5
    put(log, [(b"z", b"active")])  # 6
    clean(log, make_log.now)
    kept = everything(log)
    data = [(offset, key, value) for offset, key, value in kept if key in (b"a", b"b", b"z")]
    assert data == [(1, b"a", b"committed"), (5, b"b", b"plain-2"), (6, b"z", b"active")]
    # The commit marker stays (its transaction's record does); the old abort
    # marker goes with the last of its transaction's records.
    assert [offset for offset, *_ in kept if offset in (3, 4)] == [3]
    assert [(a.producer_id, a.first_offset) for a in log.transactions.aborted] == [(8, 2)]


@pytest.mark.parametrize("marker_age_ms,marker_stays", [(2 * HOUR_MS, False), (HOUR_MS // 2, True)])
def test_a_marker_with_nothing_left_goes_after_delete_retention(make_log, marker_age_ms, marker_stays):
    log = make_log(segment_bytes=60, delete_retention_ms=HOUR_MS)
    put_txn(log, 7, [(b"a", b"committed")], 0)  # 0
    end_txn(log, 7, commit=True, timestamp=make_log.now - marker_age_ms)  # 1
    put(log, [(b"a", b"newer")])  # 2: supersedes 0
    put(log, [(b"z", b"active")])  # 3
    clean(log, make_log.now)
    assert [o for o, *_ in everything(log)] == ([1, 2, 3] if marker_stays else [2, 3])


def test_an_aborted_transaction_loses_even_its_latest_values(make_log):
    log = make_log(segment_bytes=60, delete_retention_ms=HOUR_MS)
    put(log, [(b"a", b"kept")])
    put_txn(log, 7, [(b"a", b"aborted")], 0)
    end_txn(log, 7, commit=False)
    put(log, [(b"z", b"active")])
    clean(log, make_log.now)
    assert [(o, k, v) for o, k, v in everything(log) if k in (b"a", b"z")] == [(0, b"a", b"kept"), (3, b"z", b"active")]


def test_nothing_at_or_after_an_open_transaction_is_cleaned(make_log):
    log = make_log(segment_bytes=60, delete_retention_ms=HOUR_MS)
    put(log, [(b"a", b"1")])  # 0
    put(log, [(b"a", b"2")])  # 1
    put_txn(log, 7, [(b"b", b"open")], 0)  # 2: never ended
    put(log, [(b"a", b"3")])  # 3
    put(log, [(b"b", b"4")])  # 4
    put(log, [(b"z", b"active")])  # 5
    assert log.last_stable_offset == 2
    clean(log, make_log.now)
    assert [o for o, *_ in everything(log)] == [1, 2, 3, 4, 5]  # only below the LSO: offset 0 went


def test_cleaned_files_the_disk_refuses_are_not_left_behind(tmp_path, monkeypatch):
    import errno

    from tests.log.faults import FailingCalls

    log = PartitionLog.open(tmp_path / "c-0", LogConfig(cleanup_policy=COMPACT, segment_bytes=100))
    for i in range(5):
        put(log, [(b"k", b"%d" % i)])
    work = plan(log, 100 * HOUR_MS)
    output = build(work)
    FailingCalls(monkeypatch, "fsync", ".log.cleaned", errno.ENOSPC)
    with pytest.raises(OSError):
        write_cleaned_files(log, output)
    assert not list((tmp_path / "c-0").glob("*.cleaned"))  # they would only take space
    assert [v for _o, _k, v in everything(log)] == [b"0", b"1", b"2", b"3", b"4"]
    log.close()


def test_the_cleaners_swap_is_fsynced(tmp_path, monkeypatch):
    from tests.log.faults import SyncEvents

    log = PartitionLog.open(tmp_path / "c-0", LogConfig(cleanup_policy=COMPACT, segment_bytes=100))
    for i in range(5):
        put(log, [(b"k", b"%d" % i)])
    syncs = SyncEvents(monkeypatch)
    clean(log, 100 * HOUR_MS)
    stem = str(tmp_path / "c-0" / "00000000000000000000.log")
    to_swap = syncs.events.index(("replace", stem + ".cleaned", stem + ".swap"))
    to_log = syncs.events.index(("replace", stem + ".swap", stem))
    assert ("fsync", stem + ".cleaned") in syncs.events[:to_swap]  # the new segment's bytes first
    assert ("fsync", str(tmp_path / "c-0")) in syncs.events[to_swap:to_log]  # the swap decided durably
    assert ("fsync", str(tmp_path / "c-0")) in syncs.events[to_log:]  # then its final name
    log.close()
