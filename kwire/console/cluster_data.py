"""What the console shows, read from the running nodes' state.

Topic metadata is the node's own; a partition's offsets and size come from
its leader's replica (any node of this process that leads it, else the
replica here). Groups and transactions live on their coordinators, so they
are gathered from every running node, each taking only what it owns.
Nothing here changes state except what ListGroups' own read does (ended
sessions expire).
"""

from __future__ import annotations

import attrs

from kwire.cluster.cluster import Topic
from kwire.coordinator.consumer_group.model import Assignment, ConsumerGroup
from kwire.coordinator.consumer_protocol import assignment_partitions
from kwire.coordinator.group import Group
from kwire.coordinator.offsets import CommittedOffset
from kwire.coordinator.transaction_state import TxnMetadata
from kwire.core import BrokerCore
from kwire.log.partition_log import PartitionLog
from kwire.observability.node_view import NodeView


@attrs.frozen
class PartitionRow:
    index: int
    leader: int
    leader_epoch: int
    replicas: list[int]
    isr: list[int]
    log_start: int
    high_watermark: int
    log_end: int
    last_stable: int
    size_bytes: int
    segments: int
    online: bool  # a replica's log was found (here or on its leader)


@attrs.frozen
class LagRow:
    topic: str
    partition: int
    committed: int | None  # None: assigned, nothing committed
    end: int | None  # the high watermark; None if no replica is reachable here
    member: str  # the member it is assigned to, "" if none

    @property
    def lag(self) -> int | None:
        if self.committed is None or self.end is None or self.committed < 0:
            return None
        return max(0, self.end - self.committed)


@attrs.frozen
class MemberRow:
    member_id: str
    instance_id: str | None
    client_id: str
    client_host: str
    assignment: list[tuple[str, int]]
    epoch: int | None = None  # a KIP-848 member's epoch


@attrs.frozen
class GroupInfo:
    group_id: str
    state: str
    protocol_type: str
    protocol: str
    generation: int
    coordinator: int
    members: list[MemberRow]
    lags: list[LagRow]
    group_type: str = "classic"  # or "consumer" (KIP-848), whose generation is the group epoch

    @property
    def total_lag(self) -> int:
        return sum(row.lag or 0 for row in self.lags)


@attrs.frozen
class ProducerRow:
    topic: str
    partition: int
    producer_id: int
    epoch: int
    last_sequence: int
    last_offset: int
    open_transaction_from: int  # -1: none open


def leader_log(view: NodeView, topic: str, index: int) -> PartitionLog | None:
    """The log of the partition's leader, if that node runs in this process,
    else this node's own replica (None if neither exists)."""
    partition = view.core.state.cluster.partition(topic, index)
    if partition is None:
        return None
    for core in view.all_nodes():
        if core.config.node_id == partition.leader:
            theirs = core.state.cluster.partition(topic, index)
            if theirs is not None and theirs.replica is not None:
                return theirs.replica
    return partition.replica


def partition_rows(view: NodeView, topic: Topic) -> list[PartitionRow]:
    rows = []
    for partition in topic.partitions:
        log = leader_log(view, topic.name, partition.index)
        replicas = topic.replicas_of(partition.index) if partition.index < len(topic.replicas) else []
        common = (partition.index, partition.leader, partition.leader_epoch, list(replicas), list(partition.isr))
        if log is None:
            rows.append(PartitionRow(*common, -1, -1, -1, -1, 0, 0, False))
        else:
            rows.append(
                PartitionRow(
                    *common,
                    log.log_start_offset,
                    log.high_watermark,
                    log.log_end_offset,
                    log.last_stable_offset,
                    log.size_bytes(),
                    len(log.segments),
                    True,
                )
            )
    return rows


def high_watermark(view: NodeView, topic: str, index: int) -> int | None:
    log = leader_log(view, topic, index)
    return None if log is None else log.high_watermark


def _lag_rows(view: NodeView, core: BrokerCore, group_id: str, members: list[MemberRow]) -> list[LagRow]:
    committed: dict[tuple[str, int], CommittedOffset] = core.state.groups.committed(group_id)
    owner = {pair: member.member_id for member in members for pair in member.assignment}
    return [
        LagRow(
            topic,
            index,
            committed[(topic, index)].offset if (topic, index) in committed else None,
            high_watermark(view, topic, index),
            owner.get((topic, index), ""),
        )
        for topic, index in sorted(set(committed) | set(owner))
    ]


def _group_info(view: NodeView, core: BrokerCore, group: Group) -> GroupInfo:
    members = [
        MemberRow(
            member.member_id,
            member.group_instance_id,
            member.client_id,
            member.client_host,
            assignment_partitions(member.assignment) if group.protocol_type == "consumer" else [],
        )
        for member in group.members.values()
    ]
    return GroupInfo(
        group.group_id,
        group.state.value,
        group.protocol_type or "",
        group.protocol_name or "",
        group.generation_id,
        core.config.node_id,
        members,
        _lag_rows(view, core, group.group_id, members),
    )


def _consumer_group_info(view: NodeView, core: BrokerCore, group: ConsumerGroup) -> GroupInfo:
    """A KIP-848 group: its assignments are topic ids, named here."""
    topics = core.state.cluster.topics_by_id

    def named(assigned: Assignment) -> list[tuple[str, int]]:
        return sorted((topics[topic_id].name, index) for topic_id, index in assigned if topic_id in topics)

    members = [
        MemberRow(m.member_id, m.instance_id, m.client_id, m.client_host, named(m.assigned), m.member_epoch)
        for m in group.members.values()
    ]
    return GroupInfo(
        group.group_id,
        group.state.value,
        "consumer",
        group.assignor,
        group.group_epoch,
        core.config.node_id,
        members,
        _lag_rows(view, core, group.group_id, members),
        group_type="consumer",
    )


def groups(view: NodeView) -> list[GroupInfo]:
    """Every group of every running node that coordinates it, by id."""
    found: dict[str, GroupInfo] = {}
    for core in view.all_nodes():
        service = core.state.groups
        for group in service.listed_groups():
            if service.owns(group.group_id) and group.group_id not in found:
                found[group.group_id] = _group_info(view, core, group)
        for consumer_group in service.listed_consumer_groups():
            if service.owns(consumer_group.group_id) and consumer_group.group_id not in found:
                found[consumer_group.group_id] = _consumer_group_info(view, core, consumer_group)
    return [found[group_id] for group_id in sorted(found)]


def group(view: NodeView, group_id: str) -> GroupInfo | None:
    for core in view.all_nodes():
        service = core.state.groups
        if service.owns(group_id):
            found = service.group(group_id)
            if found is not None:
                return _group_info(view, core, found)
            consumer_group = service.consumer_group_now(group_id)
            if consumer_group is not None:
                return _consumer_group_info(view, core, consumer_group)
    return None


def transactions(view: NodeView) -> list[tuple[int, TxnMetadata]]:
    """(coordinator node id, state) of every transactional id, by id."""
    found: dict[str, tuple[int, TxnMetadata]] = {}
    for core in view.all_nodes():
        service = core.state.transactions
        for meta in service.transactions():
            if service.owns(meta.transactional_id):
                found.setdefault(meta.transactional_id, (core.config.node_id, meta))
    return [found[key] for key in sorted(found)]


def producers(view: NodeView, limit: int) -> tuple[list[ProducerRow], bool]:
    """Producer state of the partitions this process's nodes lead (at most
    `limit` rows; the flag says whether some were left out)."""
    rows: list[ProducerRow] = []
    for core in view.all_nodes():
        for topic, partition in core.state.cluster.hosted_partitions():
            if partition.leader != core.config.node_id or partition.replica is None:
                continue
            ongoing = partition.replica.transactions.ongoing  # producer id -> first offset of its open transaction
            for entry in partition.replica.producer_state.entries.values():
                if len(rows) >= limit:
                    return rows, True
                rows.append(
                    ProducerRow(
                        topic.name,
                        partition.index,
                        entry.producer_id,
                        entry.epoch,
                        entry.last_seq,
                        entry.last_offset,
                        ongoing.get(entry.producer_id, -1),
                    )
                )
    rows.sort(key=lambda row: (row.topic, row.partition, row.producer_id))
    return rows, False
