"""A debugging aid, off by default: with KWIRE_TRACEMALLOC_SNAPSHOTS=DIR in
its environment the broker traces its allocations and dumps a tracemalloc
snapshot into DIR every KWIRE_TRACEMALLOC_INTERVAL_S seconds (default 60),
so `scripts/soak.py --tracemalloc` can show what grows. (tracemalloc is
imported only then.)"""

from __future__ import annotations

import os
from pathlib import Path

import trio

SNAPSHOTS_ENV = "KWIRE_TRACEMALLOC_SNAPSHOTS"
INTERVAL_ENV = "KWIRE_TRACEMALLOC_INTERVAL_S"
FRAMES = 10


def snapshot_directory() -> Path | None:
    value = os.environ.get(SNAPSHOTS_ENV)
    return Path(value) if value else None


def start_tracing() -> None:
    """Call early, so the broker's start-up allocations are traced too."""
    if snapshot_directory() is None:
        return
    import tracemalloc

    if not tracemalloc.is_tracing():
        tracemalloc.start(FRAMES)


async def dump_snapshots_forever() -> None:
    directory = snapshot_directory()
    if directory is None:
        return
    import tracemalloc

    directory.mkdir(parents=True, exist_ok=True)
    interval = float(os.environ.get(INTERVAL_ENV, "60"))
    for number in range(1_000_000):
        tracemalloc.take_snapshot().dump(str(directory / f"snapshot-{number:05d}.tracemalloc"))
        await trio.sleep(interval)
