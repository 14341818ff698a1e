"""Kafka 4's group coordinator gauges (kafka.server:type=group-coordinator-metrics),
read at scrape time, named as a JMX exporter names them:

- `kafka_server_group_coordinator_metrics_group_count{protocol}`: groups per
  protocol (classic, consumer, share);
- `kafka_server_group_coordinator_metrics_consumer_group_count{state}`:
  KIP-848 consumer groups per state (Empty, Assigning, Reconciling, Stable, Dead);
- `kafka_server_group_coordinator_metrics_share_group_count{state}`:
  KIP-932 share groups per state (Empty, Stable, Dead).

Only the groups this node coordinates count, as in Kafka (a sum over the
nodes is the cluster's). The classic groups' per-state gauges are
GroupMetadataManager's (kwire/observability/group_collector.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily, Metric

from kwire.coordinator.consumer_group.model import ConsumerGroupState

if TYPE_CHECKING:
    from kwire.broker_state import BrokerState

PREFIX = "kafka_server_group_coordinator_metrics_"
SHARE_GROUP_STATES = ("Empty", "Stable", "Dead")  # Kafka's ShareGroupState


class GroupCoordinatorCollector:
    def __init__(self, state: BrokerState) -> None:
        self._state = state

    def collect(self) -> Iterator[Metric]:
        groups = self._state.groups
        consumer = [g for g in groups.consumer.groups.values() if groups.owns(g.group_id)]
        share = [g for g in self._state.share_groups.groups.values() if groups.owns(g.group_id)]
        classic = [g for g in groups.coordinator.groups.values() if g.group_id not in groups.consumer.groups]
        by_protocol = GaugeMetricFamily(PREFIX + "group_count", "Groups per rebalance protocol", labels=["protocol"])
        for protocol, found in (("classic", classic), ("consumer", consumer), ("share", share)):
            by_protocol.add_metric([protocol], len(found))
        yield by_protocol
        consumer_states = GaugeMetricFamily(
            PREFIX + "consumer_group_count", "Consumer groups (KIP-848) per state", labels=["state"]
        )
        for consumer_state in ConsumerGroupState:
            count = sum(1 for g in consumer if g.state == consumer_state)
            consumer_states.add_metric([consumer_state.value], count)
        yield consumer_states
        share_states = GaugeMetricFamily(
            PREFIX + "share_group_count", "Share groups (KIP-932) per state", labels=["state"]
        )
        for share_state in SHARE_GROUP_STATES:
            share_states.add_metric([share_state], sum(1 for g in share if g.state == share_state))
        yield share_states
