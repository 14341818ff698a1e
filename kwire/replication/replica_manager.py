"""A node's replicas in a multi-node cluster (Kafka's ReplicaManager): the
leader state of each partition it leads, the fetch state of each one it
follows, and the replica fetch itself.

Nodes share one process, so a follower's fetch is a call on its leader's
manager rather than a Fetch request over a socket, with the same steps as
Kafka's fetcher thread: on a new leader epoch, truncate by leader epoch
(OffsetForLeaderEpoch: the leader's end offset for the follower's latest
epoch, follower_truncation.truncation_offset); below the leader's log start,
start over there; then copy the leader's batches as they are (offsets and
leader epochs kept) and report the new log end to the leader, which may
add the follower to the ISR and move the high watermark. The high watermark
travels back with the answer, as in a Fetch response.

Sans-IO: the server's tasks (kwire/server/cluster_runtime.py) call
`replicate_from` when there may be something to copy and `shrink_isrs`
every replica.lag.time.max.ms / 2.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterable

import attrs

from kwire.cluster.cluster import Cluster, Partition, Topic
from kwire.cluster.controller import Controller
from kwire.log.leader_epochs import UNDEFINED_EPOCH
from kwire.log.partition_log import PartitionLog
from kwire.log.segment_scan import batches_in
from kwire.log.storage_errors import StorageError
from kwire.protocol.errors import ErrorCode
from kwire.replication.counters import ReplicationCounters
from kwire.replication.follower_truncation import truncation_offset
from kwire.replication.leader_state import IsrChange, LeaderState

log = logging.getLogger("kwire.replication")

PartitionKey = tuple[str, int]
_TRUNCATION_STEPS = 16  # each incomplete step goes to an older epoch: bounded by the epochs in the log


@attrs.define
class Following:
    """A partition this node follows: whom, in which epoch, and whether it
    must truncate before it copies (set on every new epoch)."""

    leader: int
    leader_epoch: int
    must_truncate: bool = True


class ReplicaManager:
    def __init__(
        self,
        cluster: Cluster,
        controller: Controller,
        notify: Callable[[Hashable], None],
    ) -> None:
        self.cluster = cluster
        self.config = cluster.config
        self.node_id = cluster.config.node_id
        self.controller = controller
        self._notify = notify  # wakes this node's long-polls (consumers, acks=all produces)
        self.leaders: dict[PartitionKey, LeaderState] = {}
        self.following: dict[PartitionKey, Following] = {}
        self.counters = ReplicationCounters()
        # Controls (kwire cluster isolate / slow): no replication to or from this node.
        self.isolated = False
        self.delay_ms = 0
        self.on_change: Callable[[], None] | None = None  # wakes the fetcher
        # Leadership arriving or leaving for internal partitions (the coordinators load or unload).
        self.on_role_change: list[Callable[[Partition, bool], None]] = []
        cluster.on_leadership = self.apply
        cluster.on_topics_deleted.append(self._forget)

    # --- leadership ------------------------------------------------------------

    def apply(self, partitions: Iterable[Partition]) -> None:
        """Leadership of hosted partitions as the controller now publishes it."""
        for partition in partitions:
            key = (partition.topic_name, partition.index)
            replica = partition.replica
            if replica is None:
                continue
            replica.replicated = True
            if partition.leader == self.node_id:
                self._lead(key, partition, replica)
            else:
                self._follow(key, partition)
        self._refresh_eligibility()
        if self.on_change is not None:
            self.on_change()

    def _forget(self, topics: list[Topic]) -> None:
        """Deleted topics: no leader state, nothing to fetch (a new topic of the same name starts afresh)."""
        names = {topic.name for topic in topics}
        for key in [key for key in self.leaders if key[0] in names]:
            self.leaders.pop(key).resign()
            self._notify(key)
        for key in [key for key in self.following if key[0] in names]:
            del self.following[key]

    def _refresh_eligibility(self) -> None:
        """Fenced brokers are not waited for (Partition.isReplicaIsrEligible):
        the high watermark may move without them at once."""
        for key, state in self.leaders.items():
            for node in state.replicas:
                if node != self.node_id:
                    state.set_eligible(node, self.controller.eligible(node))
            partition = self.cluster.partition(*key)
            if state.maybe_increment_high_watermark() and partition is not None and partition.replica is not None:
                self._moved(key, partition.replica, state)

    def _lead(self, key: PartitionKey, partition: Partition, replica: PartitionLog) -> None:
        state = self.leaders.get(key)
        if state is not None and state.is_leader and state.leader_epoch == partition.leader_epoch:
            state.set_isr(partition.isr)  # an ISR change the controller accepted
            self._moved(key, replica, state)
            return
        self.following.pop(key, None)
        replica.start_leader_epoch(partition.leader_epoch)
        topic = self.cluster.topics[partition.topic_name]
        self.leaders[key] = LeaderState(
            leader_id=self.node_id,
            replicas=topic.replicas_of(partition.index),
            isr=set(partition.isr) | {self.node_id},
            leader_epoch=partition.leader_epoch,
            log_end_offset=replica.log_end_offset,
            high_watermark=replica.high_watermark,
            min_insync_replicas=topic.log_config.min_insync_replicas,
            replica_lag_time_max_ms=self.config.replica_lag_time_max_ms,
            clock=self.cluster.clock,
            counters=self.counters,
        )
        log.info(
            "Node %d leads %s-%d in epoch %d from offset %d (ISR %s)",
            self.node_id,
            *key,
            partition.leader_epoch,
            replica.log_end_offset,
            sorted(partition.isr),
        )
        self._moved(key, replica, self.leaders[key])
        if state is None or not state.is_leader:
            self._role_changed(partition, True)

    def _follow(self, key: PartitionKey, partition: Partition) -> None:
        state = self.leaders.pop(key, None)
        if state is not None:
            state.resign()
            self._notify(key)  # acks=all waits end with NOT_LEADER_OR_FOLLOWER
            self._role_changed(partition, False)
        following = self.following.get(key)
        if following is None or (following.leader, following.leader_epoch) != (
            partition.leader,
            partition.leader_epoch,
        ):
            self.following[key] = Following(partition.leader, partition.leader_epoch)

    def _role_changed(self, partition: Partition, leads: bool) -> None:
        for callback in self.on_role_change:
            callback(partition, leads)

    # --- the leader's side -------------------------------------------------------

    def check_append(self, topic: str, index: int, acks: int) -> ErrorCode:
        """Before a produce appends: NOT_ENOUGH_REPLICAS for acks=all under min.insync.replicas."""
        state = self.leaders.get((topic, index))
        if state is None:
            return ErrorCode.not_leader_or_follower
        state.min_insync_replicas = self.cluster.topics[topic].log_config.min_insync_replicas
        return state.check_append(acks)

    def appended(self, topic: str, index: int) -> None:
        """After an append on this leader: with no follower to wait for, the high watermark moves now."""
        key = (topic, index)
        state = self.leaders.get(key)
        partition = self.cluster.partition(topic, index)
        if state is None or partition is None or partition.replica is None:
            return
        if state.on_append(partition.replica.log_end_offset):
            self._moved(key, partition.replica, state)

    def acks_all_done(self, topic: str, index: int, required_offset: int) -> tuple[bool, ErrorCode]:
        """Whether an acks=all produce ending before `required_offset` is replicated (and how it ended)."""
        state = self.leaders.get((topic, index))
        if state is None:
            return True, ErrorCode.not_leader_or_follower
        return state.check_enough_replicas_reach_offset(required_offset)

    def _moved(self, key: PartitionKey, replica: PartitionLog, state: LeaderState) -> None:
        """The high watermark may have moved: if so the log learns it and the
        waiters (consumers' long-polls, acks=all produces) wake."""
        if state.high_watermark != replica.high_watermark:
            replica.set_high_watermark(state.high_watermark)
            self._notify(key)

    def _report_isr(self, key: PartitionKey, state: LeaderState, change: IsrChange) -> None:
        """AlterPartition: the controller records the new ISR (every node then applies it)."""
        topic = self.cluster.topics.get(key[0])
        if topic is None:
            return
        error = self.controller.alter_isr((topic.topic_id, key[1]), self.node_id, state.leader_epoch, change.isr)
        if error != ErrorCode.none:
            log.info("ISR change of %s-%d refused by the controller: %s", *key, error.name)

    def follower_fetched(self, key: PartitionKey, follower: int, log_end: int, log_start: int) -> int | None:
        """A follower now ends at `log_end`; the leader's high watermark, None if this node does not lead."""
        state = self.leaders.get(key)
        partition = self.cluster.partition(*key)
        if state is None or not state.is_leader or partition is None or partition.replica is None:
            return None
        replica = partition.replica
        state.on_append(replica.log_end_offset)
        state.set_eligible(follower, self.controller.eligible(follower))  # (a restarted node registered again)
        try:
            update = state.on_follower_fetch(follower, log_end, log_start, replica.log_end_offset)
        except KeyError:
            return None
        if update.isr_change is not None:
            self._report_isr(key, state, update.isr_change)
        self._moved(key, replica, state)
        return state.high_watermark

    def shrink_isrs(self) -> int:
        """The isr-expiration check: followers behind for replica.lag.time.max.ms leave the ISR."""
        shrunk = 0
        for key, state in list(self.leaders.items()):
            change = state.maybe_shrink_isr()
            if change is None:
                continue
            shrunk += 1
            log.info("ISR of %s-%d shrinks to %s (out of sync: %s)", *key, sorted(change.isr), sorted(change.removed))
            self._report_isr(key, state, change)
            partition = self.cluster.partition(*key)
            if partition is not None and partition.replica is not None:
                self._moved(key, partition.replica, state)
        return shrunk

    def under_replicated(self) -> int:
        return sum(1 for state in self.leaders.values() if state.is_under_replicated)

    # --- the follower's side -------------------------------------------------------

    def replicate_from(self, peers: Callable[[int], ReplicaManager | None]) -> int:
        """One round of fetching for every followed partition whose leader
        runs; the bytes copied."""
        if self.isolated:
            return 0
        copied = 0
        for key, following in list(self.following.items()):
            leader = peers(following.leader)
            if leader is None or leader.isolated:
                continue
            try:
                copied += self._fetch(key, following, leader)
            except StorageError as exc:
                log.warning("Node %d could not replicate %s-%d: %s", self.node_id, *key, exc)
        return copied

    def _fetch(self, key: PartitionKey, following: Following, leader: ReplicaManager) -> int:
        partition = self.cluster.partition(*key)
        source = leader.cluster.partition(*key)
        state = leader.leaders.get(key)
        if partition is None or partition.replica is None or source is None or source.replica is None:
            return 0
        if state is None or state.leader_epoch != following.leader_epoch:
            return 0  # the leader has not taken up this epoch yet (or moved on): the next round
        replica, leader_log = partition.replica, source.replica
        if following.must_truncate:
            self._truncate(replica, leader_log)
            following.must_truncate = False
        if replica.log_end_offset < leader_log.log_start_offset:
            log.info(
                "%s-%d on node %d starts over at the leader's log start %d",
                *key,
                self.node_id,
                leader_log.log_start_offset,
            )
            replica.truncate_fully_and_start_at(leader_log.log_start_offset)
        copied = 0
        end = leader_log.log_end_offset
        if replica.log_end_offset < end:
            data = b"".join(
                bytes(chunk)
                for chunk in leader_log.read(replica.log_end_offset, self.config.replica_fetch_max_bytes, end)
            )
            for _position, header, batch in batches_in(data):
                if header.base_offset != replica.log_end_offset:
                    continue
                replica.append_replicated(bytearray(batch), header)
                copied += len(batch)
        if leader_log.log_start_offset > replica.log_start_offset:
            replica.advance_log_start(min(leader_log.log_start_offset, replica.log_end_offset))
        high_watermark = leader.follower_fetched(key, self.node_id, replica.log_end_offset, replica.log_start_offset)
        if high_watermark is not None:
            replica.set_high_watermark(min(high_watermark, replica.log_end_offset))
        if copied:
            self._notify(key)  # consumers fetching from this follower (KIP-392)
        return copied

    @staticmethod
    def _truncate(replica: PartitionLog, leader_log: PartitionLog) -> None:
        """Truncate by leader epoch (KIP-101/279): to where this log and the
        leader's agree."""
        for _ in range(_TRUNCATION_STEPS):
            epoch = replica.leader_epochs.latest_epoch
            if epoch == UNDEFINED_EPOCH:
                replica.truncate_to(min(replica.high_watermark, leader_log.log_end_offset))
                return
            leader_epoch, leader_end = leader_log.end_offset_for_epoch(epoch)
            state = truncation_offset(
                replica.leader_epochs, replica.log_end_offset, replica.log_end_offset, leader_epoch, leader_end
            )
            if state.offset < replica.log_end_offset:
                log.info(
                    "%s truncates to offset %d (leader epoch %d ends at %d)",
                    replica.name,
                    state.offset,
                    leader_epoch,
                    leader_end,
                )
                replica.truncate_to(state.offset)
            if state.complete:
                return
