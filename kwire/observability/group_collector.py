"""The groups and transactions this node coordinates, read at scrape time.

Group counts use Kafka's GroupMetadataManager gauges
(kafka.coordinator.group:type=GroupMetadataManager,name=NumGroupsStable ->
`kafka_coordinator_group_groupmetadatamanager_numgroupsstable`). Kafka's
broker has no consumer-lag metric (its clients and external exporters
compute it), so lag is given twice: under kwire's name with Kafka's labels
(`kwire_consumer_group_lag{group,topic,partition}`) and under the name
kafka_exporter made common in dashboards
(`kafka_consumergroup_lag{consumergroup,topic,partition}`): the partition's
high watermark minus the group's committed offset. Transactions have no
Kafka broker gauge either: `kwire_transactions{state}` counts the
transactional ids per Kafka state name (Ongoing, PrepareCommit, …).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily, Metric

from kwire.coordinator.group import GroupState
from kwire.coordinator.transaction_state import TxnState

if TYPE_CHECKING:
    from kwire.broker_state import BrokerState

_GROUP_GAUGES = (
    (GroupState.PREPARING_REBALANCE, "numgroupspreparingrebalance"),
    (GroupState.COMPLETING_REBALANCE, "numgroupscompletingrebalance"),
    (GroupState.STABLE, "numgroupsstable"),
    (GroupState.DEAD, "numgroupsdead"),
    (GroupState.EMPTY, "numgroupsempty"),
)
_GROUPS = "kafka_coordinator_group_groupmetadatamanager_"


class GroupCollector:
    def __init__(self, state: BrokerState) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        yield from self._groups()
        yield from self._lag()
        yield from self._transactions()

    def _groups(self) -> Iterator[Metric]:
        # Read as they are: no tick, so a scrape never changes a group.
        groups = list(self._state.groups.coordinator.groups.values())
        yield GaugeMetricFamily(_GROUPS + "numgroups", "Groups this node coordinates", value=len(groups))
        counts = dict.fromkeys(GroupState, 0)
        for group in groups:
            counts[group.state] += 1
        for group_state, suffix in _GROUP_GAUGES:
            yield GaugeMetricFamily(_GROUPS + suffix, f"Groups in state {group_state.value}", value=counts[group_state])
        offsets = self._state.groups.offsets.offsets
        yield GaugeMetricFamily(
            _GROUPS + "numoffsets", "Committed offsets held", value=sum(len(each) for each in offsets.values())
        )
        members = GaugeMetricFamily("kafka_consumergroup_members", "A group's members", labels=["consumergroup"])
        for group in sorted(groups, key=lambda each: each.group_id):
            members.add_metric([group.group_id], len(group.members))
        yield members

    def _lag(self) -> Iterator[Metric]:
        labels = ["group", "topic", "partition"]
        lag = GaugeMetricFamily("kwire_consumer_group_lag", "High watermark minus committed offset", labels=labels)
        committed = GaugeMetricFamily("kwire_consumer_group_committed_offset", "Committed offset", labels=labels)
        exporter_labels = ["consumergroup", "topic", "partition"]
        exporter_lag = GaugeMetricFamily(
            "kafka_consumergroup_lag", "High watermark minus committed offset", labels=exporter_labels
        )
        current = GaugeMetricFamily("kafka_consumergroup_current_offset", "Committed offset", labels=exporter_labels)
        lag_sum = GaugeMetricFamily(
            "kafka_consumergroup_lag_sum", "A group's lag over a topic's partitions", labels=["consumergroup", "topic"]
        )
        for group_id, entries in sorted(self._state.groups.offsets.offsets.items()):
            sums: dict[str, int] = {}
            for (topic, index), offset in sorted(entries.items()):
                values = [group_id, topic, str(index)]
                committed.add_metric(values, offset.offset)
                current.add_metric(values, offset.offset)
                high_watermark = self._high_watermark(topic, index)
                if high_watermark is None:
                    continue  # no replica to read it from here
                behind = max(0, high_watermark - offset.offset)
                lag.add_metric(values, behind)
                exporter_lag.add_metric(values, behind)
                sums[topic] = sums.get(topic, 0) + behind
            for topic, behind in sorted(sums.items()):
                lag_sum.add_metric([group_id, topic], behind)
        yield from (lag, committed, exporter_lag, current, lag_sum)

    def _high_watermark(self, topic: str, index: int) -> int | None:
        """From the partition's leader (another node of this process's cluster,
        when it runs), else from this node's replica."""
        state = self._state
        partition = state.cluster.partition(topic, index)
        if partition is None:
            return None
        leader = state if partition.leader == state.config.node_id else None
        if leader is None and state.peers is not None and partition.leader >= 0:
            leader = state.peers(partition.leader)
        if leader is not None:
            led = leader.cluster.partition(topic, index)
            if led is not None and led.replica is not None:
                return led.replica.high_watermark
        return partition.replica.high_watermark if partition.replica is not None else None

    def _transactions(self) -> Iterator[Metric]:
        transactions = self._state.transactions.coordinator.transactions
        by_state = GaugeMetricFamily(
            "kwire_transactions", "Transactional ids this node coordinates, per state", labels=["state"]
        )
        counts = dict.fromkeys(TxnState, 0)
        for meta in transactions.values():
            counts[meta.state] += 1
        for txn_state, count in counts.items():
            by_state.add_metric([txn_state.kafka_name], count)
        yield by_state
        yield GaugeMetricFamily(
            "kwire_transactional_ids", "Transactional ids this node coordinates", value=len(transactions)
        )
