#!/usr/bin/env python
"""Topic admin on disk, in-process (requests through the node's dispatcher,
no sockets): how long one DeleteTopics of `--topics` x `--partitions`
partitions takes (each partition holding a few batches), and one
CreatePartitions growing a live topic from `--from` to `--to` partitions.
Prints seconds.

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


if __name__ == "__main__":
    main()
