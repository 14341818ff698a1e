"""Where a follower truncates its log so it converges on the leader's, by
leader epoch (KIP-101, KIP-279), and the leader's side of it in Fetch v12+
(KIP-595's diverging epoch, used by followers since Kafka 2.7).

Kafka's rules, from core/src/main/scala/kafka/server/AbstractFetcherThread.scala
(getOffsetTruncationState, fetchTruncatingPartitions, partitionFetchState),
ReplicaManager.initialFetchOffset and Partition.readRecords; the epoch
lookup on both sides is LeaderEpochFileCache.endOffsetFor
(kwire.log.leader_epochs.LeaderEpochCache.end_offset_for).

How a follower uses it, per partition it follows (kwire's in-process
replica manager takes path 3 on every new leader epoch, asking the leader's
epoch cache directly):

1. On becoming follower: `initial_fetch_state(cache, log_end, high_watermark)`
   gives the first fetch offset and whether the partition must first be
   truncated to that offset (no leader epoch known: Kafka's "truncate to
   high watermark") or can fetch at once with `last_fetched_epoch` set.
2. Fetch (v12+) with `last_fetched_epoch` = the log's latest epoch. The
   leader computes `diverging_epoch(...)` before reading; when the answer
   carries one, the follower calls `truncation_offset(...)` with it (no
   records are appended from that answer), truncates its log there and its
   epoch cache with `LeaderEpochCache.remove_from` (Kafka's truncateFromEnd:
   an epoch starting at the cut goes too, or the follower would ask about
   it forever), and fetches again from the new log end:
   PartitionLog.truncate_to does both (the batch holding the offset goes
   whole, so fetch again from its log end, not from the offset).
3. The OffsetForLeaderEpoch path (what older followers used, still what
   a follower without truncation on fetch does): ask for the log's latest
   epoch and feed the answer to `truncation_offset(...)`; while the result
   says `complete=False`, truncate and ask again with the new latest epoch.
"""

from __future__ import annotations

import attrs

from kwire.log.leader_epochs import UNDEFINED_EPOCH, UNDEFINED_OFFSET, LeaderEpochCache


@attrs.frozen
class TruncationState:
    """Kafka's OffsetTruncationState: truncate the log to `offset` (a no-op
    when it is the log end). `complete` False: the leader answered with an
    epoch this follower does not know; after truncating, ask again with the
    follower's (new) latest epoch. Kafka's fetcher, with truncation on fetch,
    goes back to fetching either way: the next Fetch's diverging epoch
    carries on the search."""

    offset: int
    complete: bool = True


@attrs.frozen
class InitialFetchState:
    fetch_offset: int
    # None: truncate to fetch_offset first (no epoch to fetch with).
    last_fetched_epoch: int | None


def follower_end_offset_for_epoch(cache: LeaderEpochCache, epoch: int, log_end_offset: int) -> tuple[int, int] | None:
    """UnifiedLog.endOffsetForEpoch: (epoch, end offset) from the follower's own
    cache for the largest epoch at or below `epoch`, or None if unknown."""
    found_epoch, found_offset = cache.end_offset_for(epoch, log_end_offset)
    if found_offset == UNDEFINED_OFFSET:
        return None
    return found_epoch, found_offset


def truncation_offset(
    cache: LeaderEpochCache,
    log_end_offset: int,
    fetch_offset: int,
    leader_epoch: int,
    leader_end_offset: int,
) -> TruncationState:
    """AbstractFetcherThread.getOffsetTruncationState. The leader's answer is
    (`leader_epoch`, `leader_end_offset`): an OffsetForLeaderEpoch result
    for the follower's latest epoch, or a Fetch response's diverging epoch.
    `fetch_offset` is the follower's current fetch offset, used when the
    leader knows no end offset (Kafka truncates to it: the high watermark
    for a follower that started in the truncating state).

    - leader end offset unknown (-1): truncate to `fetch_offset`;
    - leader epoch unknown (-1) but an offset: min(leader offset, log end);
    - the follower knows the leader's epoch: min(its own end offset for
      that epoch, the leader's end offset, its log end);
    - the follower knows only a smaller epoch: min(that epoch's end here,
      log end), not complete (ask again);
    - the follower knows no epoch at or below it: min(leader offset, log end).
    """
    if leader_end_offset == UNDEFINED_OFFSET:
        return TruncationState(fetch_offset)
    if leader_epoch == UNDEFINED_EPOCH:
        return TruncationState(min(leader_end_offset, log_end_offset))
    found = follower_end_offset_for_epoch(cache, leader_epoch, log_end_offset)
    if found is None:
        return TruncationState(min(leader_end_offset, log_end_offset))
    follower_epoch, follower_end = found
    if follower_epoch != leader_epoch:
        return TruncationState(min(follower_end, log_end_offset), complete=False)
    return TruncationState(min(follower_end, leader_end_offset, log_end_offset))


def initial_fetch_state(cache: LeaderEpochCache, log_end_offset: int, high_watermark: int) -> InitialFetchState:
    """ReplicaManager.initialFetchOffset with AbstractFetcherThread.partitionFetchState
    (truncation on fetch supported): with a leader epoch in the log, fetch
    from the log end with that epoch as last fetched; without one, truncate
    to the high watermark and fetch from there."""
    if cache.latest_epoch != UNDEFINED_EPOCH:
        return InitialFetchState(log_end_offset, cache.latest_epoch)
    return InitialFetchState(high_watermark, None)


@attrs.frozen
class DivergingEpoch:
    epoch: int
    end_offset: int


class FetchOffsetOutOfRange(Exception):
    """The leader answers the fetch with OFFSET_OUT_OF_RANGE."""


def diverging_epoch(
    leader_cache: LeaderEpochCache,
    leader_log_end_offset: int,
    leader_log_start_offset: int,
    last_fetched_epoch: int,
    fetch_offset: int,
) -> DivergingEpoch | None:
    """The leader's side (Partition.readRecords), for a Fetch carrying
    `last_fetched_epoch`: the leader's end offset for that epoch; if it is
    for an older epoch or ends before `fetch_offset`, the follower's log
    diverges and the answer carries it (no records). Raises
    FetchOffsetOutOfRange when the leader knows no end offset for the epoch,
    or the fetch offset is below the log start (whether or not it diverges).
    None: read normally."""
    epoch, end_offset = leader_cache.end_offset_for(last_fetched_epoch, leader_log_end_offset)
    if end_offset == UNDEFINED_OFFSET or epoch == UNDEFINED_EPOCH:
        raise FetchOffsetOutOfRange(f"no end offset for the last fetched epoch {last_fetched_epoch}")
    if fetch_offset < leader_log_start_offset:
        raise FetchOffsetOutOfRange(f"offset {fetch_offset} is below the log start {leader_log_start_offset}")
    if epoch < last_fetched_epoch or end_offset < fetch_offset:
        return DivergingEpoch(epoch, end_offset)
    return None
