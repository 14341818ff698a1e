"""Start-up recovery (Kafka's LogLoader): after an unclean shutdown every
segment from the recovery point on is validated and the log cut at the first
invalid batch, with one warning; after a clean one nothing is re-validated
but a broken tail; every cut is logged with the partition, offsets and reason."""

import logging

import pytest

from kwire.log import PartitionLog
from kwire.log.config import LogConfig
from kwire.log.producer_state import snapshot_path
from kwire.protocol.record_codec import Record, build_batch, iter_all_records
from kwire.protocol.records import HEADER_SIZE, parse_header
from tests.log.segment_files import append, batches_in, flip_byte, segment_paths, write_log

CONFIG = LogConfig(segment_bytes=1_000, index_interval_bytes=200)


def offsets_read(log, start=0):
    out, offset = [], start
    while offset < log.log_end_offset:
        data = b"".join(bytes(c) for c in log.read(offset, 1 << 20))
        got = [r.offset for r in iter_all_records(data) if r.offset >= offset]
        if not got:
            break
        out.extend(got)
        offset = got[-1] + 1
    return out


@pytest.fixture
def damaged_middle(tmp_path):
    """A closed 6-segment log, one byte flipped in a record of the middle
    batch of its second segment; returns (directory, that batch's base offset)."""
    directory = tmp_path / "t-0"
    write_log(directory, 30, CONFIG)
    second = segment_paths(directory)[1]
    position, header = batches_in(second)[len(batches_in(second)) // 2]
    flip_byte(second, position + HEADER_SIZE + 5)
    return directory, header.base_offset


def test_an_unclean_start_cuts_the_log_at_a_bad_batch_in_a_closed_segment(damaged_middle, caplog):
    directory, bad_offset = damaged_middle
    segments_before = len(segment_paths(directory))
    with caplog.at_level(logging.WARNING, logger="kwire.log"):
        log = PartitionLog.open(directory, CONFIG)  # no recovery point: recover everything
    assert log.log_end_offset == bad_offset
    assert offsets_read(log) == list(range(bad_offset))
    assert len(segment_paths(directory)) == 2 < segments_before  # every later segment is deleted, as in Kafka
    (line,) = [r.getMessage() for r in caplog.records if "Truncated" in r.getMessage()]
    assert f"partition t-0 segment {segment_paths(directory)[1].name}" in line
    assert f"offsets from {bad_offset} on are dropped" in line
    assert f"{segments_before - 2} later segment(s)" in line and "offsets 18 to 89" in line
    assert line.endswith("CRC-32C mismatch")
    assert append(log, 1) == bad_offset  # writes go on from the cut
    assert log.load_report.truncated


def test_recovery_starts_at_the_segment_holding_the_recovery_point(damaged_middle):
    directory, bad_offset = damaged_middle
    bases = [int(p.name[:20]) for p in segment_paths(directory)]
    log = PartitionLog.open(directory, CONFIG, recovery_point=bases[3] + 1)
    # Segments below the one holding the recovery point were flushed: not re-validated.
    assert log.load_report.recovered_segments == len(bases) - 3
    assert not log.load_report.truncated
    assert log.log_end_offset == 90
    assert log.recovery_point == bases[3] + 1


def test_a_clean_start_validates_nothing(damaged_middle):
    directory, _bad_offset = damaged_middle
    log = PartitionLog.open(directory, CONFIG, recovery_point=90, clean_shutdown=True)
    assert log.load_report.recovered_segments == 0
    assert log.log_end_offset == 90
    assert log.recovery_point == 90


def test_one_bad_byte_mid_active_segment_is_cut_with_a_warning(tmp_path, caplog):
    directory = tmp_path / "t-0"
    write_log(directory, 60, LogConfig(index_interval_bytes=200))  # one segment
    (only,) = segment_paths(directory)
    batches = batches_in(only)
    position, header = batches[len(batches) // 3]
    flip_byte(only, position + HEADER_SIZE + 3)
    with caplog.at_level(logging.WARNING, logger="kwire.log"):
        log = PartitionLog.open(directory, LogConfig(index_interval_bytes=200))
    assert log.log_end_offset == header.base_offset
    (line,) = [r.getMessage() for r in caplog.records if "Truncated" in r.getMessage()]
    assert f"at byte {position}: offsets from {header.base_offset} on are dropped" in line
    assert line.endswith("CRC-32C mismatch")


def test_a_torn_tail_after_a_clean_shutdown_is_still_cut(tmp_path, caplog):
    directory = tmp_path / "t-0"
    write_log(directory, 10, CONFIG)
    active = segment_paths(directory)[-1]
    with open(active, "ab") as f:
        f.write(b"\x00\x00\x00\x00\x00\x00\x00\x32\x00\x00\x10\x00half a batch")
    with caplog.at_level(logging.WARNING, logger="kwire.log"):
        log = PartitionLog.open(directory, CONFIG, recovery_point=30, clean_shutdown=True)
    assert log.log_end_offset == 30
    assert any("Truncated" in r.getMessage() and "offsets from 30 on" in r.getMessage() for r in caplog.records)
    assert append(log, 1) == 30


@pytest.mark.parametrize("clean", [True, False])
def test_a_clean_open_finds_the_same_log_end_and_index_as_a_recovery(tmp_path, clean):
    directory = tmp_path / "t-0"
    write_log(directory, 25, CONFIG)
    log = PartitionLog.open(directory, CONFIG, recovery_point=75, clean_shutdown=clean)
    assert log.log_end_offset == 75
    assert offsets_read(log) == list(range(75))
    for _ in range(5):
        append(log, 2)
    assert offsets_read(log, 70) == list(range(70, 85))
    log.close()
    again = PartitionLog.open(directory, CONFIG)
    assert offsets_read(again) == list(range(85))


def test_a_cut_drops_producer_snapshots_past_the_new_end(tmp_path):
    directory = tmp_path / "t-0"
    log = PartitionLog.open(directory, CONFIG)
    batch_count = 12
    for i in range(batch_count):
        batch = build_batch(
            [Record(offset_delta=j, timestamp_delta=0, key=None, value=b"x" * 60) for j in range(3)],
            base_timestamp=1_000,
            producer_id=7,
            producer_epoch=0,
            base_sequence=i * 3,
        )
        log.append(batch, parse_header(batch))
    log.close()  # writes a snapshot at the log end, 36
    assert snapshot_path(directory, 36).exists()
    first = segment_paths(directory)[0]
    flip_byte(first, batches_in(first)[1][0] + HEADER_SIZE + 2)  # offset 3 is damaged
    log = PartitionLog.open(directory, CONFIG)
    assert log.log_end_offset == 3
    assert not snapshot_path(directory, 36).exists()
    assert log.producer_state.entries[7].last_seq == 2
