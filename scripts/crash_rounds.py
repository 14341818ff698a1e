#!/usr/bin/env python
"""Crash rounds for the closing note: kill the broker with SIGKILL at random
(seeded) moments under an idempotent acks=all confluent-kafka producer,
restart it on the same data directory, N times; then check that every
acknowledged message is there exactly once, in order, at its offset.
Prints the counts and the start-up time after each kill; exit status 1 if
anything acknowledged was lost, duplicated, reordered or misplaced.

    python scripts/crash_rounds.py                # 20 rounds, seed 1
    python scripts/crash_rounds.py --rounds 50 --seed 7 --partitions 6
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from compat_tests.crash_rounds import run_rounds  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--min-uptime", type=float, default=0.3, help="seconds the broker runs at least before a kill")
    parser.add_argument("--max-uptime", type=float, default=3.0, help="... and at most")
    parser.add_argument("--data-dir", type=Path, help="where to keep the data (default: a temporary directory)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kwire-crash-rounds-") as scratch:
        root = args.data_dir or Path(scratch)
        result = run_rounds(
            root / "data",
            root / "kwire.log",
            args.rounds,
            args.seed,
            args.partitions,
            (args.min_uptime, args.max_uptime),
        )
        print(result.summary())
        for error in result.fatal_errors:
            print(f"fatal producer error: {error}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
