"""Opening a partition's segments at start-up, as Kafka's LogLoader does.

After a clean shutdown nothing is re-validated: each segment's indexes get
cheap sanity checks (rebuilt from the batch headers when missing or
inconsistent) and the log end is found by walking the headers after the
active segment's last index entry. After an unclean shutdown every segment
from the one holding the recovery point (below which everything was
flushed) to the end is validated batch by batch, CRC-32C included, and its
indexes are rebuilt from that scan; at the first invalid batch the log is
cut there and every later segment deleted. Each truncation and rebuild is
logged with the partition, the offsets and the reason.
"""

from __future__ import annotations

import bisect
import logging
from pathlib import Path

import attrs

from kwire.clock import SYSTEM_CLOCK, Clock
from kwire.log.config import LogConfig
from kwire.log.files import LOG_SUFFIX, offsets_in
from kwire.log.segment import Segment
from kwire.log.segment_scan import SegmentScan, scan_to_end
from kwire.log.swaps import complete_interrupted_swaps

log = logging.getLogger("kwire.log")


@attrs.define
class LoadReport:
    """What opening one partition's log took."""

    recovered_segments: int = 0  # validated batch by batch
    truncated: bool = False
    rebuilt_indexes: int = 0


def load_segments(
    directory: Path, config: LogConfig, recovery_point: int, clean_shutdown: bool, clock: Clock = SYSTEM_CLOCK
) -> tuple[list[Segment], LoadReport]:
    complete_interrupted_swaps(directory)
    bases = offsets_in(directory, LOG_SUFFIX) or [0]
    now_ms = clock.wall_ms()
    segments = [Segment.on_disk(str(directory), base, now_ms) for base in bases]
    report = LoadReport()
    interval = config.index_interval_bytes
    # Kafka recovers from the segment holding the recovery point on.
    first_unflushed = len(segments) if clean_shutdown else max(bisect.bisect_right(bases, recovery_point) - 1, 0)
    for i, segment in enumerate(segments[:first_unflushed]):
        if i + 1 < len(segments):
            problem = segment.load_closed(segments[i + 1].base_offset, interval)
        else:
            problem, broken_tail = segment.load_active(interval)
            if broken_tail is not None:
                _recover_and_cut(segments, i, interval, report, "after a clean shutdown")
        if problem is not None:
            report.rebuilt_indexes += 1
            log.warning("Rebuilt the indexes of %s from its log: %s", segment.describe(), problem)
    for i in range(first_unflushed, len(segments)):
        if _recover_and_cut(segments, i, interval, report, "after an unclean shutdown"):
            break
    return segments, report


def _recover_and_cut(segments: list[Segment], i: int, interval: int, report: LoadReport, when: str) -> bool:
    """Validate segments[i] batch by batch; at an invalid batch cut it there
    and delete every later segment. True if something was cut."""
    segment = segments[i]
    following = segments[i + 1] if i + 1 < len(segments) else None
    size_before = segment.size
    scan = segment.recover(interval, following.base_offset if following is not None else None)
    report.recovered_segments += 1
    if scan.problem is None:
        if following is not None:
            segment.seal(following.base_offset)
        return False
    later = segments[i + 1 :]
    _log_truncation(segment, scan, size_before, later, when)
    for doomed in later:
        doomed.delete()
    del segments[i + 1 :]
    segment.reopen()
    report.truncated = True
    return True


def _log_truncation(segment: Segment, scan: SegmentScan, size_before: int, later: list[Segment], when: str) -> None:
    dropped = f"{size_before - scan.end} bytes"
    if later:
        end = _log_end_of(later[-1])
        dropped += (
            f" and {len(later)} later segment(s) ({sum(s.size for s in later)} bytes, "
            f"offsets {later[0].base_offset} to {end - 1})"
        )
    log.warning(
        "Truncated %s %s at byte %d: offsets from %d on are dropped (%s): %s",
        segment.describe(),
        when,
        scan.end,
        scan.next_offset,
        dropped,
        scan.problem,
    )


def _log_end_of(segment: Segment) -> int:
    """One past the last offset a segment claims, from its sound headers."""
    return scan_to_end(SegmentScan(segment.store, segment.base_offset)).next_offset
