"""Countable replication metrics, as Kafka names them (kept countable here
and shown by the cluster's status; the observability work exports them).

Kafka's ReplicaManager has the meters `IsrShrinksPerSec` and
`IsrExpandsPerSec` (counted here as totals: a rate is the exporter's job)
and the gauges `UnderReplicatedPartitions` and `UnderMinIsrPartitionCount`,
counted over the partitions this node leads (Partition.isUnderReplicated:
leader and ISR smaller than the replica set; Partition.isUnderMinIsr: ISR
smaller than the effective min.insync.replicas). `OfflinePartitionsCount`
belongs to the controller and is not here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from kwire.replication.leader_state import LeaderState


@attrs.define
class ReplicationCounters:
    """One per node, shared by every partition the node leads."""

    isr_shrinks: int = 0  # IsrShrinksPerSec: one per shrink (however many replicas left)
    isr_expands: int = 0  # IsrExpandsPerSec: one per replica added


def under_replicated_partitions(states: Iterable[LeaderState]) -> int:
    """Kafka's UnderReplicatedPartitions gauge over the given leaders."""
    return sum(1 for state in states if state.is_under_replicated)


def under_min_isr_partitions(states: Iterable[LeaderState]) -> int:
    """Kafka's UnderMinIsrPartitionCount gauge over the given leaders."""
    return sum(1 for state in states if state.is_under_min_isr)
