"""The KIP-848 consumer groups of a node: ConsumerGroupHeartbeat, the
session and revocation timers, and who may commit offsets.

Each heartbeat: the request is checked as Kafka checks it, the member is
found (or joins), its subscription updated; a changed subscription,
membership or topic bumps the group epoch; a group epoch ahead of the
target assignment's epoch gets a new target from the group's assignor;
then the member is reconciled (reconciliation.py) and told its assignment.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Collection, Mapping

import attrs

from kwire.coordinator.consumer_group.assignors import ASSIGNORS
from kwire.coordinator.consumer_group.model import (
    JOIN_EPOCH,
    LEAVE_EPOCH,
    STATIC_LEAVE_EPOCH,
    Assignment,
    ConsumerGroup,
    ConsumerGroupState,
    ConsumerMember,
    TopicInfo,
)
from kwire.coordinator.consumer_group.reconciliation import reconcile, release
from kwire.coordinator.consumer_group.regex_resolution import forget_unused_regexes, resolve_new_regexes
from kwire.coordinator.consumer_group.topic_regex import InvalidTopicRegex, compile_topic_regex
from kwire.protocol.errors import ErrorCode

E = ErrorCode


@attrs.frozen
class ConsumerGroupSettings:
    heartbeat_interval_ms: int = 5000  # group.consumer.heartbeat.interval.ms
    session_timeout_ms: int = 45000  # group.consumer.session.timeout.ms
    assignors: tuple[str, ...] = ("uniform", "range")  # group.consumer.assignors, the first the default
    max_size: int = 2**31 - 1  # group.consumer.max.size


@attrs.frozen
class HeartbeatRequest:
    group_id: str
    member_id: str
    member_epoch: int
    instance_id: str | None
    rack_id: str | None
    rebalance_timeout_ms: int  # -1: unchanged
    subscribed_topic_names: tuple[str, ...] | None  # None: unchanged
    subscribed_topic_regex: str | None  # None: unchanged
    server_assignor: str | None
    owned: Assignment | None  # None: unchanged
    client_id: str = ""
    client_host: str = ""
    member_id_required: bool = False  # v1+: the client makes its member id (KIP-1082)


@attrs.frozen
class HeartbeatResult:
    error_code: ErrorCode
    error_message: str | None = None
    member_id: str | None = None
    member_epoch: int = -1
    heartbeat_interval_ms: int = 0
    assignment: Assignment | None = None  # None: unchanged since the member last heard


class _Refused(Exception):
    def __init__(self, error: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.error, self.message = error, message


def _check(request: HeartbeatRequest, assignors: tuple[str, ...]) -> None:
    """Kafka's validation of a ConsumerGroupHeartbeat (INVALID_REQUEST, UNSUPPORTED_ASSIGNOR)."""

    def invalid(message: str) -> _Refused:
        return _Refused(E.invalid_request, message)

    if not request.group_id:
        raise invalid("GroupId can't be empty.")
    if request.instance_id == "":
        raise invalid("InstanceId can't be empty.")
    if request.rack_id == "":
        raise invalid("RackId can't be empty.")
    epoch = request.member_epoch
    if request.member_id_required and not request.member_id:
        raise invalid("MemberId can't be empty.")
    if epoch > 0 or epoch == LEAVE_EPOCH:
        if not request.member_id:
            raise invalid("MemberId can't be empty.")
    elif epoch == JOIN_EPOCH:
        if request.rebalance_timeout_ms == -1:
            raise invalid("RebalanceTimeoutMs must be provided in first request.")
        if request.owned is None or request.owned:
            raise invalid("TopicPartitions must be empty when (re-)joining.")
        if not request.subscribed_topic_names and request.subscribed_topic_regex is None:
            raise invalid("SubscribedTopicNames or SubscribedTopicRegex must be set in first request.")
    elif epoch == STATIC_LEAVE_EPOCH:
        if not request.member_id:
            raise invalid("MemberId can't be empty.")
        if request.instance_id is None:
            raise invalid("InstanceId can't be null.")
    else:
        raise invalid("MemberEpoch is invalid.")
    if request.subscribed_topic_regex:
        try:
            compile_topic_regex(request.subscribed_topic_regex)
        except InvalidTopicRegex as exc:
            raise _Refused(
                E.invalid_regular_expression, f"SubscribedTopicRegex {request.subscribed_topic_regex!r}: {exc}"
            ) from None
    if request.server_assignor is not None and request.server_assignor not in assignors:
        raise _Refused(
            E.unsupported_assignor,
            f"ServerAssignor {request.server_assignor} is not supported. Supported assignors: {', '.join(assignors)}.",
        )


class ConsumerGroupCoordinator:
    def __init__(
        self,
        settings: ConsumerGroupSettings,
        topics: Callable[[], Mapping[str, TopicInfo]],
        group_overrides: Callable[[str], Mapping[str, str]] = lambda group_id: {},
    ) -> None:
        self.settings = settings
        self._topics = topics  # the cluster's topics (internal ones left out), asked when needed
        self._overrides = group_overrides  # a group's GROUP configs (consumer.heartbeat.interval.ms ...)
        self.groups: dict[str, ConsumerGroup] = {}
        self._changed: set[str] = set()
        # Online downgrade (migration.py): asked when a member of the consumer
        # protocol is about to be removed; True if it turned the group into a
        # classic one instead (the group is then gone from here).
        self.downgrade: Callable[[ConsumerGroup, ConsumerMember], bool] | None = None

    def group(self, group_id: str) -> ConsumerGroup | None:
        return self.groups.get(group_id)

    def take_changed(self) -> set[str]:
        changed, self._changed = self._changed, set()
        return changed

    def heartbeat_interval_ms(self, group_id: str) -> int:
        value = self._overrides(group_id).get("consumer.heartbeat.interval.ms")
        return int(value) if value is not None else self.settings.heartbeat_interval_ms

    def session_timeout_ms(self, group_id: str) -> int:
        value = self._overrides(group_id).get("consumer.session.timeout.ms")
        return int(value) if value is not None else self.settings.session_timeout_ms

    # --- ConsumerGroupHeartbeat ---------------------------------------------------

    def heartbeat(self, request: HeartbeatRequest, now: float) -> HeartbeatResult:
        try:
            _check(request, self.settings.assignors)
            return self._heartbeat(request, now)
        except _Refused as refused:
            return HeartbeatResult(refused.error, refused.message)

    def _heartbeat(self, request: HeartbeatRequest, now: float) -> HeartbeatResult:
        epoch = request.member_epoch
        group = self.groups.get(request.group_id)
        if group is None:
            if epoch != JOIN_EPOCH:
                raise _Refused(E.unknown_member_id, f"Group {request.group_id} not found.")
            group = ConsumerGroup(request.group_id, assignor=self.settings.assignors[0], empty_since=now)
            self.groups[request.group_id] = group
        self._expire(group, now)
        if self.groups.get(request.group_id) is not group:  # downgraded to a classic group meanwhile
            raise _Refused(E.unknown_member_id, f"Member {request.member_id} is not a member of the group.")
        if epoch in (LEAVE_EPOCH, STATIC_LEAVE_EPOCH):
            return self._leave(group, request, now)
        member = self._member(group, request, now)
        member.classic = None  # as Kafka: a member heartbeating with this protocol speaks it now
        # One new group epoch for whatever changed in this heartbeat, as Kafka.
        changed = self._update(member, request)
        if self._refresh_topics(group) or changed:
            self._bump(group)
        if group.group_epoch > group.target_epoch:
            self._assign(group)
        before = (member.member_epoch, member.assigned)
        reconcile(group, member, request.owned, now)
        member.last_heartbeat = now
        if (member.member_epoch, member.assigned) != before:
            self._changed.add(group.group_id)
        full = epoch == JOIN_EPOCH or member.assigned != before[1]
        full = full or (request.owned is not None and request.owned != member.assigned)
        # After the answer, as Kafka resolves a new regex asynchronously: its
        # topics come with the member's next heartbeat.
        if resolve_new_regexes(group) and self._refresh_topics(group):
            self._bump(group)
        return HeartbeatResult(
            E.none,
            member_id=member.member_id,
            member_epoch=member.member_epoch,
            heartbeat_interval_ms=self.heartbeat_interval_ms(group.group_id),
            assignment=member.assigned if full else None,
        )

    def _member(self, group: ConsumerGroup, request: HeartbeatRequest, now: float) -> ConsumerMember:
        """The member the heartbeat is from; a new one for a join (epoch 0)."""
        member = group.members.get(request.member_id)
        if request.member_epoch != JOIN_EPOCH:
            if member is None:
                raise _Refused(E.unknown_member_id, f"Member {request.member_id} is not a member of the group.")
            if request.instance_id is not None and group.static_members.get(request.instance_id) != member.member_id:
                raise _Refused(E.fenced_instance_id, f"Instance id {request.instance_id} belongs to another member.")
            self._check_epoch(member, request)
            return member
        if member is not None:
            return member  # joins again (its answer was lost): its assignment is sent again
        member_id = request.member_id or str(uuid.uuid4())
        previous = group.members.get(group.static_members.get(request.instance_id or "", ""))
        if request.instance_id is not None and previous is not None:
            if previous.member_epoch != STATIC_LEAVE_EPOCH:
                raise _Refused(
                    E.unreleased_instance_id, f"Static member {request.instance_id} has not left the group yet."
                )
            # The static member comes back under a new member id: it takes over its assignment.
            return self._replace_static(group, previous, member_id, request, now)
        if len(group.members) >= self.settings.max_size:
            raise _Refused(
                E.group_max_size_reached,
                f"The consumer group has reached its maximum size of {self.settings.max_size}.",
            )
        member = ConsumerMember(
            member_id,
            request.instance_id,
            request.rack_id,
            request.client_id,
            request.client_host,
            request.rebalance_timeout_ms,
            last_heartbeat=now,
        )
        group.members[member_id] = member
        if request.instance_id is not None:
            group.static_members[request.instance_id] = member_id
        return member  # its subscription, new, bumps the group epoch

    def _replace_static(
        self, group: ConsumerGroup, previous: ConsumerMember, member_id: str, request: HeartbeatRequest, now: float
    ) -> ConsumerMember:
        member = attrs.evolve(
            previous,
            member_id=member_id,
            client_id=request.client_id,
            client_host=request.client_host,
            member_epoch=previous.previous_member_epoch,
            last_heartbeat=now,
        )
        group.replace_static_member(previous, member)
        return member

    @staticmethod
    def _check_epoch(member: ConsumerMember, request: HeartbeatRequest) -> None:
        """FENCED_MEMBER_EPOCH for an epoch the coordinator did not give the
        member; the previous one is accepted while the member still holds
        only partitions it may (the answer that bumped it may have been lost)."""
        received = request.member_epoch
        if received > member.member_epoch:
            raise _Refused(E.fenced_member_epoch, f"The member epoch {received} is ahead of {member.member_epoch}.")
        if received < member.member_epoch:
            owned_ok = request.owned is not None and request.owned <= member.assigned
            if received != member.previous_member_epoch or not owned_ok:
                raise _Refused(E.fenced_member_epoch, f"The member epoch {received} is behind {member.member_epoch}.")

    @staticmethod
    def _update(member: ConsumerMember, request: HeartbeatRequest) -> bool:
        """The member's new settings; True if what it subscribes to changed."""
        if request.rebalance_timeout_ms != -1:
            member.rebalance_timeout_ms = request.rebalance_timeout_ms
        if request.rack_id is not None:
            member.rack_id = request.rack_id
        changed = False
        if request.subscribed_topic_names is not None:
            names = tuple(sorted(set(request.subscribed_topic_names)))
            changed = names != member.subscribed_topic_names
            member.subscribed_topic_names = names
        if request.subscribed_topic_regex is not None:
            regex = request.subscribed_topic_regex or None  # "" clears it
            changed = changed or regex != member.subscribed_topic_regex
            member.subscribed_topic_regex = regex
        if request.server_assignor is not None and request.server_assignor != member.server_assignor:
            member.server_assignor = request.server_assignor
            changed = True
        return changed

    def _leave(self, group: ConsumerGroup, request: HeartbeatRequest, now: float) -> HeartbeatResult:
        member = group.members.get(request.member_id)
        if member is None:
            raise _Refused(E.unknown_member_id, f"Member {request.member_id} is not a member of the group.")
        if request.member_epoch == STATIC_LEAVE_EPOCH:
            # Its partitions stay assigned to it until its session ends or it comes back.
            member.member_epoch, member.previous_member_epoch = STATIC_LEAVE_EPOCH, member.member_epoch
            member.last_heartbeat = now
        else:
            self.remove(group, member)
            if not group.members:
                group.empty_since = now  # offsets.retention.minutes counts from here
        return HeartbeatResult(
            E.none,
            member_id=request.member_id,
            member_epoch=request.member_epoch,
            heartbeat_interval_ms=0,
        )

    # --- the group's assignment -----------------------------------------------------

    def _bump(self, group: ConsumerGroup) -> None:
        group.group_epoch += 1
        self._changed.add(group.group_id)

    def subscribed_topics(
        self, member: ConsumerMember, topics: Mapping[str, TopicInfo], resolved: Collection[str] | None = None
    ) -> frozenset[str]:
        """The member's topics; its regex counts only once resolved (if `resolved` is given)."""
        names = set(member.subscribed_topic_names)
        regex = member.subscribed_topic_regex
        if regex is not None and (resolved is None or regex in resolved):
            pattern = compile_topic_regex(regex)
            names.update(name for name in topics if pattern.fullmatch(name))
        return frozenset(names)

    def _refresh_topics(self, group: ConsumerGroup) -> bool:
        """The subscribed topics as the cluster has them now; True if they
        changed (a topic created, deleted, or given more partitions)."""
        everything = self._topics()
        wanted: set[str] = set()
        for member in group.members.values():
            wanted |= self.subscribed_topics(member, everything, group.resolved_regexes)
        seen = {name: everything[name] for name in sorted(wanted) if name in everything}
        if seen == group.topics:
            return False
        group.topics = seen
        return True

    def update_target(self, group: ConsumerGroup, subscription_changed: bool) -> None:
        """A new group epoch if a subscription or a subscribed topic changed,
        and a new target assignment if the group epoch is ahead of it."""
        if self._refresh_topics(group) or subscription_changed:
            self._bump(group)
        if group.group_epoch > group.target_epoch:
            self._assign(group)

    def _assign(self, group: ConsumerGroup) -> None:
        preferred = Counter(m.server_assignor for m in group.members.values() if m.server_assignor is not None)
        group.assignor = preferred.most_common(1)[0][0] if preferred else self.settings.assignors[0]
        subscriptions = {
            member_id: self.subscribed_topics(member, group.topics, group.resolved_regexes)
            for member_id, member in group.members.items()
        }
        group.target = ASSIGNORS[group.assignor](subscriptions, group.topics, group.target)
        group.target_epoch = group.group_epoch

    def remove(self, group: ConsumerGroup, member: ConsumerMember) -> None:
        """The member is gone (left, fenced, or its session ended): its
        partitions are free and the others rebalance."""
        if self.groups.get(group.group_id) is not group:
            return  # downgraded to a classic group already
        if member.classic is None and self.downgrade is not None and self.downgrade(group, member):
            self.delete(group.group_id)
            self._changed.add(group.group_id)
            return
        release(group, member, member.assigned | member.pending_revocation)
        del group.members[member.member_id]
        group.target.pop(member.member_id, None)
        if member.instance_id is not None and group.static_members.get(member.instance_id) == member.member_id:
            del group.static_members[member.instance_id]
        forget_unused_regexes(group)
        self._bump(group)

    # --- timers -----------------------------------------------------------------

    def tick(self, now: float) -> None:
        for group in list(self.groups.values()):
            self._expire(group, now)

    def _expire(self, group: ConsumerGroup, now: float) -> None:
        """Members whose session ended, or that did not revoke within their
        rebalance timeout, are removed (fenced)."""
        group_session_ms = self.session_timeout_ms(group.group_id)
        for member in list(group.members.values()):
            # A classic member keeps the session timeout of its JoinGroup.
            session_ms = member.classic.session_timeout_ms if member.classic else group_session_ms
            expired = now - member.last_heartbeat > session_ms / 1000
            late = member.revocation_deadline is not None and now > member.revocation_deadline
            if expired or late:
                self.remove(group, member)
                if not group.members:
                    group.empty_since = now

    # --- offsets ------------------------------------------------------------------

    def validate_commit(self, group: ConsumerGroup, member_id: str, member_epoch: int, version: int) -> ErrorCode:
        """Kafka's rules for an OffsetCommit to a consumer group: an admin
        commit (no member, epoch < 0) only while the group is empty; a
        member's only with its current member epoch (v9+)."""
        if member_epoch < 0 and not group.members:
            return E.none
        member = group.members.get(member_id)
        if member is None:
            return E.unknown_member_id
        if member.classic is not None:  # any version, its generation is its member epoch
            return E.none if member_epoch == member.member_epoch else E.illegal_generation
        if version < 9:
            return E.unsupported_version  # a member of the consumer protocol commits with v9+
        if member_epoch != member.member_epoch:
            return E.stale_member_epoch
        return E.none

    def validate_fetch(self, group: ConsumerGroup, member_id: str | None, member_epoch: int) -> ErrorCode:
        """OffsetFetch v9+ from a member: it must be one, at its current epoch."""
        if member_id is None or member_epoch < 0:
            return E.none
        member = group.members.get(member_id)
        if member is None:
            return E.unknown_member_id
        if member_epoch == member.member_epoch:
            return E.none
        return E.illegal_generation if member.classic is not None else E.stale_member_epoch

    def adopt(self, group: ConsumerGroup) -> None:
        """A group converted from a classic one (online upgrade, migration.py)."""
        self.groups[group.group_id] = group
        self._changed.add(group.group_id)

    def delete(self, group_id: str) -> None:
        self.groups.pop(group_id, None)

    def is_empty(self, group_id: str) -> bool:
        group = self.groups.get(group_id)
        return group is None or group.state == ConsumerGroupState.EMPTY
