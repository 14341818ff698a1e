"""Share groups on one node (KIP-932): membership, share sessions and each
share-partition's delivery state; what the share handlers call.

Records become available again when a lock ends, a member releases them or
its session closes: the fetches parked on that share-partition are woken
(`share_wait_key`). Locks and member sessions end through the node's tick."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from typing import Any

from kwire.clock import Clock
from kwire.cluster.cluster import Cluster
from kwire.config import BrokerConfig
from kwire.coordinator.share import simple_assignor
from kwire.coordinator.share.share_group import (
    JOIN_EPOCH,
    LEAVE_EPOCH,
    HeartbeatResult,
    ShareGroup,
    ShareMember,
    check_heartbeat,
)
from kwire.coordinator.share.share_partition import DONE, SharePartition, ShareSettings
from kwire.coordinator.share.share_sessions import ShareSessionCache
from kwire.coordinator.share.share_state_log import SHARE_STATE_TOPIC, ShareSnapshot, ShareStateLog
from kwire.log.partition_log import PartitionLog
from kwire.log.storage_errors import StorageError
from kwire.protocol.errors import ErrorCode, KafkaError

log = logging.getLogger("kwire.groups")

# (group id, topic name, partition index)
ShareKey = tuple[str, str, int]


def share_wait_key(topic: str, index: int) -> tuple[str, str, int]:
    """What a parked ShareFetch waits on besides new data: records of the
    partition becoming available again."""
    return ("share", topic, index)


# On a node of a cluster: partition i of __share_group_state at its leader,
# and what to tell that leader after an append there.
StateLogAccess = Callable[[int], tuple[PartitionLog, Callable[[], None]]]


class ShareGroupsService:
    def __init__(
        self,
        config: BrokerConfig,
        cluster: Cluster,
        notify: Callable[[Hashable], None],
        clock: Clock,
        state_log_access: StateLogAccess | None = None,
    ) -> None:
        self.config = config
        self.cluster = cluster
        self.clock = clock
        self._notify = notify
        self.groups: dict[str, ShareGroup] = {}
        self.partitions: dict[ShareKey, SharePartition] = {}
        # The topic id each share-partition is of: Kafka keys share state by
        # topic id, so a topic deleted and made again under its name starts afresh.
        self._topic_ids: dict[ShareKey, Any] = {}
        self.sessions = ShareSessionCache(config.group_share_max_share_sessions)
        # Share-partition state in __share_group_state. A lone node loads it
        # all at start-up; a node of a cluster writes at the leaders of that
        # topic's partitions (as Kafka's share-partition leader asks the share
        # coordinator) and loads a share-partition when it starts leading the
        # partition and is first asked for it, so the state survives failover.
        self._state_log: ShareStateLog | None = None
        self._loads_lazily = False
        if cluster.controller is not None and state_log_access is not None:
            access = state_log_access
            self._state_log = ShareStateLog(
                config.share_coordinator_state_topic_num_partitions,
                lambda index: access(index)[0],
                lambda index: access(index)[1](),
            )
            self._loads_lazily = True
        elif cluster.controller is None:
            topic = cluster.get(SHARE_STATE_TOPIC)
            partitions = (
                len(topic.partitions) if topic is not None else config.share_coordinator_state_topic_num_partitions
            )
            self._state_log = ShareStateLog(partitions, self._share_state_log)
            if topic is not None:
                self._restore(ShareStateLog.replay(p.log for p in topic.partitions))

    def _share_state_log(self, index: int) -> PartitionLog:
        return self.cluster.internal_topic(SHARE_STATE_TOPIC).partitions[index].log

    def _restore(self, snapshots: dict[tuple[str, Any, int], ShareSnapshot]) -> None:
        for (group_id, topic_id, index), snapshot in snapshots.items():
            topic = self.cluster.topics_by_id.get(topic_id)
            if topic is None or not 0 <= index < len(topic.partitions):
                continue  # the topic went since
            partition = SharePartition(snapshot.start_offset, self._settings(group_id))
            partition.restore(snapshot.start_offset, snapshot.batches)
            partition.state_epoch = snapshot.state_epoch
            self.partitions[(group_id, topic.name, index)] = partition
            self._topic_ids[(group_id, topic.name, index)] = topic_id
            self.groups.setdefault(group_id, ShareGroup(group_id))  # an empty group until members come back
        if snapshots:
            log.info("Loaded the state of %d share-partition(s) from %s", len(self.partitions), SHARE_STATE_TOPIC)

    def persist(self) -> None:
        """Write the share-partitions changed since last time; a refusal of
        the disk is logged and tried again at the next change or tick."""
        if self._state_log is None:
            return
        changed = [(key, p) for key, p in self.partitions.items() if p.changed]
        if not changed:
            return
        entries = []
        for (group_id, topic_name, index), partition in changed:
            topic = self.cluster.get(topic_name)
            if topic is not None:
                snapshot = ShareSnapshot(
                    partition.state_epoch, partition.start_offset, tuple(partition.state_batches())
                )
                entries.append((group_id, topic.topic_id, index, snapshot))
        if not entries:
            return
        try:
            self._state_log.write(entries)
        except (StorageError, KafkaError) as exc:
            log.warning("Could not write share-partition state: %s", exc.message)
            return
        for _key, partition in changed:
            partition.changed = False

    def now(self) -> float:
        return self.clock.monotonic()

    # --- settings, a group's override before the broker's ------------------------

    def _group_setting(self, group_id: str, name: str, broker_value: int) -> int:
        value = self.cluster.group_configs.get(group_id).get(name)
        return int(value) if value is not None else broker_value

    def lock_duration_ms(self, group_id: str) -> int:
        return self._group_setting(
            group_id, "share.record.lock.duration.ms", self.config.group_share_record_lock_duration_ms
        )

    def heartbeat_interval_ms(self, group_id: str) -> int:
        return self._group_setting(
            group_id, "share.heartbeat.interval.ms", self.config.group_share_heartbeat_interval_ms
        )

    def session_timeout_ms(self, group_id: str) -> int:
        return self._group_setting(group_id, "share.session.timeout.ms", self.config.group_share_session_timeout_ms)

    def isolation_committed(self, group_id: str) -> bool:
        """share.isolation.level=read_committed: nothing past the last stable offset."""
        return self.cluster.group_configs.get(group_id).get("share.isolation.level") == "read_committed"

    def _auto_offset_reset(self, group_id: str) -> str:
        return self.cluster.group_configs.get(group_id).get("share.auto.offset.reset", "latest")

    # --- membership -----------------------------------------------------------

    def heartbeat(
        self,
        group_id: str,
        member_id: str,
        member_epoch: int,
        subscribed: tuple[str, ...] | None,
        rack_id: str | None,
        client_id: str,
        client_host: str,
    ) -> HeartbeatResult:
        group = self.groups.get(group_id)
        refused = check_heartbeat(group, member_id, member_epoch, subscribed)
        if refused is not None:
            return refused
        if group is None:
            group = self.groups[group_id] = ShareGroup(group_id)
        if member_epoch == LEAVE_EPOCH:
            self._remove_member(group, member_id)
            return HeartbeatResult(ErrorCode.none, member_id=member_id, member_epoch=LEAVE_EPOCH)
        deadline = self.now() + self.session_timeout_ms(group_id) / 1000
        member = group.members.get(member_id)
        if member is None or member_epoch == JOIN_EPOCH:
            if member is not None:
                self._release_member(group_id, member_id)
            member = ShareMember(member_id, 0, subscribed or (), client_id, client_host, rack_id, deadline)
            group.members[member_id] = member
            log.info("Member %s joined share group %s", member_id, group_id)
        member.session_deadline = deadline
        if subscribed is not None and tuple(subscribed) != member.subscribed:
            member.subscribed = tuple(subscribed)
        self._refresh_target(group)
        if member.member_epoch != group.group_epoch:
            # No revocation step in a share group: the member takes its target at once.
            member.member_epoch = group.group_epoch
            member.assignment = dict(group.target.get(member_id, {}))
        told = None
        if member.sent_assignment != member.assignment:
            told = member.sent_assignment = dict(member.assignment)
        return HeartbeatResult(ErrorCode.none, member_id=member_id, member_epoch=member.member_epoch, assignment=told)

    def _refresh_target(self, group: ShareGroup) -> None:
        """A new target assignment, and group epoch, when the members, what
        they subscribe to, or those topics (their ids and partitions) changed."""
        subscriptions = {m.member_id: frozenset(m.subscribed) for m in group.members.values()}
        counts: dict[str, int] = {}
        ids: dict[str, Any] = {}
        initializing: dict[str, tuple[object, int]] = {}
        for name in sorted(set().union(*subscriptions.values())):
            topic = self.cluster.get(name)
            if topic is None or name.startswith("__"):
                continue
            now_known: tuple[object, int] = (topic.topic_id, len(topic.partitions))
            before = group.initialized.get(name)
            if before != now_known:
                # New to the group (or made again, or grown): assignable from the
                # next heartbeat; partitions it had before stay assigned meanwhile.
                initializing[name] = now_known
                if before is None or before[0] != topic.topic_id:
                    continue
                now_known = before
            counts[name], ids[name] = now_known[1], now_known[0]
        group.initialized.update(initializing)
        for name in [n for n in group.initialized if self.cluster.get(n) is None]:
            del group.initialized[name]  # the topic is gone (its share state goes with it)
        inputs = (sorted(subscriptions.items()), sorted(counts.items()), sorted(ids.items()))
        if inputs == group.target_inputs:
            return
        group.target = simple_assignor.assign(subscriptions, counts, group.target)
        group.target_inputs = inputs
        group.group_epoch += 1
        for member in group.members.values():
            # Assignments go out by topic id: a topic made again under its
            # name is a new assignment for the member even with the same names.
            member.sent_assignment = None

    def is_member(self, group_id: str, member_id: str) -> bool:
        group = self.groups.get(group_id)
        return group is not None and member_id in group.members

    def _remove_member(self, group: ShareGroup, member_id: str) -> None:
        if group.members.pop(member_id, None) is not None:
            self._refresh_target(group)
            log.info("Member %s left share group %s", member_id, group.group_id)
        # Its share sessions and locks stay a while: librdkafka leaves the
        # group before its final ShareAcknowledge (epoch -1) commits what it
        # had; locks end at their deadline, idle sessions in `tick`.

    def _release_member(self, group_id: str, member_id: str) -> None:
        for (group, topic, index), partition in self.partitions.items():
            if group == group_id and partition.release_member(member_id):
                self._notify(share_wait_key(topic, index))

    def release_session(self, group_id: str, member_id: str, partitions: list[tuple[str, int]]) -> None:
        """A share session closed: the member's locks on its partitions end."""
        for topic, index in partitions:
            partition = self.partitions.get((group_id, topic, index))
            if partition is not None and partition.release_member(member_id):
                self._notify(share_wait_key(topic, index))

    # --- share-partitions ------------------------------------------------------

    def partition(self, group_id: str, topic: str, index: int) -> SharePartition | None:
        """The group's state of the partition, started at
        share.auto.offset.reset's end of the log the first time it is read."""
        key = (group_id, topic, index)
        found = self.partitions.get(key)
        part = self.cluster.partition(topic, index)
        if part is None:
            return None
        log_ = part.log
        reset = self._auto_offset_reset(group_id)
        start = log_.log_start_offset if reset == "earliest" else log_.high_watermark
        if found is None and self._loads_lazily:
            try:
                found = self._load(group_id, topic, index)
            except (StorageError, KafkaError) as exc:
                log.warning("Could not read the state of share group %s on %s-%d: %s", group_id, topic, index, exc)
                return None  # asked again next time
        topic_id = self._topic_id(topic)
        if found is not None and self._topic_ids.get(key, topic_id) != topic_id:
            found = None  # the topic was deleted and made again: a new share-partition
        if found is None:
            found = SharePartition(start, self._settings(group_id))
            found.changed = True
            self.partitions[key] = found
            self._topic_ids[key] = topic_id
        else:
            found.settings.lock_duration_ms = self.lock_duration_ms(group_id)
            if found.end_offset > log_.log_end_offset:
                # The log is shorter than what the group read (the topic was
                # deleted and made again, or truncated): start over.
                found.reset_to(start)
        if log_.log_start_offset > found.start_offset:
            found.move_start(log_.log_start_offset)
        return found

    def _load(self, group_id: str, topic: str, index: int) -> SharePartition | None:
        """A node of a cluster: the share-partition as last written to
        __share_group_state (None if never); raises StorageError or
        KafkaError where that topic cannot be read now."""
        found = self.cluster.get(topic)
        if found is None or self._state_log is None or self.cluster.get(SHARE_STATE_TOPIC) is None:
            return None
        state_index = self._state_log.partition_of(group_id, found.topic_id, index)
        snapshot = self._state_log.read(state_index).get((group_id, found.topic_id, index))
        if snapshot is None:
            return None
        partition = SharePartition(snapshot.start_offset, self._settings(group_id))
        partition.restore(snapshot.start_offset, snapshot.batches)
        partition.state_epoch = snapshot.state_epoch
        self.partitions[(group_id, topic, index)] = partition
        log.info("Loaded the state of share group %s on %s-%d", group_id, topic, index)
        return partition

    def forget_groups_not_coordinated(self, owns: Callable[[str], bool]) -> None:
        """A node of a cluster stopped coordinating some groups (a partition
        of __consumer_offsets moved away): their memberships go from here, the
        new coordinator has members rejoin (UNKNOWN_MEMBER_ID). Share sessions
        and share-partitions stay: they belong to the partition leaders."""
        for group_id in [g for g in self.groups if not owns(g)]:
            del self.groups[group_id]

    def leadership_moved(self, topic: str, index: int) -> None:
        """A node of a cluster started or stopped leading the partition: its
        share-partitions here are written and dropped (a new leader loads them
        from __share_group_state; what its members held is available again)."""
        self.persist()
        for key in [key for key in self.partitions if key[1:] == (topic, index)]:
            del self.partitions[key]
        self._notify(share_wait_key(topic, index))

    def _topic_id(self, name: str) -> Any:
        topic = self.cluster.get(name)
        return topic.topic_id if topic is not None else None

    def _settings(self, group_id: str) -> ShareSettings:
        return ShareSettings(
            lock_duration_ms=self.lock_duration_ms(group_id),
            delivery_count_limit=self.config.group_share_delivery_count_limit,
            max_record_locks=self.config.group_share_partition_max_record_locks,
        )

    def reset_start(self, group_id: str, topic: str, index: int, offset: int) -> None:
        """AlterShareGroupOffsets: the share-partition starts again at `offset`
        (kept within the log), nothing in flight. The group is created if need be."""
        self.groups.setdefault(group_id, ShareGroup(group_id))
        partition = self.partition(group_id, topic, index)
        part = self.cluster.partition(topic, index)
        if partition is None or part is None:
            return
        partition.reset_to(min(max(offset, part.log.log_start_offset), part.log.high_watermark))
        partition.state_epoch += 1
        self.persist()

    def delete_state(self, group_id: str, topic: str) -> None:
        """DeleteShareGroupOffsets: the group forgets the topic (the next read
        starts at share.auto.offset.reset again); raises StorageError."""
        self._forget_partitions([key for key in self.partitions if key[0] == group_id and key[1] == topic])

    def _forget_partitions(self, doomed: list[ShareKey]) -> None:
        """Their state goes, tombstoned in __share_group_state; raises StorageError."""
        tombstones = []
        for group_id, topic, index in doomed:
            found = self.cluster.get(topic)
            if found is not None:
                tombstones.append((group_id, found.topic_id, index, None))
        if self._state_log is not None and tombstones:
            self._state_log.write(tombstones)
        for key in doomed:
            del self.partitions[key]
            self._topic_ids.pop(key, None)

    def delete_group(self, group_id: str) -> ErrorCode:
        """DeleteGroups of a share group: only once it is empty (Kafka:
        NON_EMPTY_GROUP), and its share-partition state goes with it
        (tombstones), as Kafka deletes it through the share coordinator."""
        group = self.groups.get(group_id)
        if group is None:
            return ErrorCode.group_id_not_found
        if group.members:
            return ErrorCode.non_empty_group
        try:
            self._forget_partitions([key for key in self.partitions if key[0] == group_id])
            self._tombstone_persisted(group_id)
        except (StorageError, KafkaError):
            return ErrorCode.not_coordinator  # as for a classic group: the client retries
        for (owner, member_id), session in list(self.sessions.sessions.items()):
            if owner == group_id:
                self.sessions.close(owner, member_id)
                self.release_session(owner, member_id, list(session.partitions))
        del self.groups[group_id]
        log.info("Share group %s deleted", group_id)
        return ErrorCode.none

    def _tombstone_persisted(self, group_id: str) -> None:
        """A node of a cluster holds only the share-partitions it leads and
        has read: the group's other snapshots are found in the topic."""
        if not self._loads_lazily or self._state_log is None or self.cluster.get(SHARE_STATE_TOPIC) is None:
            return
        tombstones = []
        for state_index in range(self._state_log.partitions):
            for owner, topic_id, index in self._state_log.read(state_index):
                if owner == group_id:
                    tombstones.append((owner, topic_id, index, None))
        if tombstones:
            self._state_log.write(tombstones)

    def forget_group_state(self, group_id: str) -> None:
        """Another node deleted the group: the share-partitions this node
        leads forget it too (raises StorageError)."""
        self._forget_partitions([key for key in self.partitions if key[0] == group_id])

    @staticmethod
    def lag(partition: SharePartition, high_watermark: int) -> int:
        """Records from the start offset to the high watermark not yet done."""
        done = sum(1 for r in partition.records.values() if r.state in DONE)
        gaps = partition.end_offset - partition.start_offset - len(partition.records)
        return max(0, high_watermark - partition.start_offset - done - gaps)

    def group_partitions(self, group_id: str) -> dict[tuple[str, int], SharePartition]:
        return {(t, i): p for (g, t, i), p in self.partitions.items() if g == group_id}

    # --- timers ------------------------------------------------------------------

    def tick(self) -> None:
        now = self.now()
        for group in list(self.groups.values()):
            for member in [m for m in group.members.values() if m.session_deadline <= now]:
                log.info("Member %s of share group %s timed out", member.member_id, group.group_id)
                self._remove_member(group, member.member_id)
        for (group_id, member_id), session in list(self.sessions.sessions.items()):
            if now - session.last_used > self.session_timeout_ms(group_id) / 1000 and not self.is_member(
                group_id, member_id
            ):
                self.sessions.close(group_id, member_id)
                self.release_session(group_id, member_id, list(session.partitions))
        for (_group, topic, index), partition in self.partitions.items():
            if partition.expire_locks(now):
                self._notify(share_wait_key(topic, index))
        self.persist()
