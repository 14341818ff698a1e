"""What a node knows of the cluster's brokers: their ids, addresses and
racks, and which of them clients are told is the controller.

A lone node's Topology holds itself alone and names itself the controller.
A node of a multi-node cluster (kwire/server/cluster_runtime.py) gets the
live brokers from the controller each time it applies new metadata
(Cluster._sync_topology), with a live broker as the controller id, as KRaft
reports it. Metadata, DescribeCluster, FindCoordinator, the KIP-951 fields
and replica placement read only this object, never another node's state.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs


@attrs.frozen
class BrokerEndpoint:
    """A broker as clients see it: host and port are its first listener's;
    `listeners` holds (name, host, port) for each of its listeners."""

    node_id: int
    host: str
    port: int
    rack: str | None = None
    listeners: tuple[tuple[str, str, int], ...] = ()

    def on(self, listener: str) -> BrokerEndpoint:
        """The broker as a client that came in on `listener` must reach it
        (Kafka answers each client with the addresses of its own listener)."""
        for name, host, port in self.listeners:
            if name == listener:
                return self if (host, port) == (self.host, self.port) else attrs.evolve(self, host=host, port=port)
        return self


class Topology:
    def __init__(self, node_id: int, rack: str | None = None) -> None:
        self.node_id = node_id  # this node
        self.rack = rack
        self.controller_id = node_id  # one node: its own controller (the id clients see)
        self.brokers: dict[int, BrokerEndpoint] = {}

    def register(self, endpoint: BrokerEndpoint) -> None:
        """A broker's (new) address; this node's own comes from its listener."""
        self.brokers[endpoint.node_id] = endpoint

    def set_local_address(self, host: str, port: int, listeners: tuple[tuple[str, str, int], ...] = ()) -> None:
        self.register(BrokerEndpoint(self.node_id, host, port, self.rack, listeners))

    def sorted_brokers(self) -> list[BrokerEndpoint]:
        return [self.brokers[node] for node in sorted(self.brokers)]

    def racks(self) -> Mapping[int, str | None]:
        """Live node id -> rack, what replica placement spreads over (this node alone before it is registered)."""
        if not self.brokers:
            return {self.node_id: self.rack}
        return {node: endpoint.rack for node, endpoint in self.brokers.items()}
