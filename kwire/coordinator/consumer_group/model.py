"""The data of a KIP-848 consumer group, named as Kafka names it.

A partition is `(topic id, index)`: assignments follow topic ids, so a
topic deleted and created again under the same name is a new topic.
"""

from __future__ import annotations

import enum
import uuid

import attrs

TopicPartition = tuple[uuid.UUID, int]
Assignment = frozenset[TopicPartition]
NOTHING: Assignment = frozenset()

JOIN_EPOCH = 0  # a member's first heartbeat (or its re-join after fencing)
LEAVE_EPOCH = -1  # the member leaves
STATIC_LEAVE_EPOCH = -2  # a static member leaves for now; its assignment waits for it


class MemberState(str, enum.Enum):
    """Where a member is in its reconciliation (Kafka's MemberState)."""

    STABLE = "stable"  # owns its whole target
    UNREVOKED_PARTITIONS = "unrevoked_partitions"  # must give partitions up first
    UNRELEASED_PARTITIONS = "unreleased_partitions"  # waits for others to give partitions up


class ConsumerGroupState(str, enum.Enum):
    """As ListGroups and ConsumerGroupDescribe show it."""

    EMPTY = "Empty"
    ASSIGNING = "Assigning"
    RECONCILING = "Reconciling"
    STABLE = "Stable"
    DEAD = "Dead"


@attrs.frozen
class TopicInfo:
    """What the assignment needs of a topic."""

    topic_id: uuid.UUID
    partitions: int


@attrs.frozen
class ClassicMemberMetadata:
    """A member that speaks the classic protocol (JoinGroup/SyncGroup) inside
    a consumer group, as KIP-848's online migration allows: what its JoinGroup
    said (Kafka's ClassicMemberMetadata)."""

    session_timeout_ms: int
    protocols: tuple[tuple[str, bytes], ...]  # (name, metadata), as the JoinGroup listed them


@attrs.define(eq=False)
class ConsumerMember:
    member_id: str
    instance_id: str | None
    rack_id: str | None
    client_id: str
    client_host: str
    rebalance_timeout_ms: int
    subscribed_topic_names: tuple[str, ...] = ()
    subscribed_topic_regex: str | None = None
    server_assignor: str | None = None
    member_epoch: int = 0
    previous_member_epoch: int = 0
    state: MemberState = MemberState.STABLE
    assigned: Assignment = NOTHING
    pending_revocation: Assignment = NOTHING
    last_heartbeat: float = 0.0
    revocation_deadline: float | None = None  # when a member that must revoke is fenced
    classic: ClassicMemberMetadata | None = None  # set for a classic-protocol member


@attrs.define(eq=False)
class ConsumerGroup:
    group_id: str
    group_epoch: int = 0
    target_epoch: int = 0  # the group epoch the target assignment was computed for
    members: dict[str, ConsumerMember] = attrs.Factory(dict)
    target: dict[str, Assignment] = attrs.Factory(dict)  # member id -> its target
    owners: dict[TopicPartition, str] = attrs.Factory(dict)  # partition -> member that holds it now
    static_members: dict[str, str] = attrs.Factory(dict)  # instance id -> member id
    topics: dict[str, TopicInfo] = attrs.Factory(dict)  # the subscribed topics as last seen
    resolved_regexes: set[str] = attrs.Factory(set)  # regexes resolved (see regex_resolution.py)
    assignor: str = ""
    empty_since: float = 0.0

    def replace_static_member(self, previous: ConsumerMember, member: ConsumerMember) -> None:
        """`member`, a static member back under a new member id, takes the
        place of `previous`: its instance id, target and held partitions (KIP-345)."""
        del self.members[previous.member_id]
        self.members[member.member_id] = member
        self.static_members[member.instance_id or ""] = member.member_id
        if previous.member_id in self.target:
            self.target[member.member_id] = self.target.pop(previous.member_id)
        for partition, owner in list(self.owners.items()):
            if owner == previous.member_id:
                self.owners[partition] = member.member_id

    @property
    def state(self) -> ConsumerGroupState:
        if not self.members:
            return ConsumerGroupState.EMPTY
        if self.group_epoch != self.target_epoch:
            return ConsumerGroupState.ASSIGNING
        if any(m.member_epoch != self.target_epoch or m.state != MemberState.STABLE for m in self.members.values()):
            return ConsumerGroupState.RECONCILING
        return ConsumerGroupState.STABLE
