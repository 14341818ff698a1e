"""Groups and their committed offsets together: what the group handlers
call. Owns the node's clock for groups, `__consumer_offsets` and the
wake-ups of waiters.

Handlers use the operations here (`join`, `sync`, `heartbeat`, `leave`,
`group`, the offset reads and writes), never the coordinator or the offset
store behind them: each operation passes the time and wakes the requests
parked on the groups it changed.

A node coordinates the groups of the `__consumer_offsets` partitions it
leads (`owned`; None, a lone node's default, means all). The node loads a
partition's groups from its replica of the log when its leadership arrives
(`load_partition`) and forgets them when it leaves (`unload_partition`);
handlers ask `coordinator_error` first and answer NOT_COORDINATOR for a
group of a partition owned elsewhere."""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Hashable

from kwire.clock import Clock, Every
from kwire.cluster.cluster import Cluster
from kwire.config import BrokerConfig
from kwire.coordinator.consumer_group.classic_members import ClassicMembers
from kwire.coordinator.consumer_group.coordinator import (
    ConsumerGroupCoordinator,
    ConsumerGroupSettings,
    HeartbeatRequest,
    HeartbeatResult,
)
from kwire.coordinator.consumer_group.migration import (
    CustomAssignorInUse,
    MalformedConsumerProtocol,
    MigrationPolicy,
    classic_group_from_consumer,
    consumer_group_from_classic,
    downgrade_allowed,
    upgrade_refusal,
)
from kwire.coordinator.consumer_group.model import (
    JOIN_EPOCH,
    ConsumerGroup,
    ConsumerGroupState,
    ConsumerMember,
    TopicInfo,
)
from kwire.coordinator.consumer_group.persistence import GroupReplay, Persisted, update
from kwire.coordinator.group import Group, GroupState, JoinResult, Member, SyncResult
from kwire.coordinator.group_coordinator import GroupCoordinator, GroupSettings, JoinRequest, SyncRequest
from kwire.coordinator.group_metadata import group_value, parse_group_value, stored_group
from kwire.coordinator.offsets import OFFSETS_TOPIC, CommittedOffset, OffsetStore, group_key
from kwire.log.partition_log import PartitionLog
from kwire.log.storage_errors import StorageError
from kwire.protocol.errors import ErrorCode

log = logging.getLogger("kwire.groups")

# Kafka's settings for the offsets topic.


def group_wait_key(group_id: str) -> tuple[str, str]:
    return ("group", group_id)


class GroupsService:
    def __init__(
        self,
        config: BrokerConfig,
        cluster: Cluster,
        notify: Callable[[Hashable], None],
        clock: Clock,
        owned: set[int] | None = None,
    ) -> None:
        self.config = config
        self.cluster = cluster
        self.clock = clock
        self._notify = notify
        self.coordinator = GroupCoordinator(
            GroupSettings(
                min_session_timeout_ms=config.group_min_session_timeout_ms,
                max_session_timeout_ms=config.group_max_session_timeout_ms,
                initial_rebalance_delay_ms=config.group_initial_rebalance_delay_ms,
                max_size=config.group_max_size,
            )
        )
        self.consumer = ConsumerGroupCoordinator(
            ConsumerGroupSettings(
                heartbeat_interval_ms=config.group_consumer_heartbeat_interval_ms,
                session_timeout_ms=config.group_consumer_session_timeout_ms,
                assignors=tuple(a.strip() for a in config.group_consumer_assignors.split(",") if a.strip())
                or ("uniform",),
                max_size=config.group_consumer_max_size,
            ),
            self._topic_infos,
            lambda group_id: cluster.group_configs.get(group_id),
        )
        # Online migration between the protocols (consumer_group/migration.py).
        self.migration_policy = MigrationPolicy.parse(config.group_consumer_migration_policy)
        self.classic_members = ClassicMembers(self.consumer)
        self.consumer.downgrade = self._downgrade
        self.classic_members.downgrade = self._downgrade_replaced
        self.offsets = OffsetStore(config.offsets_topic_num_partitions, self._offsets_log)
        self._retention_check = Every(config.offsets_retention_check_interval_ms, clock.monotonic())
        self._stored: set[str] = set()  # groups with a metadata record on the log (a tombstone is due when forgotten)
        # KIP-848 groups: what their records on the log say, the groups that
        # may differ from it, and the records read while loading.
        self._consumer_stored: dict[str, Persisted] = {}
        self._consumer_dirty: dict[str, set[str] | None] = {}  # group -> members that changed (None: any)
        self._consumer_replay = GroupReplay()
        self._owned: set[int] | None = None if owned is None else set()
        topic = cluster.get(OFFSETS_TOPIC)
        if owned is None and topic is not None:
            logs = [partition.log for partition in topic.partitions]
            self._load(self.offsets.replay(logs, self._consumer_replay.apply))
        for index in sorted(owned or ()):
            self.load_partition(index)

    # --- which groups this node coordinates --------------------------------------

    def owns(self, group_id: str) -> bool:
        return self._owned is None or self.offsets.partition_of(group_id) in self._owned

    def coordinator_error(self, group_id: str) -> ErrorCode:
        """NOT_COORDINATOR for a group another node coordinates, else none.
        (Loading is done within `load_partition`, so there is no
        COORDINATOR_LOAD_IN_PROGRESS to answer.)"""
        return ErrorCode.none if self.owns(group_id) else ErrorCode.not_coordinator

    def load_partition(self, index: int) -> None:
        """Leadership of `__consumer_offsets` partition `index` arrived: its
        groups and offsets are read from this node's replica of the log."""
        if self._owned is None or index in self._owned:
            return  # loaded already
        self._owned.add(index)
        topic = self.cluster.get(OFFSETS_TOPIC)
        if topic is not None and index < len(topic.partitions):
            self.offsets.partitions = len(topic.partitions)
            partition_log = topic.partitions[index].log
            self._load(self.offsets.replay_partition(index, partition_log, self._consumer_replay.apply))

    def _load(self, stored: dict[str, bytes | None]) -> None:
        now = self.now()
        default_assignor = self.consumer.settings.assignors[0]
        for consumer_group, on_log in self._consumer_replay.groups(now, self._topic_infos(), default_assignor):
            self.consumer.groups[consumer_group.group_id] = consumer_group
            self._consumer_stored[consumer_group.group_id] = on_log
        for group_id, value in stored.items():
            try:
                group = parse_group_value(value) if value is not None else None
            except (struct.error, UnicodeDecodeError) as exc:
                log.warning("Skipped the malformed metadata record of group %s: %s", group_id, exc)
                continue
            if group is not None:
                self._stored.add(group_id)
                if group_id not in self.consumer.groups:
                    self.coordinator.load(group_id, group, now)
        for group_id in self.offsets.offsets:
            if group_id not in self.consumer.groups:
                self.coordinator.load(group_id, None, now)  # offsets alone: an empty group

    def unload_partition(self, index: int) -> None:
        """Leadership of partition `index` left this node: its groups are
        forgotten here, their parked joins and syncs answered NOT_COORDINATOR."""
        if self._owned is None:
            self._owned = set(range(self.offsets.partitions))
        self._owned.discard(index)
        for group_id in [g for g in self.coordinator.groups if self.offsets.partition_of(g) == index]:
            self.coordinator.unload(group_id)
        for group_id in [g for g in self.consumer.groups if self.offsets.partition_of(g) == index]:
            self.consumer.delete(group_id)
        for group_id in [g for g in self._consumer_stored if self.offsets.partition_of(g) == index]:
            del self._consumer_stored[group_id]  # forgotten here, not deleted: no tombstones
        for group_id in [g for g in self._consumer_dirty if self.offsets.partition_of(g) == index]:
            del self._consumer_dirty[group_id]
        self._stored = {g for g in self._stored if self.offsets.partition_of(g) != index}
        self.offsets.unload_partition(index)
        self.publish_changes()

    def _topic_infos(self) -> dict[str, TopicInfo]:
        """The topics a KIP-848 group may subscribe to (internal ones left out)."""
        return {
            name: TopicInfo(topic.topic_id, len(topic.partitions))
            for name, topic in self.cluster.topics.items()
            if not topic.is_internal
        }

    def _offsets_log(self, index: int) -> PartitionLog:
        return self.cluster.internal_topic(OFFSETS_TOPIC).partitions[index].log

    def offsets_log_for(self, group_id: str) -> PartitionLog:
        return self._offsets_log(self.offsets.partition_of(group_id))

    def offsets_partition(self, group_id: str) -> tuple[str, int]:
        """The `__consumer_offsets` partition that holds the group (created if need be)."""
        self.offsets_log_for(group_id)
        return OFFSETS_TOPIC, self.offsets.partition_of(group_id)

    def now(self) -> float:
        """Monotonic seconds: what group deadlines and sessions are kept in."""
        return self.clock.monotonic()

    def next_timer(self) -> float | None:
        """When (monotonic seconds) the next group timer that the regular
        tick would be late for ends, if any."""
        return self.coordinator.next_timer()

    def publish_changes(self) -> None:
        """Write the groups whose generation or assignment changed, then
        wake the joins and syncs parked on groups that changed."""
        for group_id in self.coordinator.take_to_store():
            self._store_group(group_id)
        consumer_changed = self.consumer.take_changed()
        for group_id in consumer_changed:
            self._mark_consumer_group(group_id)
        self._store_consumer_groups()
        for group_id in self.coordinator.take_changed() | consumer_changed:
            self._notify(group_wait_key(group_id))

    def _mark_consumer_group(self, group_id: str, member_id: str | None = None) -> None:
        """The KIP-848 group may differ from its records: in that member only, or in anything."""
        if member_id is None:
            self._consumer_dirty[group_id] = None
        else:
            members = self._consumer_dirty.setdefault(group_id, set())
            if members is not None:
                members.add(member_id)

    def _store_consumer_groups(self) -> None:
        """Write what changed in the KIP-848 groups marked since their
        records (persistence.py); a group gone gets its tombstones. A group
        whose records the log refuses is tried again at the next change or tick."""
        dirty, self._consumer_dirty = self._consumer_dirty, {}
        for group_id, member_ids in sorted(dirty.items()):
            group = self.consumer.group(group_id)
            records, after = update(group_id, group, self._consumer_stored.get(group_id), member_ids)
            if group is not None and group_id in self._stored:
                records.append((group_key(group_id), None))  # it was a classic group: no longer
            if not records:
                continue
            try:
                self.offsets.append_records(group_id, records)
            except StorageError as exc:
                log.warning("Could not write the state of consumer group %s: %s", group_id, exc.message)
                self._mark_consumer_group(group_id)
                continue
            if after is None:
                self._consumer_stored.pop(group_id, None)
            else:
                self._consumer_stored[group_id] = after
                self._stored.discard(group_id)

    def _store_group(self, group_id: str) -> None:
        group = self.coordinator.group(group_id)
        if group is None:
            return
        try:
            self.offsets.store_group(group_id, group_value(stored_group(group, self.clock.wall_ms())))
        except StorageError as exc:
            # Only a coordinator that loads the log later sees the older
            # generation: its members are told ILLEGAL_GENERATION and rejoin.
            log.warning("Could not write the metadata of group %s: %s", group_id, exc.message)
            return
        self._stored.add(group_id)

    # --- the classic group protocol ------------------------------------------------

    def join(self, request: JoinRequest) -> JoinResult | Member:
        """A JoinResult when answered now, else the member whose
        `join_result` is set when the rebalance completes."""
        consumer_group = self.consumer_group(request.group_id)
        if consumer_group is not None:
            # As Kafka: a classic member joins a KIP-848 group that has members
            # (whatever the migration policy), served from its state.
            settings = self.coordinator.settings
            if not settings.min_session_timeout_ms <= request.session_timeout_ms <= settings.max_session_timeout_ms:
                return JoinResult(ErrorCode.invalid_session_timeout)
            result = self.classic_members.join(consumer_group, request, self.now())
            self.publish_changes()
            return result
        if request.group_id in self.consumer.groups:
            self.consumer.delete(request.group_id)  # an empty one becomes classic
            self._mark_consumer_group(request.group_id)
        outcome = self.coordinator.join(request, self.now())
        self.publish_changes()
        return outcome

    def sync(self, request: SyncRequest) -> SyncResult | Member:
        """A SyncResult when answered now, else the member whose
        `sync_result` is set when the leader's assignment arrives."""
        consumer_group = self.consumer_group(request.group_id)
        if consumer_group is not None:
            names = {topic_id: topic.name for topic_id, topic in self.cluster.topics_by_id.items()}
            result = self.classic_members.sync(consumer_group, request, self.now(), names)
            self.publish_changes()
            return result
        outcome = self.coordinator.sync(request, self.now())
        self.publish_changes()
        return outcome

    def heartbeat(self, group_id: str, generation_id: int, member_id: str, group_instance_id: str | None) -> ErrorCode:
        consumer_group = self.consumer_group(group_id)
        if consumer_group is not None:
            error = self.classic_members.heartbeat(
                consumer_group, generation_id, member_id, group_instance_id, self.now()
            )
            self.publish_changes()
            return error
        error = self.coordinator.heartbeat(group_id, generation_id, member_id, group_instance_id, self.now())
        self.publish_changes()
        return error

    def leave(self, group_id: str, leaving: list[tuple[str, str | None]]) -> list[ErrorCode]:
        """One error code per (member id, group instance id) leaving."""
        consumer_group = self.consumer_group(group_id)
        if consumer_group is not None:
            errors = self.classic_members.leave(consumer_group, leaving)
            self.publish_changes()
            return errors
        errors = self.coordinator.leave(group_id, leaving, self.now())
        self.publish_changes()
        return errors

    def group(self, group_id: str) -> Group | None:
        """The group as it is now (sessions that ended are gone), or None."""
        group = self.coordinator.caught_up(group_id, self.now())
        self.publish_changes()
        return group

    # --- the consumer group protocol (KIP-848) -------------------------------------

    def consumer_group(self, group_id: str) -> ConsumerGroup | None:
        """The KIP-848 group as it is now, if it has members."""
        group = self.consumer.group(group_id)
        if group is None:
            return None
        self.consumer.tick(self.now())
        self.publish_changes()
        return group if group.state != ConsumerGroupState.EMPTY else None

    def consumer_group_now(self, group_id: str) -> ConsumerGroup | None:
        """The KIP-848 group as it is now, empty or not (ConsumerGroupDescribe)."""
        self.consumer.tick(self.now())
        self.publish_changes()
        return self.consumer.group(group_id)

    def consumer_subscriptions(self, group_id: str) -> set[str] | None:
        """The topics the members of a KIP-848 group subscribe to (regexes
        resolved); None if the group is not one."""
        group = self.consumer_group_now(group_id)
        if group is None:
            return None
        topics = self._topic_infos()
        return {name for m in group.members.values() for name in self.consumer.subscribed_topics(m, topics)}

    def consumer_heartbeat(self, request: HeartbeatRequest) -> HeartbeatResult:
        classic = self.coordinator.caught_up(request.group_id, self.now())
        if classic is not None and request.group_id not in self.consumer.groups:
            if classic.state not in (GroupState.EMPTY, GroupState.DEAD):
                refusal = self._upgrade(classic, request.member_epoch)
                if refusal is not None:
                    return HeartbeatResult(ErrorCode.group_id_not_found, refusal)
            else:  # an empty classic group (offsets only) becomes a consumer group
                self.coordinator.delete(request.group_id)
        result = self.consumer.heartbeat(request, self.now())
        self._mark_consumer_group(request.group_id, result.member_id or request.member_id)
        self.publish_changes()
        return result

    # --- online migration between the protocols ------------------------------------------

    def _upgrade(self, classic: Group, member_epoch: int) -> str | None:
        """The classic group becomes a consumer group for a joining member of
        the consumer protocol (Kafka's online upgrade); else why not."""
        group_id = classic.group_id
        if member_epoch != JOIN_EPOCH:
            return f"Group {group_id} is not a consumer group."
        refusal = upgrade_refusal(self.migration_policy, classic, self.consumer.settings.max_size)
        if refusal is not None:
            log.info("%s", refusal)
            return refusal
        try:
            converted = consumer_group_from_classic(classic, self._topic_infos(), self.now())
        except MalformedConsumerProtocol as exc:
            log.warning("Cannot upgrade classic group %s: %s", group_id, exc)
            return f"Cannot upgrade classic group {group_id} to consumer group because the embedded consumer protocol is malformed."
        except CustomAssignorInUse:
            log.warning(
                "Cannot upgrade classic group %s: an assignment carries a custom assignor's user data", group_id
            )
            return (
                f"Cannot upgrade classic group {group_id} to consumer group because an unsupported custom assignor is in use. "
                "Please refer to the documentation or switch to a default assignor before re-attempting the upgrade."
            )
        # Joins and syncs parked on the rebalance under way are told to join again.
        for member in classic.members.values():
            if member.awaiting_join:
                member.awaiting_join = False
                member.join_result = JoinResult(ErrorCode.rebalance_in_progress, member_id=member.member_id)
            if member.awaiting_sync:
                member.awaiting_sync, member.sync_result = False, SyncResult(ErrorCode.rebalance_in_progress)
        self.coordinator.delete(group_id)
        self._forget_stored_classic(group_id)
        self.consumer.adopt(converted)
        self._notify(group_wait_key(group_id))
        log.info("Converted classic group %s (generation %d) to a consumer group", group_id, classic.generation_id)
        return None

    def _forget_stored_classic(self, group_id: str) -> None:
        """A tombstone for the classic group's metadata, so a restart does not
        bring back the group it was (as Kafka writes on conversion)."""
        if group_id not in self._stored:
            return
        try:
            self.offsets.store_group(group_id, None)
        except StorageError as exc:
            log.warning("Could not remove the classic metadata of group %s: %s", group_id, exc.message)
            return
        self._stored.discard(group_id)

    def _downgrade(self, group: ConsumerGroup, leaving: ConsumerMember) -> bool:
        """The consumer coordinator's hook when a member of the consumer
        protocol leaves or is fenced: the group becomes a classic group if
        only classic members remain and the policy allows (Kafka's online
        downgrade); True if it did."""
        if not downgrade_allowed(self.migration_policy, group, leaving, self.coordinator.settings.max_size):
            return False
        names = {topic_id: topic.name for topic_id, topic in self.cluster.topics_by_id.items()}
        classic = classic_group_from_consumer(group, leaving, names, self.now())
        self.coordinator.take_over(classic, self.now(), f"downgrade of group {group.group_id} from consumer to classic")
        log.info("Converted consumer group %s (epoch %d) to a classic group", group.group_id, group.group_epoch)
        return True

    def _downgrade_replaced(self, group: ConsumerGroup, rebalance: bool) -> bool:
        """A classic static member took the place of the last member of the
        consumer protocol: the group becomes a classic group if the policy
        allows, rebalancing only if the subscription changed (as Kafka)."""
        if not self.migration_policy.downgrade or len(group.members) > self.coordinator.settings.max_size:
            return False
        names = {topic_id: topic.name for topic_id, topic in self.cluster.topics_by_id.items()}
        classic = classic_group_from_consumer(group, None, names, self.now())
        self.consumer.delete(group.group_id)
        self._mark_consumer_group(group.group_id)  # its KIP-848 records get tombstones
        reason = f"downgrade of group {group.group_id} from consumer to classic (static member replaced)"
        self.coordinator.take_over(classic, self.now(), reason, rebalance)
        log.info("Converted consumer group %s (epoch %d) to a classic group", group.group_id, group.group_epoch)
        return True

    def listed_consumer_groups(self) -> list[ConsumerGroup]:
        self.consumer.tick(self.now())
        self.publish_changes()
        return list(self.consumer.groups.values())

    # --- offsets ---------------------------------------------------------------

    def committed(self, group_id: str) -> dict[tuple[str, int], CommittedOffset]:
        return self.offsets.committed(group_id)

    def pending_offsets(self, group_id: str) -> set[tuple[str, int]]:
        """Partitions whose offsets wait in an open transaction."""
        return self.offsets.pending_partitions(group_id)

    def delete_offsets(self, group_id: str, partitions: list[tuple[str, int]]) -> None:
        """Raises StorageError (nothing changed) if the offsets log refuses."""
        self.offsets.delete(group_id, partitions)

    def on_topics_deleted(self, topics: set[str]) -> None:
        """Deleted topics take their committed offsets with them (tombstones
        in `__consumer_offsets`); a refusal of the disk is logged."""
        try:
            removed = self.offsets.delete_topics(topics)
        except StorageError as exc:
            log.warning("Could not remove the committed offsets of deleted topic(s) %s: %s", sorted(topics), exc)
            return
        if removed:
            log.info("Removed %d committed offset(s) of deleted topic(s) %s", removed, ", ".join(sorted(topics)))

    def commit_transactional(
        self, group_id: str, entries: dict[tuple[str, int], CommittedOffset], producer_id: int, producer_epoch: int
    ) -> None:
        """Offsets that count once the producer's transaction commits;
        raises StorageError (nothing changed) if the offsets log refuses."""
        self.offsets.commit_transactional(group_id, entries, producer_id, producer_epoch)

    def commit_check(
        self, group_id: str, generation_id: int, member_id: str, instance_id: str | None, version: int = 9
    ) -> ErrorCode:
        """Kafka's rules for who may commit to a group right now (the group
        coordinator's, which also counts the commit as a sign of life)."""
        consumer_group = self.consumer.group(group_id)
        if consumer_group is not None:
            self.consumer.tick(self.now())
            return self.consumer.validate_commit(consumer_group, member_id, generation_id, version)
        return self.coordinator.validate_commit(group_id, generation_id, member_id, instance_id, self.now())

    def commit(self, group_id: str, entries: dict[tuple[str, int], CommittedOffset]) -> None:
        """Raises StorageError (nothing changed) if the offsets log refuses."""
        self.offsets.commit(group_id, entries)
        if group_id not in self.consumer.groups:
            self.coordinator.get_or_create(group_id, self.now())

    # --- groups ----------------------------------------------------------------

    def listed_groups(self) -> list[Group]:
        self.coordinator.tick(self.now())  # as they are now, sessions that ended gone
        self.publish_changes()
        return [g for g in self.coordinator.groups.values() if g.state != GroupState.DEAD]

    def delete_group(self, group_id: str) -> ErrorCode:
        if self.consumer_group(group_id) is not None:
            return ErrorCode.non_empty_group
        if group_id in self.consumer.groups:  # an empty KIP-848 group: deleted as an empty classic one
            self.consumer.delete(group_id)
            self._mark_consumer_group(group_id)
            self._store_consumer_groups()
            self.coordinator.get_or_create(group_id, self.now())
        group = self.group(group_id)
        if group is None:
            return ErrorCode.group_id_not_found
        if group.state != GroupState.EMPTY:
            return ErrorCode.non_empty_group
        try:
            self.offsets.delete_group(group_id)
        except StorageError:
            return ErrorCode.not_coordinator  # as Kafka for a storage error: the client retries
        self.coordinator.delete(group_id)
        self._stored.discard(group_id)
        return ErrorCode.none

    def fetch_check(self, group_id: str, member_id: str | None, member_epoch: int) -> ErrorCode:
        """OffsetFetch v9+ by a member of a KIP-848 group: Kafka's checks."""
        group = self.consumer.group(group_id)
        if group is None:
            return ErrorCode.none
        self.consumer.tick(self.now())
        return self.consumer.validate_fetch(group, member_id, member_epoch)

    def tick(self) -> None:
        now = self.now()
        self.coordinator.tick(now)
        self.classic_members.expire(now)
        self.consumer.tick(now)
        self._forget_empty_consumer_groups()
        if self._retention_check.due(now):
            self._expire_offsets(now)
        self._forget_empty_groups()
        self.publish_changes()

    def _expire_offsets(self, now: float) -> None:
        """offsets.retention.minutes: an empty group's offsets go once it has
        been empty that long (Kafka 2.1+ semantics)."""
        retention_s = self.config.offsets_retention_minutes * 60
        for group in self.listed_groups():
            if group.state == GroupState.EMPTY and now - group.empty_since >= retention_s:
                try:
                    self.offsets.delete_group(group.group_id)
                except StorageError as exc:
                    log.warning(
                        "Could not expire the offsets of group %s (tried again later): %s", group.group_id, exc.message
                    )
                    continue
                self.coordinator.delete(group.group_id)
                self._stored.discard(group.group_id)
        for consumer_group in list(self.consumer.groups.values()):
            empty = consumer_group.state == ConsumerGroupState.EMPTY
            if empty and now - consumer_group.empty_since >= retention_s:
                try:
                    self.offsets.delete_group(consumer_group.group_id)
                except StorageError as exc:
                    log.warning("Could not expire the offsets of group %s: %s", consumer_group.group_id, exc.message)
                    continue
                self.consumer.delete(consumer_group.group_id)
                self._mark_consumer_group(consumer_group.group_id)

    def _forget_empty_consumer_groups(self) -> None:
        """An empty KIP-848 group with committed offsets stays one, as in
        Kafka (ListGroups type `consumer`, state Empty; a classic member
        joining converts it); one without any is forgotten."""
        for group_id, group in list(self.consumer.groups.items()):
            if group.state == ConsumerGroupState.EMPTY and not self.offsets.committed(group_id):
                self.consumer.delete(group_id)
                self._mark_consumer_group(group_id)

    def _forget_empty_groups(self) -> None:
        for group in self.listed_groups():
            if (
                group.state == GroupState.EMPTY
                and not group.pending_members
                and not self.offsets.committed(group.group_id)
            ):
                if group.group_id in self._stored:
                    try:  # else a later load would bring the empty group back
                        self.offsets.store_group(group.group_id, None)
                    except StorageError:
                        continue  # tried again at the next tick
                    self._stored.discard(group.group_id)
                self.coordinator.delete(group.group_id)
