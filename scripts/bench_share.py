#!/usr/bin/env python
"""Share-group consumption throughput: N records in one partition read by
3 librdkafka ShareConsumers of one share group (implicit acknowledgement:
each poll's records are accepted on the next poll), one thread each.

Starts `python -m kwire serve --memory` (bench.py's Broker) and ends only
that process. Prints records/s over the time from the first record to the
last, and the broker's CPU per record.
"""

from __future__ import annotations

import argparse
import threading
import time

from bench import Broker
from confluent_kafka import Producer, ShareConsumer
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic

TOPIC, GROUP = "share-bench", "share-bench"


def produce(bootstrap: str, count: int, size: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(TOPIC, 1, 1)])[TOPIC].result(30)
    entry = ConfigEntry("share.auto.offset.reset", "earliest", incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource(ConfigResource.Type.GROUP, GROUP, incremental_configs=[entry])
    admin.incremental_alter_configs([resource])[resource].result(30)
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.num.messages": 10_000})
    payload = b"x" * size
    for _ in range(count):
        while True:
            try:
                producer.produce(TOPIC, payload)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(60)


def consume(bootstrap: str, count: int, consumers: int, timeout_s: float) -> tuple[float, list[int]]:
    """Seconds from the first record to the last, and each consumer's count."""
    counts = [0] * consumers
    seen: set[int] = set()
    lock = threading.Lock()
    first: list[float] = []
    done = threading.Event()

    def run(slot: int) -> None:
        consumer = ShareConsumer({"bootstrap.servers": bootstrap, "group.id": GROUP})
        consumer.subscribe([TOPIC])
        deadline = time.monotonic() + timeout_s
        while not done.is_set() and time.monotonic() < deadline:
            messages = consumer.poll(0.2) or []
            good = [m.offset() for m in messages if m.error() is None]
            with lock:
                if good and not first:
                    first.append(time.perf_counter())
                counts[slot] += len(good)
                seen.update(good)
                if len(seen) >= count:
                    done.set()
        consumer.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(consumers)]
    for thread in threads:
        thread.start()
    done.wait(timeout_s)
    finished = time.perf_counter()
    for thread in threads:
        thread.join()
    if len(seen) < count:
        raise SystemExit(f"only {len(seen)} of {count} records within {timeout_s} s")
    return finished - first[0], counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--size", type=int, default=100, help="value bytes")
    parser.add_argument("--consumers", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    broker = Broker(None)
    try:
        produce(broker.bootstrap, args.records, args.size)
        cpu_before = broker.cpu_seconds()
        seconds, counts = consume(broker.bootstrap, args.records, args.consumers, args.timeout)
        cpu = broker.cpu_seconds() - cpu_before
    finally:
        broker.stop()
    print(
        f"share consumption, {args.consumers} consumers on 1 partition, {args.records} x {args.size} B: "
        f"{args.records / seconds:,.0f} records/s ({seconds:.2f} s), per consumer {counts}, "
        f"broker CPU {cpu / args.records * 1e6:.1f} us/record"
    )


if __name__ == "__main__":
    main()
