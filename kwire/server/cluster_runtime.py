"""N kwire nodes in one trio program, one controller between them: the
multi-node test cluster (`kwire serve --brokers N`, `kwire.Cluster`).

    async with trio.open_nursery() as nursery:
        cluster = await nursery.start(run_cluster, BrokerConfig(port=0, data_dir=root), 3)
        ...  # clients bootstrap from cluster.bootstrap_servers
        await cluster.stop_node(2); await cluster.start_node(2)

Node `i` has node id i, port `port + i - 1` (each a free one with port 0),
its data in `<data dir>/node-<i>/`; the controller's metadata is in
`<data dir>/controller/`. Besides the nodes, the runtime runs the replica
fetch (one task for all nodes: they share this thread), the ISR expiration
check and the preferred-leader check (auto.leader.rebalance.enable).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import attrs
import trio

from kwire.broker_state import BrokerState
from kwire.clock import SYSTEM_CLOCK, Clock
from kwire.cluster.controller import Controller
from kwire.config import BrokerConfig
from kwire.core import BrokerCore
from kwire.errors import StartupError
from kwire.protocol.errors import ErrorCode
from kwire.replication.counters import ReplicationCounters
from kwire.replication.replica_manager import ReplicaManager
from kwire.server.node import Node, run_node

log = logging.getLogger("kwire.cluster")

MAX_BROKERS = 64  # a test cluster on one machine
# A stopping node keeps answering this long after its leadership moved, so
# clients in flight learn the new leaders from it (KIP-951) rather than from a reset.
SHUTDOWN_GRACE_S = 0.2
NODE_STOP_TIMEOUT_S = 30.0


def node_config(base: BrokerConfig, node_id: int) -> BrokerConfig:
    """Node `node_id`'s config: its own id, ports (each listener's port plus
    node id - 1) and data directory."""

    def shifted(port: int) -> int:
        return port if port == 0 else port + node_id - 1

    data_dir = None if base.data_dir is None else Path(base.data_dir) / f"node-{node_id}"
    advertised_port = None if base.advertised_port is None else base.advertised_port + node_id - 1
    return attrs.evolve(
        base,
        node_id=node_id,
        port=shifted(base.port),
        advertised_port=advertised_port,
        listener_specs=tuple(
            (name, protocol, host, shifted(port)) for name, protocol, host, port in base.listener_specs
        ),
        advertised_listener_specs={
            name: (host, shifted(port)) for name, (host, port) in base.advertised_listener_specs.items()
        },
        data_dir=data_dir,
        other_log_dirs=(),
        control_port=None,
        http_port=None if base.http_port is None else shifted(base.http_port),
        explicit=set(base.explicit),
        listener_overrides=dict(base.listener_overrides),
    )


def check_listener_ports(base: BrokerConfig, brokers: int) -> None:
    """N brokers take ports PORT..PORT+N-1 of each listener: those ranges must not overlap."""
    taken: dict[int, str] = {}
    for spec in base.listeners():
        if spec.port == 0:
            continue
        for port in range(spec.port, spec.port + brokers):
            if port in taken:
                raise StartupError(
                    f"listeners {taken[port]} and {spec.name} overlap across {brokers} brokers (each takes its "
                    f"port plus 0..{brokers - 1}): put their ports at least {brokers} apart"
                )
            taken[port] = spec.name


class ClusterRuntime:
    """The running cluster: its controller, nodes and controls. Every method
    runs in the cluster's trio thread."""

    def __init__(self, base: BrokerConfig, brokers: int, clock: Clock = SYSTEM_CLOCK) -> None:
        if not 1 <= brokers <= MAX_BROKERS:
            raise StartupError(f"option --brokers must be between 1 and {MAX_BROKERS}, not {brokers}")
        check_listener_ports(base, brokers)
        self.base = base
        self.clock = clock
        self.node_ids = list(range(1, brokers + 1))
        self.configs = {node_id: node_config(base, node_id) for node_id in self.node_ids}
        if base.data_dir is not None:
            Path(base.data_dir).mkdir(parents=True, exist_ok=True)
        self.controller = Controller(base, clock)
        self.nodes: dict[int, Node] = {}
        self._ended: dict[int, trio.Event] = {}  # set when a node's run_node has returned (everything closed)
        self.ports: dict[int, int] = {}  # each node's port once bound, kept across restarts
        self.listener_ports: dict[int, dict[str, int]] = {}  # every listener's, likewise
        # ISR shrinks/expands per node, kept across the node's restarts.
        self.counters = {node_id: ReplicationCounters() for node_id in self.node_ids}
        self._nursery: trio.Nursery | None = None
        self._wake = trio.Event()
        self.controller.on_change.append(self.wake_fetchers)

    # --- nodes ---------------------------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.bootstrap_servers for node in self.nodes.values())

    def running(self, node_id: int) -> bool:
        return node_id in self.nodes

    def _state_of(self, node_id: int) -> BrokerState | None:
        node = self.nodes.get(node_id)
        return None if node is None else node.core.state

    def _running_cores(self) -> list[BrokerCore]:
        return [self.nodes[node_id].core for node_id in sorted(self.nodes)]

    def manager(self, node_id: int) -> ReplicaManager | None:
        node = self.nodes.get(node_id)
        return None if node is None else node.core.state.replicas

    async def start_node(self, node_id: int) -> Node:
        """Start a node (a stopped one restarts from its data directory on its old port)."""
        if node_id not in self.configs:
            raise ValueError(f"no node {node_id} in this cluster (nodes {self.node_ids})")
        if node_id in self.nodes:
            return self.nodes[node_id]
        assert self._nursery is not None, "the cluster is not running"
        config = self.configs[node_id]
        if node_id in self.ports:
            bound = self.listener_ports.get(node_id, {})
            config = attrs.evolve(
                config,
                port=self.ports[node_id],
                listener_specs=tuple(
                    (name, protocol, host, bound.get(name, port))
                    for name, protocol, host, port in config.listener_specs
                ),
                explicit=set(config.explicit),
                listener_overrides=dict(config.listener_overrides),
            )
        self._ended[node_id] = ended = trio.Event()
        node: Node = await self._nursery.start(self._run_node, config, ended)
        self.nodes[node_id] = node
        self.ports[node_id] = node.port
        self.listener_ports[node_id] = dict(node.ports)
        state = node.core.state
        state.on_data = self.wake_fetchers
        state.peers = self._state_of
        self.controller.attach(node_id, state.cluster.follow_controller)
        assert state.replicas is not None
        state.replicas.counters = self.counters[node_id]
        # Every hosted partition takes up its role (leader or follower) from the metadata it loaded.
        state.replicas.apply(partition for _topic, partition in state.cluster.hosted_partitions())
        self.controller.register(state.cluster.topology.brokers[node_id])
        return node

    async def stop_node(self, node_id: int) -> None:
        """Stop a node as Kafka's controlled shutdown does: leadership moves
        off it and it leaves the ISRs while it still answers (clients in flight
        get NOT_LEADER_OR_FOLLOWER naming the new leaders), then its listener
        and connections close, its logs are closed and it is fenced. Returns
        once it has closed everything."""
        node = self.nodes.get(node_id)
        if node is None:
            return
        log.info("Stopping node %d (controlled shutdown)", node_id)
        manager = node.core.state.replicas
        if manager is not None:
            manager.isolated = True  # it copies nothing more
        self.controller.shut_down(node_id)
        await trio.sleep(SHUTDOWN_GRACE_S)
        await self._end(node_id)

    async def kill_node(self, node_id: int) -> None:
        """Stop a node at once, as a crash would: no controlled shutdown; the
        controller fences it when it is gone."""
        if node_id in self.nodes:
            log.info("Killing node %d", node_id)
            await self._end(node_id)

    async def _end(self, node_id: int) -> None:
        node = self.nodes.pop(node_id)
        self.controller.detach(node_id)
        self.controller.fence(node_id)
        node.stop()
        with trio.move_on_after(NODE_STOP_TIMEOUT_S):
            await self._ended[node_id].wait()

    async def _run_node(self, config: BrokerConfig, ended: trio.Event, *, task_status: trio.TaskStatus[Node]) -> None:
        try:
            await run_node(config, self.clock, self.controller, peers=self._running_cores, task_status=task_status)
        finally:
            ended.set()

    def isolate(self, node_id: int, isolated: bool = True) -> None:
        """No replication to or from the node (its clients still reach it)."""
        manager = self._manager_or_error(node_id)
        manager.isolated = isolated
        log.info("Node %d %s replication", node_id, "cut off from" if isolated else "back in")
        self.wake_fetchers()

    def slow(self, node_id: int, delay_ms: int) -> None:
        """The node copies from its leaders at most once per `delay_ms` (0: at once)."""
        manager = self._manager_or_error(node_id)
        manager.delay_ms = max(0, delay_ms)
        log.info("Node %d replicates %s", node_id, f"every {delay_ms} ms" if delay_ms else "at full speed")

    def _manager_or_error(self, node_id: int) -> ReplicaManager:
        manager = self.manager(node_id)
        if manager is None:
            raise ValueError(f"node {node_id} is not running")
        return manager

    # --- background work -------------------------------------------------------

    def wake_fetchers(self) -> None:
        self._wake.set()

    async def _replicate_forever(self) -> None:
        """Followers copy from their leaders whenever something may have
        changed, and at least every replica.fetch.wait.max.ms."""
        next_round: dict[int, float] = {}
        wait_s = self.base.replica_fetch_wait_max_ms / 1000
        while True:
            self._wake = trio.Event()
            copied = 0
            now = trio.current_time()
            soonest = math.inf
            for node_id in list(self.nodes):
                manager = self.manager(node_id)
                if manager is None:
                    continue
                due = next_round.get(node_id, 0.0)
                if now < due:
                    soonest = min(soonest, due)
                    continue
                copied += manager.replicate_from(self.manager)
                if manager.delay_ms:
                    next_round[node_id] = now + manager.delay_ms / 1000
            if copied:
                await trio.sleep(0)  # let the answers these copies released go out
                continue
            with trio.move_on_after(max(0.0, min(wait_s, soonest - now))):
                await self._wake.wait()

    async def _expire_isr_members_forever(self) -> None:
        interval_s = max(0.001, self.base.replica_lag_time_max_ms / 2000)
        while True:
            await trio.sleep(interval_s)
            for node_id in list(self.nodes):
                manager = self.manager(node_id)
                if manager is not None:
                    manager.shrink_isrs()

    async def _rebalance_leaders_forever(self) -> None:
        while True:
            await trio.sleep(self.base.leader_imbalance_check_interval_seconds)
            if self.base.auto_leader_rebalance_enable:
                moved = self.controller.rebalance_preferred_leaders()
                if moved:
                    log.info("Preferred leaders restored for %d partition(s)", moved)

    async def run(self, *, task_status: trio.TaskStatus[ClusterRuntime] = trio.TASK_STATUS_IGNORED) -> None:
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for node_id in self.node_ids:
                    await self.start_node(node_id)
                nursery.start_soon(self._replicate_forever)
                nursery.start_soon(self._expire_isr_members_forever)
                nursery.start_soon(self._rebalance_leaders_forever)
                task_status.started(self)
        finally:
            self.nodes.clear()
            self.controller.close()

    def stop(self) -> None:
        """Stop every node and the cluster's tasks (no fencing: a whole-cluster
        shutdown keeps the leaders it had, so a restart finds them)."""
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    def status(self) -> dict[str, Any]:
        """The nodes, each partition's leadership and the replication counters
        (Kafka's UnderReplicatedPartitions, OfflinePartitionsCount,
        IsrShrinksPerSec and IsrExpandsPerSec, as totals)."""
        nodes = []
        for node_id in self.node_ids:
            node, manager = self.nodes.get(node_id), self.manager(node_id)
            nodes.append(
                {
                    "id": node_id,
                    "running": node is not None,
                    "address": None if node is None else node.bootstrap_servers,
                    "rack": self.configs[node_id].broker_rack,
                    "isolated": manager is not None and manager.isolated,
                    "replication_delay_ms": 0 if manager is None else manager.delay_ms,
                }
            )
        partitions = []
        snapshot = self.controller.snapshot
        for record in sorted(snapshot.topics.values(), key=lambda r: r.name):
            for index in range(record.partitions):
                state = snapshot.partition_states.get((record.topic_id, index))
                if state is None:
                    continue
                partitions.append(
                    {
                        "topic": record.name,
                        "partition": index,
                        "leader": state.leader,
                        "leader_epoch": state.leader_epoch,
                        "replicas": list(record.replicas[index]),
                        "isr": list(state.isr),
                        "log_end_offsets": self._log_ends(record.name, index),
                    }
                )
        return {
            "cluster_id": self.controller.cluster_id,
            "nodes": nodes,
            "partitions": partitions,
            "under_replicated_partitions": sum(
                manager.under_replicated() for manager in map(self.manager, self.nodes) if manager is not None
            ),
            "offline_partitions": sum(1 for p in partitions if p["leader"] == -1),
            # Kafka's IsrShrinksPerSec counts the leaders' shrinks; a stopped broker's removal counts too.
            "isr_shrinks": sum(counters.isr_shrinks for counters in self.counters.values())
            + self.controller.fenced_isr_removals,
            "isr_expands": sum(counters.isr_expands for counters in self.counters.values()),
        }

    def _log_ends(self, topic: str, index: int) -> dict[str, int]:
        """Each running replica's log end (JSON keys: node ids as text)."""
        ends = {}
        for node_id, node in self.nodes.items():
            partition = node.core.state.cluster.partition(topic, index)
            if partition is not None and partition.replica is not None:
                ends[str(node_id)] = partition.replica.log_end_offset
        return ends

    def move_leader(self, topic: str, index: int, node_id: int) -> None:
        """Make `node_id` (a live in-sync replica) the partition's leader; ValueError otherwise."""
        record = self.controller.snapshot.topics.get(topic)
        if record is None or not 0 <= index < record.partitions:
            raise ValueError(f"no partition {topic}-{index}")
        error, message = self.controller.move_leader((record.topic_id, index), node_id)
        if error not in (ErrorCode.none, ErrorCode.election_not_needed):
            raise ValueError(message or error.name)


async def run_cluster(
    base: BrokerConfig,
    brokers: int,
    clock: Clock = SYSTEM_CLOCK,
    *,
    task_status: trio.TaskStatus[ClusterRuntime] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run a cluster until cancelled (or `stop()`); with `nursery.start` it
    returns the ClusterRuntime once every node serves."""
    runtime = ClusterRuntime(base, brokers, clock)
    await runtime.run(task_status=task_status)
