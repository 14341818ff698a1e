"""The controller of a multi-node cluster in one process (KRaft's active
controller): the one writer of cluster metadata, and where leaders are
elected.

It keeps the authoritative metadata log in `<data dir>/controller/`
(KRaft's `__cluster_metadata-0`). Each node keeps its own copy, appended
with the controller's batches as a KRaft broker replicates that log, and
replays it at start-up (Cluster.follow_controller). Nodes register when
they start and are fenced when they stop (what KRaft's broker heartbeats
decide); on both, and when a leader reports an ISR change (AlterPartition),
the controller writes PartitionState records and every running node applies
them at once.

Elections follow Kafka's rules: the new leader is the first live replica,
in assignment order, that is in the ISR; a fenced broker leaves every ISR
unless it is the last member (then the partition has no leader, -1, and
waits for it); with `unclean.leader.election.enable` (broker default or
topic override) a live replica outside the ISR may lead instead.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from kwire.clock import SYSTEM_CLOCK, Clock
from kwire.cluster.data_dir import DataDirLocks
from kwire.cluster.meta_files import base64_uuid, read_meta_properties, write_meta_properties
from kwire.cluster.metadata_log import (
    METADATA_TOPIC,
    MetadataLog,
    MetadataSnapshot,
    PartitionState,
    QuotaEntity,
    TopicRecord,
)
from kwire.cluster.topology import BrokerEndpoint
from kwire.config import BrokerConfig
from kwire.coordinator.producer_ids import ProducerIdAllocator
from kwire.log import PartitionLog
from kwire.log.config import LogConfig
from kwire.log.files import partition_dir_name
from kwire.protocol.errors import ErrorCode
from kwire.security.acls import AclBinding
from kwire.security.credentials import ScramCredential

log = logging.getLogger("kwire.controller")

CONTROLLER_DIR = "controller"
PREFERRED, UNCLEAN = 0, 1  # ElectLeaders' election types
_METADATA_LOG_CONFIG = LogConfig(segment_bytes=64 * 1024 * 1024)

PartitionKey = tuple[uuid.UUID, int]


class Controller:
    """The cluster's metadata and elections; `config` is the cluster's base
    config (its data_dir is the cluster's root directory)."""

    def __init__(self, config: BrokerConfig, clock: Clock = SYSTEM_CLOCK) -> None:
        self.config = config
        self.clock = clock
        self.directory = None if config.data_dir is None else Path(config.data_dir) / CONTROLLER_DIR
        self._lock: DataDirLocks | None = None
        if self.directory is None:
            self.cluster_id = base64_uuid(uuid.uuid4())
            metadata_log = PartitionLog.in_memory(_METADATA_LOG_CONFIG, clock)
        else:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._lock = DataDirLocks.acquire((self.directory,))
            found = read_meta_properties(self.directory)
            self.cluster_id = found["cluster.id"] if found is not None else base64_uuid(uuid.uuid4())
            if found is None:
                write_meta_properties(self.directory, self.cluster_id, 0)
            metadata_log = PartitionLog.open(
                self.directory / partition_dir_name(METADATA_TOPIC, 0), _METADATA_LOG_CONFIG, clock=clock
            )
        self.metadata = MetadataLog(metadata_log)
        self.snapshot: MetadataSnapshot = self.metadata.replay()
        self._replayed = metadata_log.log_end_offset  # the snapshot covers the log up to here
        self._index_topics()
        # Producer ids come from one allocator, so no two nodes hand out the same.
        self.producer_ids = ProducerIdAllocator(self.metadata, self.snapshot.next_producer_id)
        # Registered (unfenced) brokers, and how each running node applies new metadata.
        self.live: dict[int, BrokerEndpoint] = {}
        self.shutting_down: set[int] = set()  # still listed, but leading nothing and in no ISR
        self._followers: dict[int, Callable[[], None]] = {}
        self.on_change: list[Callable[[], None]] = []  # after every publish (the runtime wakes fetchers)
        self.fenced_isr_removals = 0  # ISR shrinks the controller made (a stopped broker leaving the ISRs)

    # --- nodes ---------------------------------------------------------------

    def attach(self, node_id: int, follow: Callable[[], None]) -> None:
        """A running node's Cluster: told to catch up after each change."""
        self._followers[node_id] = follow

    def detach(self, node_id: int) -> None:
        self._followers.pop(node_id, None)

    def register(self, endpoint: BrokerEndpoint) -> None:
        """A node serves (KRaft: its registration, then unfenced): leaderless
        partitions it can lead get it as leader."""
        self.live[endpoint.node_id] = endpoint
        self.shutting_down.discard(endpoint.node_id)
        log.info("Broker %d registered at %s:%d", endpoint.node_id, endpoint.host, endpoint.port)
        changes: dict[PartitionKey, PartitionState | None] = {}
        for key, state in self.snapshot.partition_states.items():
            if state.leader != -1:
                continue
            elected = self._elect(key, state, avoid=None)
            if elected is not None:
                changes[key] = elected
        self._write_states(changes, f"broker {endpoint.node_id} registered")

    def fence(self, node_id: int) -> None:
        """A node is gone (stopped or crashed): it is no longer listed, and
        what it led moves, as `shut_down` does."""
        self.shutting_down.discard(node_id)
        self.live.pop(node_id, None)
        log.info("Broker %d fenced", node_id)
        self._move_away(node_id, f"broker {node_id} fenced", gone=True)

    def shut_down(self, node_id: int) -> None:
        """Kafka's controlled shutdown: leadership moves off the node and it
        leaves the ISRs while it still serves (answering NOT_LEADER_OR_FOLLOWER
        with the new leaders), until `fence` once it has stopped."""
        self.shutting_down.add(node_id)
        log.info("Broker %d shutting down", node_id)
        self._move_away(node_id, f"broker {node_id} shutting down", gone=False)

    def eligible(self, node_id: int) -> bool:
        """May lead and join ISRs: registered and not shutting down."""
        return node_id in self.live and node_id not in self.shutting_down

    def _move_away(self, node_id: int, why: str, gone: bool) -> None:
        """Leadership to another in-sync replica and the node out of the ISRs;
        a partition nobody else can lead stays with a node still `gone`=False
        (as Kafka's controlled shutdown leaves it) and is offline once it is gone."""
        changes: dict[PartitionKey, PartitionState | None] = {}
        for key, state in self.snapshot.partition_states.items():
            if state.leader == node_id:
                elected = self._elect(key, state, avoid=node_id)
                if elected is None and not gone:
                    continue
                changes[key] = elected or PartitionState(
                    -1, state.leader_epoch + 1, state.isr, state.partition_epoch + 1
                )
            elif node_id in state.isr and len(state.isr) > 1:
                self.fenced_isr_removals += 1
                isr = tuple(replica for replica in state.isr if replica != node_id)
                changes[key] = PartitionState(state.leader, state.leader_epoch, isr, state.partition_epoch + 1)
        self._write_states(changes, why)

    def endpoints(self) -> dict[int, BrokerEndpoint]:
        return dict(self.live)

    # --- elections -------------------------------------------------------------

    def replicas_of(self, key: PartitionKey) -> tuple[int, ...]:
        record = self._topic_by_id(key[0])
        if record is None or key[1] >= len(record.replicas):
            return ()
        return record.replicas[key[1]]

    def _elect(self, key: PartitionKey, state: PartitionState, avoid: int | None) -> PartitionState | None:
        """A new leader (epoch + 1) from the live in-sync replicas, or by an
        unclean election where the topic allows it; None: nobody can lead."""
        candidates = [node for node in self.replicas_of(key) if self.eligible(node) and node != avoid]
        for node in candidates:
            if node in state.isr:
                isr = tuple(r for r in state.isr if r != avoid) or (node,)
                return PartitionState(node, state.leader_epoch + 1, isr, state.partition_epoch + 1)
        if candidates and self._unclean_allowed(key):
            log.warning("Unclean leader election: broker %d leads %s without being in sync", candidates[0], key)
            return PartitionState(candidates[0], state.leader_epoch + 1, (candidates[0],), state.partition_epoch + 1)
        return None

    def _unclean_allowed(self, key: PartitionKey) -> bool:
        record = self._topic_by_id(key[0])
        value = None if record is None else record.configs.get("unclean.leader.election.enable")
        if value is None:
            return self.config.unclean_leader_election_enable
        return value.lower() == "true"

    def elect(self, key: PartitionKey, election_type: int) -> tuple[ErrorCode, str | None]:
        """ElectLeaders for one partition, with Kafka's answers."""
        state = self.snapshot.partition_states.get(key)
        if state is None:
            return ErrorCode.unknown_topic_or_partition, None
        if election_type == PREFERRED:
            preferred = self.replicas_of(key)[0]
            if state.leader == preferred:
                return ErrorCode.election_not_needed, None
            if not self.eligible(preferred) or preferred not in state.isr:
                return ErrorCode.preferred_leader_not_available, (
                    f"Failed to elect leader for partition; the preferred replica {preferred} is not available"
                )
            self._write_states({key: self._lead(state, preferred)}, "preferred leader election")
            return ErrorCode.none, None
        if state.leader != -1:
            return ErrorCode.election_not_needed, None
        candidates = [node for node in self.replicas_of(key) if self.eligible(node)]
        if not candidates:
            return ErrorCode.eligible_leaders_not_available, "No live replica can lead the partition"
        in_sync = [node for node in candidates if node in state.isr]
        leader = (in_sync or candidates)[0]
        isr = state.isr if in_sync else (leader,)
        new = PartitionState(leader, state.leader_epoch + 1, isr, state.partition_epoch + 1)
        self._write_states({key: new}, "unclean leader election")
        return ErrorCode.none, None

    def move_leader(self, key: PartitionKey, node_id: int) -> tuple[ErrorCode, str | None]:
        """The `kwire cluster` control: make an in-sync live replica the leader."""
        state = self.snapshot.partition_states.get(key)
        if state is None:
            return ErrorCode.unknown_topic_or_partition, None
        if state.leader == node_id:
            return ErrorCode.election_not_needed, None
        if not self.eligible(node_id) or node_id not in state.isr:
            return ErrorCode.preferred_leader_not_available, f"Broker {node_id} is not a live in-sync replica"
        self._write_states({key: self._lead(state, node_id)}, f"leadership moved to broker {node_id}")
        return ErrorCode.none, None

    def rebalance_preferred_leaders(self) -> int:
        """auto.leader.rebalance.enable: each partition whose preferred
        replica is live, in sync and not leading gets it back; how many."""
        changes: dict[PartitionKey, PartitionState | None] = {}
        for key, state in self.snapshot.partition_states.items():
            replicas = self.replicas_of(key)
            if not replicas:
                continue
            preferred = replicas[0]
            if state.leader != preferred and self.eligible(preferred) and preferred in state.isr:
                changes[key] = self._lead(state, preferred)
        self._write_states(changes, "preferred leaders restored")
        return len(changes)

    @staticmethod
    def _lead(state: PartitionState, node_id: int) -> PartitionState:
        return PartitionState(node_id, state.leader_epoch + 1, state.isr, state.partition_epoch + 1)

    def alter_isr(self, key: PartitionKey, leader: int, leader_epoch: int, isr: Iterable[int]) -> ErrorCode:
        """AlterPartition from a partition's leader: its new ISR (fenced
        brokers are never added)."""
        state = self.snapshot.partition_states.get(key)
        if state is None:
            return ErrorCode.unknown_topic_or_partition
        if state.leader != leader or state.leader_epoch != leader_epoch:
            return ErrorCode.fenced_leader_epoch
        proposed = tuple(node for node in isr if self.eligible(node) or node == leader)
        if not proposed or proposed == state.isr:
            return ErrorCode.none
        new = PartitionState(state.leader, state.leader_epoch, proposed, state.partition_epoch + 1)
        self._write_states({key: new}, f"ISR of {self._name(key)} now {list(proposed)}")
        return ErrorCode.none

    # --- metadata changes nodes ask for -----------------------------------------

    def create_topic(self, record: TopicRecord) -> None:
        self.metadata.write_topic(record)
        self._initial_states(record, 0)

    def add_partitions(self, record: TopicRecord, first: int) -> None:
        self.metadata.write_topic(record)
        self._initial_states(record, first)

    def update_topic(self, record: TopicRecord) -> None:
        self.metadata.write_topic(record)
        self._applied()

    def delete_topics(self, records: list[TopicRecord]) -> None:
        self.metadata.delete_topics(records)
        self._applied()
        gone: dict[PartitionKey, PartitionState | None] = {
            key: None for key in self.snapshot.partition_states if key[0] in {r.topic_id for r in records}
        }
        self._write_states(gone, None)

    def write_broker_configs(self, resource_name: str, configs: dict[str, str]) -> None:
        self.metadata.write_broker_configs(resource_name, configs)
        self._applied()

    def write_group_configs(self, group_id: str, configs: dict[str, str]) -> None:
        self.metadata.write_group_configs(group_id, configs)
        self._applied()

    def write_client_metrics_configs(self, name: str, configs: dict[str, str]) -> None:
        self.metadata.write_client_metrics_configs(name, configs)
        self._applied()

    def write_client_quotas(self, changes: Mapping[QuotaEntity, dict[str, float]]) -> None:
        self.metadata.write_client_quotas(changes)
        self._applied()

    def write_acls(self, changes: Mapping[AclBinding, bool]) -> None:
        self.metadata.write_acls(changes)
        self._applied()

    def write_scram_credentials(self, changes: Mapping[tuple[str, str], ScramCredential | None]) -> None:
        self.metadata.write_scram_credentials(changes)
        self._applied()

    def _initial_states(self, record: TopicRecord, first: int) -> None:
        """New partitions: the first live replica leads, the live ones are the ISR (epoch 0)."""
        states: dict[PartitionKey, PartitionState | None] = {}
        for index in range(first, record.partitions):
            replicas = record.replicas[index] if index < len(record.replicas) else ()
            live = tuple(node for node in replicas if self.eligible(node))
            states[(record.topic_id, index)] = PartitionState(live[0] if live else -1, 0, live or replicas[:1], 0)
        self._write_states(states, None)

    # --- internals ---------------------------------------------------------------

    def _write_states(self, changes: Mapping[PartitionKey, PartitionState | None], why: str | None) -> None:
        if changes:
            self.metadata.write_partition_states(changes)
            if why is not None:
                for key, state in changes.items():
                    if state is not None:
                        log.info(
                            "%s: leader %d, epoch %d, ISR %s (%s)",
                            self._name(key),
                            state.leader,
                            state.leader_epoch,
                            list(state.isr),
                            why,
                        )
        self._applied()

    def _applied(self) -> None:
        """Replay what was just written and tell every running node."""
        self.snapshot = self.metadata.replay(into=self.snapshot, start=self._replayed)
        self._replayed = self.metadata.log.log_end_offset
        self._index_topics()
        for follow in list(self._followers.values()):
            follow()
        for callback in self.on_change:
            callback()

    def _topic_by_id(self, topic_id: uuid.UUID) -> TopicRecord | None:
        return self._topics_by_id.get(topic_id)

    def _index_topics(self) -> None:
        """Topic records by id: elections look them up once per partition."""
        self._topics_by_id = {record.topic_id: record for record in self.snapshot.topics.values()}

    def _name(self, key: PartitionKey) -> str:
        record = self._topic_by_id(key[0])
        return f"{record.name if record else key[0]}-{key[1]}"

    def close(self) -> None:
        self.metadata.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None
