"""`kwire.Cluster`: several brokers with replication in one Python program,
for tests of what clients do when brokers fail.

    with kwire.Cluster(brokers=3, default_replication_factor=3) as cluster:
        ...  # clients bootstrap from cluster.bootstrap_servers
        cluster.stop(2)       # node 2 goes away: leadership moves, it leaves the ISRs
        cluster.kill(3)       # ... or at once, as a crash
        cluster.start(2)      # back from its data: it catches up and rejoins
        cluster.isolate(3)    # replication to and from node 3 stops (clients still reach it)
        cluster.move_leader("orders", 0, 1)

The cluster's trio loop runs in a thread of its own. Settings are Kafka's
broker settings, as for kwire.Broker (`settings={...}` or keywords with
underscores); `data_dir=` keeps the logs on disk (node-<id>/ per node),
else they are in memory (a stopped node then restarts empty).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import trio

from kwire.broker import setting_text
from kwire.config import BrokerConfig, ConfigError
from kwire.server.cluster_runtime import ClusterRuntime, run_cluster
from kwire.server.node_thread import START_TIMEOUT_S, STOP_TIMEOUT_S, alone

__all__ = ["Cluster"]


class Cluster:
    def __init__(
        self,
        brokers: int = 3,
        settings: Mapping[str, object] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        data_dir: str | Path | None = None,
        start_timeout_s: float = START_TIMEOUT_S,
        **kafka_settings: object,
    ) -> None:
        config = BrokerConfig(host=host, port=port, data_dir=None if data_dir is None else Path(data_dir))
        for name, value in (settings or {}).items():
            config.apply_override(str(name), setting_text(value))
        for keyword, value in kafka_settings.items():
            config.apply_override(keyword.replace("_", "."), setting_text(value))
        config.validate()
        if not isinstance(brokers, int) or brokers < 1:
            raise ConfigError(f"Invalid value {brokers} for option brokers: must be at least 1")
        self.config = config
        self.brokers = brokers
        self.start_timeout_s = start_timeout_s
        self._runtime: ClusterRuntime | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    # --- the whole cluster ----------------------------------------------------------------------

    def start(self, node_id: int | None = None) -> Cluster:
        """Start the cluster (no argument), or restart one stopped node."""
        if node_id is not None:
            self._call_async(lambda runtime: runtime.start_node(node_id))
            return self
        if self._thread is not None:
            raise RuntimeError("the kwire cluster is already running")
        self._started.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name="kwire-cluster", daemon=True)
        self._thread.start()
        if not self._started.wait(self.start_timeout_s):
            self.stop()
            raise TimeoutError(f"the kwire cluster did not start within {self.start_timeout_s} s")
        if self._runtime is None:
            self._thread.join(self.start_timeout_s)
            self._thread = None
            error, self._error = self._error, None
            raise alone(error) if error is not None else RuntimeError("the kwire cluster did not start")
        return self

    def stop(self, node_id: int | None = None, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop one node as Kafka's controlled shutdown does (leadership moves
        away first; returns once it is closed), or the whole cluster (no argument)."""
        if node_id is not None:
            self._call_async(lambda runtime: runtime.stop_node(node_id))
            return
        thread, token = self._thread, self._token
        if thread is None:
            return
        if token is not None:
            try:
                trio.from_thread.run_sync(self._stop_all, trio_token=token)
            except trio.RunFinishedError:
                pass
        thread.join(timeout_s)
        if thread.is_alive():
            raise TimeoutError(f"the kwire cluster did not stop within {timeout_s} s")
        self._thread, self._token, self._runtime = None, None, None
        error, self._error = self._error, None
        if error is not None:
            raise alone(error)

    def kill(self, node_id: int) -> None:
        """Stop one node at once, as a crash: no controlled shutdown (its clients see a reset)."""
        self._call_async(lambda runtime: runtime.kill_node(node_id))

    def restart(self, node_id: int) -> None:
        self.stop(node_id)
        self.start(node_id)

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # --- where it is, and its controls -------------------------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        """HOST:PORT of every running node, comma-separated."""
        servers: str = self._call(lambda runtime: runtime.bootstrap_servers)
        return servers

    def address(self, node_id: int) -> str:
        """One node's HOST:PORT (ValueError when it is stopped)."""

        def find(runtime: ClusterRuntime) -> str:
            node = runtime.nodes.get(node_id)
            if node is None:
                raise ValueError(f"node {node_id} is not running")
            return node.bootstrap_servers

        address: str = self._call(find)
        return address

    def status(self) -> dict[str, Any]:
        """Nodes, each partition's leader, epoch, replicas and ISR, and the replication counters."""
        status: dict[str, Any] = self._call(lambda runtime: runtime.status())
        return status

    def leader(self, topic: str, partition: int) -> int:
        """The partition's leader now (-1: offline); KeyError for an unknown partition."""
        for entry in self.status()["partitions"]:
            if entry["topic"] == topic and entry["partition"] == partition:
                return int(entry["leader"])
        raise KeyError(f"{topic}-{partition}")

    def isolate(self, node_id: int, isolated: bool = True) -> None:
        self._call(lambda runtime: runtime.isolate(node_id, isolated))

    def slow(self, node_id: int, delay_ms: int) -> None:
        self._call(lambda runtime: runtime.slow(node_id, delay_ms))

    def move_leader(self, topic: str, partition: int, node_id: int) -> None:
        self._call(lambda runtime: runtime.move_leader(topic, partition, node_id))

    # --- internals ----------------------------------------------------------------------------------

    def _call(self, function: Any) -> Any:
        runtime, token = self._runtime, self._token
        if runtime is None or token is None:
            raise RuntimeError("the kwire cluster is not running")
        return trio.from_thread.run_sync(lambda: function(runtime), trio_token=token)

    def _call_async(self, function: Any) -> Any:
        runtime, token = self._runtime, self._token
        if runtime is None or token is None:
            raise RuntimeError("the kwire cluster is not running")

        async def call() -> Any:
            return await function(runtime)

        return trio.from_thread.run(call, trio_token=token)

    def _stop_all(self) -> None:
        if self._runtime is not None:
            self._runtime.stop()

    def _run(self) -> None:
        try:
            trio.run(self._serve)
        except BaseException as error:  # handed to the caller of start or stop
            self._error = error
        finally:
            self._started.set()

    async def _serve(self) -> None:
        async with trio.open_nursery() as nursery:
            self._runtime = await nursery.start(run_cluster, self.config, self.brokers)
            self._token = trio.lowlevel.current_trio_token()
            self._started.set()

    def __repr__(self) -> str:
        state = "running" if self._runtime is not None else "stopped"
        return f"<kwire.Cluster of {self.brokers} brokers, {state}>"
