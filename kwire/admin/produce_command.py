"""`kwire produce TOPIC`: lines from stdin (or a file) as records, as
kafka-console-producer and `kcat -P` send them, over the wire protocol, so it
works against any Kafka broker.

Records are gathered into one batch per partition and a batch goes out when
it is full (--batch-size bytes of records), when --linger-ms passed since its
first record while the input waits, or at the end of the input; each goes to
its partition's leader, and every partition's answer is checked.
"""

from __future__ import annotations

import argparse
import os
import select
import sys
import time
from typing import Any, BinaryIO

from kwire.admin.cluster_client import ClusterClient, ClusterError, read_command_config
from kwire.admin.common import add_connection_options
from kwire.admin.partitioner import StickyPartitioner, partition_for_key
from kwire.admin.topic_layout import ATTEMPTS, BACKOFF_S, RETRIABLE, error_name, topic_leaders
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.record_codec import GZIP, LZ4, NONE, SNAPPY, ZSTD, compress, write_varint
from kwire.protocol.records import CURRENT_MAGIC, HEADER, HEADER_SIZE, LOG_OVERHEAD, reseal

CODECS = {"none": NONE, "gzip": GZIP, "snappy": SNAPPY, "lz4": LZ4, "zstd": ZSTD}
ACKS = {"0": 0, "1": 1, "all": -1, "-1": -1}
DEFAULT_BATCH_SIZE = 1_000_000  # librdkafka's (kcat's) batch.size; fits max.message.bytes' default
# Long enough that fast input fills whole batches (sends are one at a time),
# short enough for lines typed or trickled in to show up promptly.
DEFAULT_LINGER_MS = 100
REQUEST_TIMEOUT_MS = 30_000
MAX_REQUEST_BYTES = 8 << 20  # batches for one leader are split into requests of about this much
_READ_SIZE = 1 << 20


def _zigzag(value: int) -> bytes:
    out = bytearray()
    write_varint(out, value)
    return bytes(out)


# The encodings of small non-negative varints, looked up rather than computed per record.
_CACHED = 1 << 14
_VARINTS = [_zigzag(n) for n in range(_CACHED)]


def _varint(value: int) -> bytes:
    return _VARINTS[value] if 0 <= value < _CACHED else _zigzag(value)


class PartitionBatch:
    """The records gathered for one partition, encoded as they arrive."""

    def __init__(self, now_ms: int, headers: bytes) -> None:
        self.records = bytearray()
        self.count = 0
        self.base_timestamp = now_ms
        self.max_timestamp_delta = 0
        self.started = time.monotonic()
        self._headers = headers  # the count and the static headers, encoded once

    def add(self, key: bytes | None, value: bytes, now_ms: int) -> None:
        varint = _varint
        delta = max(now_ms - self.base_timestamp, 0)
        if delta > self.max_timestamp_delta:  # the wall clock may step back
            self.max_timestamp_delta = delta
        head = b"\x00" + varint(delta) + varint(self.count)  # attributes, timestamp and offset deltas
        key_part = b"\x01" if key is None else varint(len(key)) + key  # zig-zag -1 is 0x01
        value_length = varint(len(value))
        headers = self._headers
        records = self.records
        records += varint(len(head) + len(key_part) + len(value_length) + len(value) + len(headers))
        records += head
        records += key_part
        records += value_length
        records += value
        records += headers
        self.count += 1

    def seal(self, codec: int) -> bytes:
        """The batch as sent: header, then the (compressed) records."""
        payload = compress(codec, bytes(self.records)) if codec != NONE else self.records
        batch = bytearray(HEADER_SIZE) + payload
        HEADER.pack_into(
            batch,
            0,
            0,  # base offset: the broker's to assign
            len(batch) - LOG_OVERHEAD,
            -1,  # partition leader epoch: unknown to a producer
            CURRENT_MAGIC,
            0,  # crc: set by reseal
            codec,  # attributes: compression, CreateTime, not transactional
            self.count - 1,
            self.base_timestamp,
            self.base_timestamp + self.max_timestamp_delta,
            -1,  # no producer id: not idempotent
            -1,
            -1,
            self.count,
        )
        reseal(batch)
        return bytes(batch)


def encode_headers(headers: list[tuple[bytes, bytes]]) -> bytes:
    """A record's header count and headers, as the record format writes them."""
    out = bytearray()
    write_varint(out, len(headers))
    for name, value in headers:
        write_varint(out, len(name))
        out += name
        write_varint(out, len(value))
        out += value
    return bytes(out)


class Producer:
    """Batches per partition, sent to each partition's leader."""

    def __init__(
        self,
        cluster: ClusterClient,
        topic: str,
        *,
        partition: int | None = None,
        codec: int = NONE,
        acks: int = -1,
        batch_size: int = DEFAULT_BATCH_SIZE,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self.cluster = cluster
        self.topic = topic
        self.codec = codec
        self.acks = acks
        self.batch_size = batch_size
        self.sent = 0
        self._headers = encode_headers(headers or [])
        self._leaders = topic_leaders(cluster, topic, auto_create=True)
        self._partitions = len(self._leaders)
        if partition is not None and partition not in self._leaders:
            raise ClusterError(f"topic {topic} has no partition {partition} (it has {self._partitions})")
        self._fixed = partition
        self._sticky = StickyPartitioner(self._partitions)
        self._open: dict[int, PartitionBatch] = {}

    def add(self, key: bytes | None, value: bytes, now_ms: int) -> None:
        """One record; a batch that it would overfill is sent first."""
        if self._fixed is not None:
            partition = self._fixed
        elif key is None:
            partition = self._sticky.current
        else:
            partition = partition_for_key(key, self._partitions)
        batch = self._open.get(partition)
        # The record's size, near enough: its fields, the static headers and up to 16 bytes of varints.
        size = len(value) + (len(key) if key else 0) + len(self._headers) + 16
        if batch is not None and len(batch.records) + size > self.batch_size:
            self.flush([partition])
            if key is None and self._fixed is None:
                partition = self._sticky.current
            batch = self._open.get(partition)
        if batch is None:
            batch = self._open[partition] = PartitionBatch(now_ms, self._headers)
        batch.add(key, value, now_ms)

    def lingered(self, linger_s: float) -> list[int]:
        """Partitions whose batch has waited at least linger_s."""
        now = time.monotonic()
        return [p for p, batch in self._open.items() if now - batch.started >= linger_s]

    def oldest_batch_age(self) -> float | None:
        if not self._open:
            return None
        return time.monotonic() - min(batch.started for batch in self._open.values())

    def flush(self, partitions: list[int] | None = None) -> None:
        """Send the open batches of `partitions` (all when None) and check each answer."""
        chosen = list(self._open) if partitions is None else [p for p in partitions if p in self._open]
        pending = {p: self._open.pop(p) for p in chosen}
        sealed = {p: batch.seal(self.codec) for p, batch in pending.items()}
        for partition in sealed:
            self._sticky.batch_sent(partition)
        for attempt in range(ATTEMPTS):
            retry = self._send(sealed)
            if not retry:
                break
            if attempt == ATTEMPTS - 1:
                partition, code = next(iter(retry.items()))
                raise ClusterError(f"{self.topic}-{partition}: {error_name(code)} (gave up after {ATTEMPTS} tries)")
            time.sleep(BACKOFF_S * (attempt + 1))
            self._leaders = topic_leaders(self.cluster, self.topic)
            sealed = {p: sealed[p] for p in retry}
        self.sent += sum(batch.count for batch in pending.values())

    def _send(self, sealed: dict[int, bytes]) -> dict[int, int]:
        """One request per leader (or more, for much data); returns the partitions to retry with their errors."""
        by_leader: dict[int, list[int]] = {}
        for partition in sealed:
            by_leader.setdefault(self._leaders[partition], []).append(partition)
        retry: dict[int, int] = {}
        for leader, partitions in by_leader.items():
            connection = self.cluster.node(leader)
            for group in _requests(partitions, sealed):
                values = self._request(group, sealed)
                if self.acks == 0:
                    connection.send(ApiKey.PRODUCE, values, 9, 3)
                    continue
                _version, answer = connection.call(ApiKey.PRODUCE, values, 9, 3)
                retry.update(self._check(answer))
        return retry

    def _request(self, partitions: list[int], sealed: dict[int, bytes]) -> dict[str, Any]:
        data = [dict(index=p, records=sealed[p]) for p in partitions]
        return dict(
            transactional_id=None,
            acks=self.acks,
            timeout=REQUEST_TIMEOUT_MS,
            topic_data=[dict(name=self.topic, partition_data=data)],
        )

    def _check(self, answer: Any) -> dict[int, int]:
        retry: dict[int, int] = {}
        for topic in answer.responses:
            for result in topic.partition_responses:
                code = int(result.error_code)
                if code == 0:
                    continue
                if code in RETRIABLE:
                    retry[result.index] = code
                    continue
                message = getattr(result, "error_message", None)
                detail = f": {message}" if message else ""
                raise ClusterError(f"{self.topic}-{result.index}: {error_name(code)}{detail}")
        return retry


def _requests(partitions: list[int], sealed: dict[int, bytes]) -> list[list[int]]:
    """Partitions grouped so that no request carries much more than MAX_REQUEST_BYTES."""
    groups: list[list[int]] = [[]]
    size = 0
    for partition in partitions:
        if groups[-1] and size + len(sealed[partition]) > MAX_REQUEST_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(partition)
        size += len(sealed[partition])
    return groups


class KeySeparatorMissing(ClusterError):
    pass


def produce_lines(
    producer: Producer, source: BinaryIO, key_separator: bytes | None, linger_ms: int = DEFAULT_LINGER_MS
) -> int:
    """Send every line of `source` (a trailing newline, and a \\r before it,
    is not part of the record); returns how many records were sent."""
    fd = source.fileno()
    linger_s = linger_ms / 1000
    tail = b""
    line_number = 0
    waitable = _selectable(fd)
    while True:
        age = producer.oldest_batch_age()
        if waitable and age is not None:
            # Wait for input no longer than the oldest batch may still linger.
            ready, _, _ = select.select([fd], [], [], max(linger_s - age, 0))
            if not ready:
                producer.flush(producer.lingered(linger_s))
                continue
        chunk = os.read(fd, _READ_SIZE)
        if not chunk:
            break
        lines = (tail + chunk).split(b"\n")
        tail = lines.pop()
        line_number = _add_lines(producer, lines, key_separator, line_number)
        producer.flush(producer.lingered(linger_s))
    if tail:
        _add_lines(producer, [tail], key_separator, line_number)
    producer.flush()
    return producer.sent


def _add_lines(producer: Producer, lines: list[bytes], key_separator: bytes | None, line_number: int) -> int:
    now_ms = int(time.time() * 1000)
    add = producer.add
    if any(line.endswith(b"\r") for line in lines):
        lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
    if key_separator is None:
        for line in lines:
            add(None, line, now_ms)
        return line_number + len(lines)
    for line in lines:
        line_number += 1
        key, found, value = line.partition(key_separator)
        if not found:
            # As kafka-console-producer with parse.key=true: a line without the separator is an error.
            shown = line[:60].decode("utf-8", "replace")
            raise KeySeparatorMissing(f"no key separator found on line number {line_number}: '{shown}'")
        add(key, value, now_ms)
    return line_number


def _selectable(fd: int) -> bool:
    """Whether select() can wait on fd (pipes, terminals, sockets; not regular files)."""
    import stat

    mode = os.fstat(fd).st_mode
    return not stat.S_ISREG(mode)


# --- the command line --------------------------------------------------------


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "produce",
        help="send lines from stdin (or a file) as records to a topic",
        description="Send each input line as a record (as kafka-console-producer and kcat -P do), batched per "
        "partition and sent to each partition's leader. Keyed records are placed by Kafka's default "
        "partitioner (murmur2); keyless ones stick to a partition per batch. Works against any Kafka broker.",
    )
    parser.add_argument("topic")
    add_connection_options(parser, output=False)
    parser.add_argument("--file", help="read lines from this file instead of stdin")
    parser.add_argument(
        "--key-separator",
        metavar="SEP",
        help="each line is KEY SEP VALUE (as kafka-console-producer's parse.key=true key.separator=SEP, or "
        "kcat -K SEP); a line without SEP is an error",
    )
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a header on every record (repeatable)",
    )
    parser.add_argument("--partition", type=int, help="send every record to this partition")
    parser.add_argument("--compression", choices=list(CODECS), default="none", help="compression codec (default none)")
    parser.add_argument("--acks", choices=["0", "1", "all", "-1"], default="all", help="acks (default all)")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        metavar="BYTES",
        help=f"record bytes per partition batch before it is sent (default {DEFAULT_BATCH_SIZE})",
    )
    parser.set_defaults(admin=lambda args: run(parser, args))
    parser.add_argument(
        "--linger-ms",
        type=int,
        default=DEFAULT_LINGER_MS,
        metavar="MS",
        help=f"how long a batch waits for more input before it is sent (default {DEFAULT_LINGER_MS})",
    )


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    headers: list[tuple[bytes, bytes]] = []
    for header in args.header:
        name, sep, value = header.partition("=")
        if not sep or not name:
            parser.error(f"--header wants NAME=VALUE, got {header!r}")
        headers.append((name.encode(), value.encode()))
    if args.batch_size < 1 or args.linger_ms < 0:
        parser.error("--batch-size must be positive and --linger-ms not negative")
    separator = _unescape(args.key_separator).encode() if args.key_separator is not None else None
    if separator == b"":
        parser.error("--key-separator must not be empty")
    try:
        settings = read_command_config(args.command_config) if args.command_config else {}
        with ClusterClient(args.bootstrap_server, settings) as cluster:
            producer = Producer(
                cluster,
                args.topic,
                partition=args.partition,
                codec=CODECS[args.compression],
                acks=ACKS[args.acks],
                batch_size=args.batch_size,
                headers=headers,
            )
            if args.file:
                with open(args.file, "rb") as source:
                    produce_lines(producer, source, separator, args.linger_ms)
            else:
                produce_lines(producer, sys.stdin.buffer, separator, args.linger_ms)
    except ClusterError as exc:
        print(f"kwire produce: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"kwire produce: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def _unescape(text: str) -> str:
    r"""Separators as shells pass them: `\t` and `\n` written out mean tab and newline."""
    return text.replace("\\t", "\t").replace("\\n", "\n")
