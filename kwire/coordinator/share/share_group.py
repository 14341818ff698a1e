"""Share-group membership (KIP-932's ShareGroupHeartbeat), sans-IO.

Members join with a client-chosen member id and epoch 0, heartbeat with
their current epoch and leave with epoch -1. The assignment follows Kafka's
simple assignor for share groups (simple_assignor.py): partitions are
spread evenly, and one is shared only when members outnumber partitions.
Times are monotonic seconds."""

from __future__ import annotations

import attrs

from kwire.protocol.errors import ErrorCode

LEAVE_EPOCH = -1
JOIN_EPOCH = 0


@attrs.define
class ShareMember:
    member_id: str
    member_epoch: int
    subscribed: tuple[str, ...]
    client_id: str
    client_host: str
    rack_id: str | None
    session_deadline: float
    assignment: dict[str, tuple[int, ...]] = attrs.field(factory=dict)  # topic name -> partitions
    sent_assignment: dict[str, tuple[int, ...]] | None = None  # the last one the member was told


@attrs.define
class ShareGroup:
    group_id: str
    group_epoch: int = 0
    members: dict[str, ShareMember] = attrs.field(factory=dict)
    target: dict[str, dict[str, tuple[int, ...]]] = attrs.field(factory=dict)  # member id -> its assignment
    target_inputs: object = None  # what the target was computed from; a change bumps the group epoch
    # The subscribed topics whose share-partitions are initialized for the
    # group (name -> (topic id, partition count)): only those are assigned,
    # as Kafka assigns a topic's partitions once the share coordinator has
    # initialized their state, not in the heartbeat that first subscribed.
    initialized: dict[str, tuple[object, int]] = attrs.field(factory=dict)

    @property
    def state(self) -> str:
        """Kafka's ShareGroupState names."""
        return "Stable" if self.members else "Empty"

    def subscribed_topics(self) -> set[str]:
        return {topic for member in self.members.values() for topic in member.subscribed}


@attrs.frozen
class HeartbeatResult:
    error_code: ErrorCode
    error_message: str | None = None
    member_id: str | None = None
    member_epoch: int = 0
    assignment: dict[str, tuple[int, ...]] | None = None  # None: unchanged since last told


def check_heartbeat(
    group: ShareGroup | None, member_id: str, member_epoch: int, subscribed: tuple[str, ...] | None
) -> HeartbeatResult | None:
    """Kafka's validation of a ShareGroupHeartbeat; None when it may proceed."""
    if not member_id:
        return HeartbeatResult(ErrorCode.invalid_request, "MemberId can't be empty.")
    if member_epoch < LEAVE_EPOCH:
        return HeartbeatResult(ErrorCode.invalid_request, "MemberEpoch is invalid.")
    if member_epoch == JOIN_EPOCH and not subscribed:
        return HeartbeatResult(ErrorCode.invalid_request, "SubscribedTopicNames must be set in first request.")
    if member_epoch == JOIN_EPOCH or member_epoch == LEAVE_EPOCH:
        return None
    member = group.members.get(member_id) if group is not None else None
    if member is None:
        return HeartbeatResult(
            ErrorCode.unknown_member_id, f"Member {member_id} is not a member of group {group and group.group_id}."
        )
    if member_epoch != member.member_epoch:
        return HeartbeatResult(
            ErrorCode.fenced_member_epoch,
            f"The share group member has a different epoch ({member_epoch}) than the one known ({member.member_epoch}).",
        )
    return None
