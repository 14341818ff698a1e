#!/usr/bin/env python
"""What the bounds pass costs per request, next to kio's own decoding.

Decodes a few typical requests many times: the bounds pass alone, kio's
native reader alone, and both as the broker does (registry.kio_decoder).
Prints microseconds per request.

    python scripts/bench_bounds.py
"""

from __future__ import annotations

import sys
import timeit
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kio.index import load_request_schema  # noqa: E402
from kio.serial import entity_reader  # noqa: E402

from kwire.admin.wire_client import request_frame  # noqa: E402
from kwire.protocol.bounds import bounds_check  # noqa: E402
from kwire.protocol.headers import parse_request_header  # noqa: E402
from kwire.protocol.registry import kio_decoder, request_is_flexible  # noqa: E402

BATCH = bytes(61) + b"r" * 1000  # record bytes are skipped, never read


def produce(version: int, partitions: int) -> dict:
    return dict(
        transactional_id=None,
        acks=-1,
        timeout=30_000,
        topic_data=[dict(name="bench", partition_data=[dict(index=i, records=BATCH) for i in range(partitions)])],
    )


def fetch(version: int, partitions: int) -> dict:
    topic = dict(
        topic="bench",
        topic_id=uuid.UUID(int=1),
        partitions=[
            dict(
                partition=i,
                current_leader_epoch=-1,
                fetch_offset=1000 * i,
                last_fetched_epoch=-1,
                log_start_offset=-1,
                partition_max_bytes=1 << 20,
            )
            for i in range(partitions)
        ],
    )
    return dict(
        cluster_id=None,
        replica_id=-1,
        replica_state=dict(replica_id=-1, replica_epoch=-1),
        max_wait=500,
        min_bytes=1,
        max_bytes=50 << 20,
        isolation_level=1,
        session_id=0,
        session_epoch=-1,
        topics=[topic],
        forgotten_topics_data=[],
        rack_id="",
    )


def metadata(version: int, topics: int) -> dict:
    return dict(
        topics=[dict(name=f"topic-{i}", topic_id=None) for i in range(topics)],
        allow_auto_topic_creation=True,
        include_cluster_authorized_operations=False,
        include_topic_authorized_operations=False,
    )


CASES = [
    ("Produce v9, 8 partitions", 0, 9, produce(9, 8)),
    ("Produce v7, 8 partitions", 0, 7, produce(7, 8)),
    ("Produce v9, 1 partition", 0, 9, produce(9, 1)),
    ("Fetch v12, 8 partitions", 1, 12, fetch(12, 8)),
    ("Fetch v16, 8 partitions", 1, 16, fetch(16, 8)),
    ("Fetch v11, 100 partitions", 1, 11, fetch(11, 100)),
    ("Metadata v12, 100 topics", 3, 12, metadata(12, 100)),
]


def per_call_us(function, number: int) -> float:
    return min(timeit.repeat(function, number=number, repeat=15)) / number * 1e6


def main() -> None:
    print(f"{'request':28} {'bytes':>6} {'bounds':>8} {'kio':>8} {'both':>8}  (µs per request, best of 15)")
    for name, api_key, version, values in CASES:
        frame = request_frame(api_key, version, values)[4:]
        offset = parse_request_header(frame, request_is_flexible(api_key, version)).body_offset
        check = bounds_check(api_key, version)
        read = entity_reader(load_request_schema(api_key, version))
        number = 20_000
        bounds = per_call_us(lambda: check(frame, offset), number)
        kio = per_call_us(lambda: read(frame, offset), number)
        both = per_call_us(lambda: kio_decoder(frame, offset, version, api_key=api_key), number)
        print(f"{name:28} {len(frame):6} {bounds:8.2f} {kio:8.2f} {both:8.2f}")


if __name__ == "__main__":
    main()
