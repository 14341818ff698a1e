"""The broker node the server and the CLI run: one node's state plus the
dispatcher every request passes through, bytes in, bytes out.

The trio server (kwire/server/) owns sockets and timers; everything here is
plain Python that a test can drive without a socket.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping

from kwire.broker_state import BrokerState
from kwire.clock import SYSTEM_CLOCK, Clock
from kwire.cluster.cluster import Cluster
from kwire.cluster.controller import Controller
from kwire.cluster.log_maintenance import LogMaintenance
from kwire.config import BrokerConfig
from kwire.coordinator.groups_service import GroupsService
from kwire.coordinator.producer_ids import ProducerIdAllocator
from kwire.coordinator.transactions_service import TransactionsService
from kwire.dispatch import Dispatcher, Outcome, ProtocolViolation
from kwire.faults import EXIT_AFTER_PRODUCE_CODE
from kwire.handlers.base import ClientConnection
from kwire.long_poll import Waiter
from kwire.observability.request_events import RequestEvent
from kwire.protocol.registry import ApiRegistry
from kwire.response_cache import ResponseCache
from kwire.security.session import Session

__all__ = ["BrokerCore", "ProtocolViolation", "Waiter", "EXIT_AFTER_PRODUCE_CODE"]


class BrokerCore:
    """A node: `state` (what handlers work on) and `dispatcher` (frames to
    responses). The attributes below pass through to them, so the server,
    the CLI and tests keep one object to hold."""

    def __init__(self, config: BrokerConfig, clock: Clock = SYSTEM_CLOCK, controller: Controller | None = None) -> None:
        self.state = BrokerState(config, clock, controller)
        self.dispatcher = Dispatcher(self.state)

    # --- requests --------------------------------------------------------

    def handle_frame(
        self,
        request_frame: bytes,
        client_host: str = "",
        session: Session | None = None,
        event: RequestEvent | None = None,
        connection: ClientConnection | None = None,
    ) -> Outcome:
        """See Dispatcher.handle_frame; raises ProtocolViolation when the
        connection must be closed."""
        return self.dispatcher.handle_frame(request_frame, client_host, session, event, connection)

    def handle_raw_sasl_token(self, session: Session, token: bytes) -> Outcome:
        """See Dispatcher.handle_raw_sasl_token; raises ProtocolViolation on a failed authentication."""
        return self.dispatcher.handle_raw_sasl_token(session, token)

    def tick(self) -> None:
        self.state.tick()

    def seconds_to_next_tick(self, regular: float) -> float:
        """`regular` seconds, or less when a timer that must not wait for
        the regular tick (a group's initial rebalance delay) ends sooner."""
        timer = self.state.groups.next_timer()
        if timer is None:
            return regular
        return max(0.001, min(regular, timer - self.state.groups.now()))

    def close(self) -> None:
        self.state.close()

    # --- long-poll waiters and the listener --------------------------------

    def add_waiter(self, keys: Iterable[Hashable], waiter: Waiter) -> None:
        self.state.add_waiter(keys, waiter)

    def remove_waiter(self, keys: Iterable[Hashable], waiter: Waiter) -> None:
        self.state.remove_waiter(keys, waiter)

    def notify(self, key: Hashable) -> None:
        self.state.notify(key)

    def notify_append(self, topic: str, partition: int) -> None:
        self.state.notify_append(topic, partition)

    def set_bound_port(self, port: int) -> None:
        self.state.set_bound_port(port)

    def set_bound_ports(self, ports: Mapping[str, int]) -> None:
        self.state.set_bound_ports(ports)

    # --- the node's parts ----------------------------------------------------

    @property
    def registry(self) -> ApiRegistry:
        return self.dispatcher.registry

    @property
    def config(self) -> BrokerConfig:
        return self.state.config

    @property
    def clock(self) -> Clock:
        return self.state.clock

    @property
    def cluster(self) -> Cluster:
        return self.state.cluster

    @property
    def groups(self) -> GroupsService:
        return self.state.groups

    @property
    def transactions(self) -> TransactionsService:
        return self.state.transactions

    @property
    def producer_ids(self) -> ProducerIdAllocator:
        return self.state.producer_ids

    @property
    def maintenance(self) -> LogMaintenance:
        return self.state.maintenance

    @property
    def response_cache(self) -> ResponseCache:
        return self.state.response_cache

    @property
    def advertised_host(self) -> str:
        return self.state.advertised_host

    @property
    def advertised_port(self) -> int:
        return self.state.advertised_port
