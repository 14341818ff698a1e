"""One node's state: what every request handler works on.

A node is its config, ONE clock (handed to everything that reads the time),
the cluster (topics, partitions, logs), the producer-id allocator, the group
and transaction services, topic deletion and partition growth, the
background log maintenance, the requests parked on long-polls, the
fault injector, the cache of encoded responses and the address
it advertises. Several nodes may live in one
process, each with its own state; nothing here is global.

A lone node coordinates every group and transactional id. A node of a
cluster (`in_cluster`) coordinates those of the `__consumer_offsets` and
`__transaction_state` partitions it leads: whoever drives leadership calls
`coordinator_partition_moved` when one arrives or leaves, and passes a
`write_marker` that routes each transaction marker to the partition's
leader, whose `write_marker_locally` writes it, and a `verify_transaction`
that asks the transactional id's coordinator (its `transactions.verify_locally`)
what the produce path must know.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

from kwire.clock import SYSTEM_CLOCK, Clock
from kwire.cluster.cluster import Cluster
from kwire.cluster.log_maintenance import LogMaintenance
from kwire.config import BrokerConfig
from kwire.coordinator.groups_service import GroupsService
from kwire.coordinator.offsets import OFFSETS_TOPIC
from kwire.coordinator.producer_ids import ProducerIdAllocator
from kwire.coordinator.transaction_log import TRANSACTION_TOPIC
from kwire.coordinator.transactions_service import (
    MarkerWriter,
    TransactionsService,
    TxnVerifier,
    local_marker_writer,
)
from kwire.faults import FaultInjector
from kwire.long_poll import Waiter, Waiters
from kwire.response_cache import ResponseCache
from kwire.topic_admin import TopicAdmin


class BrokerState:
    def __init__(
        self,
        config: BrokerConfig,
        clock: Clock = SYSTEM_CLOCK,
        *,
        in_cluster: bool = False,
        write_marker: MarkerWriter | None = None,
        verify_transaction: TxnVerifier | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.cluster = Cluster(config, clock)
        self.producer_ids = ProducerIdAllocator(self.cluster.metadata, self.cluster.next_producer_id_floor)
        self.waiters = Waiters()
        owned: set[int] | None = set() if in_cluster else None  # None: every partition
        self.groups = GroupsService(config, self.cluster, self.notify, clock, owned=owned)
        self.maintenance = LogMaintenance(self.cluster, clock)
        # A marker for a partition this node leads (what a WriteTxnMarkers does here).
        self.write_marker_locally = local_marker_writer(self.cluster, self.groups, self.notify, clock)
        self.transactions = TransactionsService(
            config,
            self.cluster,
            self.groups,
            self.producer_ids.allocate,
            self.notify,
            clock,
            owned=owned,
            write_marker=write_marker or self.write_marker_locally,
            verify=verify_transaction,
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

    def coordinator_partition_moved(self, topic: str, index: int, leads: bool) -> None:
        """Leadership of a partition of `__consumer_offsets` or
        `__transaction_state` arrived here (`leads`) or left: its groups or
        transactions are loaded from this node's replica, or forgotten."""
        if topic == OFFSETS_TOPIC:
            (self.groups.load_partition if leads else self.groups.unload_partition)(index)
        elif topic == TRANSACTION_TOPIC:
            (self.transactions.load_partition if leads else self.transactions.unload_partition)(index)

    # --- long-poll waiters ---------------------------------------------

    def add_waiter(self, keys: Iterable[Hashable], waiter: Waiter) -> None:
        self.waiters.add(keys, waiter)

    def remove_waiter(self, keys: Iterable[Hashable], waiter: Waiter) -> None:
        self.waiters.remove(keys, waiter)

    def notify(self, key: Hashable) -> None:
        """Wake every long-poll waiting on `key` (a partition, or a group)."""
        self.waiters.notify(key)

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
