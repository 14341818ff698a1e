"""Several nodes of one cluster in this thread, without sockets or trio: a
controller and a BrokerCore per node, wired as kwire/server/cluster_runtime.py
wires them. Replication runs only when a test calls `replicate()`."""

from __future__ import annotations

from pathlib import Path

from kwire.clock import SYSTEM_CLOCK, Clock
from kwire.cluster.controller import Controller
from kwire.cluster.topology import BrokerEndpoint
from kwire.config import BrokerConfig
from kwire.core import BrokerCore
from kwire.replication.replica_manager import ReplicaManager
from kwire.server.cluster_runtime import node_config

BASE_PORT = 19092  # advertised only: nothing listens


class ClusterCores:
    def __init__(
        self, brokers: int, tmp_path: Path | None = None, clock: Clock = SYSTEM_CLOCK, racks=None, **settings
    ) -> None:
        self.base = BrokerConfig(port=0, data_dir=tmp_path, **settings)
        self.clock = clock
        self.racks = racks or {}
        self.controller = Controller(self.base, clock)
        self.cores: dict[int, BrokerCore] = {}
        for node_id in range(1, brokers + 1):
            self.start(node_id)

    def start(self, node_id: int) -> BrokerCore:
        config = node_config(self.base, node_id)
        config.broker_rack = self.racks.get(node_id)
        core = BrokerCore(config, self.clock, self.controller)
        self.cores[node_id] = core
        cluster = core.state.cluster
        core.state.peers = lambda node: self.cores[node].state if node in self.cores else None
        self.controller.attach(node_id, cluster.follow_controller)
        assert core.state.replicas is not None
        core.state.replicas.apply(partition for _topic, partition in cluster.hosted_partitions())
        core.set_bound_port(BASE_PORT + node_id - 1)
        self.controller.register(BrokerEndpoint(node_id, "127.0.0.1", BASE_PORT + node_id - 1, config.broker_rack))
        return core

    def stop(self, node_id: int) -> None:
        core = self.cores.pop(node_id)
        self.controller.detach(node_id)
        self.controller.fence(node_id)
        core.close()

    def manager(self, node_id: int) -> ReplicaManager | None:
        core = self.cores.get(node_id)
        return None if core is None else core.state.replicas

    def replicate(self, rounds: int = 3) -> None:
        """Every follower copies what its leader has (a few rounds: ISR and HW news travel back)."""
        for _ in range(rounds):
            for node_id in list(self.cores):
                manager = self.manager(node_id)
                assert manager is not None
                manager.replicate_from(self.manager)

    def close(self) -> None:
        for node_id in list(self.cores):
            self.cores.pop(node_id).close()
        self.controller.close()
