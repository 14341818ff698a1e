"""What a node knows of the cluster's brokers: their ids, addresses and
racks, and which of them is the controller.

Groundwork for a multi-node cluster (issue 13). Today every node is its own
one-broker cluster: its Topology holds itself only and names itself the
controller, so Metadata, DescribeCluster and replica placement (placement.py)
answer exactly as before. The seam for what comes next: in a cluster of N
nodes in one process, the controller's metadata (brokers, partition
assignments, leaders, ISR) is published to each node's Topology — in-process
first, by a later controller-to-broker protocol or failover in place of that —
and the handlers keep reading only this object, never another node's state.

The plan this seam was cut for (issue 13; nothing of it exists yet):

- `kwire serve --brokers N` / `kwire.Cluster(brokers=N)`: N `run_node`s in
  one trio nursery, node ids 1..N, data in `<data dir>/node-<id>/`, each its
  own listener; every node's endpoint registered in every Topology once all
  listeners are bound (then `cluster.version` bumped: cached Metadata keys
  on it).
- Node 1 is the controller: its Cluster is the only writer of cluster
  metadata (topics with their replica assignments, configs, quotas,
  producer-id blocks). Every request that changes metadata on another node
  (CreateTopics, auto-creation, DeleteTopics, CreatePartitions, configs,
  quotas, the producer-id allocator) must go to the controller, in process
  for now. Each node keeps its own copy of the metadata log, appended with
  the controller's records as KRaft brokers replicate `__cluster_metadata`,
  so a restarted node replays its own copy.
- A node opens logs only for the partitions it leads (followers: none until
  replication), so `Topic.partitions[i]` must become optional or carry a
  "not here" state — every handler that indexes it needs auditing
  (Cluster.leads is the check Produce, Fetch, ListOffsets and
  OffsetForLeaderEpoch already make).
- Group and transaction APIs answer NOT_COORDINATOR on a node that does not
  lead the key's internal-topic partition (FindCoordinator already names it).
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs


@attrs.frozen
class BrokerEndpoint:
    node_id: int
    host: str
    port: int
    rack: str | None = None


class Topology:
    def __init__(self, node_id: int, rack: str | None = None) -> None:
        self.node_id = node_id  # this node
        self.rack = rack
        self.controller_id = node_id  # one node: its own controller (the id clients see)
        self.brokers: dict[int, BrokerEndpoint] = {}

    def register(self, endpoint: BrokerEndpoint) -> None:
        """A broker's (new) address; this node's own comes from its listener."""
        self.brokers[endpoint.node_id] = endpoint

    def set_local_address(self, host: str, port: int) -> None:
        self.register(BrokerEndpoint(self.node_id, host, port, self.rack))

    def sorted_brokers(self) -> list[BrokerEndpoint]:
        return [self.brokers[node] for node in sorted(self.brokers)]

    def racks(self) -> Mapping[int, str | None]:
        """Live node id -> rack, what replica placement spreads over (this node alone before it is registered)."""
        if not self.brokers:
            return {self.node_id: self.rack}
        return {node: endpoint.rack for node, endpoint in self.brokers.items()}
