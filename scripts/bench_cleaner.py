#!/usr/bin/env python
"""The log cleaner's throughput: build a compacted partition of N MB on
disk (keyed records, many versions per key), then time one cleaning pass
(plan, build in the calling thread, write, install) and report MB/s.

    python scripts/bench_cleaner.py [--mb 200] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from kwire.log import PartitionLog
from kwire.log.cleaner import build, install, plan, write_cleaned_files
from kwire.log.config import LogConfig
from kwire.protocol.record_codec import Record, build_batch
from kwire.protocol.records import parse_header

RECORDS_PER_BATCH = 500
VALUE_SIZE = 100
KEYS = 50_000


def fill(log: PartitionLog, megabytes: int) -> int:
    target = megabytes * 1_000_000
    values = [os.urandom(VALUE_SIZE // 2).hex().encode() for _ in range(256)]
    written = serial = 0
    now = int(time.time() * 1000) - 3_600_000
    while written < target:
        records = [
            Record(
                offset_delta=i,
                timestamp_delta=0,
                key=b"key-%06d" % ((serial + i) * 7919 % KEYS),
                value=values[(serial + i) & 255],
            )
            for i in range(RECORDS_PER_BATCH)
        ]
        serial += RECORDS_PER_BATCH
        batch = build_batch(records, base_timestamp=now)
        log.append(batch, parse_header(batch))
        written += len(batch)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--dir", default=None, help="where to put the partition (default: a temp dir)")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="kwire-cleaner-", dir=args.dir))
    try:
        # About ten segments, so nearly all of the data is in closed ones.
        config = LogConfig(cleanup_policy=frozenset({"compact"}), segment_bytes=max(1 << 20, args.mb * 100_000))
        log = PartitionLog.open(directory / "compacted-0", config)
        written = fill(log, args.mb)
        log.flush()
        start = time.perf_counter()
        work = plan(log, int(time.time() * 1000))
        output = build(work)
        write_cleaned_files(log, output)
        assert install(log, work, output)
        elapsed = time.perf_counter() - start
        print(
            f"cleaner: {output.bytes_before / 1e6:.0f} MB in closed segments ({written / 1e6:.0f} MB written), "
            f"{output.bytes_after / 1e6:.1f} MB kept, {output.records_removed:,} records removed, "
            f"{elapsed:.1f} s = {output.bytes_before / elapsed / 1e6:.1f} MB/s"
        )
        log.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
