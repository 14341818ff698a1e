"""Accept connections and hand each to its own task.

The accept loop is kwire's own rather than trio.serve_listeners so that it
can apply `max.connections` / `max.connections.per.ip`, and so that running
out of file descriptors (EMFILE, ENFILE) makes it back off, exponentially
up to a second, logging once when the trouble starts and once when it
ends, while existing connections carry on.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable, Hashable, Mapping

import attrs
import trio

from kwire.config import BrokerConfig, ListenerSpec
from kwire.core import BrokerCore
from kwire.security.listener_security import ListenerSecurity
from kwire.server.cleaner_task import clean_forever
from kwire.server.connection import serve_connection
from kwire.server.connection_quotas import ConnectionQuotas
from kwire.server.request_budget import RequestBudget

log = logging.getLogger(__name__)

# Kafka's accept errors that mean "out of resources", not "broken listener".
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
FIRST_BACKOFF_S = 0.01
MAX_BACKOFF_S = 1.0


@attrs.define
class BoundListener:
    """One configured listener (kwire/config.py ListenerSpec) and its sockets
    (one per address its host resolves to)."""

    spec: ListenerSpec
    sockets: list[trio.SocketListener]

    @property
    def port(self) -> int:
        port: int = self.sockets[0].socket.getsockname()[1]
        return port

    async def aclose(self) -> None:
        for each in self.sockets:
            await each.aclose()


async def open_listeners(config: BrokerConfig) -> list[BoundListener]:
    """Bind every configured listener; raises OSError (with `listener` set to
    the listener at fault) after closing what was already bound."""
    bound: list[BoundListener] = []
    try:
        for spec in config.listeners():
            try:
                bound.append(BoundListener(spec, await trio.open_tcp_listeners(spec.port, host=spec.host)))
            except OSError as exc:
                exc.listener = spec  # type: ignore[attr-defined]
                raise
    except BaseException:
        with trio.CancelScope(shield=True):
            for each in bound:
                await each.aclose()
        raise
    return bound


async def serve(
    core: BrokerCore,
    listeners: list[BoundListener] | None = None,
    security: Mapping[str, ListenerSecurity] | None = None,
    *,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve on `listeners` (opened from the configuration when not given),
    each with its listener's `security` (none: PLAINTEXT); report the first
    listener's bound port as started."""
    config = core.config
    if listeners is None:
        listeners = await open_listeners(config)
    security = security or {}
    bound_port = listeners[0].port
    core.set_bound_ports({each.spec.name: each.port for each in listeners})
    quotas = ConnectionQuotas(config.max_connections, config.max_connections_per_ip, core.clock)
    core.state.cluster.broker_configs.on_change.append(lambda: quotas.set_limits(config))
    budget = RequestBudget(config.queued_max_request_bytes) if config.queued_max_request_bytes > 0 else None
    connections: set[trio.CancelScope] = set()
    uninstall = _install_fault_hooks(core, connections)
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_tick_forever, core)
            nursery.start_soon(clean_forever, core)
            for bound in listeners:
                for listener in bound.sockets:
                    nursery.start_soon(
                        accept_forever,
                        listener,
                        core,
                        quotas,
                        budget,
                        nursery,
                        connections,
                        security.get(bound.spec.name),
                        bound.spec.name,
                    )
            task_status.started(bound_port)
    finally:
        uninstall()
        with trio.CancelScope(shield=True):  # no listening socket outlives the server
            for bound in listeners:
                await bound.aclose()


async def accept_forever(
    listener: trio.SocketListener,
    core: BrokerCore,
    quotas: ConnectionQuotas,
    budget: RequestBudget | None,
    nursery: trio.Nursery,
    connections: set[trio.CancelScope] | None = None,
    security: ListenerSecurity | None = None,
    listener_name: str = "PLAINTEXT",
) -> None:
    where = _local_name(listener)
    backoff = 0.0
    while True:
        try:
            stream = await listener.accept()
        except OSError as exc:
            if exc.errno not in _OUT_OF_RESOURCES:
                raise
            if not backoff:
                log.warning(
                    "cannot accept connections on %s: %s; retrying with backoff (up to %.0f s) and serving "
                    "the connections already open",
                    where,
                    os.strerror(exc.errno),
                    MAX_BACKOFF_S,
                )
            backoff = min(max(backoff * 2, FIRST_BACKOFF_S), MAX_BACKOFF_S)
            await trio.sleep(backoff)
            continue
        if backoff:
            log.info("accepting connections on %s again", where)
            backoff = 0.0
        ip = _peer_ip(stream)
        if not quotas.admit(ip):
            stream.socket.close()
            continue
        throttle_ms = core.state.quotas.record_connection(ip)
        if throttle_ms > 0:
            # Over the address's connection_creation_rate: as Kafka, hold the
            # connection unserved for the throttle time, then close it.
            quotas.release(ip)
            nursery.start_soon(_close_after, stream, throttle_ms / 1000, ip)
            continue
        nursery.start_soon(_serve_counted, core, stream, quotas, ip, budget, connections, security, listener_name)


async def _close_after(stream: trio.SocketStream, delay_s: float, ip: str) -> None:
    log.debug("connection from %s over its connection_creation_rate: closing it in %.3f s", ip, delay_s)
    try:
        await trio.sleep(delay_s)
    finally:
        with trio.CancelScope(shield=True):
            await stream.aclose()


async def _serve_counted(
    core: BrokerCore,
    stream: trio.SocketStream,
    quotas: ConnectionQuotas,
    ip: str,
    budget: RequestBudget | None,
    connections: set[trio.CancelScope] | None = None,
    security: ListenerSecurity | None = None,
    listener_name: str = "PLAINTEXT",
) -> None:
    scope = trio.CancelScope()
    if connections is not None:
        connections.add(scope)
    metrics = core.state.metrics  # connection-count per listener (with the HTTP port on)
    metrics.connection_opened(listener_name)
    try:
        with scope:  # cancelled to close the connection (fault injection)
            await serve_connection(core, stream, budget, security)
    finally:
        metrics.connection_closed(listener_name)
        if connections is not None:
            connections.discard(scope)
        quotas.release(ip)


def _install_fault_hooks(core: BrokerCore, connections: set[trio.CancelScope]) -> Callable[[], None]:
    """Let the node's fault injector, called from any thread, close this
    server's connections and wake its parked requests (in this trio thread)."""
    token = trio.lowlevel.current_trio_token()
    faults = core.state.faults

    def close_all() -> None:
        for scope in list(connections):
            scope.cancel()

    def close_connections() -> int:
        count = len(connections)
        _soon(token, close_all)
        return count

    def notify(key: Hashable) -> None:
        _soon(token, lambda: core.notify(key))

    faults.connection_closers.append(close_connections)
    faults.notifiers.append(notify)

    def uninstall() -> None:
        faults.connection_closers.remove(close_connections)
        faults.notifiers.remove(notify)

    return uninstall


def _soon(token: trio.lowlevel.TrioToken, function: Callable[[], None]) -> None:
    try:
        token.run_sync_soon(function)
    except trio.RunFinishedError:
        pass  # the node has stopped


def _peer_ip(stream: trio.SocketStream) -> str:
    try:
        host: str = stream.socket.getpeername()[0]  # (host, port, ...) for TCP
        return host
    except (OSError, IndexError):
        return "unknown"


def _local_name(listener: trio.SocketListener) -> str:
    host, port, *_ = listener.socket.getsockname()
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


TICK_SECONDS = 0.05


async def _tick_forever(core: BrokerCore) -> None:
    """Give the core's timers a turn (sessions, rebalances, retention, flushes,
    transaction timeouts); what is due is decided on the node's clock. A
    group's initial rebalance delay gets a tick of its own when it ends."""
    while True:
        await trio.sleep(core.seconds_to_next_tick(TICK_SECONDS))
        try:
            core.tick()
        except Exception:
            log.exception("timer tick failed")
