"""`kwire consume TOPIC`: print a topic's records, as kafka-console-consumer
and `kcat -C` do, over the wire protocol, so it works against any Kafka broker.

Every partition (or the one asked for) is fetched from its leader, starting
where --offset/--timestamp/--group say. With --group the group's committed
offsets are the start and the printed positions are committed as it goes;
the partitions are assigned by hand (all of them): the command does not
join the group, so it takes no part in the group's rebalancing.
"""

from __future__ import annotations

import argparse
import heapq
import signal
import sys
import time
from typing import Any, BinaryIO

import attrs

from kwire.admin.cluster_client import ClusterClient, ClusterError, read_command_config
from kwire.admin.common import add_connection_options
from kwire.admin.record_formats import FORMATS, Renderer, batch_records, renderer
from kwire.admin.topic_layout import ATTEMPTS, BACKOFF_S, RETRIABLE, error_name, topic_leaders
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.control_batches import ABORT, marker_type
from kwire.protocol.errors import ErrorCode
from kwire.protocol.record_codec import RecordDecodeError
from kwire.protocol.records import CURRENT_MAGIC, HEADER_SIZE, crc_matches, parse_header

EARLIEST, LATEST = -2, -1  # ListOffsets' special timestamps
READ_UNCOMMITTED, READ_COMMITTED = 0, 1
PARTITION_MAX_BYTES = 4 << 20
FETCH_MAX_BYTES = 50 << 20  # fetch.max.bytes' default
MAX_WAIT_MS = 500  # fetch.max.wait.ms' default
COMMIT_INTERVAL_S = 1.0


@attrs.define
class Position:
    """Where one partition is read next."""

    partition: int
    leader: int
    offset: int
    committed: int | None = None  # the group's offset as last committed (None: never)


@attrs.define
class StartAt:
    """Where reading starts: a group's committed offset, else `offset`
    (EARLIEST, LATEST or an offset) or the first offset at `timestamp`."""

    offset: int = LATEST
    timestamp: int | None = None


class Consumer:
    """Fetches a topic's partitions from their leaders and writes their records out."""

    def __init__(
        self,
        cluster: ClusterClient,
        topic: str,
        out: BinaryIO,
        render: Renderer,
        *,
        partition: int | None = None,
        start: StartAt | None = None,
        group: str | None = None,
        isolation_level: int = READ_UNCOMMITTED,
        max_messages: int | None = None,
        timeout_ms: int | None = None,
    ) -> None:
        self.cluster = cluster
        self.topic = topic
        self.out = out
        self.render = render
        self.group = group
        self.isolation_level = isolation_level
        self.max_messages = max_messages
        self.timeout_ms = timeout_ms
        self.printed = 0
        leaders = topic_leaders(cluster, topic)
        if partition is not None and partition not in leaders:
            raise ClusterError(f"topic {topic} has no partition {partition} (it has {len(leaders)})")
        chosen = sorted(leaders) if partition is None else [partition]
        self.positions = {p: Position(p, leaders[p], 0) for p in chosen}
        self._start(start or StartAt())
        self._last_commit = time.monotonic()

    # --- where to start ---------------------------------------------------

    def _start(self, start: StartAt) -> None:
        unset = list(self.positions)
        if self.group is not None:
            for partition, offset in self._committed().items():
                if offset >= 0 and partition in self.positions:
                    self.positions[partition].offset = offset
                    self.positions[partition].committed = offset
                    unset.remove(partition)
        if not unset:
            return
        if start.timestamp is not None:
            found = self._list_offsets(unset, start.timestamp)
            # No record at or after the time: start at the end, as Kafka's tools do.
            latest = self._list_offsets([p for p in unset if found[p] < 0], LATEST)
            for partition in unset:
                self.positions[partition].offset = found[partition] if found[partition] >= 0 else latest[partition]
        elif start.offset in (EARLIEST, LATEST):
            for partition, offset in self._list_offsets(unset, start.offset).items():
                self.positions[partition].offset = offset
        else:
            for partition in unset:
                self.positions[partition].offset = start.offset

    def _list_offsets(self, partitions: list[int], timestamp: int) -> dict[int, int]:
        """partition -> the offset ListOffsets gives for `timestamp` (-1: none)."""
        found: dict[int, int] = {}
        for leader, chosen in self._by_leader(partitions).items():
            wanted = [
                dict(partition_index=p, current_leader_epoch=-1, timestamp=timestamp, max_num_offsets=1) for p in chosen
            ]
            values = dict(
                replica_id=-1,
                isolation_level=self.isolation_level,
                timeout=30_000,
                topics=[dict(name=self.topic, partitions=wanted)],
            )
            _version, answer = self.cluster.node(leader).call(ApiKey.LIST_OFFSETS, values, 7, 1)
            for topic in answer.topics:
                for entry in topic.partitions:
                    if entry.error_code != ErrorCode.none:
                        raise ClusterError(f"{self.topic}-{entry.partition_index}: {error_name(entry.error_code)}")
                    found[entry.partition_index] = int(entry.offset)
        missing = set(partitions) - set(found)
        if missing:
            raise ClusterError(f"{self.topic}: no offsets for partitions {sorted(missing)}")
        return found

    def _committed(self) -> dict[int, int]:
        assert self.group is not None
        values = dict(
            group_id=self.group,
            topics=[dict(name=self.topic, partition_indexes=sorted(self.positions))],
            require_stable=True,
        )
        _version, answer = self.cluster.coordinator(self.group).call(ApiKey.OFFSET_FETCH, values, 7, 1)
        if getattr(answer, "error_code", 0) != ErrorCode.none:
            raise ClusterError(f"group {self.group}: {error_name(answer.error_code)}")
        committed = {}
        for topic in answer.topics:
            for entry in topic.partitions:
                if entry.error_code != ErrorCode.none:
                    raise ClusterError(f"group {self.group}: {error_name(entry.error_code)}")
                committed[entry.partition_index] = int(entry.committed_offset)
        return committed

    def commit(self) -> None:
        """Commit each partition's position when it moved (no-op without a group)."""
        if self.group is None:
            return
        moved = [p for p in self.positions.values() if p.offset != p.committed]
        self._last_commit = time.monotonic()
        if not moved:
            return
        partitions = [
            dict(
                partition_index=p.partition,
                committed_offset=p.offset,
                committed_leader_epoch=-1,
                committed_metadata="",
                commit_timestamp=-1,
            )
            for p in moved
        ]
        values = dict(
            group_id=self.group,
            # Not a member of the group: generation -1 and no member id, as a
            # consumer with manually assigned partitions commits.
            generation_id_or_member_epoch=-1,
            generation_id=-1,
            member_id="",
            group_instance_id=None,
            retention_time_ms=-1,
            topics=[dict(name=self.topic, partitions=partitions)],
        )
        _version, answer = self.cluster.coordinator(self.group).call(ApiKey.OFFSET_COMMIT, values, 8, 2)
        for topic in answer.topics:
            for entry in topic.partitions:
                if entry.error_code != ErrorCode.none:
                    raise ClusterError(f"committing for group {self.group}: {error_name(entry.error_code)}")
        for position in moved:
            position.committed = position.offset

    # --- reading ----------------------------------------------------------

    def run(self) -> None:
        """Fetch and print until --max-messages, --timeout-ms of idleness, or an interrupt."""
        last_record = time.monotonic()
        failures = 0
        while not self._done():
            idle_ms = (time.monotonic() - last_record) * 1000
            wait_ms = MAX_WAIT_MS if self.timeout_ms is None else int(min(MAX_WAIT_MS, self.timeout_ms - idle_ms))
            printed_before = self.printed
            retry = False
            for leader, partitions in self._by_leader(list(self.positions)).items():
                retry |= self._fetch(leader, partitions, max(wait_ms, 0))
                if self._done():
                    break
            if self.printed != printed_before:
                last_record = time.monotonic()
            elif self.timeout_ms is not None and (time.monotonic() - last_record) * 1000 >= self.timeout_ms:
                return  # idle for --timeout-ms (checked after a fetch, so 0 still reads what is there)
            if self.group is not None and time.monotonic() - self._last_commit >= COMMIT_INTERVAL_S:
                self.commit()
            if retry:
                failures += 1
                if failures > ATTEMPTS * 2:
                    raise ClusterError(f"{self.topic}: partitions kept failing; gave up")
                time.sleep(BACKOFF_S * failures)
                leaders = topic_leaders(self.cluster, self.topic)
                for position in self.positions.values():
                    position.leader = leaders.get(position.partition, position.leader)
            else:
                failures = 0

    def _done(self) -> bool:
        return self.max_messages is not None and self.printed >= self.max_messages

    def _by_leader(self, partitions: list[int]) -> dict[int, list[int]]:
        by_leader: dict[int, list[int]] = {}
        for partition in partitions:
            by_leader.setdefault(self.positions[partition].leader, []).append(partition)
        return by_leader

    def _fetch(self, leader: int, partitions: list[int], wait_ms: int) -> bool:
        """One Fetch from `leader`; returns whether a partition needs fresh metadata."""
        wanted = [
            dict(
                partition=p,
                current_leader_epoch=-1,
                fetch_offset=self.positions[p].offset,
                last_fetched_epoch=-1,
                log_start_offset=-1,
                partition_max_bytes=PARTITION_MAX_BYTES,
            )
            for p in partitions
        ]
        values = dict(
            replica_id=-1,
            max_wait=wait_ms,
            min_bytes=1,
            max_bytes=FETCH_MAX_BYTES,
            isolation_level=self.isolation_level,
            session_id=0,
            session_epoch=-1,
            topics=[dict(topic=self.topic, topic_id=None, partitions=wanted)],
            forgotten_topics_data=[],
            rack_id="",
        )
        _version, answer = self.cluster.node(leader).call(ApiKey.FETCH, values, 12, 4)
        if getattr(answer, "error_code", 0) != ErrorCode.none:
            raise ClusterError(f"fetch from broker {leader}: {error_name(answer.error_code)}")
        retry = False
        pieces: list[bytes] = []
        reset: list[int] = []
        for topic in answer.responses:
            for result in topic.partitions:
                code = int(result.error_code)
                if code == ErrorCode.none:
                    pieces.extend(self._records(result))
                elif code == ErrorCode.offset_out_of_range:
                    reset.append(result.partition_index)
                elif code in RETRIABLE:
                    retry = True
                else:
                    raise ClusterError(f"{self.topic}-{result.partition_index}: {error_name(code)}")
                if self._done():
                    break
        if pieces:
            self.out.write(b"".join(pieces))
            self.out.flush()
        if reset:
            self._reset(reset)
        return retry

    def _reset(self, partitions: list[int]) -> None:
        """Offsets out of range: before the log start, go to it; past the end, to the end."""
        earliest = self._list_offsets(partitions, EARLIEST)
        latest = self._list_offsets(partitions, LATEST)
        for partition in partitions:
            position = self.positions[partition]
            position.offset = earliest[partition] if position.offset < earliest[partition] else latest[partition]
            print(
                f"kwire consume: {self.topic}-{partition}: offset out of range, now at {position.offset}",
                file=sys.stderr,
            )

    def _records(self, result: Any) -> list[bytes]:
        """Output lines for one partition's fetched records; advances its position."""
        data = result.records
        if not data:
            return []
        position = self.positions[result.partition_index]
        aborted = self._aborted(result)
        aborting: set[int] = set()
        view = memoryview(data)
        pieces: list[bytes] = []
        pos, size = 0, len(data)
        while size - pos >= HEADER_SIZE:
            header = parse_header(data, pos)
            end = pos + header.size
            if end > size:
                break  # a partial batch ends the response, as fetches may
            if header.magic != CURRENT_MAGIC:
                raise ClusterError(f"{self.topic}-{position.partition}: record format v{header.magic} is not supported")
            if not crc_matches(data, pos, header.size, header.crc):
                raise ClusterError(f"{self.topic}-{position.partition}: corrupt batch at offset {header.base_offset}")
            batch = view[pos:end]
            pos = end
            if header.last_offset < position.offset:
                continue
            if aborted is not None and header.is_transactional:
                while aborted and aborted[0][0] <= header.last_offset:
                    aborting.add(heapq.heappop(aborted)[1])
                if header.is_control:
                    if _is_abort_marker(batch):
                        aborting.discard(header.producer_id)
                    position.offset = header.last_offset + 1
                    continue
                if header.producer_id in aborting:
                    position.offset = header.last_offset + 1
                    continue
            if header.is_control:
                position.offset = header.last_offset + 1
                continue
            try:
                records = batch_records(batch, header, position.offset)
            except RecordDecodeError as exc:
                raise ClusterError(f"{self.topic}-{position.partition} at offset {header.base_offset}: {exc}") from None
            if self.max_messages is not None and self.printed + len(records) >= self.max_messages:
                records = records[: self.max_messages - self.printed]
                pieces.extend(self.render(position.partition, records))
                self.printed += len(records)
                position.offset = records[-1][0] + 1 if records else position.offset
                return pieces
            pieces.extend(self.render(position.partition, records))
            self.printed += len(records)
            position.offset = header.last_offset + 1
        return pieces

    def _aborted(self, result: Any) -> list[tuple[int, int]] | None:
        """(first offset, producer id) of the aborted transactions, as a heap; None under read_uncommitted."""
        if self.isolation_level != READ_COMMITTED:
            return None
        aborted = [(int(a.first_offset), int(a.producer_id)) for a in result.aborted_transactions or ()]
        heapq.heapify(aborted)
        return aborted


def _is_abort_marker(batch: memoryview) -> bool:
    try:
        return marker_type(batch) == ABORT
    except RecordDecodeError:
        return False  # unreadable: the producer stays aborting, which hides rather than shows


# --- the command line --------------------------------------------------------


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "consume",
        help="print a topic's records",
        description="Print a topic's records (as kafka-console-consumer and kcat -C do), fetching every partition "
        "from its leader. With --group, reading starts at the group's committed offsets and the positions "
        "are committed as it goes; the partitions are assigned by hand (all of them), so the command does "
        "NOT join the group's rebalancing. Runs until Ctrl-C unless --max-messages or --timeout-ms say "
        "otherwise. Works against any Kafka broker.",
    )
    parser.add_argument("topic")
    add_connection_options(parser, output=False)
    parser.set_defaults(admin=lambda args: run(parser, args))
    start = parser.add_mutually_exclusive_group()
    start.add_argument("--from-beginning", action="store_true", help="start at the earliest offset")
    start.add_argument(
        "--offset",
        help="earliest, latest (the default) or an offset to start at (with --group: where partitions "
        "without a committed offset start)",
    )
    start.add_argument("--timestamp", type=int, metavar="MS", help="start at the first record at or after this time")
    parser.add_argument("--partition", type=int, help="read only this partition")
    parser.add_argument("--max-messages", type=int, metavar="N", help="exit after printing N records")
    parser.add_argument(
        "--timeout-ms", type=int, metavar="MS", help="exit after no record came for this long (default: never)"
    )
    parser.add_argument(
        "--group",
        metavar="GROUP",
        help="start at this group's committed offsets and commit as it goes (does not join the group: all "
        "partitions are read, whatever the group's members are assigned)",
    )
    parser.add_argument(
        "--isolation-level",
        choices=["read_uncommitted", "read_committed"],
        default="read_uncommitted",
        help="read_committed skips aborted transactions and stops at open ones (default read_uncommitted)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="value",
        help="value (default), key:value, or json (one object a line: partition, offset, timestamp, key, value, "
        "headers; bytes decoded as UTF-8, invalid ones replaced)",
    )
    parser.add_argument(
        "--key-separator", default="\t", metavar="SEP", help="between key and value in key:value (default a tab)"
    )


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    start = StartAt(offset=EARLIEST if args.from_beginning else LATEST, timestamp=args.timestamp)
    if args.offset is not None:
        named = {"earliest": EARLIEST, "latest": LATEST}
        if args.offset in named:
            start.offset = named[args.offset]
        elif args.offset.isdigit():
            start.offset = int(args.offset)
        else:
            parser.error(f"--offset wants earliest, latest or a non-negative offset, got {args.offset!r}")
    if args.max_messages is not None and args.max_messages < 1:
        parser.error("--max-messages must be positive")
    if args.timeout_ms is not None and args.timeout_ms < 0:
        parser.error("--timeout-ms must not be negative")
    separator = args.key_separator.replace("\\t", "\t").replace("\\n", "\n").encode()
    out = sys.stdout.buffer
    consumer = None
    signal.signal(signal.SIGTERM, _interrupt)  # stop as on Ctrl-C: commit, then the total
    try:
        settings = read_command_config(args.command_config) if args.command_config else {}
        with ClusterClient(args.bootstrap_server, settings) as cluster:
            consumer = Consumer(
                cluster,
                args.topic,
                out,
                renderer(args.format, separator),
                partition=args.partition,
                start=start,
                group=args.group,
                isolation_level=READ_COMMITTED if args.isolation_level == "read_committed" else READ_UNCOMMITTED,
                max_messages=args.max_messages,
                timeout_ms=args.timeout_ms,
            )
            status = 0
            try:
                consumer.run()
            except KeyboardInterrupt:
                status = 130
                cluster.close()  # a request may have been cut off mid-answer: commit on fresh connections
            except BrokenPipeError:
                _quiet_stdout()  # the reader went away (e.g. `| head`): stop quietly
            consumer.commit()
    except ClusterError as exc:
        print(f"kwire consume: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        if consumer is not None:
            print(f"Processed a total of {consumer.printed} messages", file=sys.stderr)
    return status


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
