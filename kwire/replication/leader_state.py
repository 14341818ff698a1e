"""The leader's view of one partition it leads, as Kafka's Partition and
Replica (core/src/main/scala/kafka/cluster/): the replica set, the ISR, each
follower's fetch state, the high watermark, `min.insync.replicas` and the
`acks=all` waits. Pure logic: the node passes in the log's end offset and
the follower fetches; time comes from the node's Clock (monotonic, in ms).

How a node drives it (kwire/replication/replica_manager.py does; where it
differs, its docstrings say so):

- Becoming leader with a new epoch: the node assigns the epoch in the log's
  leader-epoch cache at the log end (PartitionLog.start_leader_epoch) and
  builds a `LeaderState` with that log end; the same leader getting a new
  epoch calls `reelect()` instead. Losing leadership calls `resign()`:
  every pending `acks=all` wait then ends with NOT_LEADER_OR_FOLLOWER.
- Produce: `check_append(acks)` before appending (NOT_ENOUGH_REPLICAS for
  `acks=all` with too small an ISR, as Partition.appendRecordsToLeader);
  after the append `on_append(new_log_end)`; for `acks=all` the answer
  waits until `check_enough_replicas_reach_offset(last offset + 1)` says
  done (NONE, NOT_ENOUGH_REPLICAS_AFTER_APPEND, NOT_LEADER_OR_FOLLOWER) or
  the request's timeout passes (REQUEST_TIMED_OUT); a produce to several
  partitions is answered when all are done (Kafka's DelayedProduce). kwire's
  produce handler parks the request on the partitions' long-poll keys,
  which the replica manager wakes whenever the high watermark or the ISR
  moves. `PendingProduces` below is that bookkeeping for one partition, for
  a server that keeps its own timers.
- Follower fetch (Fetch with replica_id / replica_state): before reading,
  the leader answers a diverging epoch (follower_truncation.diverging_epoch);
  otherwise it calls `on_follower_fetch(replica, fetch_offset, log_start,
  leader_end_offset)` with its log end *before* the read (as
  Partition.readRecords), which may add the follower to the ISR and move the
  high watermark. Consumers read only up to `high_watermark`.
- Every `isr_check_interval_ms` (replica.lag.time.max.ms / 2, as
  ReplicaManager's "isr-expiration" task) the node calls `maybe_shrink_isr()`.
- ISR changes are returned as `IsrChange` values. Kafka's leader proposes
  them to the controller (AlterPartition) and uses the "maximal ISR" while
  one is in flight; here they apply at once and the node is expected to
  write them to the metadata log. An in-flight state is not modelled yet.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from kwire.clock import Clock
from kwire.protocol.errors import ErrorCode
from kwire.replication.counters import ReplicationCounters

UNKNOWN_OFFSET = -1
# "Never" for the time fields Kafka sets to 0 (its wall clock's "long ago");
# a monotonic clock may itself be near 0, so 0 would not do here.
NEVER_MS = -(2**62)
ACKS_ALL = -1


def now_ms(clock: Clock) -> int:
    return round(clock.monotonic() * 1000)


@attrs.define
class FollowerState:
    """Kafka's ReplicaState for a remote replica, as the leader keeps it."""

    replica_id: int
    log_end_offset: int = UNKNOWN_OFFSET
    log_start_offset: int = UNKNOWN_OFFSET
    # The leader's log end when this follower's previous fetch arrived.
    last_fetch_leader_log_end_offset: int = UNKNOWN_OFFSET
    last_fetch_time_ms: int = NEVER_MS
    # The latest time t at which the follower had fetched up to the leader's
    # log end as it was at t.
    last_caught_up_time_ms: int = NEVER_MS

    def is_caught_up(self, leader_end_offset: int, now: int, max_lag_ms: int) -> bool:
        """ReplicaState.isCaughtUp."""
        return leader_end_offset == self.log_end_offset or now - self.last_caught_up_time_ms <= max_lag_ms

    def record_fetch(
        self, fetch_offset: int, log_start_offset: int, fetch_time_ms: int, leader_end_offset: int
    ) -> None:
        """Replica.updateFetchStateOrThrow: a fetch up to the leader's log end
        makes the follower caught up now; one up to the leader's log end at
        the previous fetch makes it caught up as of that fetch. So a
        follower that always trails by the latest small produce still
        counts as caught up."""
        if fetch_offset >= leader_end_offset:
            caught_up = max(self.last_caught_up_time_ms, fetch_time_ms)
        elif fetch_offset >= self.last_fetch_leader_log_end_offset:
            caught_up = max(self.last_caught_up_time_ms, self.last_fetch_time_ms)
        else:
            caught_up = self.last_caught_up_time_ms
        self.log_start_offset = log_start_offset
        self.log_end_offset = fetch_offset
        self.last_fetch_leader_log_end_offset = max(leader_end_offset, self.last_fetch_leader_log_end_offset)
        self.last_fetch_time_ms = fetch_time_ms
        self.last_caught_up_time_ms = caught_up


@attrs.frozen
class IsrChange:
    """The ISR after a change, and who joined or left."""

    isr: frozenset[int]
    added: frozenset[int] = frozenset()
    removed: frozenset[int] = frozenset()


@attrs.frozen
class FetchUpdate:
    """What a follower fetch changed."""

    isr_change: IsrChange | None
    high_watermark_moved: bool


class LeaderState:
    """One partition as its leader sees it. Built when this node becomes its
    leader in a new epoch (Partition.makeLeader with a new leader): the
    epoch's start offset is the log end; followers in the ISR count as
    caught up now, the others as never; every follower's log end is unknown
    until it fetches, so the high watermark waits for the ISR's fetches."""

    def __init__(
        self,
        *,
        leader_id: int,
        replicas: Iterable[int],
        isr: Iterable[int],
        leader_epoch: int,
        log_end_offset: int,
        high_watermark: int,
        min_insync_replicas: int,
        replica_lag_time_max_ms: int,
        clock: Clock,
        counters: ReplicationCounters | None = None,
    ) -> None:
        self.leader_id = leader_id
        self.replicas: tuple[int, ...] = tuple(replicas)
        self._isr = frozenset(isr)
        if leader_id not in self.replicas or leader_id not in self._isr:
            raise ValueError(f"the leader {leader_id} must be in the replicas {self.replicas} and the ISR")
        if not self._isr <= set(self.replicas):
            raise ValueError(f"ISR {sorted(self._isr)} is not within the replicas {self.replicas}")
        self.leader_epoch = leader_epoch
        self.leader_epoch_start_offset = log_end_offset
        self.log_end_offset = log_end_offset
        self.high_watermark = high_watermark
        self.min_insync_replicas = min_insync_replicas
        self.replica_lag_time_max_ms = replica_lag_time_max_ms
        self.clock = clock
        self.counters = counters if counters is not None else ReplicationCounters()
        self.is_leader = True
        # Brokers fenced or shutting down: not added to the ISR, not waited for.
        self.ineligible: set[int] = set()
        now = now_ms(clock)
        self.followers: dict[int, FollowerState] = {
            replica: FollowerState(replica, last_caught_up_time_ms=now if replica in self._isr else NEVER_MS)
            for replica in self.replicas
            if replica != leader_id
        }
        self.maybe_increment_high_watermark()

    # --- state -----------------------------------------------------------

    @property
    def isr(self) -> frozenset[int]:
        return self._isr

    @property
    def effective_min_isr(self) -> int:
        """min.insync.replicas capped at the replication factor (Partition.effectiveMinIsr)."""
        return min(self.min_insync_replicas, len(self.replicas))

    @property
    def is_under_replicated(self) -> bool:
        return self.is_leader and len(self._isr) < len(self.replicas)

    @property
    def is_under_min_isr(self) -> bool:
        return self.is_leader and len(self._isr) < self.effective_min_isr

    @property
    def isr_check_interval_ms(self) -> int:
        """How often the node should call maybe_shrink_isr (ReplicaManager's
        "isr-expiration" task runs every replica.lag.time.max.ms / 2)."""
        return max(1, self.replica_lag_time_max_ms // 2)

    def follower(self, replica_id: int) -> FollowerState:
        return self.followers[replica_id]

    # --- leadership ------------------------------------------------------

    def reelect(self, leader_epoch: int, isr: Iterable[int] | None = None) -> None:
        """This node stays leader in a new epoch (Partition.makeLeader, not a
        new leader): the epoch starts at the log end; followers keep their
        log ends, and their fetch times restart now (in the ISR) or never."""
        if isr is not None:
            self._isr = frozenset(isr) | {self.leader_id}
        self.leader_epoch = leader_epoch
        self.leader_epoch_start_offset = self.log_end_offset
        now = now_ms(self.clock)
        for follower in self.followers.values():
            in_sync = follower.replica_id in self._isr
            follower.last_fetch_leader_log_end_offset = self.log_end_offset
            follower.last_fetch_time_ms = now if in_sync else NEVER_MS
            follower.last_caught_up_time_ms = now if in_sync else NEVER_MS
        self.is_leader = True
        self.maybe_increment_high_watermark()

    def set_isr(self, isr: Iterable[int]) -> None:
        """The ISR as the controller recorded it (this leader's own change, or a fenced follower's removal)."""
        self._isr = frozenset(isr) | {self.leader_id}
        self.maybe_increment_high_watermark()

    def resign(self) -> None:
        """No longer the leader: appends and pending acks=all waits get NOT_LEADER_OR_FOLLOWER."""
        self.is_leader = False

    def set_eligible(self, replica_id: int, eligible: bool) -> None:
        """A fenced or shutting-down broker may not join the ISR (Partition.isReplicaIsrEligible)."""
        if eligible:
            self.ineligible.discard(replica_id)
        else:
            self.ineligible.add(replica_id)

    # --- produce ---------------------------------------------------------

    def check_append(self, acks: int) -> ErrorCode:
        """Before appending (Partition.appendRecordsToLeader): NOT_ENOUGH_REPLICAS
        for acks=all while the ISR is smaller than the effective
        min.insync.replicas; acks=0/1 are always accepted."""
        if not self.is_leader:
            return ErrorCode.not_leader_or_follower
        if acks == ACKS_ALL and len(self._isr) < self.effective_min_isr:
            return ErrorCode.not_enough_replicas
        return ErrorCode.none

    def on_append(self, log_end_offset: int) -> bool:
        """The leader's log now ends at `log_end_offset`; whether the high
        watermark moved (it can when the ISR is the leader alone)."""
        self.log_end_offset = log_end_offset
        return self.maybe_increment_high_watermark()

    def check_enough_replicas_reach_offset(self, required_offset: int) -> tuple[bool, ErrorCode]:
        """Partition.checkEnoughReplicasReachOffset, for an acks=all produce
        whose last offset is required_offset - 1: done once the high
        watermark reaches it, with NOT_ENOUGH_REPLICAS_AFTER_APPEND if the
        ISR is by then smaller than the effective min.insync.replicas."""
        if not self.is_leader:
            return True, ErrorCode.not_leader_or_follower
        if self.high_watermark >= required_offset:
            if self.effective_min_isr <= len(self._isr):
                return True, ErrorCode.none
            return True, ErrorCode.not_enough_replicas_after_append
        return False, ErrorCode.none

    # --- followers -------------------------------------------------------

    def on_follower_fetch(
        self,
        replica_id: int,
        fetch_offset: int,
        log_start_offset: int,
        leader_end_offset: int | None = None,
    ) -> FetchUpdate:
        """Partition.updateFollowerFetchState: a follower fetched from
        `fetch_offset` (its log end) while the leader's log ended at
        `leader_end_offset` (default: now). Raises KeyError for a replica
        outside the replica set (Kafka answers UNKNOWN_LEADER_EPOCH, or
        NOT_LEADER_OR_FOLLOWER without a leader epoch in the request)."""
        follower = self.followers[replica_id]
        now = now_ms(self.clock)
        previous_end = follower.log_end_offset
        follower.record_fetch(
            fetch_offset, log_start_offset, now, self.log_end_offset if leader_end_offset is None else leader_end_offset
        )
        change = self.maybe_expand_isr(replica_id)
        moved = False
        if change is not None or previous_end != follower.log_end_offset:
            moved = self.maybe_increment_high_watermark(now)
        return FetchUpdate(change, moved)

    def is_follower_in_sync(self, replica_id: int) -> bool:
        """Partition.isFollowerInSync: the follower's log end has reached the
        high watermark and the start of the current leader epoch."""
        end = self.followers[replica_id].log_end_offset
        return end >= self.high_watermark and end >= self.leader_epoch_start_offset

    def maybe_expand_isr(self, replica_id: int) -> IsrChange | None:
        """Partition.maybeExpandIsr: add an eligible follower that is in sync."""
        if not self.is_leader or replica_id in self._isr or replica_id in self.ineligible:
            return None
        if not self.is_follower_in_sync(replica_id):
            return None
        self._isr = self._isr | {replica_id}
        self.counters.isr_expands += 1
        return IsrChange(self._isr, added=frozenset({replica_id}))

    def out_of_sync_replicas(self, now: int | None = None) -> frozenset[int]:
        """Partition.getOutOfSyncReplicas: ISR followers not caught up within
        replica.lag.time.max.ms (stuck or slow alike, by last caught-up time)."""
        now = now_ms(self.clock) if now is None else now
        return frozenset(
            replica
            for replica in self._isr - {self.leader_id}
            if not self.followers[replica].is_caught_up(self.log_end_offset, now, self.replica_lag_time_max_ms)
        )

    def maybe_shrink_isr(self) -> IsrChange | None:
        """Partition.maybeShrinkIsr: drop the out-of-sync followers (one
        IsrShrinks count however many go); the high watermark may then move."""
        if not self.is_leader:
            return None
        now = now_ms(self.clock)
        removed = self.out_of_sync_replicas(now)
        if not removed:
            return None
        self._isr = self._isr - removed
        self.counters.isr_shrinks += 1
        self.maybe_increment_high_watermark(now)
        return IsrChange(self._isr, removed=removed)

    def maybe_increment_high_watermark(self, now: int | None = None) -> bool:
        """Partition.maybeIncrementLeaderHW: the least log end of the leader,
        the ISR followers, and the followers that are caught up and eligible
        but not yet in the ISR (so a catching-up follower can ever reach
        it). Never moves back; does not move at all while the ISR is under
        the effective min.insync.replicas (as Kafka since 3.7: KAFKA-15583,
        part of KIP-966).
        Whether it moved."""
        if not self.is_leader or self.is_under_min_isr:
            return False
        now = now_ms(self.clock) if now is None else now
        new = self.log_end_offset
        for follower in self.followers.values():
            if follower.log_end_offset >= new:
                continue
            if follower.replica_id in self._isr or (
                follower.replica_id not in self.ineligible
                and follower.is_caught_up(self.log_end_offset, now, self.replica_lag_time_max_ms)
            ):
                new = follower.log_end_offset
        if new > self.high_watermark:
            self.high_watermark = new
            return True
        return False


@attrs.define(eq=False)
class ProduceWait:
    """One partition of an acks=all produce, waiting for the ISR."""

    required_offset: int  # the produce's last offset + 1
    deadline: float  # monotonic seconds: then REQUEST_TIMED_OUT
    error: ErrorCode | None = None  # set when done


class PendingProduces:
    """The acks=all waits on one partition (Kafka's DelayedProduce, one
    partition's share): each ends when the high watermark reaches its
    offset, when leadership is lost, or at its deadline."""

    def __init__(self, state: LeaderState) -> None:
        self.state = state
        self.waits: list[ProduceWait] = []

    def add(self, required_offset: int, timeout_ms: int) -> ProduceWait:
        """A new wait; already done (error set) if the high watermark is there,
        as Kafka tries a delayed produce at once before parking it."""
        wait = ProduceWait(required_offset, self.state.clock.monotonic() + timeout_ms / 1000)
        done, error = self.state.check_enough_replicas_reach_offset(required_offset)
        if done:
            wait.error = error
        else:
            self.waits.append(wait)
        return wait

    def poll(self) -> list[ProduceWait]:
        """The waits that ended since the last call (their `error` set)."""
        now = self.state.clock.monotonic()
        finished: list[ProduceWait] = []
        still: list[ProduceWait] = []
        for wait in self.waits:
            done, error = self.state.check_enough_replicas_reach_offset(wait.required_offset)
            if done:
                wait.error = error
            elif now >= wait.deadline:
                wait.error = ErrorCode.request_timed_out
            else:
                still.append(wait)
                continue
            finished.append(wait)
        self.waits = still
        return finished

    def next_deadline(self) -> float | None:
        """When the server should poll next at the latest (None: nothing waits)."""
        return min((wait.deadline for wait in self.waits), default=None)
