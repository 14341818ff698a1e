"""The log cleaner as a trio task: every `log.cleaner.backoff.ms` it
compacts the logs of compacted topics that are due, reading and writing in
a worker thread so the event loop keeps serving. The cleaner itself is
imported on the first pass that finds a compacted topic (most brokers
never have one: start-up does not pay for it)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import trio

from kwire.core import BrokerCore
from kwire.log.partition_log import PartitionLog
from kwire.observability.metrics import NodeMetrics

if TYPE_CHECKING:
    from kwire.log.cleaner import CleaningOutput, CleaningPlan

log = logging.getLogger("kwire.log")


async def clean_forever(core: BrokerCore) -> None:
    config = core.config
    if not config.log_cleaner_enable:
        return
    while True:
        await trio.sleep(config.log_cleaner_backoff_ms / 1000)
        try:
            await clean_due_logs(core)
        except Exception:  # a cleaner bug must not take the broker down
            log.exception("log cleaner pass failed")


async def clean_due_logs(core: BrokerCore) -> int:
    """One pass over every compacted partition; returns how many were cleaned."""
    cleaned = 0
    for topic in list(core.cluster.topics.values()):
        if not topic.log_config.compacted:
            continue
        for partition in topic.hosted():
            name = f"{topic.name}-{partition.index}"
            if await _clean(partition.log, name, core.cluster.clock.wall_ms(), core.state.metrics):
                cleaned += 1
    if cleaned:
        core.cluster.save_cleaner_offsets()
    return cleaned


async def _clean(partition_log: PartitionLog, name: str, now_ms: int, metrics: NodeMetrics) -> bool:
    from kwire.log import cleaner

    work = cleaner.plan(partition_log, now_ms)
    if work is None:
        return False
    started = time.perf_counter()
    partition_log.start_cleaning()
    try:
        output = await trio.to_thread.run_sync(_build, partition_log, work)
        installed = cleaner.install(partition_log, work, output)
    except OSError as exc:  # a full disk, say: the log is as it was (or offline, and logged)
        if not partition_log.deleted:  # (a deleted topic's files close under the cleaner)
            log.warning("Could not compact %s: %s", name, exc)
        return False
    finally:
        partition_log.finish_cleaning()
    if installed:
        elapsed = time.perf_counter() - started
        metrics.log_cleaned(output.bytes_before, output.bytes_after, elapsed)
        log.info(
            "Cleaned %s: %d -> %d bytes, %d records removed, in %.3f s (%.1f MB/s)",
            name,
            output.bytes_before,
            output.bytes_after,
            output.records_removed,
            elapsed,
            output.bytes_before / max(elapsed, 1e-9) / 1e6,
        )
    return installed


def _build(partition_log: PartitionLog, work: CleaningPlan) -> CleaningOutput:
    from kwire.log import cleaner

    output = cleaner.build(work)
    if partition_log.directory is not None:
        cleaner.write_cleaned_files(partition_log, output)
    return output
