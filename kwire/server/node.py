"""One kwire node inside a trio program, without the CLI.

    async with open_node(BrokerConfig(port=0, data_dir=None)) as node:
        ...  # clients connect to node.bootstrap_servers

or, beside other tasks (several nodes in one nursery):

    node = await nursery.start(run_node, config)
    ...
    node.stop()

Start-up is the CLI's, in the same order (kwire/server/startup.py): the data
directory is checked, the port bound, then the data opened; a failure is a
StartupError and leaves nothing open. On the way out the node's tasks are
cancelled, its listeners and connections closed, and its core closed: logs
flushed and their files closed, the data directory's lock released.

Process-wide settings — signal handlers, resource limits, tracemalloc — are
for the program that owns the process (`kwire serve`:
kwire/server/process.py), never for an embedded node.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import trio

from kwire.clock import SYSTEM_CLOCK, Clock
from kwire.cluster.controller import Controller
from kwire.config import BrokerConfig
from kwire.core import BrokerCore
from kwire.observability.node_view import NodeView
from kwire.observability.request_log import watch_requests
from kwire.security import listener_security
from kwire.security.listener_security import ScramLookup
from kwire.server import control_server, listener, startup


class Node:
    """A running node, as handed out by `run_node` / `open_node`."""

    def __init__(
        self,
        core: BrokerCore,
        port: int,
        cancel_scope: trio.CancelScope,
        control_port: int | None = None,
        ports: dict[str, int] | None = None,
        http_port: int | None = None,
        view: NodeView | None = None,
    ) -> None:
        self.core = core
        self.config: BrokerConfig = core.config
        self.port = port  # the first listener's bound port (config.port may be 0)
        self.ports = ports or {}  # every listener's bound port by listener name
        self.control_port = control_port  # the fault-injection HTTP endpoint's port, None when off
        self.http_port = http_port  # metrics, health and the console (--http-port), None when off
        self.view = view  # what the HTTP routes see (None when the HTTP port is off)
        self._cancel_scope = cancel_scope

    @property
    def bootstrap_servers(self) -> str:
        """HOST:PORT for a client's bootstrap servers: the address the node
        advertises (its listen address unless advertised.* is set)."""
        host, port = self.config.advertised(self.port)
        return startup.address(host, port)

    def bootstrap_servers_for(self, listener: str) -> str:
        """HOST:PORT a client reaches on `listener` (its advertised address)."""
        for spec in self.config.listeners():
            if spec.name == listener.upper():
                host, port = self.config.advertised_for(spec, self.ports.get(spec.name, self.port))
                return startup.address(host, port)
        raise KeyError(f"no listener {listener} (listeners: {', '.join(self.ports) or 'PLAINTEXT'})")

    def stop(self) -> None:
        """Ask the node to stop (from its trio thread); `run_node` returns
        once everything is closed."""
        self._cancel_scope.cancel()

    def __repr__(self) -> str:
        return f"<kwire node {self.config.node_id} on {startup.address(self.config.host, self.port)}>"


async def run_node(
    config: BrokerConfig,
    clock: Clock = SYSTEM_CLOCK,
    controller: Controller | None = None,
    *,
    peers: Callable[[], list[BrokerCore]] | None = None,
    task_status: trio.TaskStatus[Node] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run a node until `node.stop()` or cancellation; with `nursery.start`
    it returns the Node once the node serves, or raises the StartupError
    that stopped it. `clock` is the node's one clock (a ManualClock in tests);
    `controller`: the node is one of a multi-node cluster (cluster_runtime.py),
    whose running nodes `peers` lists (for the HTTP console)."""
    for log_dir in config.log_dirs:
        startup.check_data_dir(log_dir)
    # Certificates, JAAS options and JWKS files are read before anything is bound or opened.
    credentials = ScramLookup()
    security = listener_security.prepare(config, credentials.lookup, clock.wall_ms)
    # Bind before touching the data directory: a busy port leaves it as it was.
    listeners = await startup.bind(config)
    http_listeners: list[trio.SocketListener] = []
    try:
        if config.http_port is not None:
            http_listeners = await startup.bind_http(config.http_host, config.http_port)
        core = startup.open_data(config, clock, controller)
    except BaseException:
        with trio.CancelScope(shield=True):
            for each in listeners:
                await each.aclose()
            for http_listener in http_listeners:
                await http_listener.aclose()
        raise
    credentials.state = core.state
    watch_requests(core.state)  # the failed-request lines, and the request log when asked for
    try:
        async with trio.open_nursery() as nursery:
            port = await nursery.start(listener.serve, core, listeners, security)
            control_port = None
            if config.control_port is not None:
                control_port = await nursery.start(control_server.serve_control, core, config.control_port)
            ports = {each.spec.name: each.port for each in listeners}
            http_port = view = None
            if http_listeners:  # imported only when used: start-up time
                from kwire.http.server import serve_http
                from kwire.observability.http_app import build_router

                view = NodeView(core, clock.wall_ms(), ports, peers=peers)
                http_port = await nursery.start(serve_http, http_listeners, build_router(view))
                for task in view.background:
                    nursery.start_soon(task)
                view.ready = True  # the logs are loaded and the listeners accept
            task_status.started(Node(core, port, nursery.cancel_scope, control_port, ports, http_port, view))
    finally:
        # In this thread: the core's outcomes of background flushes are applied by the thread that runs it.
        core.close()


@asynccontextmanager
async def open_node(config: BrokerConfig, clock: Clock = SYSTEM_CLOCK) -> AsyncIterator[Node]:
    """A node serving for the duration of the block, stopped and closed on
    leaving it. A StartupError, or an exception from the block, comes out
    as itself rather than inside an ExceptionGroup."""
    as_itself: BaseException | None = None
    try:
        async with trio.open_nursery() as nursery:
            try:
                node: Node = await nursery.start(run_node, config, clock)
                try:
                    yield node
                finally:
                    node.stop()
            except BaseException as error:
                as_itself = error
                raise
    except BaseExceptionGroup as group:
        if as_itself is None or group.exceptions != (as_itself,):
            raise
    else:
        return
    raise as_itself  # outside the `except`, so the group is not chained onto it
