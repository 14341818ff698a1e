"""`kwire check --data-dir DIR`: verify a data directory and change nothing
(`--log-dirs A,B`: a broker's several log directories together, the first
holding the metadata log).

Every segment batch by batch (structure and CRC-32C, offsets increasing
within and across segments), every offset and time index entry against the
batches it names, the checkpoint files, the producer-state snapshots,
`partition.metadata`, `meta.properties` and the metadata log (whose topics
must match the partition directories). One line per problem, then a
summary. Safe while a broker runs on the directory: files are only opened
for reading, and the tail of each active segment, which may be being
written, is judged leniently.
"""

from __future__ import annotations

import collections
import os
import struct
import uuid
from collections.abc import Sequence
from pathlib import Path

import attrs

from kwire.cluster.data_dir import CLEAN_SHUTDOWN_FILE, held_by_another_process
from kwire.cluster.meta_files import (
    META_PROPERTIES,
    DamagedFile,
    base64_uuid,
    cluster_id_from,
    read_topic_id,
)
from kwire.cluster.metadata_log import METADATA_TOPIC, MetadataSnapshot, replay_records
from kwire.cluster.offset_checkpoint import CLEANER, LOG_START, RECOVERY_POINT, DamagedCheckpoint, load_checkpoint
from kwire.cluster.topic_configs import log_config_for
from kwire.config import BrokerConfig
from kwire.log.files import (
    INDEX_SUFFIX,
    LEFTOVER_SUFFIXES,
    LOG_SUFFIX,
    SNAPSHOT_SUFFIX,
    TIME_INDEX_SUFFIX,
    TXN_INDEX_SUFFIX,
    file_path,
    files_in,
    offsets_in,
    parse_future_dir_name,
    parse_partition_dir_name,
    partition_dir_name,
    sibling,
)
from kwire.log.index import OffsetIndex, TimeIndex
from kwire.log.producer_state import ProducerStateManager
from kwire.log.segment_scan import SegmentScan
from kwire.log.transaction_index import TXN_INDEX_ENTRY
from kwire.protocol.record_codec import iter_records

KeyedRecord = tuple[bytes, bytes | None]  # a metadata-log record: key, value (None for a tombstone)


@attrs.define
class CheckReport:
    data_dir: Path
    other_log_dirs: tuple[Path, ...] = ()
    problems: list[str] = attrs.field(factory=list)
    notes: list[str] = attrs.field(factory=list)
    counts: collections.Counter[str] = attrs.field(factory=collections.Counter)

    def problem(self, where: Path | str, text: str) -> None:
        self.problems.append(f"{self._relative(where)}: {text}")

    def _relative(self, where: Path | str) -> str:
        try:
            relative = Path(where).relative_to(self.data_dir)
        except ValueError:
            return str(where)
        return str(where) if relative == Path(".") else str(relative)

    def summary(self) -> str:
        c = self.counts
        return (
            f"checked {', '.join(map(str, (self.data_dir, *self.other_log_dirs)))}: {c['partitions']} partition(s), {c['segments']} segment(s), "
            f"{c['batches']} batch(es), {c['indexes']} index file(s), {c['checkpoints']} checkpoint file(s), "
            f"{c['snapshots']} producer snapshot(s): {len(self.problems)} problem(s)"
        )


@attrs.define
class _PartitionFacts:
    log_end: int  # one past the last offset of its sound batches
    sound: bool  # no broken batch: log_end is the real log end


class _ReadOnlyFile:
    """A ReadableStore for SegmentScan that never writes."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDONLY)
        self.size = os.fstat(self._fd).st_size

    def read_bytes(self, position: int, length: int) -> bytes:
        return os.pread(self._fd, length, position)

    def close(self) -> None:
        os.close(self._fd)


def _deleted_topic_dir(directory: Path, snapshot: MetadataSnapshot) -> bool:
    """A directory of a deleted topic that a crash left behind (DeleteTopics
    writes its record before it renames the directories)."""
    try:
        return read_topic_id(directory) in snapshot.deleted_topic_ids
    except ValueError:
        return False


def check_data_dir(data_dir: Path, other_log_dirs: Sequence[Path] = ()) -> CheckReport:
    """Check a data directory, or a broker's several log directories
    (`data_dir` first, holding the metadata log, then `other_log_dirs`)."""
    data_dir = Path(data_dir)
    log_dirs = [data_dir, *(Path(d) for d in other_log_dirs)]
    report = CheckReport(data_dir, tuple(log_dirs[1:]))
    unusable = [d for d in log_dirs if not d.is_dir()]
    for directory in unusable:
        report.problem(directory, "not a directory")
    if unusable:
        return report
    running = any(held_by_another_process(d) for d in log_dirs)
    if running:
        report.notes.append("a broker holds the lock: the tails of active segments may be being written")
    elif not all((d / CLEAN_SHUTDOWN_FILE).exists() for d in log_dirs):
        report.notes.append("the last shutdown was not clean: kwire serve will recover logs past their recovery points")
    cluster_ids = {d: _check_meta_properties(report, d) for d in log_dirs}
    if len({cluster_id for cluster_id in cluster_ids.values() if cluster_id is not None}) > 1:
        report.problem(
            log_dirs[-1],
            "the log directories' meta.properties name different cluster ids "
            f"({', '.join(f'{d}: {c}' for d, c in cluster_ids.items())}); kwire serve refuses to start",
        )
    snapshot, metadata_facts = _check_metadata_log(report, running)
    facts = {(METADATA_TOPIC, 0): metadata_facts} if metadata_facts is not None else {}
    facts_by_dir: dict[Path, dict[tuple[str, int], _PartitionFacts]] = {d: {} for d in log_dirs}
    if metadata_facts is not None:
        facts_by_dir[data_dir][(METADATA_TOPIC, 0)] = metadata_facts
    partitions = []
    for log_dir in log_dirs:
        for p in sorted(log_dir.iterdir()):
            if not p.is_dir():
                continue
            parsed = parse_partition_dir_name(p.name)
            if parsed is not None:
                partitions.append((log_dir, p, parsed))
            elif parse_future_dir_name(p.name) is not None:
                report.notes.append(
                    f"{report._relative(p)}: a move between log directories that did not finish; "
                    "kwire serve completes or discards it at start-up"
                )
    for log_dir, directory, (topic, index) in partitions:
        if topic == METADATA_TOPIC:
            if log_dir != data_dir:
                report.problem(directory, "a metadata log outside the first log directory (kwire serve ignores it)")
            continue
        if (topic, index) in facts and not _deleted_topic_dir(directory, snapshot):
            report.problem(directory, "the partition is in another log directory too; kwire serve refuses to start")
            continue
        record = snapshot.topics.get(topic)
        if (record is None or index >= record.partitions) and _deleted_topic_dir(directory, snapshot):
            report.notes.append(f"{report._relative(directory)}: a deleted topic's; kwire serve removes it at start-up")
            continue
        if record is None or index >= record.partitions:
            report.problem(
                directory,
                "the metadata log knows no such partition (kwire serve recovers a topic "
                "whose directories all carry the same topic id, and leaves the rest alone)",
            )
            expected_id, compacted, interval = None, True, BrokerConfig().log_index_interval_bytes
        else:
            expected_id = record.topic_id
            config = log_config_for(BrokerConfig(), record.configs)
            compacted, interval = config.compacted, config.index_interval_bytes
        found = _check_partition(report, directory, running, compacted, interval, expected_id)
        facts[(topic, index)] = facts_by_dir[log_dir][(topic, index)] = found
    where = "" if len(log_dirs) == 1 else " (in no log directory)"
    for record in snapshot.topics.values():
        for index in range(record.partitions):
            if (record.name, index) not in facts:
                report.problem(
                    data_dir / partition_dir_name(record.name, index),
                    f"missing{where}: the metadata log lists this partition",
                )
    for log_dir in log_dirs:
        for file_name in (LOG_START, CLEANER, RECOVERY_POINT):
            _check_checkpoint(report, log_dir, file_name, facts_by_dir[log_dir])
    return report


def _check_meta_properties(report: CheckReport, log_dir: Path) -> str | None:
    """The cluster id in the directory's meta.properties (None: none readable)."""
    path = log_dir / META_PROPERTIES
    try:
        return cluster_id_from(path.read_bytes())
    except FileNotFoundError:
        report.problem(path, "missing (kwire serve would start a new cluster id)")
    except DamagedFile as exc:
        report.problem(path, f"damaged: {exc}; kwire serve refuses to start")
    return None


def _check_metadata_log(report: CheckReport, running: bool) -> tuple[MetadataSnapshot, _PartitionFacts | None]:
    directory = report.data_dir / partition_dir_name(METADATA_TOPIC, 0)
    if not directory.is_dir():
        if any(report.data_dir.iterdir()):
            report.problem(directory, "missing: no topic is known")
        return MetadataSnapshot(), None
    records: list[KeyedRecord] = []
    facts = _check_partition(
        report, directory, running, compacted=False, interval=4096, topic_id=None, keyed_records=records
    )
    try:
        return replay_records(records), facts
    except (ValueError, KeyError, TypeError) as exc:  # JSON and UTF-8 errors are ValueErrors
        report.problem(directory, f"a record cannot be understood: {exc!r}")
        return MetadataSnapshot(), facts


def _check_partition(
    report: CheckReport,
    directory: Path,
    running: bool,
    compacted: bool,
    interval: int,
    topic_id: uuid.UUID | None,
    keyed_records: list[KeyedRecord] | None = None,
) -> _PartitionFacts:
    report.counts["partitions"] += 1
    bases = offsets_in(directory, LOG_SUFFIX)
    log_end = bases[0] if bases else 0
    previous_sound = sound = True
    for i, base in enumerate(bases):
        path = Path(file_path(directory, base, LOG_SUFFIX))
        last = i + 1 == len(bases)
        if i and base < log_end:
            report.problem(path, f"its base offset {base} overlaps the previous segment, which reaches {log_end - 1}")
        elif i and base > log_end and not compacted and previous_sound:
            report.problem(path, f"offsets {log_end} to {base - 1} are missing between segments")
        try:
            log_end, previous_sound = _check_segment(
                report, path, base, bases[i + 1] if not last else None, running and last, interval, keyed_records
            )
        except FileNotFoundError:  # retention or compaction of a running broker
            report.notes.append(f"{report._relative(path)}: removed while being checked")
            continue
        sound = sound and previous_sound
    for offset, path in files_in(directory, SNAPSHOT_SUFFIX):
        try:
            _check_snapshot(report, path, offset, log_end if sound else None)
        except FileNotFoundError:  # replaced by a newer one at a roll
            report.notes.append(f"{report._relative(path)}: removed while being checked")
    for path in sorted(directory.iterdir()):
        if path.name.endswith(LEFTOVER_SUFFIXES) and not running:
            report.problem(path, "left over from an interrupted write or compaction")
    if topic_id is not None:
        try:
            found = read_topic_id(directory)
            if found != topic_id:
                report.problem(
                    directory / "partition.metadata",
                    f"topic id {base64_uuid(found)}, but the metadata log says {base64_uuid(topic_id)}",
                )
        except ValueError as exc:
            report.problem(directory / "partition.metadata", str(exc))
    return _PartitionFacts(log_end, sound)


def _check_segment(
    report: CheckReport,
    path: Path,
    base: int,
    end_offset: int | None,
    may_grow: bool,
    interval: int,
    keyed_records: list[KeyedRecord] | None,
) -> tuple[int, bool]:
    """Check one segment and its indexes; returns (one past its last sound
    offset, whether the whole segment is sound)."""
    report.counts["segments"] += 1
    store = _ReadOnlyFile(path)
    try:
        scan = SegmentScan(store, base, end_offset=end_offset, verify_crc=True)
        batches: dict[int, tuple[int, int]] = {}  # position -> (base offset, max timestamp)
        for position, header, data in scan.batches():
            batches[position] = (header.base_offset, header.max_timestamp)
            if keyed_records is not None and not header.is_control:
                keyed_records.extend((r.key, r.value) for r in iter_records(data) if r.key is not None)
        report.counts["batches"] += len(batches)
        if scan.problem is not None:
            where = f"byte {scan.end} (after offset {scan.next_offset - 1})"
            if may_grow and scan.torn:
                report.notes.append(f"{report._relative(path)}: {where}: {scan.problem} (a write in progress?)")
            else:
                report.problem(path, f"{where}: {scan.problem}")
        # Past a broken batch nothing can be checked against the log.
        uncertain_tail = may_grow or scan.problem is not None
        _check_offset_index(
            report, Path(sibling(str(path), INDEX_SUFFIX)), base, batches, scan.end, uncertain_tail, interval
        )
        _check_time_index(
            report, Path(sibling(str(path), TIME_INDEX_SUFFIX)), base, batches, scan.next_offset, uncertain_tail
        )
        txn_index = Path(sibling(str(path), TXN_INDEX_SUFFIX))
        if txn_index.exists() and txn_index.stat().st_size % TXN_INDEX_ENTRY.size:
            report.problem(
                txn_index,
                f"{txn_index.stat().st_size} bytes is not a whole number of {TXN_INDEX_ENTRY.size}-byte entries",
            )
        end = scan.next_offset if batches else (end_offset if end_offset is not None else base)
        return end, scan.problem is None
    finally:
        store.close()


def _read_entries(report: CheckReport, path: Path, entry: struct.Struct) -> list[tuple[int, int]]:
    report.counts["indexes"] += 1
    data = path.read_bytes()
    if len(data) % entry.size:
        report.problem(path, f"{len(data)} bytes is not a whole number of {entry.size}-byte entries")
    return list(entry.iter_unpack(data[: len(data) - len(data) % entry.size]))


def _check_offset_index(
    report: CheckReport,
    path: Path,
    base: int,
    batches: dict[int, tuple[int, int]],
    scanned_end: int,
    uncertain_tail: bool,
    interval: int,
) -> None:
    if not path.exists():
        if any(position >= interval for position in batches):
            report.problem(path, "missing (kwire serve rebuilds it)")
        return
    previous = (-1, -1)
    for number, (relative, position) in enumerate(_read_entries(report, path, OffsetIndex.ENTRY)):
        if uncertain_tail and position >= scanned_end:
            break  # past the damage, or written just before its batch
        if relative <= previous[0] or position <= previous[1]:
            report.problem(path, f"entry {number} ({relative}, {position}) does not follow entry {number - 1}")
            return
        if position not in batches:
            report.problem(path, f"entry {number} ({relative}, {position}) does not point at the start of a batch")
            return
        if batches[position][0] != base + relative:
            report.problem(
                path,
                f"entry {number} names offset {base + relative} but points at the batch of "
                f"offset {batches[position][0]}",
            )
            return
        previous = (relative, position)


def _check_time_index(
    report: CheckReport,
    path: Path,
    base: int,
    batches: dict[int, tuple[int, int]],
    scanned_next_offset: int,
    uncertain_tail: bool,
) -> None:
    if not path.exists():
        if batches:
            report.problem(path, "missing (kwire serve rebuilds it; until then timestamp lookups go wrong)")
        return
    by_offset = {offset: timestamp for offset, timestamp in batches.values()}
    entries = _read_entries(report, path, TimeIndex.ENTRY)
    previous = None
    for number, (timestamp, relative) in enumerate(entries):
        if previous is not None and timestamp <= previous:
            report.problem(path, f"entry {number} ({timestamp}, {relative}): timestamps do not increase")
            return
        if uncertain_tail and base + relative >= scanned_next_offset:
            return  # past the damage, or its batch is not written yet
        if by_offset.get(base + relative) != timestamp:
            report.problem(
                path, f"entry {number} ({timestamp}, {relative}) does not match the batch of offset {base + relative}"
            )
            return
        previous = timestamp
    largest = max((timestamp for _offset, timestamp in batches.values()), default=None)
    if largest is not None and (previous is None or previous < largest) and not uncertain_tail:
        report.problem(
            path,
            f"its last timestamp {previous} is below the segment's largest, {largest}: "
            "timestamp lookups would miss this segment",
        )


def _check_snapshot(report: CheckReport, path: Path, offset: int, log_end: int | None) -> None:
    report.counts["snapshots"] += 1
    try:
        ProducerStateManager.from_snapshot(path.read_bytes())
    except (ValueError, struct.error) as exc:
        report.problem(path, f"unreadable producer snapshot ({exc})")
        return
    if log_end is not None and offset > log_end:
        report.problem(path, f"a snapshot at offset {offset}, past the log end {log_end}")


def _check_checkpoint(
    report: CheckReport, log_dir: Path, file_name: str, facts: dict[tuple[str, int], _PartitionFacts]
) -> None:
    """A log directory's checkpoint file against the partitions it holds (`facts`)."""
    path = log_dir / file_name
    try:
        entries = load_checkpoint(log_dir, file_name)
    except DamagedCheckpoint as exc:
        report.counts["checkpoints"] += 1
        report.problem(path, f"damaged ({exc}); kwire serve ignores it")
        return
    if entries is None:
        return
    report.counts["checkpoints"] += 1
    for (topic, index), offset in sorted(entries.items()):
        partition = facts.get((topic, index))
        if partition is None:
            report.problem(path, f"names {topic}-{index}, which does not exist")
        elif offset > partition.log_end and partition.sound:
            report.problem(path, f"offset {offset} of {topic}-{index} is past its log end {partition.log_end}")


def run(data_dir: Path, other_log_dirs: Sequence[Path] = ()) -> int:
    """Print the report; the exit status (0: no problem found)."""
    report = check_data_dir(data_dir, other_log_dirs)
    for problem in report.problems:
        print(problem)
    for note in report.notes:
        print(f"note: {note}")
    print(report.summary())
    return 1 if report.problems else 0
