#!/usr/bin/env python
"""Soak kwire with real clients and watch its memory.

Starts `python -m kwire serve` as a subprocess and, until --minutes have
passed, runs rounds of ordinary CI-like traffic through new client
instances each round (so connections, group members and producers come
and go): confluent-kafka produce (plain and idempotent) and a group
consumer that commits, kafka-python produce, group listing and describing,
an aiokafka group consumer, and Metadata requests of varying shapes.
Prints the broker's RSS every --report-every seconds and a summary.

With --tracemalloc the broker traces its allocations
(KWIRE_TRACEMALLOC_SNAPSHOTS) and the script prints what grew most
between the first snapshot after warm-up and the last one.

    python scripts/soak.py --minutes 12
    python scripts/soak.py --minutes 20 --tracemalloc
    python scripts/soak.py --minutes 12 --kwire-root /tmp/kwire-base   # another checkout

Only 127.0.0.1; ends only the broker it started.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
READY = re.compile(r"ready on (\S+):(\d+)")
TOPICS = [f"soak-{n}" for n in range(4)]
PARTITIONS = 3
CLIENT_TIMEOUT_S = 20


class Broker:
    def __init__(
        self, root: Path, data_dir: str | None, snapshots: Path | None, interval_s: float, overrides: list[str]
    ) -> None:
        storage = ["--memory"] if data_dir is None else ["--data-dir", data_dir]
        storage += [argument for override in overrides for argument in ("-o", override)]
        env = None
        if snapshots is not None:
            import os

            env = dict(
                os.environ, KWIRE_TRACEMALLOC_SNAPSHOTS=str(snapshots), KWIRE_TRACEMALLOC_INTERVAL_S=str(interval_s)
            )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kwire", "serve", "--port", "0", *storage, "--log-level", "WARNING"],
            stdout=subprocess.PIPE,
            text=True,
            cwd=root,
            env=env,
        )
        match = READY.search(self.process.stdout.readline())
        if not match:
            self.process.kill()
            raise SystemExit("kwire did not start")
        self.bootstrap = f"127.0.0.1:{match.group(2)}"
        self.port = int(match.group(2))
        self.ps = psutil.Process(self.process.pid)

    def rss_mb(self) -> float:
        return self.ps.memory_info().rss / 1e6

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


# --- one round of traffic ---------------------------------------------------


IDEMPOTENCE = {"on": True}  # --no-idempotence turns it off for every producer


def confluent_produce(bootstrap: str, round_number: int) -> None:
    from confluent_kafka import Producer

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "linger.ms": 5,
            "enable.idempotence": IDEMPOTENCE["on"] and round_number % 2 == 0,
        }
    )
    for i in range(400):
        producer.produce(TOPICS[i % len(TOPICS)], key=b"k%d" % (i % 50), value=b"v" * 100)
    producer.flush(CLIENT_TIMEOUT_S)


def confluent_group_consume(bootstrap: str, round_number: int) -> None:
    """A committing consumer in one of four groups; every other round a
    consumer of a brand-new group that commits nothing (as tests do with a
    unique group id each), which the broker must forget once it leaves."""
    from confluent_kafka import Consumer

    group = f"soak-confluent-{round_number % 4}" if round_number % 2 else f"soak-once-{round_number}"
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
        }
    )
    consumer.subscribe([TOPICS[round_number % len(TOPICS)]])
    received = 0
    deadline = time.monotonic() + 5
    while received < 50 and time.monotonic() < deadline:
        message = consumer.poll(0.2)
        if message is not None and not message.error():
            received += 1
    if received and round_number % 2:
        consumer.commit(asynchronous=False)
    consumer.close()


def kafka_python_round(bootstrap: str, round_number: int) -> None:
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, enable_idempotence=IDEMPOTENCE["on"])
    for i in range(100):
        producer.send(TOPICS[(round_number + i) % len(TOPICS)], value=b"p" * 100)
    producer.flush(CLIENT_TIMEOUT_S)
    producer.close(CLIENT_TIMEOUT_S)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        groups = sorted(_group_id(group) for group in admin.list_groups())
        if groups:
            admin.describe_groups(groups[:4])
            admin.list_group_offsets(groups[0])
        admin.describe_topics(TOPICS[:2])
    finally:
        admin.close()


def _group_id(listed) -> str:
    if isinstance(listed, str):
        return listed
    if isinstance(listed, dict):
        return listed["group_id"]
    return listed[0]


def aiokafka_group_consume(bootstrap: str, round_number: int) -> None:
    from aiokafka import AIOKafkaConsumer

    async def consume() -> None:
        consumer = AIOKafkaConsumer(
            TOPICS[(round_number + 1) % len(TOPICS)],
            bootstrap_servers=bootstrap,
            group_id=f"soak-aiokafka-{round_number % 2}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            batch = await consumer.getmany(timeout_ms=3000, max_records=50)
            if batch:
                await consumer.commit()
        finally:
            await consumer.stop()

    asyncio.run(asyncio.wait_for(consume(), CLIENT_TIMEOUT_S))


def raw_metadata(port: int, round_number: int) -> None:
    """Metadata v1 for all topics and for a changing subset (distinct request shapes)."""
    subsets = [[], TOPICS[: 1 + round_number % len(TOPICS)], [f"soak-missing-{round_number % 7}"]]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for correlation_id, names in enumerate(subsets):
            body = struct.pack(">hhih", 3, 1, correlation_id, 4) + b"soak"
            if names:
                body += struct.pack(">i", len(names))
                for name in names:
                    body += struct.pack(">h", len(name)) + name.encode()
            else:
                body += struct.pack(">i", -1)
            sock.sendall(struct.pack(">i", len(body)) + body)
            size = struct.unpack(">i", _read(sock, 4))[0]
            _read(sock, size)


def _read(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def one_round(broker: Broker, round_number: int) -> None:
    confluent_produce(broker.bootstrap, round_number)
    confluent_group_consume(broker.bootstrap, round_number)
    kafka_python_round(broker.bootstrap, round_number)
    aiokafka_group_consume(broker.bootstrap, round_number)
    raw_metadata(broker.port, round_number)


# --- reporting -----------------------------------------------------------------


class RssSampler(threading.Thread):
    def __init__(self, broker: Broker, every_s: float) -> None:
        super().__init__(daemon=True)
        self.broker, self.every_s = broker, every_s
        self.samples: list[tuple[float, float]] = []
        self.started = time.monotonic()
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            minutes = (time.monotonic() - self.started) / 60
            rss = self.broker.rss_mb()
            self.samples.append((minutes, rss))
            print(f"{minutes:6.1f} min  RSS {rss:6.1f} MB", flush=True)
            self.stopped.wait(self.every_s)


def rss_at(samples: list[tuple[float, float]], minute: float) -> str:
    """The sample nearest to `minute` (if the soak got that far)."""
    if not samples or samples[-1][0] < minute - 0.5:
        return "-"
    return f"{min(samples, key=lambda sample: abs(sample[0] - minute))[1]:.1f} MB"


def print_growth(snapshots: Path, warm_up_s: float, interval_s: float, top: int) -> None:
    files = sorted(snapshots.glob("snapshot-*.tracemalloc"))
    first_index = min(len(files) - 1, int(warm_up_s // interval_s))
    if len(files) < 2 or first_index >= len(files) - 1:
        print("not enough tracemalloc snapshots to compare")
        return
    ignore = [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
    ]
    first = tracemalloc.Snapshot.load(str(files[first_index])).filter_traces(ignore)
    last = tracemalloc.Snapshot.load(str(files[-1])).filter_traces(ignore)
    total_first = sum(s.size for s in first.statistics("filename"))
    total_last = sum(s.size for s in last.statistics("filename"))
    print(
        f"\ntraced memory: {total_first / 1e6:.2f} MB in {files[first_index].name} -> "
        f"{total_last / 1e6:.2f} MB in {files[-1].name}"
    )
    print(f"top {top} growth by line:")
    for stat in last.compare_to(first, "lineno")[:top]:
        print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  {stat.traceback[0]}")
    print("top 3 growth by traceback:")
    for stat in last.compare_to(first, "traceback")[:3]:
        print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks")
        for line in stat.traceback.format(limit=6):
            print(f"      {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=12)
    parser.add_argument("--report-every", type=float, default=60, help="seconds between RSS lines (and snapshots)")
    parser.add_argument(
        "--memory", action="store_true", help="run the broker in memory (default: a temporary data dir)"
    )
    parser.add_argument(
        "--tracemalloc", action="store_true", help="trace the broker's allocations and print the growth"
    )
    parser.add_argument("--warm-up", type=float, default=120, help="seconds before the snapshot compared against")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--kwire-root", type=Path, default=REPO, help="run the kwire package found in this directory")
    parser.add_argument(
        "--no-idempotence",
        action="store_true",
        help="plain producers only (idempotent producers' state is kept a day, as in Kafka)",
    )
    parser.add_argument(
        "-o",
        "--override",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a broker setting, passed on to kwire serve (repeatable)",
    )
    parser.add_argument(
        "--keep-snapshots", type=Path, help="write the tracemalloc snapshots here instead of a temp dir"
    )
    args = parser.parse_args()
    IDEMPOTENCE["on"] = not args.no_idempotence

    with tempfile.TemporaryDirectory(prefix="kwire-soak-") as work:
        snapshots = (args.keep_snapshots or Path(work) / "snapshots") if args.tracemalloc else None
        data_dir = None if args.memory else str(Path(work) / "data")
        broker = Broker(args.kwire_root.resolve(), data_dir, snapshots, args.report_every, args.override)
        sampler = RssSampler(broker, args.report_every)
        rounds = 0
        try:
            sampler.start()
            deadline = time.monotonic() + args.minutes * 60
            for rounds in itertools.count(1):
                one_round(broker, rounds)
                if time.monotonic() >= deadline or broker.process.poll() is not None:
                    break
            sampler.stopped.set()
            sampler.join(5)
            final_minutes = (time.monotonic() - sampler.started) / 60
            sampler.samples.append((final_minutes, broker.rss_mb()))
        finally:
            broker.stop()
        samples = sampler.samples
        print(
            f"\n{rounds} rounds in {samples[-1][0]:.1f} min; RSS at start {samples[0][1]:.1f} MB, "
            f"after 5 min {rss_at(samples, 5)}, after 10 min {rss_at(samples, 10)}, "
            f"at the end {samples[-1][1]:.1f} MB"
        )
        if snapshots is not None:
            print_growth(snapshots, args.warm_up, args.report_every, args.top)


if __name__ == "__main__":
    main()
