"""Classic-protocol members inside a KIP-848 consumer group (online
migration): their JoinGroup, SyncGroup, Heartbeat and LeaveGroup are served
from the consumer group's state, as Kafka's coordinator does.

The coordinator assigns (no member leads): a JoinGroup updates the member's
subscription from its embedded consumer protocol, moves it towards its
target as a heartbeat would, and is answered at once with the member epoch
as the generation; the SyncGroup that follows gets the member's assigned
partitions as a ConsumerProtocolAssignment. Heartbeat answers
REBALANCE_IN_PROGRESS whenever the member should join again to move on: the
group epoch passed it, it must revoke partitions, or partitions it waits
for are free now. As in Kafka, a member told to join again must do so, and
a member that joined must sync, within its rebalance timeout, or it is
removed (`expire`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import attrs

from kwire.coordinator.consumer_group.coordinator import ConsumerGroupCoordinator
from kwire.coordinator.consumer_group.migration import CONSUMER_PROTOCOL_TYPE, classic_assignment, owned_by_name
from kwire.coordinator.consumer_group.model import (
    NOTHING,
    STATIC_LEAVE_EPOCH,
    ClassicMemberMetadata,
    ConsumerGroup,
    ConsumerMember,
    MemberState,
)
from kwire.coordinator.consumer_group.reconciliation import reconcile
from kwire.coordinator.consumer_protocol import MalformedConsumerProtocol, parse_subscription
from kwire.coordinator.group import JoinResult, SyncResult
from kwire.coordinator.group_coordinator import JoinRequest, SyncRequest
from kwire.protocol.errors import ErrorCode

E = ErrorCode


class _Refused(Exception):
    def __init__(self, error: ErrorCode) -> None:
        super().__init__(error.name)
        self.error = error


def supports_classic(group: ConsumerGroup, protocol_type: str, names: list[str]) -> bool:
    """Kafka's rule: protocol type "consumer", and a protocol every classic
    member of the group also lists."""
    if protocol_type != CONSUMER_PROTOCOL_TYPE or not names:
        return False
    listed = [{name for name, _ in m.classic.protocols} for m in group.members.values() if m.classic is not None]
    return any(all(name in each for each in listed) for name in names)


class ClassicMembers:
    def __init__(self, coordinator: ConsumerGroupCoordinator) -> None:
        self.coordinator = coordinator
        # (group id, member id) -> when the member is removed unless it joins
        # (after REBALANCE_IN_PROGRESS) or syncs (after joining): Kafka's join
        # and sync timeouts, the member's rebalance timeout.
        self._deadlines: dict[tuple[str, str], float] = {}
        # Online downgrade when a classic static member takes the place of
        # the last member of the consumer protocol: (group, whether it must
        # rebalance) -> True if the group became a classic one.
        self.downgrade: Callable[[ConsumerGroup, bool], bool] | None = None

    def _deadline(self, group: ConsumerGroup, member: ConsumerMember, now: float, replace: bool) -> None:
        key = (group.group_id, member.member_id)
        if replace or key not in self._deadlines:
            self._deadlines[key] = now + member.rebalance_timeout_ms / 1000

    def expire(self, now: float) -> None:
        """Remove the classic members that did not join or sync in time."""
        for (group_id, member_id), deadline in list(self._deadlines.items()):
            group = self.coordinator.groups.get(group_id)
            member = group.members.get(member_id) if group is not None else None
            if member is None or member.classic is None:
                del self._deadlines[(group_id, member_id)]
            elif now > deadline:
                del self._deadlines[(group_id, member_id)]
                assert group is not None
                self.coordinator.remove(group, member)

    # --- JoinGroup -------------------------------------------------------------------

    def join(self, group: ConsumerGroup, request: JoinRequest, now: float) -> JoinResult:
        coordinator = self.coordinator
        coordinator._expire(group, now)
        if coordinator.groups.get(group.group_id) is not group:
            return JoinResult(E.unknown_member_id)  # became a classic group meanwhile: the client joins again
        known = bool(request.member_id)
        member_id = request.member_id or str(uuid.uuid4())
        if len(group.members) >= coordinator.settings.max_size and member_id not in group.members:
            return JoinResult(E.group_max_size_reached)
        if not supports_classic(group, request.protocol_type, [name for name, _ in request.protocols]):
            return JoinResult(E.inconsistent_group_protocol)
        if request.require_known_member_id and not known and request.group_instance_id is None:
            return JoinResult(E.member_id_required, member_id=member_id)  # KIP-394
        try:
            subscription = parse_subscription(request.protocols[0][1])
        except MalformedConsumerProtocol:
            return JoinResult(E.unknown_server_error)  # as Kafka: it cannot read the member's subscription
        try:
            member, is_new, replaced = self._member(group, member_id, known, request, now)
        except _Refused as refused:
            return JoinResult(refused.error)
        topics = tuple(sorted(set(subscription.topics)))
        changed = is_new or topics != member.subscribed_topic_names
        member.subscribed_topic_names = topics
        if subscription.rack_id is not None:
            member.rack_id = subscription.rack_id
        if request.rebalance_timeout_ms != -1:
            member.rebalance_timeout_ms = request.rebalance_timeout_ms
        member.client_id, member.client_host = request.client_id, request.client_host
        member.classic = ClassicMemberMetadata(request.session_timeout_ms, tuple(request.protocols))
        coordinator.update_target(group, changed)
        owned = owned_by_name(subscription.owned_partitions, coordinator._topics())
        reconcile(group, member, owned, now)
        if member.state == MemberState.UNREVOKED_PARTITIONS:
            reconcile(group, member, owned, now)  # what it says it owns may finish the revocation at once
        member.last_heartbeat = now
        self._deadline(group, member, now, replace=True)  # now it must sync
        coordinator._changed.add(group.group_id)
        if replaced is not None and replaced.classic is None and self.downgrade is not None:
            if all(m.classic is not None for m in group.members.values()):
                self.downgrade(group, changed)  # its answer is the same either way, as in Kafka
        return JoinResult(
            E.none,
            generation_id=member.member_epoch,
            protocol_type=CONSUMER_PROTOCOL_TYPE,
            protocol_name=request.protocols[0][0],
            leader="",
            member_id=member.member_id,
        )

    def _member(
        self, group: ConsumerGroup, member_id: str, known: bool, request: JoinRequest, now: float
    ) -> tuple[ConsumerMember, bool, ConsumerMember | None]:
        """The joining member, whether it is new, and the static member it replaced."""
        instance_id = request.group_instance_id
        if instance_id is not None:
            static = group.members.get(group.static_members.get(instance_id, ""))
            if static is not None:
                if static.member_id == member_id:
                    return static, False, None
                if known:
                    raise _Refused(E.fenced_instance_id)
                return self._replace_static(group, static, member_id), False, static
        member = group.members.get(member_id)
        if member is not None:
            if member.classic is None:
                raise _Refused(E.unknown_member_id)  # a member of the consumer protocol
            return member, False, None
        member = ConsumerMember(
            member_id,
            instance_id,
            None,
            request.client_id,
            request.client_host,
            request.rebalance_timeout_ms,
            member_epoch=0,
            last_heartbeat=now,
        )
        group.members[member_id] = member
        if instance_id is not None:
            group.static_members[instance_id] = member_id
        return member, True, None

    @staticmethod
    def _replace_static(group: ConsumerGroup, previous: ConsumerMember, member_id: str) -> ConsumerMember:
        """The static member is back under a new member id: it takes over
        the previous one's place and assignment (KIP-345)."""
        epoch = previous.previous_member_epoch if previous.member_epoch == STATIC_LEAVE_EPOCH else previous.member_epoch
        member = attrs.evolve(previous, member_id=member_id, member_epoch=epoch)
        group.replace_static_member(previous, member)
        return member

    # --- SyncGroup / Heartbeat / LeaveGroup ---------------------------------------------

    def _known(self, group: ConsumerGroup, member_id: str, instance_id: str | None) -> ConsumerMember:
        if instance_id is not None:
            member = group.members.get(group.static_members.get(instance_id, ""))
            if member is None:
                raise _Refused(E.unknown_member_id)
            if member.member_id != member_id:
                raise _Refused(E.fenced_instance_id)
        else:
            found = group.members.get(member_id)
            if found is None:
                raise _Refused(E.unknown_member_id)
            member = found
        if member.classic is None:
            raise _Refused(E.unknown_member_id)  # it speaks the consumer protocol
        return member

    def sync(self, group: ConsumerGroup, request: SyncRequest, now: float, names: dict[uuid.UUID, str]) -> SyncResult:
        try:
            member = self._known(group, request.member_id, request.group_instance_id)
            if request.generation_id != member.member_epoch:
                raise _Refused(E.illegal_generation)
            assert member.classic is not None
            first = member.classic.protocols[0][0] if member.classic.protocols else ""
            if (request.protocol_type is not None and request.protocol_type != CONSUMER_PROTOCOL_TYPE) or (
                request.protocol_name is not None and request.protocol_name != first
            ):
                raise _Refused(E.inconsistent_group_protocol)
            if group.group_epoch > member.member_epoch and member.state != MemberState.UNREVOKED_PARTITIONS:
                self._deadline(group, member, now, replace=False)
                raise _Refused(E.rebalance_in_progress)  # a newer epoch: join again to catch up
        except _Refused as refused:
            return SyncResult(refused.error)
        self._deadlines.pop((group.group_id, member.member_id), None)
        member.last_heartbeat = now
        return SyncResult(
            E.none, request.protocol_type, request.protocol_name, classic_assignment(member, member.assigned, names)
        )

    def heartbeat(
        self, group: ConsumerGroup, generation_id: int, member_id: str, instance_id: str | None, now: float
    ) -> ErrorCode:
        try:
            member = self._known(group, member_id, instance_id)
        except _Refused as refused:
            return refused.error
        if generation_id != member.member_epoch:
            return E.illegal_generation
        member.last_heartbeat = now
        if (
            member.member_epoch < group.group_epoch
            or member.state == MemberState.UNREVOKED_PARTITIONS
            or (member.state == MemberState.UNRELEASED_PARTITIONS and not _waits_for_others(group, member))
        ):
            self._deadline(group, member, now, replace=False)
            return E.rebalance_in_progress
        return E.none

    def leave(self, group: ConsumerGroup, leaving: list[tuple[str, str | None]]) -> list[ErrorCode]:
        errors = []
        for member_id, instance_id in leaving:
            try:
                if instance_id is not None:
                    found = group.members.get(group.static_members.get(instance_id, ""))
                    if found is None:
                        raise _Refused(E.unknown_member_id)
                    if member_id and member_id != found.member_id:
                        raise _Refused(E.fenced_instance_id)
                    member_id = found.member_id
                member = self._known(group, member_id, None)
            except _Refused as refused:
                errors.append(refused.error)
                continue
            self.coordinator.remove(group, member)
            errors.append(E.none)
        return errors


def _waits_for_others(group: ConsumerGroup, member: ConsumerMember) -> bool:
    """Does some partition of its target still belong to another member?"""
    for tp in group.target.get(member.member_id, NOTHING) - member.assigned:
        owner = group.owners.get(tp)
        if owner is not None and owner != member.member_id:
            return True
    return False
