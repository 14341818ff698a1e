"""A KIP-848 group to and from its records in `__consumer_offsets`
(records.py has the formats).

Writing: what is on the log of each group is remembered (`Persisted`);
after a change, `changes` compares the group with it and gives the records
of what differs, in the order Kafka writes them: the tombstones of members
gone, the metadata of members new or changed, the group epoch, the target
assignment (members' targets, then its epoch), the members' current
assignments. A heartbeat that changes nothing writes nothing.

Reading: `GroupReplay` takes the records of a partition in log order
(the last value of each key wins, a null value deletes it) and rebuilds
the groups. As Kafka on loading a partition, every member's session starts
afresh at the load time, and a member that was revoking partitions gets
its rebalance timeout again from then.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Mapping
from typing import TypeVar

import attrs

from kwire.coordinator.consumer_group import records as r
from kwire.coordinator.consumer_group.model import (
    NOTHING,
    Assignment,
    ConsumerGroup,
    ConsumerMember,
    MemberState,
    TopicInfo,
)
from kwire.coordinator.consumer_group.topic_regex import InvalidTopicRegex, compile_topic_regex

log = logging.getLogger("kwire.groups")

KeyedRecord = tuple[bytes, bytes | None]
_T = TypeVar("_T")


def topics_hash(topics: Mapping[str, TopicInfo]) -> int:
    """A signed 64-bit digest of the subscribed topics (name, id, partition
    count), 0 for none: kept in the group metadata record (Kafka 4.1's
    MetadataHash) to tell after a restart whether the topics changed.
    kwire's own digest; Kafka computes another, and a group moved between
    the two just rebalances once."""
    if not topics:
        return 0
    digest = hashlib.blake2b(digest_size=8)
    for name in sorted(topics):
        info = topics[name]
        digest.update(name.encode() + b"\x00" + info.topic_id.bytes + info.partitions.to_bytes(4, "big"))
    return int.from_bytes(digest.digest(), "big", signed=True)


def member_metadata(member: ConsumerMember) -> r.MemberMetadata:
    return r.MemberMetadata(
        member.instance_id,
        member.rack_id,
        member.client_id,
        member.client_host,
        member.subscribed_topic_names,
        member.subscribed_topic_regex,
        member.rebalance_timeout_ms,
        member.server_assignor,
        member.classic,
    )


def current_assignment(member: ConsumerMember) -> r.CurrentAssignment:
    return r.CurrentAssignment(
        member.member_epoch, member.previous_member_epoch, member.state, member.assigned, member.pending_revocation
    )


@attrs.define
class Persisted:
    """What the log says of a group (the state after its last records)."""

    epoch: int = 0
    metadata_hash: int = 0
    target_epoch: int = -1  # -1: no target assignment record
    members: dict[str, r.MemberMetadata] = attrs.Factory(dict)
    targets: dict[str, Assignment] = attrs.Factory(dict)
    currents: dict[str, r.CurrentAssignment] = attrs.Factory(dict)


def persisted(group: ConsumerGroup) -> Persisted:
    """The group as its records describe it once written."""
    return Persisted(
        group.group_epoch,
        topics_hash(group.topics),
        group.target_epoch,
        {m.member_id: member_metadata(m) for m in group.members.values()},
        {member_id: target for member_id, target in group.target.items() if target},
        {m.member_id: current_assignment(m) for m in group.members.values()},
    )


def changes(group_id: str, before: Persisted | None, after: Persisted | None) -> list[KeyedRecord]:
    """The records that take the log from `before` to `after` (None: no
    group; from a group to none, its tombstones)."""
    old = before or Persisted(epoch=-1)
    new = after or Persisted(epoch=-1)
    out: list[KeyedRecord] = []
    for member_id in old.members.keys() - new.members.keys():
        out += [
            (r.record_key(r.CURRENT_MEMBER_ASSIGNMENT, group_id, member_id), None),
            (r.record_key(r.TARGET_ASSIGNMENT_MEMBER, group_id, member_id), None),
            (r.record_key(r.MEMBER_METADATA, group_id, member_id), None),
        ]
    for member_id, metadata in new.members.items():
        if old.members.get(member_id) != metadata:
            out.append((r.record_key(r.MEMBER_METADATA, group_id, member_id), r.member_metadata_value(metadata)))
    if after is None:
        if before is not None:
            out += [
                (r.record_key(r.TARGET_ASSIGNMENT_METADATA, group_id), None),
                (r.record_key(r.GROUP_METADATA, group_id), None),
            ]
        return out
    if (old.epoch, old.metadata_hash) != (new.epoch, new.metadata_hash):
        value = r.group_metadata_value(new.epoch, new.metadata_hash)
        out.append((r.record_key(r.GROUP_METADATA, group_id), value))
    for member_id in new.members:
        target = new.targets.get(member_id, NOTHING)
        if old.targets.get(member_id, NOTHING) != target:
            out.append(
                (
                    r.record_key(r.TARGET_ASSIGNMENT_MEMBER, group_id, member_id),
                    r.target_assignment_member_value(target),
                )
            )
    if old.target_epoch != new.target_epoch:
        value = r.target_assignment_metadata_value(new.target_epoch)
        out.append((r.record_key(r.TARGET_ASSIGNMENT_METADATA, group_id), value))
    for member_id, current in new.currents.items():
        if old.currents.get(member_id) != current:
            value = r.current_assignment_value(current)
            out.append((r.record_key(r.CURRENT_MEMBER_ASSIGNMENT, group_id, member_id), value))
    return out


def update(
    group_id: str, group: ConsumerGroup | None, before: Persisted | None, member_ids: set[str] | None
) -> tuple[list[KeyedRecord], Persisted | None]:
    """The records that bring the log up to `group` (None: deleted) and
    what the log says after them. `member_ids`: the only members that may
    have changed (None: any). While the group epoch, target epoch and
    membership are as on the log, only those members are looked at, so a
    heartbeat costs the same in a group of a thousand as in a group of two."""
    if group is None or before is None or member_ids is None or not _same_shape(group, before):
        after = persisted(group) if group is not None else None
        return changes(group_id, before, after), after
    out: list[KeyedRecord] = []
    after = attrs.evolve(before, members=dict(before.members), currents=dict(before.currents))
    for member_id in sorted(member_ids):
        member = group.members.get(member_id)
        if member is None:
            continue
        metadata, current = member_metadata(member), current_assignment(member)
        if before.members.get(member_id) != metadata:
            out.append((r.record_key(r.MEMBER_METADATA, group_id, member_id), r.member_metadata_value(metadata)))
            after.members[member_id] = metadata
        if before.currents.get(member_id) != current:
            value = r.current_assignment_value(current)
            out.append((r.record_key(r.CURRENT_MEMBER_ASSIGNMENT, group_id, member_id), value))
            after.currents[member_id] = current
    return out, after


def _same_shape(group: ConsumerGroup, before: Persisted) -> bool:
    return (
        group.group_epoch == before.epoch
        and group.target_epoch == before.target_epoch
        and group.members.keys() == before.members.keys()
    )


# --- replay -------------------------------------------------------------------------


@attrs.define
class _Replayed:
    epoch: int | None = None  # None: no group metadata record (yet)
    metadata_hash: int = 0
    target_epoch: int = -1
    members: dict[str, r.MemberMetadata] = attrs.Factory(dict)
    targets: dict[str, Assignment] = attrs.Factory(dict)
    currents: dict[str, r.CurrentAssignment] = attrs.Factory(dict)


class GroupReplay:
    """Collects the consumer-group records of `__consumer_offsets` partitions
    as they are read, then rebuilds the groups (`groups`)."""

    def __init__(self) -> None:
        self._groups: dict[str, _Replayed] = {}

    def apply(self, key: bytes, value: bytes | None) -> None:
        """One record in log order; a malformed one is logged and skipped."""
        try:
            parsed = r.parse_key(key)
            if parsed is None or parsed.record_type in (r.PARTITION_METADATA, r.REGULAR_EXPRESSION):
                return
            self._apply(parsed, value)
        except r.RecordFormatError as exc:
            log.warning("Skipped a malformed consumer group record in __consumer_offsets: %s", exc)

    def _apply(self, key: r.RecordKey, value: bytes | None) -> None:
        group = self._groups.setdefault(key.group_id, _Replayed())
        member_id = key.member_id or ""
        kind = key.record_type
        if kind == r.GROUP_METADATA:
            if value is None:
                del self._groups[key.group_id]
            else:
                group.epoch, group.metadata_hash = r.parse_group_metadata(value)
        elif kind == r.TARGET_ASSIGNMENT_METADATA:
            group.target_epoch = -1 if value is None else r.parse_target_assignment_metadata(value)
        elif kind == r.MEMBER_METADATA:
            _put(group.members, member_id, None if value is None else r.parse_member_metadata(value))
        elif kind == r.TARGET_ASSIGNMENT_MEMBER:
            _put(group.targets, member_id, None if value is None else r.parse_target_assignment_member(value))
        elif kind == r.CURRENT_MEMBER_ASSIGNMENT:
            _put(group.currents, member_id, None if value is None else r.parse_current_assignment(value))

    def forget(self, group_ids: set[str]) -> None:
        for group_id in group_ids:
            self._groups.pop(group_id, None)

    def groups(
        self, now: float, topics: Mapping[str, TopicInfo], default_assignor: str
    ) -> list[tuple[ConsumerGroup, Persisted]]:
        """The groups read (each with what its records say, for the next
        writes); the records are forgotten. `topics` are the cluster's
        topics now: a group whose subscribed topics hash as stored keeps
        them, else it rebalances at its next heartbeat."""
        rebuilt = [
            _rebuild(group_id, replayed, now, topics, default_assignor)
            for group_id, replayed in self._groups.items()
            if replayed.epoch is not None
        ]
        self._groups.clear()
        return rebuilt


def _put(table: dict[str, _T], member_id: str, value: _T | None) -> None:
    if value is None:
        table.pop(member_id, None)
    else:
        table[member_id] = value


def _rebuild(
    group_id: str, replayed: _Replayed, now: float, topics: Mapping[str, TopicInfo], default_assignor: str
) -> tuple[ConsumerGroup, Persisted]:
    assert replayed.epoch is not None
    group = ConsumerGroup(group_id, group_epoch=replayed.epoch, target_epoch=max(replayed.target_epoch, 0))
    for member_id, metadata in replayed.members.items():
        current = replayed.currents.get(member_id) or r.CurrentAssignment(0, 0, MemberState.STABLE, NOTHING, NOTHING)
        member = ConsumerMember(
            member_id,
            metadata.instance_id,
            metadata.rack_id,
            metadata.client_id,
            metadata.client_host,
            metadata.rebalance_timeout_ms,
            subscribed_topic_names=metadata.subscribed_topic_names,
            subscribed_topic_regex=metadata.subscribed_topic_regex,
            server_assignor=metadata.server_assignor,
            member_epoch=current.member_epoch,
            previous_member_epoch=current.previous_member_epoch,
            state=current.state,
            assigned=current.assigned,
            pending_revocation=current.pending_revocation,
            last_heartbeat=now,
            classic=metadata.classic,
        )
        if member.state == MemberState.UNREVOKED_PARTITIONS:
            member.revocation_deadline = now + member.rebalance_timeout_ms / 1000
        group.members[member_id] = member
        if member.instance_id is not None:
            group.static_members[member.instance_id] = member_id
        for tp in member.assigned | member.pending_revocation:
            group.owners[tp] = member_id
    group.target = {m: replayed.targets.get(m, NOTHING) for m in group.members}
    preferred = Counter(m.server_assignor for m in group.members.values() if m.server_assignor is not None)
    group.assignor = preferred.most_common(1)[0][0] if preferred else default_assignor
    group.topics = _subscribed(group, topics) if replayed.metadata_hash else {}
    if topics_hash(group.topics) != replayed.metadata_hash:
        group.topics = {}  # changed while the node was down: the next heartbeat bumps the epoch
    if not group.members:
        group.empty_since = now
    stored = Persisted(
        replayed.epoch,
        replayed.metadata_hash,
        replayed.target_epoch,
        dict(replayed.members),
        {m: t for m, t in replayed.targets.items() if t},
        dict(replayed.currents),
    )
    return group, stored


def _subscribed(group: ConsumerGroup, topics: Mapping[str, TopicInfo]) -> dict[str, TopicInfo]:
    wanted: set[str] = set()
    for member in group.members.values():
        wanted.update(member.subscribed_topic_names)
        if member.subscribed_topic_regex is not None:
            try:
                pattern = compile_topic_regex(member.subscribed_topic_regex)
            except InvalidTopicRegex:
                continue
            wanted.update(name for name in topics if pattern.fullmatch(name))
    return {name: topics[name] for name in sorted(wanted) if name in topics}
