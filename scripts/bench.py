#!/usr/bin/env python
"""Benchmark kwire with real clients; prints the figures the issues ask for.

Starts `python -m kwire serve` as a subprocess (in memory unless --data-dir
is given), drives it with confluent-kafka (and kafka-python), and reports
throughput, latency, start-up time, memory and the broker's own CPU cost.
Only 127.0.0.1; ends only the broker it started.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from bench_groups import formation_and_rebalance, group_consume

REPO = Path(__file__).resolve().parent.parent
READY = re.compile(r"ready on (\S+):(\d+)")
DEFAULT_DELAY_MS = 100  # group.initial.rebalance.delay.ms's default
COMPARED_DELAY_MS = 0  # the formation again with no initial delay (kwire's default before issue 12)


class Broker:
    def __init__(self, data_dir: str | None, port: int = 0, extra_args: tuple[str, ...] = ()) -> None:
        storage = ["--memory"] if data_dir is None else ["--data-dir", data_dir]
        self.started_at = time.perf_counter()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kwire",
                "serve",
                "--port",
                str(port),
                *storage,
                "--log-level",
                "WARNING",
                *extra_args,
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        line = self.process.stdout.readline()
        self.ready_line = line
        match = READY.search(line)
        if not match:
            self.process.kill()
            raise SystemExit(f"kwire did not start: {line!r}")
        self.ready_line_at = time.perf_counter()
        self.port = int(match.group(2))
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.ps = psutil.Process(self.process.pid)

    def cpu_seconds(self) -> float:
        times = self.ps.cpu_times()
        return times.user + times.system

    def rss_mb(self) -> float:
        return self.ps.memory_info().rss / 1e6

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def metadata_request(correlation_id: int) -> bytes:
    # Metadata v1 with no topics: api key 3, version 1, client id "bench", empty array.
    body = struct.pack(">hhih", 3, 1, correlation_id, 5) + b"bench" + struct.pack(">i", 0)
    return struct.pack(">i", len(body)) + body


def startup_time(data_dir: str | None) -> tuple[float, float]:
    """Seconds from spawning the process to the first answered Metadata
    request, and the RSS right then."""
    storage = ["--memory"] if data_dir is None else ["--data-dir", data_dir]
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "kwire", "serve", "--port", "0", *storage, "--log-level", "WARNING"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        port = int(READY.search(process.stdout.readline()).group(2))
        deadline = start + 10
        while time.perf_counter() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(metadata_request(1))
                    header = sock.recv(8)
                    if len(header) >= 8 and struct.unpack(">ii", header)[1] == 1:
                        return time.perf_counter() - start, psutil.Process(process.pid).memory_info().rss / 1e6
            except OSError:
                time.sleep(0.002)
        raise SystemExit("no Metadata answer within 10 s")
    finally:
        process.terminate()
        process.wait(10)


def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})  # must outlive the future
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(30)


def confluent_produce(broker: Broker, topic: str, count: int, size: int, compression: str = "none", **extra) -> dict:
    from confluent_kafka import Producer

    producer = Producer(
        {"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 5, "compression.type": compression, **extra}
    )
    # Hex text: about half compressible, unlike a run of one byte.
    values = [os.urandom(size // 2 + 1).hex()[:size].encode() for _ in range(1024)]
    producer.produce(topic, value=values[0])  # connect and fetch metadata outside the timing
    producer.flush(30)
    cpu_before, start = broker.cpu_seconds(), time.perf_counter()
    produce, poll = producer.produce, producer.poll
    for i in range(count):
        value = values[i & 1023]
        try:
            produce(topic, value=value)
        except BufferError:
            poll(0.005)
            produce(topic, value=value)
        if not i & 0x3FFF:
            poll(0)
    left = producer.flush(120)
    elapsed = time.perf_counter() - start
    cpu = broker.cpu_seconds() - cpu_before
    if left:
        raise SystemExit(f"{left} messages not delivered")
    return dict(msgs=count / elapsed, mb=count * size / elapsed / 1e6, cpu_s=cpu, cpu_us_per_msg=cpu / count * 1e6)


def confluent_transactional_produce(broker: Broker, topic: str, count: int, size: int, per_transaction: int) -> dict:
    """A transactional producer committing every `per_transaction` messages."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5, "transactional.id": "bench-tx"})
    producer.init_transactions(30)
    values = [os.urandom(size // 2 + 1).hex()[:size].encode() for _ in range(1024)]
    cpu_before, start = broker.cpu_seconds(), time.perf_counter()
    produce, poll = producer.produce, producer.poll
    for first in range(0, count, per_transaction):
        producer.begin_transaction()
        for i in range(first, min(first + per_transaction, count)):
            try:
                produce(topic, value=values[i & 1023])
            except BufferError:
                poll(0.005)
                produce(topic, value=values[i & 1023])
        producer.commit_transaction(60)
    elapsed = time.perf_counter() - start
    cpu = broker.cpu_seconds() - cpu_before
    return dict(msgs=count / elapsed, mb=count * size / elapsed / 1e6, cpu_s=cpu, cpu_us_per_msg=cpu / count * 1e6)


def confluent_consume(broker: Broker, topic: str, partitions: int, count: int, size: int) -> dict:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    # librdkafka pauses fetching for fetch.queue.backoff.ms (1 s by default)
    # whenever its local queue is full; that idles the client and makes the
    # figure swing 2x between runs, so keep the pauses short.
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": "bench",
            "enable.auto.commit": False,
            "fetch.queue.backoff.ms": 10,
        }
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    received, start = 0, time.perf_counter()
    cpu_before = broker.cpu_seconds()
    deadline = start + 120
    while received < count and time.perf_counter() < deadline:
        # Ask for no more than remain: consume() waits for the full count.
        batch = consumer.consume(min(10_000, count - received), 1.0)
        errors = [m.error() for m in batch if m.error() is not None]
        if errors:
            raise SystemExit(f"consume error: {errors[0]}")
        received += len(batch)
    elapsed = time.perf_counter() - start
    cpu = broker.cpu_seconds() - cpu_before
    consumer.close()
    return dict(msgs=received / elapsed, mb=received * size / elapsed / 1e6, received=received, cpu_s=cpu)


def confluent_latency(broker: Broker, topic: str, rounds: int) -> dict:
    from confluent_kafka import OFFSET_END, Consumer, Producer, TopicPartition

    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 0})
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": "bench-latency",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 500,
        }
    )
    consumer.assign([TopicPartition(topic, 0, OFFSET_END)])
    consumer.poll(0.5)  # let the consumer settle into its long poll
    samples = []
    for i in range(rounds):
        payload = b"%d" % i
        start = time.perf_counter()
        producer.produce(topic, value=payload, partition=0)
        producer.flush(10)
        deadline = start + 10
        while time.perf_counter() < deadline:
            message = consumer.poll(1.0)
            if message is not None and not message.error() and message.value() == payload:
                samples.append(time.perf_counter() - start)
                break
    consumer.close()
    samples.sort()
    return dict(
        p50_ms=statistics.median(samples) * 1000,
        p99_ms=samples[int(len(samples) * 0.99) - 1] * 1000,
        rounds=len(samples),
    )


def kafka_python_round(broker: Broker, topic: str, count: int, size: int) -> dict:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", linger_ms=5, batch_size=256 * 1024)
    value = b"y" * size
    start = time.perf_counter()
    for _ in range(count):
        producer.send(topic, value=value)
    producer.flush(120)
    produce_elapsed = time.perf_counter() - start
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False, group_id=None)
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    received, start = 0, time.perf_counter()
    deadline = start + 120
    while received < count and time.perf_counter() < deadline:
        for records in consumer.poll(timeout_ms=1000, max_records=50_000).values():
            received += len(records)
    consume_elapsed = time.perf_counter() - start
    consumer.close()
    return dict(produce_msgs=count / produce_elapsed, consume_msgs=received / consume_elapsed, received=received)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=500_000)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--latency-rounds", type=int, default=2_000)
    parser.add_argument("--kafka-python-messages", type=int, default=100_000)
    parser.add_argument("--data-dir", help="store on disk here instead of in memory")
    parser.add_argument("--group-trials", type=int, default=10, help="group formations to time per setting")
    parser.add_argument("--http-rounds", type=int, default=5, help="rounds each with the HTTP port off and on")
    parser.add_argument(
        "--http-messages", type=int, default=5_000_000, help="messages per HTTP round (shorter runs are mostly noise)"
    )
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.messages, args.latency_rounds, args.kafka_python_messages, args.group_trials = 20_000, 100, 5_000, 2
        args.http_rounds, args.http_messages = 1, 200_000

    data_dir = args.data_dir
    if data_dir:
        data_dir = tempfile.mkdtemp(prefix="kwire-bench-", dir=data_dir)
    startups = [startup_time(data_dir and tempfile.mkdtemp(dir=data_dir)) for _ in range(3)]
    broker = Broker(data_dir)
    try:
        idle_rss = broker.rss_mb()
        create_topic(broker.bootstrap, "bench", args.partitions)
        produced = confluent_produce(broker, "bench", args.messages, args.size)
        consumed = confluent_consume(broker, "bench", args.partitions, args.messages + 1, args.size)
        create_topic(broker.bootstrap, "bench-idempotent", args.partitions)
        idempotent = confluent_produce(
            broker, "bench-idempotent", args.messages, args.size, **{"enable.idempotence": True}
        )
        create_topic(broker.bootstrap, "bench-transactional", args.partitions)
        transactional = confluent_transactional_produce(broker, "bench-transactional", args.messages, args.size, 1000)
        compressed = {}
        for codec in ("lz4", "zstd"):
            create_topic(broker.bootstrap, f"bench-{codec}", args.partitions)
            compressed[codec] = confluent_produce(broker, f"bench-{codec}", args.messages, args.size, codec)
        create_topic(broker.bootstrap, "latency", 1)
        latency = confluent_latency(broker, "latency", args.latency_rounds)
        create_topic(broker.bootstrap, "bench-kp", args.partitions)
        kp = kafka_python_round(broker, "bench-kp", args.kafka_python_messages, args.size)
        create_topic(broker.bootstrap, "bench-groups", 6)
        formation = formation_and_rebalance(broker.bootstrap, "bench-groups", 6, args.group_trials)
        through_group = group_consume(broker.bootstrap, "bench", args.messages, args.size)
        loaded_rss = broker.rss_mb()
    finally:
        broker.stop()
    # The same formation with no initial delay: members whose first JoinGroup
    # comes a few ms after the first generation wait for a heartbeat.
    delayed_broker = Broker(None, extra_args=("-o", f"group.initial.rebalance.delay.ms={COMPARED_DELAY_MS}"))
    try:
        create_topic(delayed_broker.bootstrap, "bench-groups", 6)
        delayed_formation = formation_and_rebalance(delayed_broker.bootstrap, "bench-groups", 6, args.group_trials)
    finally:
        delayed_broker.stop()

    from bench_http import http_overhead
    from bench_http import report as report_http

    http_figures = http_overhead(args.http_messages, args.size, args.partitions, args.http_rounds)

    storage = f"disk ({data_dir})" if data_dir else "memory"
    print(f"kwire benchmark — storage: {storage}, {args.messages:,} x {args.size} B, {args.partitions} partitions")
    print(
        f"{'start-up to first Metadata answer':44s} {min(s for s, _ in startups):8.3f} s (best of 3; "
        f"{statistics.median(s for s, _ in startups):.3f} s median)"
    )
    print(f"{'RSS idle / after load':44s} {idle_rss:8.1f} MB / {loaded_rss:.1f} MB")
    print(
        f"{'confluent-kafka produce (acks=all, linger 5ms)':44s} {produced['msgs']:12,.0f} msgs/s {produced['mb']:8.1f} MB/s"
    )
    print(f"{'  broker CPU during produce':44s} {produced['cpu_s']:8.2f} s = {produced['cpu_us_per_msg']:.2f} µs/msg")
    for label, figures in [
        ("idempotent (enable.idempotence)", idempotent),
        ("transactional, commit every 1,000", transactional),
    ]:
        print(
            f"{'confluent-kafka produce, ' + label:44s} {figures['msgs']:12,.0f} msgs/s {figures['mb']:8.1f} MB/s "
            f"= {figures['msgs'] / produced['msgs']:.0%} of plain (broker CPU {figures['cpu_us_per_msg']:.2f} µs/msg)"
        )
    for codec, figures in compressed.items():
        print(
            f"{'confluent-kafka produce, ' + codec:44s} {figures['msgs']:12,.0f} msgs/s {figures['mb']:8.1f} MB/s "
            f"(broker CPU {figures['cpu_us_per_msg']:.2f} µs/msg)"
        )
    print(
        f"{'confluent-kafka consume (fetch.queue.backoff.ms=10)':44s} {consumed['msgs']:12,.0f} msgs/s {consumed['mb']:8.1f} MB/s "
        f"({consumed['received']:,} msgs, broker CPU {consumed['cpu_s']:.2f} s)"
    )
    print(
        f"{'round trip produce->consume':44s} p50 {latency['p50_ms']:6.2f} ms  p99 {latency['p99_ms']:6.2f} ms "
        f"({latency['rounds']} rounds)"
    )
    print(
        f"{'kafka-python produce / consume':44s} {kp['produce_msgs']:12,.0f} / {kp['consume_msgs']:,.0f} msgs/s "
        f"({args.kafka_python_messages:,} msgs)"
    )
    for label, figures in [
        (f"{DEFAULT_DELAY_MS} ms (default)", formation),
        (f"{COMPARED_DELAY_MS} ms", delayed_formation),
    ]:
        print(
            f"{'group of 3 formed, initial delay ' + label:44s} median {figures['formed_median_s']:6.3f} s  "
            f"min {figures['formed_min_s']:.3f}  max {figures['formed_max_s']:.3f} ({figures['trials']} trials)"
        )
        print(f"{'  rebalance when a 4th joins':44s} {figures['rebalanced_s']:8.3f} s (heartbeat.interval.ms=3000)")
    print(
        f"{'consume through a group of 3':44s} {through_group['msgs']:12,.0f} msgs/s {through_group['mb']:8.1f} MB/s "
        f"({through_group['received']:,} msgs; first message after {through_group['until_first_s']:.2f} s)"
    )

    report_http(http_figures)


if __name__ == "__main__":
    main()
