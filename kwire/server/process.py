"""`kwire serve`: a node that is the process's main program.

What only the owner of a whole process may do happens here, not in the node
(kwire/server/node.py): raise the open-files limit, ignore SIGXFSZ, trace
allocations when asked to, print the ready line, and stop cleanly on SIGTERM
or SIGINT.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager

import trio

from kwire import __version__
from kwire.config import BrokerConfig
from kwire.server import startup
from kwire.server.cluster_control import serve_cluster_control
from kwire.server.cluster_runtime import ClusterRuntime, run_cluster
from kwire.server.memory_snapshots import dump_snapshots_forever, start_tracing
from kwire.server.node import Node, run_node
from kwire.server.startup import raise_open_files_limit

log = logging.getLogger("kwire")


def serve_until_signal(config: BrokerConfig, brokers: int | None = None) -> int:
    """Serve until SIGTERM or SIGINT, then shut down cleanly; the exit
    status. Start-up failures are raised (StartupError, possibly inside an
    ExceptionGroup) for the CLI to report."""
    start_tracing()
    raise_open_files_limit()
    # A file-size limit (RLIMIT_FSIZE) must fail the write (EFBIG, undone and
    # answered KAFKA_STORAGE_ERROR), not kill the broker.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    if brokers is None:
        trio.run(_serve_until_signal, config)
    else:
        trio.run(_serve_cluster_until_signal, config, brokers)
    return 0


async def _serve_until_signal(config: BrokerConfig) -> None:
    # Signals are caught from before the ready line: a SIGTERM right after it must stop kwire cleanly.
    with _stop_signals() as signals:
        async with trio.open_nursery() as nursery:
            node: Node = await nursery.start(run_node, config)
            node.core.state.faults.exit_allowed = True  # this process is the node's: kill may end it
            control = (
                ""
                if node.http_port is None
                else f", HTTP on http://{startup.address(config.http_host, node.http_port)}/"
            )
            if node.control_port is not None:
                control += f", fault control on 127.0.0.1:{node.control_port}"
            print(
                f"kwire {__version__} ready on {config.host}:{node.port} ({_describe(config)}{_others(node)}{control})",
                flush=True,
            )
            await _until_signal(nursery, signals)


async def _serve_cluster_until_signal(config: BrokerConfig, brokers: int) -> None:
    with _stop_signals() as signals:
        async with trio.open_nursery() as nursery:
            cluster: ClusterRuntime = await nursery.start(run_cluster, config, brokers)
            # Each node's HTTP port, in node order as the addresses before it (kept last but for the control port).
            http = [startup.address(config.http_host, n.http_port) for n in cluster.nodes.values() if n.http_port]
            control = f", HTTP on {','.join(http)}" if http else ""
            if config.control_port is not None:
                port = await nursery.start(serve_cluster_control, cluster, config.control_port)
                control += f", cluster control on 127.0.0.1:{port}"
            where = "in memory" if config.data_dir is None else f"data in {config.data_dir}"
            print(
                f"kwire {__version__} ready on {cluster.bootstrap_servers} ({brokers} brokers, {where}{control})",
                flush=True,
            )
            await _until_signal(nursery, signals)


def _stop_signals() -> AbstractContextManager[AsyncIterator[int]]:
    return trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT)


async def _until_signal(nursery: trio.Nursery, signals: AsyncIterator[int]) -> None:
    nursery.start_soon(dump_snapshots_forever)
    async for signum in signals:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        nursery.cancel_scope.cancel()
        break


def _others(node: Node) -> str:
    """With several listeners, each as NAME HOST:PORT (the ready line's address is the first's)."""
    listeners = node.config.listeners()
    if len(listeners) == 1:
        return ""
    return "; listeners " + ", ".join(
        f"{spec.name} {spec.host}:{node.ports.get(spec.name, spec.port)}" for spec in listeners
    )


def _describe(config: BrokerConfig) -> str:
    where = "in memory" if config.data_dir is None else f"data in {', '.join(map(str, config.log_dirs))}"
    return f"node {config.node_id}, {where}"
