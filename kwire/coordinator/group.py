"""One consumer group of the classic protocol: its members and its state.

States as Kafka names them: Empty -> PreparingRebalance ->
CompletingRebalance -> Stable, back to PreparingRebalance on any change,
Empty when a rebalance ends with nobody left, and Dead once deleted.
`VALID_PREVIOUS_STATES` is Kafka's table of which state may follow which;
`Group.transition_to` is the only way to change a group's state and raises
IllegalStateTransition for a change the table forbids. Otherwise plain
data: the rules, and every change to a group or its members, live in
group_coordinator.py.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from kwire.coordinator.state_machine import check_transition
from kwire.protocol.errors import ErrorCode


class GroupState(str, enum.Enum):
    EMPTY = "Empty"
    PREPARING_REBALANCE = "PreparingRebalance"
    COMPLETING_REBALANCE = "CompletingRebalance"
    STABLE = "Stable"
    DEAD = "Dead"


_S = GroupState
# For each state, the states a group may enter it from (Kafka's classic group).
VALID_PREVIOUS_STATES: Mapping[GroupState, frozenset[GroupState]] = {
    _S.EMPTY: frozenset({_S.PREPARING_REBALANCE}),  # a rebalance ended with no members
    _S.PREPARING_REBALANCE: frozenset({_S.EMPTY, _S.STABLE, _S.COMPLETING_REBALANCE}),
    _S.COMPLETING_REBALANCE: frozenset({_S.PREPARING_REBALANCE}),
    _S.STABLE: frozenset({_S.COMPLETING_REBALANCE}),  # the leader's SyncGroup
    _S.DEAD: frozenset(GroupState),  # deleted, whatever it was doing
}


@attrs.frozen
class JoinResult:
    error_code: ErrorCode
    generation_id: int = -1
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader: str = ""
    member_id: str = ""
    # (member_id, group_instance_id, metadata) — only the leader gets them.
    members: tuple[tuple[str, str | None, bytes], ...] = ()
    skip_assignment: bool = False


@attrs.frozen
class SyncResult:
    error_code: ErrorCode
    protocol_type: str | None = None
    protocol_name: str | None = None
    assignment: bytes = b""


@attrs.define(eq=False)
class Member:
    member_id: str
    group_instance_id: str | None
    client_id: str
    client_host: str
    session_timeout_ms: int
    rebalance_timeout_ms: int
    protocol_type: str
    protocols: list[tuple[str, bytes]]  # in the member's order of preference
    last_heartbeat: float
    assignment: bytes = b""
    awaiting_join: bool = False
    join_result: JoinResult | None = None
    awaiting_sync: bool = False
    sync_result: SyncResult | None = None

    def protocol_names(self) -> list[str]:
        return [name for name, _metadata in self.protocols]

    def metadata_for(self, protocol_name: str) -> bytes:
        for name, metadata in self.protocols:
            if name == protocol_name:
                return metadata
        return b""


@attrs.define(eq=False)
class Group:
    group_id: str
    # Changed only through transition_to (the constructor's argument is `state`).
    _state: GroupState = GroupState.EMPTY
    generation_id: int = 0
    protocol_type: str | None = None
    protocol_name: str | None = None
    leader_id: str | None = None
    members: dict[str, Member] = attrs.field(factory=dict)
    # KIP-394: member ids handed out with MEMBER_ID_REQUIRED, not yet joined;
    # id -> deadline (monotonic seconds).
    pending_members: dict[str, float] = attrs.field(factory=dict)
    static_members: dict[str, str] = attrs.field(factory=dict)  # instance id -> member id
    rebalance_deadline: float = 0.0
    # The initial rebalance of a group that was empty (Kafka's
    # InitialDelayedJoin): the end of its current wait (None once over or
    # when the rebalance is not an initial one), that wait's length, the
    # time left to extend it by, and whether a member joined during it.
    initial_delay_until: float | None = None
    initial_delay_ms: int = 0
    initial_delay_remaining_ms: int = 0
    new_member_added: bool = False
    empty_since: float = 0.0

    @property
    def state(self) -> GroupState:
        return self._state

    def transition_to(self, target: GroupState) -> None:
        """Enter `target`; IllegalStateTransition if Kafka's table forbids it."""
        check_transition(f"group {self.group_id!r}", self._state, target, VALID_PREVIOUS_STATES)
        self._state = target

    def is_in(self, *states: GroupState) -> bool:
        return self.state in states

    def all_members_joined(self) -> bool:
        return not self.pending_members and all(m.awaiting_join for m in self.members.values())

    def supports(self, protocol_type: str, protocol_names: list[str]) -> bool:
        """Can a member with these protocols join (Kafka's compatibility rule)?"""
        if not self.members:
            return bool(protocol_type) and bool(protocol_names)
        if protocol_type != self.protocol_type:
            return False
        return bool(self.candidate_protocols() & set(protocol_names))

    def candidate_protocols(self) -> set[str]:
        members = list(self.members.values())
        candidates = set(members[0].protocol_names())
        for member in members[1:]:
            candidates &= set(member.protocol_names())
        return candidates

    def select_protocol(self) -> str:
        """Each member votes for its most preferred protocol all support."""
        candidates = self.candidate_protocols()
        votes: dict[str, int] = {}
        for member in self.members.values():
            choice = next(name for name in member.protocol_names() if name in candidates)
            votes[choice] = votes.get(choice, 0) + 1
        return max(votes, key=lambda name: votes[name])
