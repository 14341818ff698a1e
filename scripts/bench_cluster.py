#!/usr/bin/env python
"""Benchmark kwire's multi-broker cluster (`kwire serve --brokers 3`) with
real clients; prints the figures issue 13 asks for:

- start-up of a 3-node cluster to the first answered Metadata (and RSS then);
- acks=all produce throughput (confluent-kafka) with replication factor 3
  against replication factor 1, in the same run;
- follower lag under that produce load (the most any follower of the RF 3
  topic was behind its leader, sampled from the control endpoint);
- how long an idempotent acks=all producer (client defaults) takes to get
  its next acknowledgement after its partition's leader stops.

Only 127.0.0.1; ends only the process it started.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil
from bench import metadata_request

REPO = Path(__file__).resolve().parent.parent
READY = re.compile(r"ready on (\S+) \(")
CONTROL = re.compile(r"cluster control on 127\.0\.0\.1:(\d+)")


class ClusterProcess:
    def __init__(self, data_dir: str, brokers: int = 3) -> None:
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kwire",
                "serve",
                "--brokers",
                str(brokers),
                "--port",
                "0",
                "--data-dir",
                data_dir,
                "--control-port",
                "0",
                "--log-level",
                "WARNING",
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        line = self.process.stdout.readline()
        ready, control = READY.search(line), CONTROL.search(line)
        if not ready or not control:
            self.process.kill()
            raise SystemExit(f"kwire did not start: {line!r}")
        self.bootstrap = ready.group(1)
        self.control = f"http://127.0.0.1:{control.group(1)}"

    def first_metadata_s(self) -> float:
        host, port = self.bootstrap.split(",")[0].rsplit(":", 1)
        deadline = time.perf_counter() + 10
        while time.perf_counter() < deadline:
            try:
                with socket.create_connection((host, int(port)), timeout=1) as sock:
                    sock.sendall(metadata_request(1))
                    header = sock.recv(8)
                    if len(header) >= 8 and struct.unpack(">ii", header)[1] == 1:
                        return time.perf_counter() - self.started_at
            except OSError:
                time.sleep(0.002)
        raise SystemExit("no Metadata answer within 10 s")

    def rss_mb(self) -> float:
        return psutil.Process(self.process.pid).memory_info().rss / 1e6

    def call(self, path: str, method: str = "GET") -> dict:
        request = urllib.request.Request(self.control + path, data=b"{}" if method == "POST" else None, method=method)
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def create_topic(bootstrap: str, topic: str, partitions: int, replication: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, partitions, replication)])[topic].result(30)


def produce_throughput(bootstrap: str, topic: str, count: int, size: int) -> dict:
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    values = [os.urandom(size // 2 + 1).hex()[:size].encode() for _ in range(1024)]
    producer.produce(topic, value=values[0])
    producer.flush(30)
    start = time.perf_counter()
    for i in range(count):
        try:
            producer.produce(topic, value=values[i & 1023])
        except BufferError:
            producer.poll(0.005)
            producer.produce(topic, value=values[i & 1023])
        if not i & 0x3FFF:
            producer.poll(0)
    left = producer.flush(120)
    elapsed = time.perf_counter() - start
    if left:
        raise SystemExit(f"{left} messages not delivered")
    return dict(msgs=count / elapsed, mb=count * size / elapsed / 1e6)


def follower_lags(status: dict, topic: str) -> list[int]:
    """Each follower's distance (messages) from its leader's log end, in one status sample."""
    lags = []
    for entry in status["partitions"]:
        ends = {int(node): end for node, end in entry.get("log_end_offsets", {}).items()}
        if entry["topic"] != topic or entry["leader"] not in ends:
            continue
        lags.extend(ends[entry["leader"]] - end for node, end in ends.items() if node != entry["leader"])
    return lags


def resume_after_leader_stop(cluster: ClusterProcess, bootstrap: str, topic: str, action: str = "stop") -> float:
    """Seconds from a leader's stop (`stop`: controlled shutdown; `kill`: at
    once, as a crash) to the next acknowledgement of an idempotent acks=all
    producer that keeps sending (client defaults)."""
    from confluent_kafka import Producer

    acked: list[float] = []
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})

    def delivered(error, _message) -> None:
        if error is None:
            acked.append(time.perf_counter())

    for i in range(100):
        producer.produce(topic, value=b"warm-%d" % i, on_delivery=delivered)
    producer.flush(30)
    leader = next(p["leader"] for p in cluster.call("/cluster")["partitions"] if p["topic"] == topic)
    # The stop is asked from another thread while the producer keeps sending, as in an application.
    stopper = threading.Thread(target=cluster.call, args=(f"/cluster/nodes/{leader}/{action}", "POST"))
    count = len(acked)
    stopped = time.perf_counter()
    stopper.start()
    deadline = stopped + 30
    n = 0
    while len(acked) == count and time.perf_counter() < deadline:
        producer.produce(topic, value=b"after-%d" % n, on_delivery=delivered)
        n += 1
        producer.poll(0.001)
    stopper.join(30)
    producer.flush(30)
    cluster.call(f"/cluster/nodes/{leader}/start", "POST")
    # The acknowledgements of what was in flight to the old leader come first: the first
    # one after the stop began that the new leader wrote is what counts.
    return acked[count] - stopped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--partitions", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        cluster = ClusterProcess(data_dir)
        try:
            startup = cluster.first_metadata_s()
            print(
                f"start-up of 3 nodes to the first answered Metadata: {startup * 1000:.0f} ms, RSS {cluster.rss_mb():.0f} MB"
            )
            create_topic(cluster.bootstrap, "rf1", args.partitions, 1)
            create_topic(cluster.bootstrap, "rf3", args.partitions, 3)
            stop = threading.Event()
            samples: list[dict] = []

            def sample() -> None:
                while not stop.is_set():
                    samples.append(cluster.call("/cluster"))
                    time.sleep(0.05)

            # Two rounds in alternating order, so neither topic gets the warm-up advantage.
            runs: dict[str, list[dict]] = {"rf1": [], "rf3": []}
            for order in (("rf1", "rf3"), ("rf3", "rf1")):
                for topic in order:
                    sampler = threading.Thread(target=sample, daemon=True) if topic == "rf3" else None
                    if sampler is not None:
                        stop.clear()
                        sampler.start()
                    runs[topic].append(produce_throughput(cluster.bootstrap, topic, args.messages, args.size))
                    if sampler is not None:
                        stop.set()
                        sampler.join(5)
            rf1 = max(runs["rf1"], key=lambda run: run["msgs"])
            rf3 = max(runs["rf3"], key=lambda run: run["msgs"])
            print(
                f"acks=all produce, {args.messages} x {args.size} B, {args.partitions} partitions, best of 2: "
                f"RF 1 {rf1['msgs']:,.0f} msgs/s ({rf1['mb']:.1f} MB/s), RF 3 {rf3['msgs']:,.0f} msgs/s "
                f"({rf3['mb']:.1f} MB/s): {rf3['msgs'] / rf1['msgs']:.2f}x"
            )
            lags = [lag for sample in samples for lag in follower_lags(sample, "rf3")]
            lags.sort()
            shrinks = samples[-1]["isr_shrinks"] if samples else 0
            if lags:
                print(
                    f"follower lag during the RF 3 runs ({len(samples)} samples, messages behind the leader): "
                    f"median {lags[len(lags) // 2]}, p99 {lags[int(len(lags) * 0.99)]}, max {lags[-1]}; "
                    f"ISR shrinks {shrinks}"
                )
            for action in ("stop", "kill"):
                times = []
                for trial in range(5):
                    topic = f"failover-{action}-{trial}"
                    create_topic(cluster.bootstrap, topic, 1, 3)
                    times.append(resume_after_leader_stop(cluster, cluster.bootstrap, topic, action) * 1000)
                    time.sleep(0.5)  # the restarted node back in the ISRs
                times.sort()
                print(
                    f"idempotent producer's next acknowledgement after its leader's {action} (5 trials): "
                    f"median {times[2]:.0f} ms, max {times[-1]:.0f} ms"
                )
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
