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

from collections.abc import Callable, Hashable, Iterable, Mapping

from kwire.clock import SYSTEM_CLOCK, Clock
from kwire.cluster.cluster import Cluster
from kwire.cluster.controller import Controller
from kwire.cluster.log_maintenance import LogMaintenance
from kwire.config import BrokerConfig
from kwire.coordinator.groups_service import GroupsService
from kwire.coordinator.offsets import OFFSETS_TOPIC, partition_for
from kwire.coordinator.producer_ids import ProducerIdAllocator
from kwire.coordinator.share.cluster_state_log import leadership_listener, state_log_access
from kwire.coordinator.share.share_service import ShareGroupsService
from kwire.coordinator.transaction_log import TRANSACTION_TOPIC
from kwire.coordinator.transactions_service import TransactionsService, local_marker_writer
from kwire.faults import FaultInjector
from kwire.long_poll import Waiter, Waiters
from kwire.observability.metrics import NodeMetrics, metrics_for
from kwire.observability.request_events import RequestObserver
from kwire.protocol.errors import ErrorCode
from kwire.replication.replica_manager import ReplicaManager
from kwire.response_cache import ResponseCache
from kwire.security.acls import AclAuthorizer, authorizer_wanted, parse_super_users
from kwire.security.authorizer import Authorizer
from kwire.telemetry.store import ClientTelemetryStore
from kwire.topic_admin import TopicAdmin


class BrokerState:
    def __init__(self, config: BrokerConfig, clock: Clock = SYSTEM_CLOCK, controller: Controller | None = None) -> None:
        self.config = config
        self.clock = clock
        # Checked before the data directory is opened: a bad setting stops start-up cleanly.
        wants_authorizer = authorizer_wanted(config.authorizer_class_name)
        super_users = parse_super_users(config.super_users)
        self.cluster = Cluster(config, clock, controller)
        self.waiters = Waiters()
        # Told of every request once answered (metrics, the request log): kwire/observability/.
        self.request_observers: list[RequestObserver] = []
        # Counting only with the HTTP port on (a do-nothing NodeMetrics otherwise);
        # a counting one watches requests through request_observers.
        self.metrics: NodeMetrics = metrics_for(self)
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
        # Other running nodes of the cluster (set by the cluster runtime): markers
        # and transaction checks go to the node that leads or coordinates.
        self.peers: Callable[[int], BrokerState | None] | None = None
        # A node of a cluster coordinates nothing until leadership of an internal partition arrives.
        owned: set[int] | None = set() if controller is not None else None  # None: every partition
        self.groups = GroupsService(config, self.cluster, self.notify, clock, owned=owned)
        # Share groups (KIP-932): their members, share sessions and share-partitions.
        self.share_groups = ShareGroupsService(
            config, self.cluster, self.notify, clock, state_log_access(self) if controller is not None else None
        )
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
            write_marker=self._write_marker if controller is not None else self.write_marker_locally,
            verify=self._verify_transaction if controller is not None else None,
        )
        if self.replicas is not None:
            # Leadership of an internal partition arriving or leaving moves its coordinator here or away.
            self.replicas.on_role_change.append(
                lambda partition, leads: self.coordinator_partition_moved(partition.topic_name, partition.index, leads)
            )
            self.replicas.on_role_change.append(leadership_listener(self))  # share-partitions move with leaders
        self.topic_admin = TopicAdmin(self.cluster, self.groups, self.transactions, self.notify)
        # Fault injection (kwire/faults/): rules tests add at run time, and the start-up flags.
        self.faults = FaultInjector(clock)
        self.faults.install_startup_flags(config.drop_produce_responses_every, config.exit_after_produce)
        # Client quotas (AlterClientQuotas; enforced on Produce, Fetch and every request's time).
        self.quotas = self.cluster.client_quotas
        # Client telemetry (KIP-714): client instances, their subscriptions and what they push.
        self.telemetry = ClientTelemetryStore(self.cluster.client_metrics)
        # SCRAM credentials (AlterUserScramCredentials); the SASL layer looks logins up here.
        self.scram_credentials = self.cluster.scram_credentials
        # ACL authorization (authorizer.class.name); None: every request is allowed.
        self.authorizer: Authorizer | None = None
        if wants_authorizer:
            self.authorizer = AclAuthorizer(self.cluster.acls, super_users, config.allow_everyone_if_no_acl_found)
        self.advertised_host, self.advertised_port = config.advertised(config.port)
        # Encoded response bodies, keyed on the request's shape and the
        # cluster's metadata version (bounded; dropped when the version moves).
        self.response_cache = ResponseCache(lambda: self.cluster.version)
        self.set_bound_ports({})  # what this node advertises until its listeners are bound

    def set_bound_port(self, port: int) -> None:
        """The first listener's real port (config port 0 picks a free one)."""
        self.set_bound_ports({self.config.listeners()[0].name: port})

    def set_bound_ports(self, ports: Mapping[str, int]) -> None:
        """The listeners' real ports by listener name (a port 0 picks a free
        one): what this node advertises on each."""
        listeners = self.config.listeners()
        self.advertised_host, self.advertised_port = self.config.advertised(
            ports.get(listeners[0].name, listeners[0].port)
        )
        endpoints = tuple(
            (spec.name, *self.config.advertised_for(spec, ports.get(spec.name, spec.port))) for spec in listeners
        )
        self.cluster.topology.set_local_address(self.advertised_host, self.advertised_port, endpoints)
        self.response_cache.clear()

    def coordinator_partition_moved(self, topic: str, index: int, leads: bool) -> None:
        """Leadership of a partition of `__consumer_offsets` or
        `__transaction_state` arrived here (`leads`) or left: its groups or
        transactions are loaded from this node's replica, or forgotten."""
        if topic == OFFSETS_TOPIC:
            (self.groups.load_partition if leads else self.groups.unload_partition)(index)
        elif topic == TRANSACTION_TOPIC:
            (self.transactions.load_partition if leads else self.transactions.unload_partition)(index)

    # --- a node of a cluster: what another node must do -----------------

    def _node(self, node_id: int) -> BrokerState | None:
        if node_id == self.config.node_id:
            return self
        return None if self.peers is None else self.peers(node_id)

    def _write_marker(
        self, topic: str, index: int, producer_id: int, producer_epoch: int, coordinator_epoch: int, commit: bool
    ) -> ErrorCode:
        """A transaction marker goes to the partition's leader (Kafka's WriteTxnMarkers)."""
        partition = self.cluster.partition(topic, index)
        if partition is None:
            return ErrorCode.unknown_topic_or_partition
        leader = self._node(partition.leader)
        if leader is None:
            return ErrorCode.not_leader_or_follower  # retried once a leader is back
        return leader.write_marker_locally(topic, index, producer_id, producer_epoch, coordinator_epoch, commit)

    def _verify_transaction(
        self, transactional_id: str, producer_id: int, producer_epoch: int, partitions: list[tuple[str, int]]
    ) -> ErrorCode:
        """KIP-890's check on the produce path, asked of the id's coordinator."""
        coordinator = self._transaction_coordinator(transactional_id)
        if coordinator is None:
            return ErrorCode.not_coordinator
        return coordinator.transactions.verify_locally(transactional_id, producer_id, producer_epoch, partitions)

    def check_transactional_producer(self, transactional_id: str, producer_id: int, producer_epoch: int) -> ErrorCode:
        """TxnOffsetCommit's question (asked at the group's coordinator): does
        this producer own the transactional id now? Its coordinator knows."""
        coordinator = self._transaction_coordinator(transactional_id)
        if coordinator is None:
            # Between coordinators: the client retries (as with a coordinator loading).
            return ErrorCode.coordinator_load_in_progress
        return coordinator.transactions.check_producer(transactional_id, producer_id, producer_epoch)

    def _transaction_coordinator(self, transactional_id: str) -> BrokerState | None:
        if self.cluster.controller is None:
            return self
        topic = self.cluster.get(TRANSACTION_TOPIC)
        if topic is None:
            return None
        return self._node(topic.partitions[partition_for(transactional_id, len(topic.partitions))].leader)

    # --- long-poll waiters ---------------------------------------------

    def add_waiter(self, keys: Iterable[Hashable], waiter: Waiter) -> None:
        self.waiters.add(keys, waiter)

    def remove_waiter(self, keys: Iterable[Hashable], waiter: Waiter) -> None:
        self.waiters.remove(keys, waiter)

    def notify(self, key: Hashable) -> None:
        """Wake every long-poll waiting on `key` (a partition, or a group).
        A node of a cluster: a partition's leader state learns its new log
        end (with no follower to wait for, the high watermark moves now),
        and the followers may have something to copy."""
        if self.replicas is not None and isinstance(key, tuple) and len(key) == 2 and isinstance(key[1], int):
            self.replicas.appended(key[0], key[1])
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
        self.share_groups.tick()
        self.maintenance.tick()
        self.transactions.tick()
        self.quotas.tick()

    def close(self) -> None:
        self.cluster.close()
