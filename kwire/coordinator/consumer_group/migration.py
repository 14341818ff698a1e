"""Online migration between the classic and the consumer group protocol
(KIP-848), as Kafka 4.x does it under `group.consumer.migration.policy`.

Upgrade: the first ConsumerGroupHeartbeat to a non-empty classic group of
protocol type "consumer" turns it into a consumer group; its members stay,
as classic members (their subscription and last assignment read from the
embedded consumer protocol), at the classic generation as their epoch.
Downgrade: when the last member of the consumer protocol leaves and only
classic members remain, the group turns back into a classic group at the
group epoch, each member holding its target assignment, and rebalances.
Empty groups are always taken over by the other protocol, whatever the
policy. The checks and conversions here are pure; groups_service.py
applies them.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping

from kwire.coordinator.consumer_group.model import (
    Assignment,
    ClassicMemberMetadata,
    ConsumerGroup,
    ConsumerMember,
    TopicInfo,
)
from kwire.coordinator.consumer_protocol import (
    MalformedConsumerProtocol,
    encode_assignment,
    parse_assignment_with_user_data,
    parse_subscription,
    subscription_version,
)
from kwire.coordinator.group import Group, GroupState, Member

CONSUMER_PROTOCOL_TYPE = "consumer"


class CustomAssignorInUse(ValueError):
    """A member's assignment carries a custom assignor's user data, which a
    member of the consumer protocol cannot keep (Kafka refuses the upgrade)."""


class MigrationPolicy(str, enum.Enum):
    """`group.consumer.migration.policy` (Kafka's default: bidirectional)."""

    DISABLED = "disabled"
    DOWNGRADE = "downgrade"
    UPGRADE = "upgrade"
    BIDIRECTIONAL = "bidirectional"

    @classmethod
    def parse(cls, text: str) -> MigrationPolicy:
        return cls(text.strip().lower())

    @property
    def upgrade(self) -> bool:
        return self in (MigrationPolicy.UPGRADE, MigrationPolicy.BIDIRECTIONAL)

    @property
    def downgrade(self) -> bool:
        return self in (MigrationPolicy.DOWNGRADE, MigrationPolicy.BIDIRECTIONAL)


def upgrade_refusal(policy: MigrationPolicy, group: Group, consumer_max_size: int) -> str | None:
    """Why the non-empty classic group cannot become a consumer group (the
    message of Kafka's GROUP_ID_NOT_FOUND), or None if it can."""
    reason = None
    if not policy.upgrade:
        reason = "online upgrade is disabled"
    elif group.protocol_type != CONSUMER_PROTOCOL_TYPE:
        reason = "the group does not use the consumer embedded protocol"
    elif len(group.members) > consumer_max_size:
        reason = "the group size exceeds the consumer group maximum size"
    if reason is None:
        return None
    return f"Cannot upgrade classic group {group.group_id} to consumer group because {reason}."


def downgrade_allowed(
    policy: MigrationPolicy, group: ConsumerGroup, leaving: ConsumerMember, classic_max_size: int
) -> bool:
    """Kafka's check when a member leaves or is fenced: it was the last one of
    the consumer protocol, classic members remain, and the policy and
    group.max.size let the group go back to the classic protocol."""
    if leaving.classic is not None:
        return False
    others = [m for m in group.members.values() if m is not leaving]
    if not others or any(m.classic is None for m in others):
        return False
    return policy.downgrade and len(others) <= classic_max_size


def _partitions(
    pairs: tuple[tuple[str, int], ...] | list[tuple[str, int]], topics: Mapping[str, TopicInfo]
) -> Assignment:
    """Topic names to the ids the cluster has now; unknown topics and
    partitions are left out (as Kafka drops what its metadata lacks)."""
    held = set()
    for name, index in pairs:
        info = topics.get(name)
        if info is not None and 0 <= index < info.partitions:
            held.add((info.topic_id, index))
    return frozenset(held)


def owned_by_name(pairs: tuple[tuple[str, int], ...], topics: Mapping[str, TopicInfo]) -> Assignment:
    return _partitions(pairs, topics)


def consumer_group_from_classic(group: Group, topics: Mapping[str, TopicInfo], now: float) -> ConsumerGroup:
    """The consumer group a classic group becomes (upgrade). Every member is a
    stable classic member at the group's generation, its last assignment
    both held and its target; a rebalance that was under way is redone by
    the epoch bump of the joining member. MalformedConsumerProtocol if a
    member's subscription or assignment does not parse, CustomAssignorInUse
    if an assignment carries user data."""
    converted = ConsumerGroup(
        group.group_id, group_epoch=group.generation_id, target_epoch=group.generation_id, empty_since=now
    )
    for member in group.members.values():
        metadata = member.metadata_for(group.protocol_name) if group.protocol_name else b""
        if not metadata and member.protocols:
            metadata = member.protocols[0][1]  # no generation completed yet: its first choice
        pairs: tuple[tuple[str, int], ...] = ()
        if member.assignment:  # empty until the member's first SyncGroup
            pairs, user_data = parse_assignment_with_user_data(member.assignment)
            if user_data:
                raise CustomAssignorInUse(member.member_id)
        subscription = parse_subscription(metadata)
        assigned = _partitions(pairs, topics)
        consumer_member = ConsumerMember(
            member.member_id,
            member.group_instance_id,
            subscription.rack_id,
            member.client_id,
            member.client_host,
            member.rebalance_timeout_ms,
            subscribed_topic_names=tuple(sorted(set(subscription.topics))),
            member_epoch=group.generation_id,
            previous_member_epoch=group.generation_id,
            assigned=assigned,
            last_heartbeat=now,
            classic=ClassicMemberMetadata(member.session_timeout_ms, tuple(member.protocols)),
        )
        converted.members[member.member_id] = consumer_member
        converted.target[member.member_id] = assigned
        for tp in assigned:
            converted.owners.setdefault(tp, member.member_id)
        if member.group_instance_id is not None:
            converted.static_members[member.group_instance_id] = member.member_id
    converted.topics = {
        name: info
        for name, info in sorted(topics.items())
        if any(name in m.subscribed_topic_names for m in converted.members.values())
    }
    return converted


def classic_assignment(member: ConsumerMember, partitions: Assignment, names: Mapping[uuid.UUID, str]) -> bytes:
    """`partitions` as the ConsumerProtocolAssignment a classic member reads,
    in the version of the subscription it listed first."""
    assert member.classic is not None
    first = member.classic.protocols[0][1] if member.classic.protocols else b""
    pairs = [(names[topic_id], index) for topic_id, index in partitions if topic_id in names]
    return encode_assignment(pairs, subscription_version(first))


def classic_group_from_consumer(
    group: ConsumerGroup, leaving: ConsumerMember | None, names: Mapping[uuid.UUID, str], now: float
) -> Group:
    """The classic group a consumer group becomes (downgrade) without the
    leaving member (if one left): Stable at the group epoch, each member
    holding its target assignment."""
    classic = Group(
        group.group_id, state=GroupState.STABLE, generation_id=group.group_epoch, protocol_type=CONSUMER_PROTOCOL_TYPE
    )
    for member in group.members.values():
        if member is leaving or member.classic is None:
            continue
        classic.members[member.member_id] = Member(
            member_id=member.member_id,
            group_instance_id=member.instance_id,
            client_id=member.client_id,
            client_host=member.client_host,
            session_timeout_ms=member.classic.session_timeout_ms,
            rebalance_timeout_ms=member.rebalance_timeout_ms,
            protocol_type=CONSUMER_PROTOCOL_TYPE,
            protocols=list(member.classic.protocols),
            last_heartbeat=now,
            assignment=classic_assignment(member, group.target.get(member.member_id, frozenset()), names),
        )
        if member.instance_id is not None:
            classic.static_members[member.instance_id] = member.member_id
    if classic.members and classic.candidate_protocols():
        classic.protocol_name = classic.select_protocol()
    return classic


__all__ = [
    "CONSUMER_PROTOCOL_TYPE",
    "CustomAssignorInUse",
    "MalformedConsumerProtocol",
    "MigrationPolicy",
    "classic_assignment",
    "classic_group_from_consumer",
    "consumer_group_from_classic",
    "downgrade_allowed",
    "owned_by_name",
    "upgrade_refusal",
]
