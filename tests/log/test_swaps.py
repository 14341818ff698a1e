"""A compaction interrupted by a crash at any step of its swap loses
nothing: start-up either keeps the old segments (the swap was not decided)
or finishes the swap from the `.swap` files."""

import os

import attrs
import pytest

from kwire.clock import ManualClock
from kwire.log import PartitionLog
from kwire.log.cleaner import build, plan, write_cleaned_files
from kwire.log.config import LogConfig
from kwire.protocol.record_codec import iter_all_records
from tests.log.test_cleaner import COMPACT, HOUR_MS, put

CONFIG = LogConfig(cleanup_policy=COMPACT, segment_bytes=130, delete_retention_ms=HOUR_MS)


def latest_values(log):
    """key -> (offset, value) of the last record of each key, and every offset in order."""
    data = b"".join(bytes(c) for s in log.segments for c in s.store.read(0, s.size))
    records = list(iter_all_records(data))
    offsets = [r.offset for r in records]
    assert offsets == sorted(set(offsets))
    return {r.key: (r.offset, r.value) for r in records}


def a_log_and_its_cleaning(directory):
    log = PartitionLog.open(directory, CONFIG, clock=ManualClock(wall_ms=100 * HOUR_MS))
    for i in range(12):
        put(log, [(b"k%d" % (i % 3), b"v%d" % i), (b"x%d" % i, b"once")])
    expected = latest_values(log)
    log.reconfigure(attrs.evolve(CONFIG, segment_bytes=10_000))  # so that the cleaner merges segments
    work = plan(log, 100 * HOUR_MS)
    output = build(work)
    write_cleaned_files(log, output)
    assert len(work.segments) > len(output.groups) >= 1  # segments were merged
    return log, work, output, expected


def stems(directory, work):
    return [str(directory / f"{s.base_offset:020d}") for s in work.segments]


def crash_cleaned_written(directory, work, output):
    pass  # the .cleaned files exist, nothing else happened


def crash_swap_decided(directory, work, output):
    for base, _ in output.groups:
        stem = str(directory / f"{base:020d}.log")
        os.replace(stem + ".cleaned", stem + ".swap")


def crash_old_segments_half_deleted(directory, work, output):
    crash_swap_decided(directory, work, output)
    for stem in stems(directory, work)[::2]:
        for suffix in (".log", ".index", ".timeindex"):
            if os.path.exists(stem + suffix):
                os.unlink(stem + suffix)


def crash_old_segments_deleted(directory, work, output):
    crash_swap_decided(directory, work, output)
    for stem in stems(directory, work):
        for suffix in (".log", ".index", ".timeindex"):
            if os.path.exists(stem + suffix):
                os.unlink(stem + suffix)


@pytest.mark.parametrize(
    "crash", [crash_cleaned_written, crash_swap_decided, crash_old_segments_half_deleted, crash_old_segments_deleted]
)
def test_an_interrupted_swap_loses_nothing(tmp_path, crash):
    directory = tmp_path / "c-0"
    log, work, output, expected = a_log_and_its_cleaning(directory)
    end = log.log_end_offset
    crash(directory, work, output)  # ... and the process dies: the old log object is never closed
    reopened = PartitionLog.open(directory, CONFIG)
    assert latest_values(reopened) == expected
    assert reopened.log_end_offset == end
    assert not [name for name in os.listdir(directory) if name.endswith((".cleaned", ".swap"))]
    if crash is not crash_cleaned_written:  # the decided swap was finished: the log is compacted
        assert len(reopened.segments) == len(log.segments) - len(work.segments) + len(output.groups)
    reopened.close()
