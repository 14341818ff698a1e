"""One kwire node in a thread of its own, for programs that do not run trio
(a test suite, a script):

    with start_node_in_thread(BrokerConfig(port=0, data_dir=None)) as node:
        ...  # clients connect to node.bootstrap_servers

`start_node_in_thread` returns once the node serves, or raises in the
caller what stopped it from starting (a StartupError); `stop()` ends the
node, waits until everything it opened is closed, and raises what made the
node fail, if something did. Each node runs its own trio loop in its own
thread, so several can run at once (each with its own port and data
directory, or in memory).
"""

from __future__ import annotations

import threading
from types import TracebackType

import trio

from kwire.clock import SYSTEM_CLOCK, Clock
from kwire.config import BrokerConfig
from kwire.server.node import Node, run_node

# Opening a data directory may mean recovering it after a crash; closing one
# may wait for fsyncs (the core waits up to 30 s for background flushes).
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0


class RunningNode:
    """A node running in its own thread; see `start_node_in_thread`."""

    def __init__(self, config: BrokerConfig, clock: Clock = SYSTEM_CLOCK) -> None:
        self.config = config
        self.clock = clock
        self._lock = threading.Lock()
        self._started = threading.Event()  # serving, or failed to
        self._node: Node | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop_asked = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"kwire-node-{config.node_id}", daemon=True)

    @property
    def port(self) -> int:
        return self._running().port

    @property
    def ports(self) -> dict[str, int]:
        """Every listener's bound port by name."""
        return self._running().ports

    @property
    def bootstrap_servers(self) -> str:
        return self._running().bootstrap_servers

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop the node and wait (at most `timeout_s`, then TimeoutError)
        until it has closed everything; raises what made it fail, if
        something did. Stopping a stopped node does nothing."""
        self._ask_to_stop()
        if self._thread.ident is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                raise TimeoutError(f"the kwire node did not stop within {timeout_s} s")
        self._raise_error()

    def __enter__(self) -> RunningNode:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<kwire node {self.config.node_id} in thread {self._thread.name}: {self._node!r}>"

    def _start(self, timeout_s: float) -> None:
        self._thread.start()
        if not self._started.wait(timeout_s):
            self._ask_to_stop()  # (if it is not up yet, it stops as soon as it is)
            raise TimeoutError(f"the kwire node did not start within {timeout_s} s")
        if self._node is None:  # it failed to start
            self._thread.join(timeout_s)
            self._raise_error()

    def _ask_to_stop(self) -> None:
        """Stop it now if it is up, else as soon as it is (from any thread)."""
        with self._lock:
            self._stop_asked = True
            node, token = self._node, self._token
        if node is not None and token is not None:
            try:
                token.run_sync_soon(node.stop)
            except trio.RunFinishedError:
                pass  # it had already ended

    def _running(self) -> Node:
        if self._node is None:
            raise RuntimeError("the kwire node is not running")
        return self._node

    def _raise_error(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise alone(error)

    def _run(self) -> None:
        try:
            trio.run(self._serve)
        except BaseException as error:  # handed to the caller of start or stop
            self._error = error
        finally:
            self._started.set()

    async def _serve(self) -> None:
        async with trio.open_nursery() as nursery:
            node: Node = await nursery.start(run_node, self.config, self.clock)
            with self._lock:
                self._node, self._token = node, trio.lowlevel.current_trio_token()
                if self._stop_asked:
                    node.stop()
            self._started.set()


def start_node_in_thread(
    config: BrokerConfig, timeout_s: float = START_TIMEOUT_S, clock: Clock = SYSTEM_CLOCK
) -> RunningNode:
    """Start a node in a new thread; returns once it serves. Raises what
    stopped it from starting (a StartupError), or TimeoutError after
    `timeout_s` (the node then stops by itself once it is up)."""
    node = RunningNode(config, clock)
    node._start(timeout_s)
    return node


def alone(error: BaseException) -> BaseException:
    """The one exception inside nested single-member groups (trio wraps
    whatever a task raises), or the group itself when it holds several."""
    while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
        error = error.exceptions[0]
    return error
