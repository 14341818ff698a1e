"""Indexes that are missing or inconsistent are rebuilt from the log at
start-up, after clean and unclean shutdowns alike, with a warning; no lookup
ever answers from a bad index."""

import logging
import struct

import pytest

from kwire.log import PartitionLog
from kwire.log.config import LogConfig
from tests.log.segment_files import segment_paths, write_log

CONFIG = LogConfig(segment_bytes=2_000, index_interval_bytes=200)
BATCHES = 40  # of 3 records each, timestamps 1000 + 10 * batch number + record number


def first_record_timestamp(batch_number: int) -> int:
    return 1_000 + 10 * batch_number


def _entries(path, fmt):
    return [list(e) for e in struct.iter_unpack(fmt, path.read_bytes())]


def _write(path, fmt, entries):
    path.write_bytes(b"".join(struct.pack(fmt, *e) for e in entries))


def damage(segment_log, kind):
    index, timeindex = segment_log.with_suffix(".index"), segment_log.with_suffix(".timeindex")
    size = segment_log.stat().st_size
    if kind == "time index deleted":
        timeindex.unlink()
    elif kind == "offset index deleted":
        index.unlink()
    elif kind == "offset index ragged":
        index.write_bytes(index.read_bytes() + b"\x00\x01\x02")
    elif kind == "time index emptied":
        timeindex.write_bytes(b"")
    elif kind == "offset entries out of order":
        entries = _entries(index, ">ii")
        entries[0], entries[1] = entries[1], entries[0]
        _write(index, ">ii", entries)
    elif kind == "offset position past the log":
        entries = _entries(index, ">ii")
        entries[-1][1] = size + 100
        _write(index, ">ii", entries)
    elif kind == "offset entry names the wrong batch":
        entries = _entries(index, ">ii")
        entries[-1][0] -= 1  # names an offset of the batch before the one it points at
        assert entries[-1][0] > entries[-2][0]
        _write(index, ">ii", entries)
    elif kind == "time entry past the segment":
        entries = _entries(timeindex, ">qi")
        entries[-1][1] += 1_000
        _write(timeindex, ">qi", entries)
    elif kind == "time entry names the wrong timestamp":
        entries = _entries(timeindex, ">qi")
        entries[-1][0] += 5
        _write(timeindex, ">qi", entries)
    else:
        raise AssertionError(kind)


KINDS = [
    "time index deleted",
    "offset index deleted",
    "offset index ragged",
    "time index emptied",
    "offset entries out of order",
    "offset position past the log",
    "offset entry names the wrong batch",
    "time entry past the segment",
    "time entry names the wrong timestamp",
]


@pytest.mark.parametrize("which", ["closed", "active"])
@pytest.mark.parametrize("clean", [True, False], ids=["clean", "unclean"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_bad_index_is_rebuilt_and_lookups_stay_right(tmp_path, caplog, kind, clean, which):
    directory = tmp_path / "t-0"
    write_log(directory, BATCHES, CONFIG)
    paths = segment_paths(directory)
    assert len(paths) >= 4
    target = paths[1] if which == "closed" else paths[-1]
    good = {suffix: target.with_suffix(suffix).read_bytes() for suffix in (".index", ".timeindex")}
    assert len(good[".index"]) >= 16  # the damage kinds need two entries
    damage(target, kind)
    # Unclean, but flushed up to the end: every segment is still "before the
    # recovery point" except the active one, which is re-validated anyway.
    with caplog.at_level(logging.WARNING, logger="kwire.log"):
        log = PartitionLog.open(directory, CONFIG, recovery_point=3 * BATCHES, clean_shutdown=clean)
    rebuilt = [r.getMessage() for r in caplog.records if "Rebuilt the indexes" in r.getMessage()]
    if clean or which == "closed":
        assert rebuilt == [rebuilt[0]] and f"partition t-0 segment {target.name}" in rebuilt[0], rebuilt
    for suffix, content in good.items():
        assert target.with_suffix(suffix).read_bytes() == content, suffix
    for batch_number in range(BATCHES):
        assert log.offset_for_timestamp(first_record_timestamp(batch_number)) == 3 * batch_number
        position_batch = b"".join(bytes(c) for c in log.read(3 * batch_number + 1, 1))
        assert struct.unpack_from(">q", position_batch)[0] == 3 * batch_number
    assert log.offset_for_timestamp(first_record_timestamp(BATCHES)) is None
    assert log.log_end_offset == 3 * BATCHES


def test_a_deleted_time_index_no_longer_gives_a_later_offset(tmp_path):
    """The issue's case: the time index of the segment holding the target
    was deleted, and the lookup answered from the next segment."""
    directory = tmp_path / "t-0"
    write_log(directory, BATCHES, CONFIG)
    paths = segment_paths(directory)
    paths[2].with_suffix(".timeindex").unlink()
    batch_number = next(i for i in range(BATCHES) if 3 * i >= int(paths[2].name[:20]) + 3)
    log = PartitionLog.open(directory, CONFIG, recovery_point=3 * BATCHES, clean_shutdown=True)
    assert log.offset_for_timestamp(first_record_timestamp(batch_number)) == 3 * batch_number


def test_sound_indexes_are_not_rebuilt(tmp_path, caplog):
    directory = tmp_path / "t-0"
    write_log(directory, BATCHES, CONFIG)
    with caplog.at_level(logging.INFO, logger="kwire.log"):
        log = PartitionLog.open(directory, CONFIG, recovery_point=3 * BATCHES, clean_shutdown=True)
    assert log.load_report.rebuilt_indexes == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_wrong_entry_between_the_ends_is_caught_when_used(tmp_path, caplog):
    """Start-up checks an index's ends; an entry in between that names the
    wrong batch is caught by the lookup that would have trusted it."""
    directory = tmp_path / "t-0"
    write_log(directory, BATCHES, CONFIG)
    target = segment_paths(directory)[1]
    index = target.with_suffix(".index")
    entries = _entries(index, ">ii")
    assert len(entries) >= 3
    entries[1][0] -= 1  # names an offset of the batch before the one it points at
    _write(index, ">ii", entries)
    log = PartitionLog.open(directory, CONFIG, recovery_point=3 * BATCHES, clean_shutdown=True)
    wrong_offset = int(target.name[:20]) + entries[1][0]
    with caplog.at_level(logging.WARNING, logger="kwire.log"):
        data = b"".join(bytes(c) for c in log.read(wrong_offset, 1))
    assert struct.unpack_from(">q", data)[0] == wrong_offset - wrong_offset % 3  # the batch holding it
    assert any("offset index entry" in r.getMessage() for r in caplog.records)
    assert _entries(index, ">ii")[1][0] == entries[1][0] + 1  # rebuilt
