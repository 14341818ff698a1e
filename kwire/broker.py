"""`kwire.Broker`: a broker inside a Python program or test suite.

From any program (plain code, pytest, asyncio — the broker's trio loop runs
in a thread of its own):

    with kwire.Broker(num_partitions=3) as broker:
        ...  # clients connect to broker.bootstrap_servers

Inside a trio program, in the current event loop:

    async with kwire.Broker() as broker:
        ...

Defaults suit tests: 127.0.0.1, a free port, logs in memory (`data_dir=`
keeps them on disk). Every Kafka broker setting is taken by its Kafka name
in `settings={"num.partitions": 3}` or as a keyword with underscores
(`num_partitions=3`), both checked exactly as `kwire serve -o` checks them:
a bad one raises kwire's ConfigError in Kafka's words. `http_port=0` turns
on the HTTP port (/metrics, /healthz, /readyz, the console) at `broker.http_url`.

The broker's log records (the `kwire` loggers, from `log_level` up) are kept
in a bounded buffer per broker: `broker.log_text()`.
"""

from __future__ import annotations

import collections
import contextvars
import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import trio

from kwire.clock import SYSTEM_CLOCK, Clock
from kwire.config import BrokerConfig, ConfigError
from kwire.errors import StartupError
from kwire.observability.log_setup import REQUEST_LOGGER
from kwire.observability.logs import TextFormatter
from kwire.server.node import Node, run_node
from kwire.server.node_thread import START_TIMEOUT_S, STOP_TIMEOUT_S, RunningNode
from kwire.server.startup import address as startup_address

if TYPE_CHECKING:
    from kwire.broker_state import BrokerState

__all__ = ["Broker", "ConfigError", "StartupError"]

T = TypeVar("T")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_LINES = 5000  # per broker: the last ones are kept


class Broker:
    """One kwire node for a program or a test; see the module's docstring.

    Thread mode (`with`, `start()`, `stop()`, `restart()`) works from any
    program. Trio mode (`async with`, `await arestart()`) runs the node in
    the current trio loop. A broker object is in one mode at a time.
    """

    def __init__(
        self,
        settings: Mapping[str, object] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        data_dir: str | Path | None = None,
        advertised_host: str | None = None,
        advertised_port: int | None = None,
        http_port: int | None = None,
        log_level: str = "INFO",
        clock: Clock = SYSTEM_CLOCK,
        start_timeout_s: float = START_TIMEOUT_S,
        **kafka_settings: object,
    ) -> None:
        config = BrokerConfig(
            host=host,
            port=port,
            data_dir=None if data_dir is None else Path(data_dir),
            advertised_host=advertised_host,
            advertised_port=advertised_port,
            http_port=http_port,
            http_host=host,
        )
        from kwire.config_sources import apply_kafka_settings

        given = {str(name): setting_text(value) for name, value in (settings or {}).items()}
        given.update({keyword.replace("_", "."): setting_text(value) for keyword, value in kafka_settings.items()})
        apply_kafka_settings(config, given)
        config.validate()
        level = str(log_level).strip().upper()
        if level not in LOG_LEVELS:
            raise ConfigError(
                f"Invalid value {log_level} for option log_level: String must be one of: {', '.join(LOG_LEVELS)}"
            )
        self.config = config
        self.clock = clock
        self.log_level = level
        self.start_timeout_s = start_timeout_s
        self._log = _BrokerLog(getattr(logging, level))
        self._thread_node: RunningNode | None = None
        self._trio: _TrioRun | None = None
        self._bound_port: int | None = None  # the port of the last start (restart tries it again)
        self._bound_ports: dict[str, int] = {}  # every listener's, likewise

    # --- where it is -------------------------------------------------------------------------------------------

    @property
    def node(self) -> Node:
        """The running node (kwire.server.node.Node); RuntimeError when stopped."""
        node = self._current_node()
        if node is None:
            raise RuntimeError("the kwire broker is not running")
        return node

    @property
    def running(self) -> bool:
        return self._current_node() is not None

    def _current_node(self) -> Node | None:
        if self._thread_node is not None:
            return self._thread_node._node
        if self._trio is not None:
            return self._trio.node
        return None

    @property
    def port(self) -> int:
        return self.node.port

    @property
    def host(self) -> str:
        return self.config.host

    @property
    def http_url(self) -> str:
        """http://HOST:PORT/ of the metrics, health and console (http_port= given); RuntimeError without."""
        port = self.node.http_port
        if port is None:
            raise RuntimeError("the kwire broker was started without http_port")
        return f"http://{startup_address(self.config.http_host, port)}/"

    @property
    def bootstrap_servers(self) -> str:
        """HOST:PORT for a client's `bootstrap_servers` (the first listener)."""
        return self.node.bootstrap_servers

    def bootstrap_servers_for(self, listener: str) -> str:
        """HOST:PORT of one listener (`listeners=` in the settings), e.g. "SASL_SSL"."""
        return self.node.bootstrap_servers_for(listener)

    @property
    def data_dir(self) -> Path | None:
        """The data directory; None in memory."""
        return self.config.data_dir

    @property
    def state(self) -> BrokerState:
        """The running node's BrokerState (topics, groups, …). It belongs to the
        node's trio thread: read it for checks, change it only through
        `call_in_loop` (thread mode)."""
        return self.node.core.state

    @property
    def faults(self) -> Any:
        """The node's fault injector (`BrokerState.faults`)."""
        state = self.state
        if not hasattr(state, "faults"):
            raise AttributeError("this kwire build has no fault injector (BrokerState.faults); see Fault injection")
        return state.faults

    def call_in_loop(self, function: Callable[[], T]) -> T:
        """Run `function()` in the node's trio thread and return what it
        returns (thread mode): the safe way to touch `state` from outside."""
        running = self._thread_node
        if running is None or running._token is None:
            raise RuntimeError("call_in_loop needs a broker running in thread mode")

        def as_the_brokers() -> T:
            _CURRENT_LOG.set(self._log)  # (in a copy of the caller's context)
            return function()

        return trio.from_thread.run_sync(as_the_brokers, trio_token=running._token)

    def log_text(self, since: int = 0) -> str:
        """The broker's log lines (the last LOG_LINES of them); `since` a
        `log_position` taken earlier: only the lines logged after it."""
        return self._log.text(since)

    @property
    def log_position(self) -> int:
        """How many lines the broker has logged so far (for `log_text(since=...)`)."""
        return self._log.total

    # --- thread mode -------------------------------------------------------------------------------------------

    def start(self) -> Broker:
        """Start the node in a thread of its own; returns once it serves (a
        failed start raises its StartupError here)."""
        if self.running or self._trio is not None:
            raise RuntimeError("the kwire broker is already running")
        self._thread_node = self._start_thread(self._config_for_start())
        self._bound_port = self._thread_node.port
        self._bound_ports = dict(self._thread_node.ports)
        self._say("kwire broker serving on %s (%s)", self._thread_node.bootstrap_servers, self._storage())
        return self

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop the node and wait until it has closed everything (threads,
        sockets, files). Stopping a stopped broker does nothing."""
        if self._trio is not None:
            raise RuntimeError("this broker runs in a trio loop: leave its `async with` block (or `await aclose()`)")
        running, self._thread_node = self._thread_node, None
        if running is not None:
            running.stop(timeout_s)
            self._say("kwire broker stopped")

    def restart(self) -> Broker:
        """Stop and start again: the same port when it is still free (else, for
        a broker started on port 0, a new free one), the same data directory.
        A broker in memory comes back empty."""
        self.stop()
        return self.start()

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def _start_thread(self, config: BrokerConfig) -> RunningNode:
        running = _LoggingRunningNode(config, self.clock, self._log)
        try:
            running._start(self.start_timeout_s)
        except StartupError as error:
            if self._as_configured(config) or "cannot listen" not in str(error):
                raise
            self._say("port %d is taken now: the broker restarts on a new port", config.port)
            config.port, config.listener_specs = self.config.port, self.config.listener_specs
            running = _LoggingRunningNode(config, self.clock, self._log)
            running._start(self.start_timeout_s)
        return running

    def _config_for_start(self) -> BrokerConfig:
        config = attrs.evolve(
            self.config,
            explicit=set(self.config.explicit),
            listener_overrides=dict(self.config.listener_overrides),
            advertised_listener_specs=dict(self.config.advertised_listener_specs),
        )
        if self.config.port == 0 and self._bound_port is not None:
            config.port = self._bound_port  # restart where clients knew it
        config.listener_specs = tuple(
            (name, protocol, host, self._bound_ports.get(name, 0) if port == 0 else port)
            for name, protocol, host, port in self.config.listener_specs
        )
        return config

    def _as_configured(self, config: BrokerConfig) -> bool:
        """Whether `config` asks for the configured ports (not the ones of the last start)."""
        return config.port == self.config.port and config.listener_specs == self.config.listener_specs

    # --- trio mode ---------------------------------------------------------------------------------------------

    async def __aenter__(self) -> Broker:
        if self.running or self._trio is not None:
            raise RuntimeError("the kwire broker is already running")
        run = _TrioRun(self._log)
        await run.enter()
        self._trio = run
        try:
            await self._trio_start()
        except BaseException:
            self._trio = None
            await run.exit()
            raise
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the node (trio mode) and wait until it has closed everything."""
        run, self._trio = self._trio, None
        if run is not None:
            await run.exit()
            self._say("kwire broker stopped")

    async def arestart(self) -> Broker:
        """`restart()` for a broker in trio mode."""
        run = self._trio
        if run is None:
            raise RuntimeError("arestart() is for a broker running in trio mode (`async with`)")
        await run.stop_node()
        await self._trio_start()
        return self

    async def _trio_start(self) -> None:
        assert self._trio is not None
        config = self._config_for_start()
        try:
            await self._trio.start_node(config, self.clock, self._log)
        except StartupError as error:
            if self._as_configured(config) or "cannot listen" not in str(error):
                raise
            self._say("port %d is taken now: the broker restarts on a new port", config.port)
            config.port, config.listener_specs = self.config.port, self.config.listener_specs
            await self._trio.start_node(config, self.clock, self._log)
        assert self._trio.node is not None
        self._bound_port = self._trio.node.port
        self._bound_ports = dict(self._trio.node.ports)
        self._say("kwire broker serving on %s (%s)", self._trio.node.bootstrap_servers, self._storage())

    def _storage(self) -> str:
        return "in memory" if self.config.data_dir is None else f"data in {self.config.data_dir}"

    def _say(self, message: str, *args: object) -> None:
        """An INFO line in this broker's log (also logged by the `kwire.broker` logger)."""
        record = logging.LogRecord("kwire.broker", logging.INFO, __file__, 0, message, args, None)
        if self._log.level <= logging.INFO:
            self._log.add(_CAPTURE.format(record))
        logging.getLogger("kwire.broker").info(message, *args, extra={"kwire_broker_log": False})

    def __repr__(self) -> str:
        where = self.bootstrap_servers if self.running else "stopped"
        storage = "memory" if self.config.data_dir is None else str(self.config.data_dir)
        return f"<kwire.Broker {where} ({storage})>"


def setting_text(value: object) -> str:
    """A Python value as `-o` takes it: booleans as Kafka's true/false, lists comma-separated."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(setting_text(item) for item in value)
    return str(value)


# --- the node in the current trio loop ---------------------------------------------------------------------------


class _TrioRun:
    """A nursery held open across `__aenter__`/`__aexit__` in which the node runs."""

    def __init__(self, log: _BrokerLog) -> None:
        self.node: Node | None = None
        self._capturing = _capturing(log)
        self._nursery_manager = trio.open_nursery()
        self._nursery: trio.Nursery | None = None
        self._ended: trio.Event | None = None

    async def enter(self) -> None:
        self._nursery = await self._nursery_manager.__aenter__()
        self._capturing.__enter__()

    async def start_node(self, config: BrokerConfig, clock: Clock, log: _BrokerLog) -> None:
        assert self._nursery is not None
        ended = trio.Event()

        async def run(*, task_status: trio.TaskStatus[Node] = trio.TASK_STATUS_IGNORED) -> None:
            try:
                await run_node(config, clock, task_status=task_status)
            finally:
                ended.set()

        token = _CURRENT_LOG.set(log)  # the node's tasks inherit it; this task gets it back below
        try:
            self.node = await self._nursery.start(run)
        finally:
            _CURRENT_LOG.reset(token)
        self._ended = ended

    async def stop_node(self) -> None:
        node, ended, self.node, self._ended = self.node, self._ended, None, None
        if node is not None and ended is not None:
            node.stop()
            with trio.CancelScope(shield=True):
                await ended.wait()

    async def exit(self) -> None:
        try:
            await self.stop_node()
        finally:
            self._capturing.__exit__()
            await self._nursery_manager.__aexit__(None, None, None)


# --- in a thread of its own ---------------------------------------------------------------------------------------


class _LoggingRunningNode(RunningNode):
    """RunningNode whose records are attributed to one broker's log."""

    def __init__(self, config: BrokerConfig, clock: Clock, log: _BrokerLog) -> None:
        super().__init__(config, clock)
        self._broker_log = log
        self._thread.name = f"kwire-broker-{config.node_id}"

    def _run(self) -> None:
        _CURRENT_LOG.set(self._broker_log)  # this thread's context: trio.run copies it into the node's tasks
        with _capturing(self._broker_log):
            super()._run()


# --- logs --------------------------------------------------------------------------------------------------------

_CURRENT_LOG: contextvars.ContextVar[_BrokerLog | None] = contextvars.ContextVar("kwire_broker_log", default=None)


class _BrokerLog:
    """The last LOG_LINES formatted records of one broker."""

    def __init__(self, level: int) -> None:
        self.level = level
        self._lines: collections.deque[str] = collections.deque(maxlen=LOG_LINES)
        self._lock = threading.Lock()
        self.total = 0  # lines ever added

    def add(self, line: str) -> None:
        with self._lock:
            self._lines.append(line)
            self.total += 1

    def text(self, since: int = 0) -> str:
        with self._lock:
            wanted = max(0, min(len(self._lines), self.total - since))
            return "\n".join(list(self._lines)[len(self._lines) - wanted :])


class _Capture(logging.Handler):
    """One handler on the `kwire` logger for every live broker: a record goes
    to the broker whose tasks logged it, or (from a thread of no broker) to
    every live broker."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(TextFormatter())  # an event's fields as key=value
        self.live: list[_BrokerLog] = []
        self.saved_level = logging.NOTSET

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "kwire_broker_log", True) is False:
            return  # already in its broker's log
        owner = _CURRENT_LOG.get()
        targets = [owner] if owner is not None else list(self.live)
        wanted = [log for log in targets if record.levelno >= log.level]
        if not wanted:
            return
        try:
            line = self.format(record)
        except Exception:  # a bad record must not break the broker
            self.handleError(record)
            return
        for log in wanted:
            log.add(line)


_CAPTURE = _Capture()
_CAPTURE_LOCK = threading.Lock()


class _capturing:
    """While a broker runs: its log is live, and the `kwire` logger lets its
    level through (the logger's own level comes back after the last broker)."""

    def __init__(self, log: _BrokerLog) -> None:
        self.log = log

    def __enter__(self) -> None:
        logger = logging.getLogger("kwire")
        with _CAPTURE_LOCK:
            if not _CAPTURE.live:
                _CAPTURE.saved_level = logger.level
                logger.addHandler(_CAPTURE)
                # The request log is Kafka's logger, outside `kwire` (kafka.request.logging=true turns it on).
                logging.getLogger(REQUEST_LOGGER).addHandler(_CAPTURE)
            _CAPTURE.live.append(self.log)
            if logger.getEffectiveLevel() > self.log.level:
                logger.setLevel(self.log.level)

    def __exit__(self, *exc_info: object) -> None:
        logger = logging.getLogger("kwire")
        with _CAPTURE_LOCK:
            _CAPTURE.live.remove(self.log)
            if not _CAPTURE.live:
                logger.removeHandler(_CAPTURE)
                logging.getLogger(REQUEST_LOGGER).removeHandler(_CAPTURE)
                logger.setLevel(_CAPTURE.saved_level)
