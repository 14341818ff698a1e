"""The transaction coordinator wired to the broker: its state in
`__transaction_state`, its markers in the partitions' logs, transactional
offset commits in the group coordinator's store.

Handlers use the operations here (`init_producer_id`, `add_partitions`,
`end_transaction`, `check_producer`, `transaction`, `transactions`), never
the coordinator behind them; each operation reads the node's clock.

A node coordinates the transactional ids of the `__transaction_state`
partitions it leads (`owned`; None, a lone node's default, means all),
loading a partition's transactions from its replica of the log when the
leadership arrives (`load_partition`) and forgetting them when it leaves
(`unload_partition`); the producer's requests for an id owned elsewhere get
NOT_COORDINATOR. Markers go through `write_marker` (a MarkerWriter), by
default `local_marker_writer`: a node of a cluster passes one that routes
each marker to the partition's leader; likewise `verify` (a TxnVerifier) for
the produce path's question to the coordinator."""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable

from kwire.clock import Clock, Every
from kwire.cluster.cluster import Cluster, Partition
from kwire.config import BrokerConfig
from kwire.coordinator.groups_service import GroupsService
from kwire.coordinator.offsets import OFFSETS_TOPIC, partition_for
from kwire.coordinator.transaction_coordinator import TransactionCoordinator, TransactionSettings
from kwire.coordinator.transaction_log import (
    TRANSACTION_TOPIC,
    TxnMetadata,
    parse_txn_key,
    parse_txn_value,
    txn_key,
    txn_value,
)
from kwire.log.keyed_records import append_keyed_records, iter_keyed_records
from kwire.log.partition_log import PartitionLog
from kwire.log.storage_errors import StorageError
from kwire.protocol.control_batches import build_marker
from kwire.protocol.errors import ErrorCode
from kwire.protocol.records import BatchHeader, parse_header

E = ErrorCode
log = logging.getLogger("kwire.transactions")

# write_marker(topic, partition, producer_id, producer_epoch, coordinator_epoch, commit) -> error:
# a transaction marker in the partition's log, written by its leader (Kafka's WriteTxnMarkers).
# UNKNOWN_TOPIC_OR_PARTITION means the partition no longer exists (no marker is due); any
# other error is retried until the marker is written.
MarkerWriter = Callable[[str, int, int, int, int, bool], ErrorCode]
# verify(transactional_id, producer_id, producer_epoch, partitions) -> error: are the partitions in the
# producer's ongoing transaction? Asked of the id's coordinator (AddPartitionsToTxn v4 verify_only)
# by the produce path of the partitions' leader.
TxnVerifier = Callable[[str, int, int, list[tuple[str, int]]], ErrorCode]


def local_marker_writer(
    cluster: Cluster, groups: GroupsService, notify: Callable[[Hashable], None], clock: Clock
) -> MarkerWriter:
    """Markers written on this node, the leader of the partition: what the
    node does for a WriteTxnMarkers, and for a lone node all there is."""

    def write_marker(
        topic: str, index: int, producer_id: int, producer_epoch: int, coordinator_epoch: int, commit: bool
    ) -> ErrorCode:
        partition = cluster.partition(topic, index)
        if partition is None:
            return E.unknown_topic_or_partition
        if not cluster.leads(topic, index):
            return E.not_leader_or_follower
        batch = build_marker(producer_id, producer_epoch, commit, clock.wall_ms(), coordinator_epoch)
        try:
            partition.log.append(batch, parse_header(batch), partition.leader_epoch)
        except StorageError:
            return E.kafka_storage_error  # the coordinator logs the wait once and retries
        notify((topic, index))
        if topic == OFFSETS_TOPIC:  # the group coordinator of that partition learns the outcome
            groups.offsets.complete_transaction(producer_id, commit, index)
        return E.none

    return write_marker


_MARKER_RETRY_MS = 500  # how often markers that could not be written are tried again


class TransactionsService:
    def __init__(
        self,
        config: BrokerConfig,
        cluster: Cluster,
        groups: GroupsService,
        allocate_producer_id: Callable[[], int],
        notify: Callable[[Hashable], None],
        clock: Clock,
        owned: set[int] | None = None,
        write_marker: MarkerWriter | None = None,
        verify: TxnVerifier | None = None,
    ) -> None:
        self.config = config
        self.cluster = cluster
        self.groups = groups
        self.clock = clock
        self._notify = notify
        self._write_marker = write_marker or local_marker_writer(cluster, groups, notify, clock)
        self._verify = verify or self.verify_locally
        now = clock.monotonic()
        self._marker_retry = Every(_MARKER_RETRY_MS, now)
        self._expiry_check = Every(config.transaction_abort_timed_out_transaction_cleanup_interval_ms, now)
        self._id_expiry_check = Every(config.transaction_remove_expired_transaction_cleanup_interval_ms, now)
        # Partitions whose marker is written, per transaction still completing
        # (a retry after a failed marker writes only the missing ones).
        self._markers_written: dict[str, set[tuple[str, int]]] = {}
        self.coordinator = TransactionCoordinator(
            TransactionSettings(max_timeout_ms=config.transaction_max_timeout_ms),
            allocate_producer_id,
            self._persist,
            self._write_markers,
        )
        self._owned: set[int] | None = None if owned is None else set()
        topic = cluster.get(TRANSACTION_TOPIC)
        if owned is None and topic is not None:
            loaded: dict[str, TxnMetadata] = {}
            for partition in topic.partitions:
                loaded.update(self._replay(partition.log))
            self.coordinator.recover(loaded, clock.wall_ms())
        for index in sorted(owned or ()):
            self.load_partition(index)

    # --- which transactional ids this node coordinates ---------------------------

    def partition_of(self, transactional_id: str) -> int:
        topic = self.cluster.get(TRANSACTION_TOPIC)
        count = len(topic.partitions) if topic is not None else self.config.transaction_state_log_num_partitions
        return partition_for(transactional_id, count)

    def owns(self, transactional_id: str) -> bool:
        return self._owned is None or self.partition_of(transactional_id) in self._owned

    def coordinator_error(self, transactional_id: str) -> ErrorCode:
        """NOT_COORDINATOR for an id another node coordinates, else none
        (loading is done within `load_partition`: never LOAD_IN_PROGRESS)."""
        return E.none if self.owns(transactional_id) else E.not_coordinator

    def load_partition(self, index: int) -> None:
        """Leadership of `__transaction_state` partition `index` arrived: its
        transactions are read from this node's replica of the log, and the
        prepared ones completed (markers, then Complete)."""
        if self._owned is None or index in self._owned:
            return  # loaded already
        self._owned.add(index)
        topic = self.cluster.get(TRANSACTION_TOPIC)
        if topic is not None and index < len(topic.partitions):
            self.coordinator.recover(self._replay(topic.partitions[index].log), self.clock.wall_ms())

    def unload_partition(self, index: int) -> None:
        """Leadership of partition `index` left this node: its transactional
        ids are forgotten here."""
        if self._owned is None:
            topic = self.cluster.get(TRANSACTION_TOPIC)
            count = len(topic.partitions) if topic is not None else self.config.transaction_state_log_num_partitions
            self._owned = set(range(count))
        self._owned.discard(index)
        leaving = {tid for tid in self.coordinator.transactions if self.partition_of(tid) == index}
        leaving |= {tid for tid in self._markers_written if self.partition_of(tid) == index}
        self.coordinator.unload(leaving)
        for transactional_id in leaving:
            self._markers_written.pop(transactional_id, None)

    @staticmethod
    def _replay(log: PartitionLog) -> dict[str, TxnMetadata]:
        loaded: dict[str, TxnMetadata] = {}
        for key, value in iter_keyed_records(log):
            transactional_id = parse_txn_key(key)
            if transactional_id is None:
                continue
            if value is None:
                loaded.pop(transactional_id, None)
            else:
                loaded[transactional_id] = parse_txn_value(transactional_id, value)
        return loaded

    # --- the coordinator's side effects -------------------------------------

    def _state_partition(self, transactional_id: str) -> Partition:
        topic = self.cluster.internal_topic(TRANSACTION_TOPIC)
        return topic.partitions[partition_for(transactional_id, len(topic.partitions))]

    def state_partition(self, transactional_id: str) -> tuple[str, int]:
        """The `__transaction_state` partition that holds the id."""
        return TRANSACTION_TOPIC, self._state_partition(transactional_id).index

    def _state_log(self, transactional_id: str) -> PartitionLog:
        return self._state_partition(transactional_id).log

    def _persist(self, meta: TxnMetadata) -> None:
        append_keyed_records(
            self._state_log(meta.transactional_id), [(txn_key(meta.transactional_id), txn_value(meta))]
        )

    def _write_markers(self, meta: TxnMetadata, commit: bool) -> None:
        """A marker in every partition of the transaction; raises
        StorageError at the first that cannot be written (retried later)."""
        # Kafka's coordinator epoch: the leader epoch of the id's partition of `__transaction_state`.
        coordinator_epoch = self._state_partition(meta.transactional_id).leader_epoch
        written = self._markers_written.setdefault(meta.transactional_id, set())
        for topic_name, index in sorted(meta.partitions - written):
            error = self._write_marker(
                topic_name, index, meta.producer_id, meta.producer_epoch, coordinator_epoch, commit
            )
            if error not in (E.none, E.unknown_topic_or_partition):  # a partition gone needs no marker
                raise StorageError(f"the marker for {topic_name}-{index} was not written: {error.name.upper()}")
            written.add((topic_name, index))
        del self._markers_written[meta.transactional_id]
        log.info(
            "%s transaction of %s (producer %d, epoch %d) in %d partition(s)",
            "Committed" if commit else "Aborted",
            meta.transactional_id,
            meta.producer_id,
            meta.producer_epoch,
            len(meta.partitions),
        )

    # --- the transactional producer's requests ---------------------------------------

    def init_producer_id(
        self, transactional_id: str, timeout_ms: int, producer_id: int, producer_epoch: int
    ) -> tuple[ErrorCode, int, int]:
        """(error, producer id, epoch) for a transactional producer."""
        # Kafka checks the arguments before whether it coordinates the id.
        error = self.coordinator.init_arguments_error(transactional_id, timeout_ms)
        if error == E.none and not self.owns(transactional_id):
            return E.not_coordinator, -1, -1
        return self.coordinator.init_producer_id(
            transactional_id, timeout_ms, producer_id, producer_epoch, self.clock.wall_ms()
        )

    def add_partitions(
        self,
        transactional_id: str,
        producer_id: int,
        producer_epoch: int,
        partitions: list[tuple[str, int]],
        verify_only: bool = False,
    ) -> ErrorCode:
        if not self.owns(transactional_id):
            return E.not_coordinator
        return self.coordinator.add_partitions(
            transactional_id, producer_id, producer_epoch, partitions, self.clock.wall_ms(), verify_only
        )

    def end_transaction(self, transactional_id: str, producer_id: int, producer_epoch: int, commit: bool) -> ErrorCode:
        if not self.owns(transactional_id):
            return E.not_coordinator
        return self.coordinator.end_transaction(
            transactional_id, producer_id, producer_epoch, commit, self.clock.wall_ms()
        )

    def check_producer(self, transactional_id: str, producer_id: int, producer_epoch: int) -> ErrorCode:
        """Whether this producer (id and epoch) owns the transactional id now."""
        return self.coordinator.check_producer(transactional_id, producer_id, producer_epoch)

    def on_topics_deleted(self, topics: set[str]) -> None:
        """Deleted topics leave the open transactions: no marker is due in
        their partitions (a new topic of the same name must get none)."""
        self.coordinator.forget_partitions(topics)
        for written in self._markers_written.values():
            written -= {partition for partition in written if partition[0] in topics}

    # --- operators' views -------------------------------------------------------

    def transaction(self, transactional_id: str) -> TxnMetadata | None:
        return self.coordinator.transactions.get(transactional_id)

    def transactions(self) -> list[TxnMetadata]:
        return list(self.coordinator.transactions.values())

    # --- the produce path ---------------------------------------------------------

    def verify_first_write(self, transactional_id: str, header: BatchHeader, partition: tuple[str, int]) -> ErrorCode:
        """The error for a transactional batch that would open a transaction
        in `partition` (ErrorCode.none to write it), as Kafka's produce path
        answers after asking the coordinator (KIP-890 part 1)."""
        if not self.config.transaction_partition_verification_enable:
            return E.none
        error = self._verify(transactional_id, header.producer_id, header.producer_epoch, [partition])
        if error in (E.producer_fenced, E.invalid_producer_id_mapping):
            return E.invalid_producer_epoch
        if error in (E.concurrent_transactions, E.not_coordinator):
            return E.not_enough_replicas  # retriable for every produce version
        return error

    def verify_locally(
        self, transactional_id: str, producer_id: int, producer_epoch: int, partitions: list[tuple[str, int]]
    ) -> ErrorCode:
        """This node's answer, as the id's coordinator, to a verification
        (NOT_COORDINATOR for an id owned elsewhere)."""
        return self.add_partitions(transactional_id, producer_id, producer_epoch, partitions, verify_only=True)

    # --- offsets -------------------------------------------------------------

    def offsets_partition(self, group_id: str) -> tuple[str, int]:
        """The `__consumer_offsets` partition AddOffsetsToTxn adds."""
        return self.groups.offsets_partition(group_id)

    # --- time ------------------------------------------------------------------

    def tick(self) -> None:
        # When a job is due goes by monotonic time; transaction deadlines and
        # timestamps are wall-clock milliseconds, as Kafka keeps them.
        due_at = self.clock.monotonic()
        now = self.clock.wall_ms()
        if self._marker_retry.due(due_at):
            self.coordinator.retry_pending(now)
        if not self._expiry_check.due(due_at):
            return
        for transactional_id in self.coordinator.expire(now):
            log.info("Aborted the transaction of %s: it outlived transaction.timeout.ms", transactional_id)
        if self._id_expiry_check.due(due_at):
            for transactional_id in self.coordinator.remove_expired_ids(
                now, self.config.transactional_id_expiration_ms, self._write_tombstone
            ):
                log.info("Removed transactional id %s: unused for transactional.id.expiration.ms", transactional_id)

    def _write_tombstone(self, transactional_id: str) -> None:
        append_keyed_records(self._state_log(transactional_id), [(txn_key(transactional_id), None)])
