"""One node's state: what every request handler works on.

A node is its config, ONE clock (handed to everything that reads the time),
the cluster (topics, partitions, logs), the producer-id allocator, the group
and transaction services, topic deletion and partition growth, the
background log maintenance, the requests parked on long-polls, the
fault injector, the cache of encoded responses and the address
it advertises. Several nodes may live in one
process, each with its own state; nothing here is global.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable

from kwire.clock import SYSTEM_CLOCK, Clock
from kwire.cluster.cluster import Cluster
from kwire.cluster.controller import Controller
from kwire.cluster.log_maintenance import LogMaintenance
from kwire.config import BrokerConfig
from kwire.coordinator.groups_service import GroupsService
from kwire.coordinator.producer_ids import ProducerIdAllocator
from kwire.coordinator.transactions_service import TransactionsService
from kwire.faults import FaultInjector
from kwire.long_poll import Waiter, Waiters
from kwire.replication.replica_manager import ReplicaManager
from kwire.response_cache import ResponseCache
from kwire.topic_admin import TopicAdmin


class BrokerState:
    def __init__(self, config: BrokerConfig, clock: Clock = SYSTEM_CLOCK, controller: Controller | None = None) -> None:
        self.config = config
        self.clock = clock
        self.cluster = Cluster(config, clock, controller)
        self.waiters = Waiters()
        # A node of a multi-node cluster: producer ids from the controller's
        # one allocator, and the replicas this node leads or follows.
        self.replicas: ReplicaManager | None = None
        if controller is not None:
            self.producer_ids = controller.producer_ids
            self.replicas = ReplicaManager(self.cluster, controller, self.waiters.notify)
        else:
            self.producer_ids = ProducerIdAllocator(self.cluster.metadata, self.cluster.next_producer_id_floor)
        # Called on every partition notify (a multi-node cluster: followers may have something to copy).
        self.on_data: Callable[[], None] | None = None
        self.groups = GroupsService(config, self.cluster, self.notify, clock)
        self.maintenance = LogMaintenance(self.cluster, clock)
        self.transactions = TransactionsService(
            config,
            self.cluster,
            self.groups,
            self.producer_ids.allocate,
            self.notify,
            clock,
        )
        self.topic_admin = TopicAdmin(self.cluster, self.groups, self.transactions, self.notify)
        # Fault injection (kwire/faults/): rules tests add at run time, and the start-up flags.
        self.faults = FaultInjector(clock)
        self.faults.install_startup_flags(config.drop_produce_responses_every, config.exit_after_produce)
        # Client quotas (AlterClientQuotas; enforced on Produce, Fetch and every request's time).
        self.quotas = self.cluster.client_quotas
        self.advertised_host, self.advertised_port = config.advertised(config.port)
        self.cluster.topology.set_local_address(self.advertised_host, self.advertised_port)
        # Encoded response bodies, keyed on the request's shape and the
        # cluster's metadata version (bounded; dropped when the version moves).
        self.response_cache = ResponseCache(lambda: self.cluster.version)

    def set_bound_port(self, port: int) -> None:
        """The listener's real port (config port 0 picks a free one)."""
        self.advertised_host, self.advertised_port = self.config.advertised(port)
        self.cluster.topology.set_local_address(self.advertised_host, self.advertised_port)
        self.response_cache.clear()

    # --- long-poll waiters ---------------------------------------------

    def add_waiter(self, keys: Iterable[Hashable], waiter: Waiter) -> None:
        self.waiters.add(keys, waiter)

    def remove_waiter(self, keys: Iterable[Hashable], waiter: Waiter) -> None:
        self.waiters.remove(keys, waiter)

    def notify(self, key: Hashable) -> None:
        """Wake every long-poll waiting on `key` (a partition, or a group)."""
        self.waiters.notify(key)
        if self.on_data is not None:
            self.on_data()

    def notify_append(self, topic: str, partition: int) -> None:
        self.notify((topic, partition))

    # --- time and shutdown ---------------------------------------------

    def tick(self) -> None:
        """Timers: session expiry, rebalance deadlines, offset retention,
        log retention and compaction, transaction expiry."""
        self.groups.tick()
        self.maintenance.tick()
        self.transactions.tick()
        self.quotas.tick()

    def close(self) -> None:
        self.cluster.close()
