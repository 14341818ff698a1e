"""The classic group protocol's rules, sans-IO, with time passed in.

Every operation takes `now` (monotonic seconds). Operations whose answer
must wait (a join until the rebalance completes, a follower's sync until
the leader's) return the Member whose `join_result` / `sync_result` will be
filled in; `take_changed()` hands over the groups whose waiters should
re-check. The broker never assigns partitions itself: the elected leader
does. The coordinator is the only writer of its groups and their members:
callers ask it (join, sync, heartbeat, leave, validate_commit, tick,
delete) and only read what it returns.
"""

from __future__ import annotations

import logging
import uuid

import attrs

from kwire.coordinator.group import Group, GroupState, JoinResult, Member, SyncResult
from kwire.coordinator.group_metadata import StoredGroup
from kwire.protocol.errors import ErrorCode

E = ErrorCode
log = logging.getLogger("kwire.groups")
S = GroupState


# group.initial.rebalance.delay.ms (Kafka: 3000). With Kafka's extension
# rule a lone consumer waits one delay and consumers started together two;
# see README, "Consumer groups".
DEFAULT_INITIAL_REBALANCE_DELAY_MS = 100


@attrs.define
class GroupSettings:
    min_session_timeout_ms: int = 6000  # group.min.session.timeout.ms
    max_session_timeout_ms: int = 1800000  # group.max.session.timeout.ms
    initial_rebalance_delay_ms: int = DEFAULT_INITIAL_REBALANCE_DELAY_MS  # group.initial.rebalance.delay.ms
    max_size: int = 2**31 - 1  # group.max.size


@attrs.frozen
class JoinRequest:
    group_id: str
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocol_type: str
    protocols: list[tuple[str, bytes]]
    require_known_member_id: bool  # JoinGroup v4+ (KIP-394)
    supports_skip_assignment: bool = False  # JoinGroup v9+


@attrs.frozen
class SyncRequest:
    group_id: str
    generation_id: int
    member_id: str
    group_instance_id: str | None  # SyncGroup v3+
    protocol_type: str | None  # v5+: checked against the group's when given
    protocol_name: str | None  # v5+
    assignments: dict[str, bytes]  # the leader's, by member id


class GroupCoordinator:
    def __init__(self, settings: GroupSettings) -> None:
        self.settings = settings
        self.groups: dict[str, Group] = {}
        self._changed: set[str] = set()  # group ids whose waiters should re-check
        self._to_store: set[str] = set()  # group ids whose generation or assignment is to be written
        self._initial_delays: set[str] = set()  # group ids in an initial wait (Kafka's InitialDelayedJoin)

    def take_changed(self) -> set[str]:
        """The groups changed since the last call (their waiters re-check)."""
        changed, self._changed = self._changed, set()
        return changed

    def take_to_store(self) -> set[str]:
        """The groups to write to `__consumer_offsets` since the last call:
        where Kafka stores a group (a generation's assignment, a group that
        became empty, a static member replaced)."""
        to_store, self._to_store = self._to_store, set()
        return to_store

    # --- lookups -----------------------------------------------------------

    def group(self, group_id: str) -> Group | None:
        group = self.groups.get(group_id)
        return None if group is None or group.state == S.DEAD else group

    def get_or_create(self, group_id: str, now: float) -> Group:
        group = self.group(group_id)
        if group is None:
            group = Group(group_id, empty_since=now)
            self.groups[group_id] = group
        return group

    # --- JoinGroup -----------------------------------------------------------

    def join(self, request: JoinRequest, now: float) -> JoinResult | Member:
        if not request.group_id:
            return JoinResult(E.invalid_group_id)
        settings = self.settings
        if not settings.min_session_timeout_ms <= request.session_timeout_ms <= settings.max_session_timeout_ms:
            return JoinResult(E.invalid_session_timeout)
        group = self.get_or_create(request.group_id, now)
        if group.initial_delay_until is not None:
            # An initial wait that has ended is over before this member
            # counts (as with Kafka's exact timers; the tick may not have run).
            self._maybe_complete_join(group, now)
        if not group.supports(request.protocol_type, [name for name, _ in request.protocols]):
            return JoinResult(E.inconsistent_group_protocol)
        if request.member_id:
            return self._join_known(group, request, now)
        if request.group_instance_id is not None:
            return self._join_static_unknown(group, request, request.group_instance_id, now)
        if len(group.members) + len(group.pending_members) >= settings.max_size:
            return JoinResult(E.group_max_size_reached)
        member_id = f"{request.client_id or 'member'}-{uuid.uuid4()}"
        if request.require_known_member_id:
            # KIP-394: hand out an id and make the client come back with it.
            group.pending_members[member_id] = now + request.session_timeout_ms / 1000
            return JoinResult(E.member_id_required, member_id=member_id)
        return self._add_member(group, member_id, request, now)

    def _join_known(self, group: Group, request: JoinRequest, now: float) -> JoinResult | Member:
        member_id = request.member_id
        if request.group_instance_id is not None:
            known = group.static_members.get(request.group_instance_id)
            if known is not None and known != member_id:
                return JoinResult(E.fenced_instance_id)
        if member_id in group.pending_members:
            del group.pending_members[member_id]
            return self._add_member(group, member_id, request, now)
        member = group.members.get(member_id)
        if member is None:
            return JoinResult(E.unknown_member_id)
        protocols_changed = member.protocols != list(request.protocols)
        self._update_member(member, request, now)
        if group.is_in(S.PREPARING_REBALANCE):
            member.awaiting_join, member.join_result = True, None
            self._maybe_complete_join(group, now)
            return member
        if group.is_in(S.COMPLETING_REBALANCE) and not protocols_changed:
            return self._join_result_for(group, member)  # a resend: same answer
        if group.is_in(S.STABLE) and not protocols_changed and member_id != group.leader_id:
            return self._join_result_for(group, member)  # nothing to rebalance for
        member.awaiting_join, member.join_result = True, None
        self._prepare_rebalance(
            group, now, f"member {member_id} rejoined" + (" with new metadata" if protocols_changed else "")
        )
        self._maybe_complete_join(group, now)
        return member

    def _join_static_unknown(
        self, group: Group, request: JoinRequest, instance_id: str, now: float
    ) -> JoinResult | Member:
        new_id = f"{instance_id}-{uuid.uuid4()}"
        old_id = group.static_members.get(instance_id)
        if old_id is None or old_id not in group.members:
            return self._add_member(group, new_id, request, now)
        # KIP-345: the same instance is back; the old member id is fenced and
        # the member keeps its place (and assignment) under the new id.
        old = group.members.pop(old_id)
        self._fence(old)
        # A fresh object: a request parked on the old one must keep its answer.
        member = attrs.evolve(
            old, member_id=new_id, join_result=None, sync_result=None, awaiting_join=False, awaiting_sync=False
        )
        group.members[new_id] = member
        group.static_members[instance_id] = new_id
        current_leader = group.leader_id
        if group.leader_id == old_id:
            group.leader_id = new_id
        self._update_member(member, request, now)
        if group.is_in(S.STABLE) and group.protocol_name == group.select_protocol():
            self._to_store.add(group.group_id)  # the new member id replaces the old one on the log
            # Kafka rebalances only if the protocol the group would pick changes
            # (new metadata alone, e.g. no owned partitions after a restart, is not enough).
            if request.supports_skip_assignment:
                # v9+: a returning leader gets the members but must not reassign.
                is_leader = group.leader_id == new_id
                return attrs.evolve(self._join_result_for(group, member), skip_assignment=is_leader)
            # Before v9 the old leader id is returned, so a returning leader
            # does not think it must assign (a Stable group would not pass it on).
            return JoinResult(
                E.none, group.generation_id, group.protocol_type, group.protocol_name, current_leader or "", new_id
            )
        member.awaiting_join, member.join_result = True, None
        if not group.is_in(S.PREPARING_REBALANCE):
            self._prepare_rebalance(group, now, f"static member {new_id} ({instance_id}) rejoined")
        self._maybe_complete_join(group, now)
        return member

    def _add_member(self, group: Group, member_id: str, request: JoinRequest, now: float) -> Member:
        member = Member(
            member_id=member_id,
            group_instance_id=request.group_instance_id,
            client_id=request.client_id,
            client_host=request.client_host,
            session_timeout_ms=request.session_timeout_ms,
            rebalance_timeout_ms=request.rebalance_timeout_ms,
            protocol_type=request.protocol_type,
            protocols=list(request.protocols),
            last_heartbeat=now,
            awaiting_join=True,
        )
        if not group.members:
            group.protocol_type = request.protocol_type
        group.members[member_id] = member
        if request.group_instance_id is not None:
            group.static_members[request.group_instance_id] = member_id
        if group.is_in(S.PREPARING_REBALANCE):
            if group.initial_delay_until is not None:
                group.new_member_added = True  # the initial wait goes on for another delay
        else:
            self._prepare_rebalance(group, now, f"member {member_id} joined")
        self._maybe_complete_join(group, now)
        return member

    @staticmethod
    def _update_member(member: Member, request: JoinRequest, now: float) -> None:
        member.protocols = list(request.protocols)
        member.session_timeout_ms = request.session_timeout_ms
        member.rebalance_timeout_ms = request.rebalance_timeout_ms
        member.client_id = request.client_id
        member.client_host = request.client_host
        member.last_heartbeat = now

    def _join_result_for(self, group: Group, member: Member) -> JoinResult:
        is_leader = member.member_id == group.leader_id
        members: tuple[tuple[str, str | None, bytes], ...] = ()
        if is_leader:
            members = tuple(
                (m.member_id, m.group_instance_id, m.metadata_for(group.protocol_name or ""))
                for m in group.members.values()
            )
        return JoinResult(
            E.none,
            group.generation_id,
            group.protocol_type,
            group.protocol_name,
            group.leader_id or "",
            member.member_id,
            members,
        )

    # --- rebalancing -----------------------------------------------------------

    def _prepare_rebalance(self, group: Group, now: float, reason: str) -> None:
        if group.is_in(S.COMPLETING_REBALANCE):
            # Followers waiting for an assignment of a generation that is over.
            for member in group.members.values():
                if member.awaiting_sync:
                    member.awaiting_sync, member.sync_result = False, SyncResult(E.rebalance_in_progress)
        log.info(
            "Preparing to rebalance group %s in state %s with old generation %d (%s)",
            group.group_id,
            group.state.value,
            group.generation_id,
            reason,
        )
        was_empty = group.is_in(S.EMPTY)
        group.transition_to(S.PREPARING_REBALANCE)
        longest = max((m.rebalance_timeout_ms for m in group.members.values()), default=0)
        group.rebalance_deadline = now + longest / 1000
        group.new_member_added = False
        if was_empty:
            # Kafka's InitialDelayedJoin: wait one delay for more members;
            # if any joined meanwhile, wait another, while the rebalance
            # timeout (the longest of the members') leaves time for it.
            delay = self.settings.initial_rebalance_delay_ms
            group.initial_delay_until = now + delay / 1000
            group.initial_delay_ms = delay
            group.initial_delay_remaining_ms = max(longest - delay, 0)
            self._initial_delays.add(group.group_id)
        else:
            group.initial_delay_until = None
        self._changed.add(group.group_id)

    def _initial_delay_over(self, group: Group, now: float) -> bool:
        """Run the initial wait's timer to `now`: True once it has ended.
        Each wait that ends with a new member in it is followed by another
        (Kafka: tryCompleteInitialRebalanceElseSchedule)."""
        until = group.initial_delay_until
        while until is not None and now >= until:
            if group.new_member_added and group.initial_delay_remaining_ms > 0:
                group.new_member_added = False
                delay = min(self.settings.initial_rebalance_delay_ms, group.initial_delay_remaining_ms)
                group.initial_delay_remaining_ms = max(group.initial_delay_remaining_ms - group.initial_delay_ms, 0)
                group.initial_delay_ms = delay
                until = group.initial_delay_until = until + delay / 1000
            else:
                until = group.initial_delay_until = None
                self._initial_delays.discard(group.group_id)
        return until is None

    def next_timer(self) -> float | None:
        """When the earliest initial wait ends (monotonic seconds), if any:
        the server ticks then rather than at its next regular tick."""
        ends = [g.initial_delay_until for g in map(self.groups.get, self._initial_delays) if g is not None]
        return min((end for end in ends if end is not None), default=None)

    def _maybe_complete_join(self, group: Group, now: float) -> None:
        if not group.is_in(S.PREPARING_REBALANCE):
            return
        if not self._initial_delay_over(group, now):
            return
        if group.all_members_joined() or now >= group.rebalance_deadline:
            self._complete_join(group, now)

    def _complete_join(self, group: Group, now: float) -> None:
        group.initial_delay_until = None
        self._initial_delays.discard(group.group_id)
        # Whoever did not rejoin in time is out.
        for member in [m for m in group.members.values() if not m.awaiting_join]:
            self._drop(group, member, "did not rejoin before the rebalance timeout")
        group.pending_members.clear()
        group.generation_id += 1
        self._changed.add(group.group_id)
        if not group.members:
            self._become_empty(group, now)
            return
        group.protocol_name = group.select_protocol()
        if group.leader_id not in group.members:
            group.leader_id = next(iter(group.members))
        group.transition_to(S.COMPLETING_REBALANCE)
        log.info(
            "Group %s generation %d: %d member(s), protocol %s, leader %s",
            group.group_id,
            group.generation_id,
            len(group.members),
            group.protocol_name,
            group.leader_id,
        )
        for member in group.members.values():
            member.awaiting_join = False
            member.last_heartbeat = now
            member.join_result = self._join_result_for(group, member)

    def _become_empty(self, group: Group, now: float) -> None:
        group.transition_to(S.EMPTY)
        self._to_store.add(group.group_id)
        # Like Kafka, an empty group still shows the protocol type it had.
        group.protocol_name = group.leader_id = None
        group.empty_since = now

    # --- SyncGroup -----------------------------------------------------------

    def sync(self, request: SyncRequest, now: float) -> SyncResult | Member:
        group = self.group(request.group_id)
        if group is None:
            return SyncResult(E.unknown_member_id)
        member_id = request.member_id
        error = self._check_member(group, member_id, request.group_instance_id, request.generation_id)
        if error is not None:
            return SyncResult(error)
        if (request.protocol_type is not None and request.protocol_type != group.protocol_type) or (
            request.protocol_name is not None and request.protocol_name != group.protocol_name
        ):
            return SyncResult(E.inconsistent_group_protocol)
        member = group.members[member_id]
        member.last_heartbeat = now
        if group.is_in(S.PREPARING_REBALANCE):
            return SyncResult(E.rebalance_in_progress)
        if group.is_in(S.STABLE):
            return self._sync_result_for(group, member)
        # CompletingRebalance: the leader brings everyone's assignment.
        if member_id != group.leader_id:
            member.awaiting_sync, member.sync_result = True, None
            return member
        for each in group.members.values():
            each.assignment = request.assignments.get(each.member_id, b"")
        group.transition_to(S.STABLE)
        self._changed.add(group.group_id)
        self._to_store.add(group.group_id)
        for each in group.members.values():
            if each.awaiting_sync:
                each.awaiting_sync, each.sync_result = False, self._sync_result_for(group, each)
        return self._sync_result_for(group, member)

    @staticmethod
    def _sync_result_for(group: Group, member: Member) -> SyncResult:
        return SyncResult(E.none, group.protocol_type, group.protocol_name, member.assignment)

    # --- Heartbeat / LeaveGroup ----------------------------------------------

    def heartbeat(
        self, group_id: str, generation_id: int, member_id: str, group_instance_id: str | None, now: float
    ) -> ErrorCode:
        group = self.group(group_id)
        if group is None:
            return E.unknown_member_id
        error = self._check_member(group, member_id, group_instance_id, generation_id)
        if error is not None:
            return error
        group.members[member_id].last_heartbeat = now
        if group.is_in(S.PREPARING_REBALANCE):
            return E.rebalance_in_progress
        return E.none

    def leave(self, group_id: str, leaving: list[tuple[str, str | None]], now: float) -> list[ErrorCode]:
        """One error code per (member_id, group_instance_id) leaving."""
        group = self.group(group_id)
        if group is None:
            return [E.unknown_member_id] * len(leaving)
        errors: list[ErrorCode] = []
        for member_id, instance_id in leaving:
            if instance_id is not None:
                known = group.static_members.get(instance_id)
                if known is None:
                    errors.append(E.unknown_member_id)
                    continue
                if member_id and member_id != known:
                    errors.append(E.fenced_instance_id)
                    continue
                member_id = known
            if member_id in group.pending_members:
                del group.pending_members[member_id]
                self._maybe_complete_join(group, now)
                errors.append(E.none)
                continue
            member = group.members.get(member_id)
            if member is None:
                errors.append(E.unknown_member_id)
                continue
            self._remove(group, member, now, "left the group")
            errors.append(E.none)
        return errors

    # --- OffsetCommit / TxnOffsetCommit ---------------------------------------

    def validate_commit(
        self, group_id: str, generation_id: int, member_id: str, instance_id: str | None, now: float
    ) -> ErrorCode:
        """Kafka's rules for who may commit offsets to a group right now. A
        member's accepted commit counts as a sign of life: its session is
        refreshed."""
        if not group_id:
            return E.invalid_group_id
        group = self.group(group_id)
        if group is None:
            # Without group management (assign-mode consumers) commits use
            # generation -1; a generation for a group that isn't there is stale.
            return E.none if generation_id < 0 else E.illegal_generation
        if generation_id < 0 and group.is_in(S.EMPTY):
            return E.none
        error = self._check_member(group, member_id, instance_id, generation_id)
        if error is not None:
            return error
        if group.is_in(S.COMPLETING_REBALANCE):
            return E.rebalance_in_progress
        group.members[member_id].last_heartbeat = now
        return E.none

    def _check_member(
        self, group: Group, member_id: str, instance_id: str | None, generation_id: int
    ) -> ErrorCode | None:
        if instance_id is not None:
            known = group.static_members.get(instance_id)
            if known is not None and known != member_id:
                return E.fenced_instance_id
        if member_id not in group.members:
            return E.unknown_member_id
        if generation_id != group.generation_id:
            return E.illegal_generation
        return None

    def _remove(self, group: Group, member: Member, now: float, reason: str) -> None:
        """A member leaves or expires: the rest rebalance."""
        self._drop(group, member, reason)
        self._changed.add(group.group_id)
        if group.is_in(S.STABLE, S.COMPLETING_REBALANCE):
            self._prepare_rebalance(group, now, f"member {member.member_id} {reason}")
            if not group.members:
                # Nobody left to wait for: the generation ends at once (ids
                # still pending keep their place for the next join).
                group.generation_id += 1
                self._become_empty(group, now)
        elif group.is_in(S.PREPARING_REBALANCE):
            self._maybe_complete_join(group, now)

    def _drop(self, group: Group, member: Member, reason: str) -> None:
        log.info("Member %s removed from group %s: %s", member.member_id, group.group_id, reason)
        del group.members[member.member_id]
        if (
            member.group_instance_id is not None
            and group.static_members.get(member.group_instance_id) == member.member_id
        ):
            del group.static_members[member.group_instance_id]
        self._fence(member)

    @staticmethod
    def _fence(member: Member) -> None:
        """Answer whatever this member id is still waiting for."""
        error = E.fenced_instance_id if member.group_instance_id is not None else E.unknown_member_id
        if member.awaiting_join:
            member.awaiting_join, member.join_result = False, JoinResult(error, member_id=member.member_id)
        if member.awaiting_sync:
            member.awaiting_sync, member.sync_result = False, SyncResult(error)

    # --- time --------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Expire sessions and pending ids; finish rebalances whose time is up."""
        for group in list(self.groups.values()):
            self._catch_up(group, now)

    def caught_up(self, group_id: str, now: float) -> Group | None:
        """The group as it is at `now`, its timers run to that moment (the tick
        runs them only every so often; a request that looks at a group must not
        see a member whose session ended a moment ago, as Kafka's exact timers
        would not)."""
        group = self.groups.get(group_id)
        if group is not None:
            self._catch_up(group, now)
        return self.group(group_id)

    def _catch_up(self, group: Group, now: float) -> None:
        if group.state == S.DEAD:
            return
        for member_id, deadline in list(group.pending_members.items()):
            if now >= deadline:
                del group.pending_members[member_id]
                self._maybe_complete_join(group, now)
        for member in list(group.members.values()):
            if member.awaiting_join:
                continue  # bounded by the rebalance timeout instead
            if now > member.last_heartbeat + member.session_timeout_ms / 1000:
                self._remove(group, member, now, "session timed out")
        self._maybe_complete_join(group, now)

    # --- loading and unloading (the coordinator of a partition moves) ------------

    def load(self, group_id: str, stored: StoredGroup | None, now: float) -> Group:
        """The group as read from `__consumer_offsets` (None: it has offsets
        only). As Kafka's loaded group: Stable with its members, or Empty,
        every member's session starting now."""
        if stored is None:
            return self.get_or_create(group_id, now)
        group = Group(
            group_id,
            state=S.STABLE if stored.members else S.EMPTY,
            generation_id=stored.generation_id,
            protocol_type=stored.protocol_type or None,
            protocol_name=stored.protocol_name,
            leader_id=stored.leader_id,
            empty_since=now,
        )
        for m in stored.members:
            group.members[m.member_id] = Member(
                member_id=m.member_id,
                group_instance_id=m.group_instance_id,
                client_id=m.client_id,
                client_host=m.client_host,
                session_timeout_ms=m.session_timeout_ms,
                rebalance_timeout_ms=m.rebalance_timeout_ms,
                protocol_type=stored.protocol_type,
                protocols=[(stored.protocol_name or "", m.subscription)],
                last_heartbeat=now,
                assignment=m.assignment,
            )
            if m.group_instance_id is not None:
                group.static_members[m.group_instance_id] = m.member_id
        self.groups[group_id] = group
        return group

    def unload(self, group_id: str) -> None:
        """Another node coordinates the group now: requests parked on it are
        answered NOT_COORDINATOR (the clients find the new coordinator)."""
        group = self.groups.get(group_id)
        if group is None:
            return
        for member in group.members.values():
            if member.awaiting_join:
                member.awaiting_join, member.join_result = False, JoinResult(E.not_coordinator)
            if member.awaiting_sync:
                member.awaiting_sync, member.sync_result = False, SyncResult(E.not_coordinator)
        self.delete(group_id)
        self._changed.add(group_id)
        self._to_store.discard(group_id)

    def take_over(self, group: Group, now: float, reason: str, rebalance: bool = True) -> None:
        """A group that was a KIP-848 consumer group (online downgrade): its
        members rejoin in a rebalance, as Kafka's converted group does
        (unless a static member only took another's place)."""
        self.groups[group.group_id] = group
        for member in group.members.values():
            member.last_heartbeat = now
        self._to_store.add(group.group_id)
        if rebalance:
            self._prepare_rebalance(group, now, reason)

    def delete(self, group_id: str) -> None:
        group = self.groups.pop(group_id, None)
        self._initial_delays.discard(group_id)
        if group is not None:
            group.transition_to(S.DEAD)
