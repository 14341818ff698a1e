#!/usr/bin/env python
"""Start-up time on a data directory with many partitions, after a clean
shutdown (SIGTERM) and after an unclean one (SIGKILL).

Builds the directory once (`--topics` x `--partitions` partitions, a few
messages in each, written by confluent-kafka), then restarts the broker on
it `--rounds` times each way and reports the seconds from spawning the
process to the first answered Metadata request, and the RSS then. Only
127.0.0.1; ends only the brokers it started.

    python scripts/bench_startup.py                  # 100 x 100 = 10,000 partitions
    python scripts/bench_startup.py --topics 10      # 1,000 partitions
"""

from __future__ import annotations

import argparse
import re
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
READY = re.compile(r"ready on (\S+):(\d+)")
START_TIMEOUT_S = 300


def metadata_request(correlation_id: int) -> bytes:
    # Metadata v1 with no topics: api key 3, version 1, client id "bench", empty array.
    body = struct.pack(">hhih", 3, 1, correlation_id, 5) + b"bench" + struct.pack(">i", 0)
    return struct.pack(">i", len(body)) + body


class Broker:
    """`python -m kwire serve` on `data_dir`; `startup_s` is the time from
    spawning it to its first answered Metadata request."""

    def __init__(self, data_dir: Path, log_path: Path) -> None:
        started = time.perf_counter()
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "kwire",
                    "serve",
                    "--port",
                    "0",
                    "--data-dir",
                    str(data_dir),
                    "--log-level",
                    "WARNING",
                ],
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                cwd=REPO,
            )
        line = self.process.stdout.readline()
        match = READY.search(line)
        if not match:
            self.process.kill()
            raise SystemExit(f"kwire did not start: {line!r} (see {log_path})")
        self.port = int(match.group(2))
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._wait_for_metadata(started)
        self.startup_s = time.perf_counter() - started
        self.rss_mb = psutil.Process(self.process.pid).memory_info().rss / 1e6

    def _wait_for_metadata(self, started: float) -> None:
        deadline = started + START_TIMEOUT_S
        while time.perf_counter() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
                    sock.sendall(metadata_request(1))
                    header = sock.recv(8)
                    if len(header) >= 8 and struct.unpack(">ii", header)[1] == 1:
                        return
            except OSError:
                time.sleep(0.002)
        raise SystemExit(f"no Metadata answer within {START_TIMEOUT_S} s")

    def stop(self, how: signal.Signals) -> None:
        self.process.send_signal(how)
        self.process.wait(120)
        self.process.stdout.close()


def fill(bootstrap: str, topics: int, partitions: int, messages: int) -> None:
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    names = [f"startup-{i:03d}" for i in range(topics)]
    for future in admin.create_topics([NewTopic(n, partitions, 1) for n in names]).values():
        future.result(120)
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 20})
    for name in names:
        for partition in range(partitions):
            for _ in range(messages):
                producer.produce(name, value=b"x" * 100, partition=partition)
        producer.poll(0)
    if producer.flush(300):
        raise SystemExit("not every message was delivered")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=int, default=100)
    parser.add_argument("--partitions", type=int, default=100, help="partitions per topic")
    parser.add_argument("--messages", type=int, default=5, help="messages per partition")
    parser.add_argument("--rounds", type=int, default=3, help="restarts per shutdown kind")
    parser.add_argument("--data-dir", help="where to build the directory (default: a temporary one)")
    args = parser.parse_args()

    parent = tempfile.mkdtemp(prefix="kwire-startup-", dir=args.data_dir)
    data_dir, log_path = Path(parent) / "data", Path(parent) / "kwire.log"
    total = args.topics * args.partitions
    print(
        f"kwire start-up on {total:,} partitions ({args.topics} topics x {args.partitions}, "
        f"{args.messages} messages each) in {data_dir}"
    )
    broker = Broker(data_dir, log_path)
    print(f"empty directory                 {broker.startup_s:7.3f} s")
    build_started = time.perf_counter()
    fill(broker.bootstrap, args.topics, args.partitions, args.messages)
    print(f"built in {time.perf_counter() - build_started:.1f} s")
    for label, how in (("after a clean shutdown  ", signal.SIGTERM), ("after SIGKILL           ", signal.SIGKILL)):
        times, rss = [], []
        for _ in range(args.rounds):
            broker.stop(how)
            broker = Broker(data_dir, log_path)
            times.append(broker.startup_s)
            rss.append(broker.rss_mb)
        print(
            f"{label}        {statistics.median(times):7.3f} s median (min {min(times):.3f}, max {max(times):.3f}; "
            f"RSS {statistics.median(rss):.0f} MB)"
        )
    broker.stop(signal.SIGTERM)
    print(f"broker log: {log_path}")


if __name__ == "__main__":
    main()
