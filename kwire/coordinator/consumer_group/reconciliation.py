"""One member's step towards its target assignment (incremental, as
KIP-848 asks): partitions it must lose are revoked first, with its member
epoch unchanged; once it reports them gone it moves to the target epoch
and gets the new partitions that nobody else still holds. Partitions still
held by another member are handed over by a later heartbeat, once released.
"""

from __future__ import annotations

from kwire.coordinator.consumer_group.model import (
    NOTHING,
    Assignment,
    ConsumerGroup,
    ConsumerMember,
    MemberState,
)


def release(group: ConsumerGroup, member: ConsumerMember, partitions: Assignment) -> None:
    """The member no longer holds `partitions`: they are free for their next owner."""
    for tp in partitions:
        if group.owners.get(tp) == member.member_id:
            del group.owners[tp]


def reconcile(group: ConsumerGroup, member: ConsumerMember, owned: Assignment | None, now: float) -> None:
    """Move `member` on as far as it can go now; `owned` is what its
    heartbeat says it holds (None: not said, unchanged)."""
    if member.state == MemberState.UNREVOKED_PARTITIONS:
        if owned is None or owned & member.pending_revocation:
            return  # still revoking
        release(group, member, member.pending_revocation)
        member.pending_revocation = NOTHING
        member.revocation_deadline = None
    elif member.state == MemberState.STABLE and member.member_epoch == group.target_epoch:
        return
    _next_assignment(group, member, now)


def _next_assignment(group: ConsumerGroup, member: ConsumerMember, now: float) -> None:
    target = group.target.get(member.member_id, NOTHING)
    keep = member.assigned & target
    revoke = member.assigned - target
    if revoke:
        member.assigned = keep
        member.pending_revocation = revoke
        member.state = MemberState.UNREVOKED_PARTITIONS
        member.revocation_deadline = now + member.rebalance_timeout_ms / 1000
        return
    wanted = target - member.assigned
    free = frozenset(tp for tp in wanted if group.owners.get(tp, member.member_id) == member.member_id)
    for tp in free:
        group.owners[tp] = member.member_id
    if member.member_epoch != group.target_epoch:
        member.previous_member_epoch = member.member_epoch
        member.member_epoch = group.target_epoch
    member.assigned = keep | free
    member.state = MemberState.UNRELEASED_PARTITIONS if wanted - free else MemberState.STABLE
