#!/usr/bin/env python
"""Topic admin on disk: how long one DeleteTopics of `--topics` x
`--partitions` partitions takes (each partition holding a few batches), and
one CreatePartitions growing a live topic from `--from` to `--to`
partitions. Measured twice: in-process (requests through the node's
dispatcher, no sockets: kwire's own cost) and as a user sees it
(confluent-kafka's AdminClient against `kwire serve`, a producer writing to
the topic while it grows). Prints seconds.

    python scripts/bench_admin.py                       # 100 x 10 deleted; 10 -> 1,000
    python scripts/bench_admin.py --topics 10 --to 100  # a quick run
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import Broker  # noqa: E402

from tests.core_client import CoreClient, make_core  # noqa: E402
from tests.handlers import requests as rq  # noqa: E402

PRODUCE, CREATE_TOPICS, DELETE_TOPICS, CREATE_PARTITIONS = 0, 19, 20, 37


def bench_delete(data_dir: Path, topics: int, partitions: int) -> float:
    core = make_core(data_dir)
    client = CoreClient(core)
    names = [f"bench-{i}" for i in range(topics)]
    try:
        for name in names:
            assert client.call(CREATE_TOPICS, 7, rq.create(name, partitions)).topics[0].error_code == 0
            for index in range(partitions):
                client.call(PRODUCE, 9, rq.produce(name, index, rq.batch(b"x" * 100, b"y" * 100)))
        started = time.perf_counter()
        response = client.call(
            DELETE_TOPICS, 6, dict(topics=[dict(name=n, topic_id=None) for n in names], timeout=30_000)
        )
        elapsed = time.perf_counter() - started
        assert all(r.error_code == 0 for r in response.responses), response
        assert not core.cluster.topics.keys() & set(names)
        return elapsed
    finally:
        core.close()


def bench_grow(data_dir: Path, first: int, last: int) -> float:
    core = make_core(data_dir)
    client = CoreClient(core)
    try:
        client.call(CREATE_TOPICS, 7, rq.create("live", first))
        for index in range(first):
            client.call(PRODUCE, 9, rq.produce("live", index, rq.batch(b"x" * 100)))
        started = time.perf_counter()
        values = dict(topics=[dict(name="live", count=last, assignments=None)], timeout=30_000, validate_only=False)
        (result,) = client.call(CREATE_PARTITIONS, 3, values).results
        elapsed = time.perf_counter() - started
        assert result.error_code == 0, result
        assert len(core.cluster.get("live").partitions) == last
        return elapsed
    finally:
        core.close()


def bench_create(data_dir: Path, partitions: int) -> float:
    """For comparison: one CreateTopics of as many partitions (the same work per new partition)."""
    core = make_core(data_dir)
    client = CoreClient(core)
    try:
        started = time.perf_counter()
        assert client.call(CREATE_TOPICS, 7, rq.create("fresh", partitions)).topics[0].error_code == 0
        return time.perf_counter() - started
    finally:
        core.close()


def bench_with_a_client(data_dir: Path, topics: int, partitions: int, first: int, last: int) -> tuple[float, float]:
    """Both operations through confluent-kafka against a `kwire serve` subprocess."""
    import threading

    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

    broker = Broker(str(data_dir))
    try:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        names = [f"bench-{i}" for i in range(topics)]
        for future in admin.create_topics([NewTopic(n, partitions) for n in names]).values():
            future.result(60)
        producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})
        for name in names:
            for index in range(partitions):
                producer.produce(name, b"x" * 100, partition=index)
        producer.flush(60)
        started = time.perf_counter()
        for future in admin.delete_topics(names, operation_timeout=60).values():
            future.result(60)
        deleted = time.perf_counter() - started

        admin.create_topics([NewTopic("live", first)])["live"].result(60)
        writing = threading.Event()
        writing.set()

        def keep_writing(target: Producer) -> None:
            sent = 0
            while writing.is_set() and sent < 10_000_000:
                try:
                    target.produce("live", b"y" * 100)
                except BufferError:  # the client's queue is full: let it drain
                    target.poll(0.01)
                    continue
                target.poll(0)
                sent += 1
                if sent % 1000 == 0:
                    time.sleep(0.001)

        writer = threading.Thread(target=keep_writing, args=(producer,))
        writer.start()
        time.sleep(0.5)
        started = time.perf_counter()
        admin.create_partitions([NewPartitions("live", last)], operation_timeout=60)["live"].result(60)
        grown = time.perf_counter() - started
        writing.clear()
        writer.join(30)
        producer.flush(60)
        del producer, admin  # the clients go before the broker, so they do not retry against it
        return deleted, grown
    finally:
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--topics", type=int, default=100)
    parser.add_argument("--partitions", type=int, default=10)
    parser.add_argument("--from", dest="first", type=int, default=10)
    parser.add_argument("--to", dest="last", type=int, default=1000)
    parser.add_argument("--data-dir", type=Path, default=None, help="where to make the temporary directories")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.data_dir) as root:
        seconds = bench_delete(Path(root) / "delete", args.topics, args.partitions)
        print(f"DeleteTopics of {args.topics} x {args.partitions} partitions: {seconds:.3f} s")
        seconds = bench_grow(Path(root) / "grow", args.first, args.last)
        print(f"CreatePartitions {args.first} -> {args.last} on a live topic: {seconds:.3f} s")
        seconds = bench_create(Path(root) / "create", args.last - args.first)
        print(f"(for comparison, CreateTopics of {args.last - args.first} partitions: {seconds:.3f} s)")
        deleted, grown = bench_with_a_client(Path(root) / "wire", args.topics, args.partitions, args.first, args.last)
        print(f"confluent-kafka AdminClient against kwire serve: DeleteTopics {args.topics} x {args.partitions}:")
        print(f"  {deleted:.3f} s; CreatePartitions {args.first} -> {args.last} while producing: {grown:.3f} s")


if __name__ == "__main__":
    main()
