"""Topics and their partitions' logs on this (single) broker, in one or
more log directories (see log_dirs)."""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import attrs

from kwire.clock import SYSTEM_CLOCK, Clock
from kwire.cluster import data_dir as data_dir_files
from kwire.cluster.broker_configs import DynamicBrokerConfigs
from kwire.cluster.client_metrics_configs import ClientMetricsConfigs
from kwire.cluster.controller import Controller
from kwire.cluster.data_dir import DataDirLocks
from kwire.cluster.group_configs import GroupConfigs, broker_group_settings
from kwire.cluster.log_dirs import copy_partition_dir, find_partition_dirs, least_loaded
from kwire.cluster.meta_files import (
    base64_uuid,
    directory_id_from,
    read_meta_properties,
    read_topic_id,
    write_meta_properties,
    write_partition_metadata,
)
from kwire.cluster.metadata_log import METADATA_TOPIC, MetadataLog, TopicRecord
from kwire.cluster.offset_checkpoint import (
    CLEANER,
    LOG_START,
    RECOVERY_POINT,
    REPLICATION,
    DamagedCheckpoint,
    load_checkpoint,
    read_checkpoint,
    write_checkpoint,
)
from kwire.cluster.orphans import find_orphan_topics
from kwire.cluster.placement import assign_replicas
from kwire.cluster.topic_configs import log_config_for, validate_topic_configs
from kwire.cluster.topic_names import collision_key, validate_topic_name
from kwire.cluster.topology import Topology
from kwire.config import BrokerConfig
from kwire.errors import StartupError
from kwire.log import PartitionLog
from kwire.log.config import LogConfig
from kwire.log.durable_files import fsync_directory
from kwire.log.files import (
    deleted_dir_name,
    future_dir_name,
    is_deleted_dir_name,
    parse_partition_dir_name,
    partition_dir_name,
)
from kwire.log.flusher import FLUSHER
from kwire.log.segment_scan import batches_in
from kwire.log.storage_errors import StorageError
from kwire.protocol.errors import ErrorCode, KafkaError
from kwire.quotas.manager import ClientQuotas
from kwire.security.acls import Acls
from kwire.security.scram_store import ScramCredentials

log = logging.getLogger(__name__)

MAX_PARTITIONS = 10_000  # a sanity bound for one topic on one small broker
# At shutdown, up to this many logs with unflushed data are fsynced one by
# one; more, and one sync() of the whole disk is quicker.
_FSYNC_EACH_UP_TO = 64
_FLUSHER_WAIT_S = 30
INTERNAL_TOPICS = frozenset({"__consumer_offsets", "__transaction_state", "__share_group_state"})
INTERNAL_TOPIC_CONFIGS: dict[str, str | None] = {"cleanup.policy": "compact", "segment.bytes": "104857600"}
_REMOVAL_RETRY_S = 60.0  # a deleted directory the disk would not remove is tried again this much later
_METADATA_COPY_BYTES = 1024 * 1024  # read from the controller's metadata log at a time


class NotHostedHere(KafkaError):
    """A partition's log was asked of a node that holds no replica of it."""


@attrs.define(eq=False)
class Partition:
    topic_name: str
    index: int
    # This node's replica of the log; None where the node holds none (a
    # multi-node cluster places each partition on its replicas only).
    replica: PartitionLog | None
    leader_epoch: int = 0
    # Leadership as the controller published it (a lone node: itself, epoch from the log).
    leader: int = -1
    isr: tuple[int, ...] = ()
    partition_epoch: int = 0

    @property
    def log(self) -> PartitionLog:
        """This node's replica (handlers reach it only after checking that this node leads)."""
        if self.replica is None:
            raise NotHostedHere(
                ErrorCode.not_leader_or_follower, f"This node holds no replica of {self.topic_name}-{self.index}"
            )
        return self.replica

    @log.setter
    def log(self, replica: PartitionLog) -> None:
        self.replica = replica

    @classmethod
    def lead(cls, topic_name: str, index: int, log: PartitionLog, node_id: int) -> Partition:
        """A lone node leads the partition (created, or opened at start-up):
        its epoch is the log's latest (0 for a new log), started at the log
        end as Kafka's new leader does."""
        partition = cls(topic_name, index, log, max(0, log.leader_epochs.latest_epoch), node_id, (node_id,))
        log.start_leader_epoch(partition.leader_epoch)
        return partition

    def new_leader_epoch(self) -> int:
        """A new leader epoch from the log end (a leader change; see
        Cluster.new_leader_epoch, which also refreshes the metadata)."""
        self.leader_epoch += 1
        self.log.start_leader_epoch(self.leader_epoch)
        return self.leader_epoch

    def leader_epoch_error(self, requested_epoch: int) -> ErrorCode | None:
        """Kafka's answer when a client names a leader epoch (KIP-320):
        older is fenced, newer is unknown, -1 means "don't check"."""
        if requested_epoch == -1 or requested_epoch == self.leader_epoch:
            return None
        if requested_epoch < self.leader_epoch:
            return ErrorCode.fenced_leader_epoch
        return ErrorCode.unknown_leader_epoch


@attrs.define(eq=False)
class Topic:
    name: str
    topic_id: uuid.UUID
    partitions: list[Partition]
    configs: dict[str, str]
    log_config: LogConfig
    # Each partition's replicas (node ids, preferred leader first), from the
    # metadata log; a node opens the logs of the partitions it is a replica
    # of (a lone node: all). Leadership and ISR are on each Partition.
    replicas: list[list[int]] = attrs.field(factory=list)

    def replicas_of(self, index: int) -> list[int]:
        return self.replicas[index]

    def hosted(self) -> list[Partition]:
        """The partitions this node holds a replica of (all of them on a lone node)."""
        return [partition for partition in self.partitions if partition.replica is not None]

    @property
    def is_internal(self) -> bool:
        return self.name in INTERNAL_TOPICS


@attrs.frozen
class PartitionView:
    error: ErrorCode
    leader: int  # -1: offline (no live in-sync replica)
    leader_epoch: int
    replicas: list[int]
    isr: list[int]
    offline_replicas: list[int]


@attrs.frozen
class _Removal:
    """A deleted partition's directory, removed once `due` (monotonic
    seconds) has come and the cleaner no longer reads its log."""

    directory: Path
    due: float
    log: PartitionLog | None = None


@attrs.define
class _Loading:
    """What start-up knows while it opens the logs (per log directory)."""

    clean_shutdown: dict[Path, bool]
    new_directory: bool
    recovery_points: dict[Path, dict[tuple[str, int], int]]
    # Where each partition's directory was found.
    locations: dict[tuple[str, int], Path] = attrs.field(factory=dict)
    logs: list[PartitionLog] = attrs.field(factory=list)
    started: float = attrs.field(factory=time.monotonic)


class Cluster:
    def __init__(self, config: BrokerConfig, clock: Clock = SYSTEM_CLOCK, controller: Controller | None = None) -> None:
        self.config = config
        # A node of a multi-node cluster (kwire/cluster/controller.py): metadata
        # changes go to the controller, and this node applies what it publishes.
        self.controller = controller
        # Leadership changes of hosted partitions, after they apply (the node's replica manager).
        self.on_leadership: Callable[[list[Partition]], None] | None = None
        # After topics are deleted (groups, transactions and long-polls let go of them).
        self.on_topics_deleted: list[Callable[[list[Topic]], None]] = []
        self.clock = clock  # the node's clock, handed to every partition log
        self.topics: dict[str, Topic] = {}
        self.topics_by_id: dict[uuid.UUID, Topic] = {}
        # Bumped on every topic change; response caches key on it.
        self.version = 0
        self.cluster_id = "kwire-in-memory-cluster"
        # The live brokers this node knows (a lone node: itself; see topology.py).
        self.topology = Topology(config.node_id, config.broker_rack)
        self._collision_keys: dict[str, str] = {}
        # Deleted topics: their ids (from the metadata log), and their
        # renamed directories waiting for `log.segment.delete.delay.ms`.
        self.deleted_topic_ids: set[uuid.UUID] = set()
        self._removals: list[_Removal] = []
        # Every log directory, the first holding the metadata log; () in memory.
        self.log_dirs: tuple[Path, ...] = config.log_dirs
        # AlterReplicaLogDirs moves that wait for the cleaner to let go of
        # their partition: (topic, partition) -> the target log directory.
        self.pending_moves: dict[tuple[str, int], Path] = {}
        self.directory_ids: dict[Path, uuid.UUID] = {}  # each log directory's meta.properties directory.id
        self._lock: DataDirLocks | None = None
        self._loading: _Loading | None = None
        self._closed = False
        if config.data_dir is None:
            self._load(None, {})
            return
        # Before anything in the directories is read or written.
        self._lock = DataDirLocks.acquire(self.log_dirs)
        try:
            properties = {directory: read_meta_properties(directory) for directory in self.log_dirs}
            self._load(self._agreed_cluster_id(properties), properties)
        except BaseException:
            self._lock.release()
            raise

    def _agreed_cluster_id(self, properties: Mapping[Path, dict[str, str] | None]) -> str | None:
        """The cluster id the log directories' meta.properties agree on
        (None: all are new); StartupError naming the odd one out."""
        cluster_id, first = None, None
        for directory, found in properties.items():
            if found is None:
                continue
            if cluster_id is None:
                cluster_id, first = found["cluster.id"], directory
            elif found["cluster.id"] != cluster_id:
                raise StartupError(
                    f"log directory {directory} belongs to cluster {found['cluster.id']}, "
                    f"but log directory {first} to cluster {cluster_id}: they cannot be served together"
                )
        return cluster_id

    def _write_meta_properties(self, cluster_id: str, properties: Mapping[Path, dict[str, str] | None]) -> None:
        """meta.properties in each log directory that lacks one (or its
        directory.id), keeping the ids the others have."""
        for directory in self.log_dirs:
            found = properties.get(directory)
            directory_id = directory_id_from(found) if found is not None else None
            if directory_id is None or found is None:
                directory_id = uuid.uuid4()
                write_meta_properties(directory, cluster_id, self.config.node_id, directory_id)
            self.directory_ids[directory] = directory_id

    def _load(self, cluster_id: str | None, properties: Mapping[Path, dict[str, str] | None]) -> None:
        config = self.config
        if config.data_dir is not None:
            self._loading = self._start_loading(new_directory=properties.get(self.log_dirs[0]) is None)
        self.metadata = MetadataLog(self._open_log(METADATA_TOPIC, 0, LogConfig(segment_bytes=64 * 1024 * 1024)))
        if self.controller is not None:
            self._copy_controller_metadata()
        snapshot = self.metadata.replay()
        self._snapshot = snapshot
        self._replayed = self.metadata.log.log_end_offset
        self.next_producer_id_floor = snapshot.next_producer_id
        self.deleted_topic_ids = snapshot.deleted_topic_ids
        # Before any topic opens: their defaults follow the dynamic broker configs.
        writer: MetadataLog | Controller = self.metadata if self.controller is None else self.controller
        self.broker_configs = DynamicBrokerConfigs(config, snapshot.broker_configs, writer.write_broker_configs)
        self.broker_configs.on_change.append(self.reapply_broker_defaults)
        self.group_configs = GroupConfigs(
            snapshot.group_configs,
            writer.write_group_configs,
            broker_group_settings(lambda name: getattr(config, name.replace(".", "_"))),
        )
        self.client_metrics = ClientMetricsConfigs(snapshot.client_metrics_configs, writer.write_client_metrics_configs)
        self.client_quotas = ClientQuotas(config, snapshot.client_quotas, writer.write_client_quotas, self.clock)
        self.acls = Acls(snapshot.acls, writer.write_acls)
        self.scram_credentials = ScramCredentials(snapshot.scram_credentials, writer.write_scram_credentials)
        if self.controller is not None:
            if cluster_id is not None and cluster_id != self.controller.cluster_id:
                raise StartupError(
                    f"{self.log_dirs[0]} belongs to cluster {cluster_id}, but the controller's metadata to "
                    f"cluster {self.controller.cluster_id}"
                )
            cluster_id = self.controller.cluster_id
            self.cluster_id = cluster_id
            self._sync_topology()
        if config.data_dir is not None:
            if cluster_id is None:
                cluster_id = base64_uuid(uuid.uuid4())
            self._write_meta_properties(cluster_id, properties)
            self.cluster_id = cluster_id
            assert self._loading is not None
            self._loading.locations = find_partition_dirs(
                self.log_dirs, frozenset({METADATA_TOPIC}), self._is_deleted_topic_dir
            )
        for record in snapshot.topics.values():
            self._materialise(record)
        if config.data_dir is not None:
            removed = False
            for log_dir in self.log_dirs:
                removed = self._remove_deleted_topics_leftovers(log_dir) or removed
            if self.controller is None:  # (a cluster's metadata and producer ids are the controller's)
                self._recover_orphan_topics()
                self._raise_producer_id_floor()
            for log_dir in self.log_dirs:
                for (name, index), offset in read_checkpoint(log_dir, LOG_START).items():
                    found = self.partition(name, index)
                    if found is not None and self.log_dir_of(found) == log_dir:
                        found.log.restore_log_start(offset)
                for (name, index), offset in read_checkpoint(log_dir, CLEANER).items():
                    found = self.partition(name, index)
                    if found is not None and self.log_dir_of(found) == log_dir:
                        found.log.restore_first_dirty_offset(offset)
                for (name, index), offset in read_checkpoint(log_dir, REPLICATION).items():
                    found = self.partition(name, index)
                    if found is not None and self.log_dir_of(found) == log_dir:
                        found.log.set_high_watermark(offset)  # (clamped to the log as loaded)
            if removed:
                # The deletion may have stopped before it rewrote the
                # checkpoints: a new topic of that name must inherit nothing.
                self.save_log_starts()
                self.save_cleaner_offsets()
                self.save_recovery_points()
            self._finish_loading()

    # --- start-up and shutdown ------------------------------------------

    def _start_loading(self, new_directory: bool) -> _Loading:
        loading = _Loading({}, new_directory, {})
        for log_dir in self.log_dirs:
            clean = data_dir_files.had_clean_shutdown(log_dir)
            try:
                points = load_checkpoint(log_dir, RECOVERY_POINT) or {}
            except DamagedCheckpoint as exc:
                log.warning(
                    "Ignoring the damaged checkpoint file %s (%s): every log in %s will be recovered as after a crash",
                    log_dir / RECOVERY_POINT,
                    exc,
                    log_dir,
                )
                clean, points = False, {}
            loading.clean_shutdown[log_dir], loading.recovery_points[log_dir] = clean, points
        return loading

    def _finish_loading(self) -> None:
        loading, self._loading = self._loading, None
        assert loading is not None and self.log_dirs, "only a data directory is loaded"
        for log_dir in self.log_dirs:
            data_dir_files.clear_clean_shutdown(log_dir)
        reports = [partition_log.load_report for partition_log in loading.logs]
        if loading.new_directory:
            when = "in a new data directory"
        else:
            clean = all(loading.clean_shutdown.values())
            when = "after a clean shutdown" if clean else "after an unclean shutdown"
        log.info(
            "Loaded %d partition log(s) in %.2f s %s: %d segment(s) validated batch by batch, "
            "%d log(s) truncated, %d segment(s) with indexes rebuilt",
            len(reports),
            time.monotonic() - loading.started,
            when,
            sum(r.recovered_segments for r in reports),
            sum(r.truncated for r in reports),
            sum(r.rebuilt_indexes for r in reports),
        )

    def _raise_producer_id_floor(self) -> None:
        """Never hand out a producer id some partition already knows, even
        if the metadata log lost its last producer-id block."""
        in_use = max(
            (
                producer_id
                for _topic, partition in self.hosted_partitions()
                for producer_id in partition.log.producer_state.entries
            ),
            default=-1,
        )
        if in_use >= self.next_producer_id_floor:
            log.warning(
                "Producer id %d is in use in the logs but the metadata log's producer-id blocks end at %d: "
                "ids are handed out from %d",
                in_use,
                self.next_producer_id_floor,
                in_use + 1,
            )
            self.next_producer_id_floor = in_use + 1

    def _remove_deleted_topics_leftovers(self, data_dir: Path) -> bool:
        """Directories renamed for removal by an earlier run, and those of a
        deleted topic that a crash left unrenamed (the record deleting the
        topic is written first): removed now, before anything may adopt
        them. Whether there were any."""
        found = False
        for entry in sorted(os.scandir(data_dir), key=lambda e: e.name):
            if not entry.is_dir():
                continue
            if is_deleted_dir_name(entry.name):
                found = True
                self._remove_directory(Path(entry.path))
                continue
            parsed = parse_partition_dir_name(entry.name)
            if parsed is None or not self.deleted_topic_ids:
                continue
            live = self.partition(*parsed)
            if live is not None and live.log.directory == Path(entry.path):
                continue
            try:
                topic_id = read_topic_id(Path(entry.path))
            except ValueError:
                continue  # not attributable: orphans.py decides (and warns)
            if topic_id in self.deleted_topic_ids:
                found = True
                log.info("Removing %s: its topic (id %s) was deleted", entry.name, base64_uuid(topic_id))
                renamed = self._rename_for_removal(Path(entry.path), *parsed)
                self._remove_directory(renamed or Path(entry.path))
        return found

    def _is_deleted_topic_dir(self, directory: Path) -> bool:
        if not self.deleted_topic_ids:
            return False
        try:
            return read_topic_id(directory) in self.deleted_topic_ids
        except ValueError:
            return False

    def _recover_orphan_topics(self) -> None:
        """Topics whose partition directories outlived their metadata record
        (the metadata log's end was lost): registered again, see orphans."""
        counts = {name: len(topic.partitions) for name, topic in self.topics.items()}
        orphans = find_orphan_topics(
            self.log_dirs, counts, set(self.topics_by_id), frozenset({METADATA_TOPIC}), MAX_PARTITIONS
        )
        for orphan in orphans:
            configs = {"cleanup.policy": "compact"} if orphan.name in INTERNAL_TOPICS else {}
            record = TopicRecord(orphan.name, orphan.topic_id, orphan.partitions, configs)
            log.warning(
                "Recovered topic %s (id %s, %d partition(s)) from its directories: the metadata log had "
                "lost it; its configs are back to the defaults%s",
                orphan.name,
                base64_uuid(orphan.topic_id),
                orphan.partitions,
                " (compacted, as an internal topic)" if configs else "",
            )
            self.metadata.write_topic(record)
            self._materialise(record)

    # --- queries -------------------------------------------------------

    def get(self, name: str) -> Topic | None:
        return self.topics.get(name)

    def leads(self, name: str, index: int) -> bool:
        """Whether this node leads an existing partition. Requests that read
        or write a partition's log are answered NOT_LEADER_OR_FOLLOWER elsewhere."""
        partition = self.topics[name].partitions[index]
        return partition.leader == self.config.node_id and partition.replica is not None

    def partition_view(self, topic: Topic, index: int) -> PartitionView:
        """A partition as Metadata and DescribeTopicPartitions report it."""
        partition = topic.partitions[index]
        replicas = topic.replicas_of(index)
        live = self.topology.brokers
        offline = [node for node in replicas if live and node not in live]
        storage_failed = partition.replica is not None and partition.replica.offline_reason is not None
        if storage_failed:
            offline.append(self.config.node_id)
        error = ErrorCode.none
        if partition.leader == -1:
            error = ErrorCode.leader_not_available
        elif storage_failed and partition.leader == self.config.node_id:
            error = ErrorCode.kafka_storage_error
        return PartitionView(error, partition.leader, partition.leader_epoch, replicas, list(partition.isr), offline)

    def hosted_partitions(self) -> list[tuple[Topic, Partition]]:
        """Every partition this node holds a replica of, with its topic."""
        return [(topic, partition) for topic in self.topics.values() for partition in topic.hosted()]

    def partition(self, name: str, index: int) -> Partition | None:
        topic = self.topics.get(name)
        if topic is None or not 0 <= index < len(topic.partitions):
            return None
        return topic.partitions[index]

    # --- changes -------------------------------------------------------

    def create_topic(
        self,
        name: str,
        num_partitions: int = -1,
        replication_factor: int = -1,
        configs: dict[str, str | None] | None = None,
        validate_only: bool = False,
        assignment: list[list[int]] | None = None,
    ) -> TopicRecord:
        """Kafka's CreateTopics checks, in Kafka's order; raises KafkaError.
        `assignment`: each partition's replicas, checked by the caller
        (otherwise Kafka's placement over the live brokers)."""
        validate_topic_name(name)
        if name in self.topics:
            raise KafkaError(ErrorCode.topic_already_exists, f"Topic '{name}' already exists.")
        other = self._collision_keys.get(collision_key(name))
        if other is not None:
            raise KafkaError(
                ErrorCode.invalid_topic_exception,
                f"Topic '{name}' collides with existing topic: {other}",
            )
        if num_partitions == -1:
            num_partitions = self.config.num_partitions
        if not 0 < num_partitions <= MAX_PARTITIONS:
            raise KafkaError(ErrorCode.invalid_partitions, "Number of partitions must be larger than 0.")
        if replication_factor == -1:
            replication_factor = self._default_replication_factor(name)
        # Kafka's placement over the brokers this node knows (INVALID_REPLICATION_FACTOR beyond their count).
        placed = (
            dict(enumerate(assignment))
            if assignment is not None
            else assign_replicas(self.topology.racks(), num_partitions, replication_factor)
        )
        clean_configs = validate_topic_configs(configs or {})
        record = TopicRecord(
            name=name,
            topic_id=uuid.uuid4(),
            partitions=num_partitions,
            configs=clean_configs,
            replicas=tuple(tuple(placed[index]) for index in range(num_partitions)),
        )
        if not validate_only and self.controller is not None:
            self.controller.create_topic(record)  # every running node opens its replicas, this one too
        elif not validate_only:
            # Files first, then the record that makes the topic exist: a
            # failure of either leaves nothing behind (StorageError).
            partitions, created = self._create_partitions(record)
            try:
                self.metadata.write_topic(record)
            except StorageError:
                self._discard_partitions(partitions, created)
                raise
            self._register(record, partitions)
        return record

    def _default_replication_factor(self, name: str) -> int:
        """default.replication.factor; for the internal topics their own
        setting, capped at the live brokers (Kafka would refuse to create
        them with fewer: a one-broker stand-in must not)."""
        if name == "__consumer_offsets":
            return min(self.config.offsets_topic_replication_factor, len(self.topology.racks()))
        if name == "__transaction_state":
            return min(self.config.transaction_state_log_replication_factor, len(self.topology.racks()))
        if name == "__share_group_state":
            return min(self.config.share_coordinator_state_topic_replication_factor, len(self.topology.racks()))
        return self.config.default_replication_factor

    def internal_topic(self, name: str) -> Topic:
        """`__consumer_offsets`, `__transaction_state` or `__share_group_state`, created (compacted,
        with their partition counts) if it does not exist yet."""
        topic = self.topics.get(name)
        if topic is None:
            partitions = {
                "__consumer_offsets": self.config.offsets_topic_num_partitions,
                "__share_group_state": self.config.share_coordinator_state_topic_num_partitions,
            }.get(name, self.config.transaction_state_log_num_partitions)
            self.create_topic(name, partitions, configs=dict(INTERNAL_TOPIC_CONFIGS))
            topic = self.topics[name]
        return topic

    def auto_create(self, name: str) -> Topic | None:
        """Create `name` with the broker defaults when auto-creation is on
        and the name is legal; None otherwise."""
        if not self.config.auto_create_topics_enable:
            return None
        try:
            self.create_topic(name)
        except KafkaError as exc:
            if exc.error_code == ErrorCode.kafka_storage_error:
                log.warning("could not auto-create topic %s: %s", name, exc.message)
            if exc.error_code != ErrorCode.topic_already_exists:
                return None
        log.info("auto-created topic %s", name)
        return self.topics.get(name)

    def delete_topics(self, names: list[str]) -> list[Topic]:
        """DeleteTopics for existing, checked topics: one durable metadata
        record deletes them all (StorageError: nothing changed), then each
        is forgotten, its logs closed and its directories renamed to
        `<topic>-<partition>.<id>-delete`, removed after
        `log.segment.delete.delay.ms`. Returns the deleted topics."""
        topics = [self.topics[name] for name in names]
        records = [TopicRecord(topic.name, topic.topic_id, len(topic.partitions), topic.configs) for topic in topics]
        if self.controller is not None:
            self.controller.delete_topics(records)  # every running node retires its replicas, this one too
            return topics
        self.metadata.delete_topics(records)
        self._retire_topics(topics)
        return topics

    def _retire_topics(self, topics: list[Topic]) -> None:
        """Forget deleted topics: logs closed, directories renamed for removal."""
        logs = [partition.log for topic in topics for partition in topic.hosted()]
        # Checkpoints name partitions: a new topic of the same name must not
        # inherit the old one's log start, cleaner offset or recovery point.
        # Only offsets above 0 are worth a rewrite (an empty topic's cost none).
        stale_starts = any(partition_log.log_start_offset > 0 for partition_log in logs)
        stale_cleaner = any(partition_log.first_dirty_offset > 0 for partition_log in logs)
        stale_recovery = any(
            partition_log.recovery_point > 0 or partition_log.high_watermark > 0 for partition_log in logs
        )
        due = self.clock.monotonic() + self.config.log_segment_delete_delay_ms / 1000
        for topic in topics:
            for index in range(len(topic.partitions)):
                self.pending_moves.pop((topic.name, index), None)
            del self.topics[topic.name]
            del self.topics_by_id[topic.topic_id]
            self._collision_keys.pop(collision_key(topic.name), None)
            self.deleted_topic_ids.add(topic.topic_id)
            for partition in topic.hosted():
                self._retire(partition, due)
        self.version += 1
        if stale_starts:
            self.save_log_starts()
        if stale_cleaner:
            self.save_cleaner_offsets()
        if stale_recovery:
            self.save_recovery_points()
        for callback in self.on_topics_deleted:
            callback(topics)

    def _retire(self, partition: Partition, due: float) -> None:
        partition_log = partition.log
        directory = partition_log.directory
        if directory is None:
            partition_log.retire(None)
            return
        renamed = self._rename_for_removal(directory, partition.topic_name, partition.index)
        partition_log.retire(renamed)
        if renamed is not None:
            self._removals.append(_Removal(renamed, due, partition_log))
        else:
            # Removed in place at once: a later removal by this name could
            # hit a new topic's directory. If even that fails, a new
            # partition of this name moves it aside, and start-up removes it.
            self._remove_directory(directory)

    def _rename_for_removal(self, directory: Path, topic: str, index: int) -> Path | None:
        """Kafka's `<topic>-<partition>.<uniqueId>-delete`; None (logged) if the disk refuses."""
        renamed = directory.with_name(deleted_dir_name(topic, index, uuid.uuid4().hex))
        try:
            os.rename(directory, renamed)
        except OSError as exc:
            log.error("Could not rename %s for removal: %s", directory, exc)
            return None
        return renamed

    def remove_deleted_directories(self, now: float) -> int:
        """The maintenance tick: remove the deleted partitions' directories
        that are due; how many went."""
        keep, removed = [], 0
        for removal in self._removals:
            if removal.due > now or (removal.log is not None and removal.log.cleaning):
                keep.append(removal)
            elif self._remove_directory(removal.directory):
                removed += 1
            else:
                keep.append(attrs.evolve(removal, due=now + _REMOVAL_RETRY_S))
        self._removals = keep
        return removed

    @staticmethod
    def _remove_directory(directory: Path) -> bool:
        try:
            shutil.rmtree(directory)
        except FileNotFoundError:
            return True
        except OSError as exc:
            log.warning("Could not remove %s (%s); trying again later", directory, exc)
            return False
        log.info("Deleted log directory %s", directory)
        return True

    def check_partition_increase(self, name: str, count: int) -> Topic:
        """CreatePartitions' checks of the new count, with Kafka's messages;
        returns the topic or raises KafkaError."""
        topic = self.topics.get(name)
        if topic is None:
            raise KafkaError(ErrorCode.unknown_topic_or_partition, None)
        current = len(topic.partitions)
        if count == current:
            raise KafkaError(ErrorCode.invalid_partitions, f"Topic already has {current} partition(s).")
        if count < current:
            raise KafkaError(
                ErrorCode.invalid_partitions,
                f"The topic {name} currently has {current} partition(s); {count} would not be an increase.",
            )
        if count > MAX_PARTITIONS:
            raise KafkaError(
                ErrorCode.invalid_partitions,
                f"The topic {name} may have at most {MAX_PARTITIONS} partition(s) on this broker.",
            )
        return topic

    def add_partitions(
        self, name: str, count: int, validate_only: bool = False, assignments: list[list[int]] | None = None
    ) -> Topic:
        """CreatePartitions: grow `name` to `count` partitions; the new
        partitions' files first, then the record that makes them exist, as
        for a new topic. Raises KafkaError or StorageError (nothing changed)."""
        topic = self.check_partition_increase(name, count)
        current = len(topic.partitions)
        if validate_only:
            return topic
        if assignments is not None:
            added = {current + offset: list(each) for offset, each in enumerate(assignments)}
        else:
            added = assign_replicas(
                self.topology.racks(), count - current, len(topic.replicas_of(0)), first_partition=current
            )
        replicas = [*topic.replicas, *(added[index] for index in range(current, count))]
        record = TopicRecord(name, topic.topic_id, count, topic.configs, tuple(tuple(each) for each in replicas))
        if self.controller is not None:
            self.controller.add_partitions(record, current)  # every running node opens its new replicas
            return topic
        partitions, created = self._create_partitions(record, first=current, log_config=topic.log_config)
        try:
            self.metadata.write_topic(record)
        except StorageError:
            self._discard_partitions(partitions, created)
            raise
        topic.partitions.extend(partitions)
        topic.replicas = replicas
        self.version += 1
        return topic

    def alter_topic_configs(self, name: str, configs: Mapping[str, str | None], validate_only: bool = False) -> None:
        """Replace a topic's config overrides (validated, persisted, applied to its logs)."""
        topic = self.topics.get(name)
        if topic is None:
            raise KafkaError(ErrorCode.unknown_topic_or_partition, f"Topic {name} does not exist")
        clean = validate_topic_configs(configs)
        if validate_only:
            return
        record = TopicRecord(name, topic.topic_id, len(topic.partitions), clean, tuple(map(tuple, topic.replicas)))
        if self.controller is not None:
            self.controller.update_topic(record)  # applied by every running node
            return
        self.metadata.write_topic(record)
        self._reconfigure(topic, clean)

    def _reconfigure(self, topic: Topic, configs: dict[str, str]) -> None:
        topic.configs = configs
        topic.log_config = log_config_for(self.config, configs)
        for partition in topic.hosted():
            partition.log.reconfigure(topic.log_config)
        self.version += 1

    def reapply_broker_defaults(self) -> None:
        """After a dynamic broker config change: every topic's log settings
        again, so a topic without its own override follows the broker's."""
        for topic in self.topics.values():
            topic.log_config = log_config_for(self.config, topic.configs)
            for partition in topic.hosted():
                partition.log.reconfigure(topic.log_config)
        self.version += 1

    def delete_records(self, name: str, index: int, offset: int) -> int:
        """DeleteRecords for one partition: move its log start up to `offset`
        (-1: the high watermark); returns the new low watermark."""
        partition = self.partition(name, index)
        if partition is None:
            raise KafkaError(ErrorCode.unknown_topic_or_partition, f"Partition {name}-{index} does not exist")
        log = partition.log
        log.advance_log_start(log.high_watermark if offset == -1 else offset)
        self.save_log_starts()
        return log.log_start_offset

    def new_leader_epoch(self, name: str, index: int) -> int:
        """Start a new leader epoch for a partition at its log end (what a
        leader change does); metadata answers show it from now on."""
        partition = self.partition(name, index)
        if partition is None:
            raise KafkaError(ErrorCode.unknown_topic_or_partition, f"Partition {name}-{index} does not exist")
        epoch = partition.new_leader_epoch()
        self.version += 1
        log.info(
            "Partition %s-%d: leader epoch %d starts at offset %d", name, index, epoch, partition.log.log_end_offset
        )
        return epoch

    def save_log_starts(self) -> None:
        self._save_checkpoint(LOG_START, lambda log: log.log_start_offset)

    def save_cleaner_offsets(self) -> None:
        self._save_checkpoint(CLEANER, lambda log: log.first_dirty_offset)

    def _offsets_by_log_dir(
        self, offset_of: Callable[[PartitionLog], int], above: int = -1
    ) -> dict[Path, dict[tuple[str, int], int]]:
        """Each log directory's partitions' offsets (those above `above`)."""
        by_dir: dict[Path, dict[tuple[str, int], int]] = {log_dir: {} for log_dir in self.log_dirs}
        for topic, partition in self.hosted_partitions():
            if True:
                offset = offset_of(partition.log)
                if offset > above:
                    by_dir.setdefault(self.log_dir_of(partition), {})[(topic.name, partition.index)] = offset
        return by_dir

    def _save_checkpoint(self, file_name: str, offset_of: Callable[[PartitionLog], int]) -> None:
        """One offset per partition (those above 0) into a Kafka checkpoint
        file in each log directory (its own partitions'); if the disk
        refuses, the old file stays and a warning says so."""
        if self.config.data_dir is None:
            return
        for log_dir, offsets in self._offsets_by_log_dir(offset_of, above=0).items():
            self._write_checkpoint_file(log_dir, file_name, offsets)

    def save_recovery_points(self) -> bool:
        """recovery-point-offset-checkpoint: where recovery after a crash
        starts for each log (`log.flush.offset.checkpoint.interval.ms`), in
        each log directory; whether every one was written. With them, as
        Kafka, the high watermarks (replication-offset-checkpoint; a failure
        there is only warned about: an older high watermark is safe)."""
        if self.config.data_dir is None or self._closed:
            return False
        by_dir = self._offsets_by_log_dir(lambda partition_log: partition_log.recovery_point)
        by_dir[self.log_dirs[0]][(METADATA_TOPIC, 0)] = self.metadata.recovery_point
        written = True
        for log_dir, points in by_dir.items():
            written = self._write_checkpoint_file(log_dir, RECOVERY_POINT, points) and written
        for log_dir, marks in self._offsets_by_log_dir(lambda partition_log: partition_log.high_watermark).items():
            self._write_checkpoint_file(log_dir, REPLICATION, marks)
        return written

    @staticmethod
    def _write_checkpoint_file(log_dir: Path, file_name: str, offsets: dict[tuple[str, int], int]) -> bool:
        """Whether it was written; if not, the old file stays and a warning says so."""
        try:
            write_checkpoint(log_dir, file_name, offsets)
        except OSError as exc:
            log.warning(
                "Could not write %s (%s); the previous one stays until the next change", log_dir / file_name, exc
            )
            return False
        return True

    def close(self) -> None:
        """A clean shutdown: every log flushed (as Kafka's) and closed, the
        recovery points saved, then the clean-shutdown marker, then the lock
        freed."""
        if self._closed:
            return
        logs = [partition.log for _topic, partition in self.hosted_partitions()]
        FLUSHER.wait_idle(_FLUSHER_WAIT_S)
        FLUSHER.apply_completed()
        sync_all = sum(1 for partition_log in logs if partition_log.unflushed) > _FSYNC_EACH_UP_TO
        if sync_all:
            os.sync()
            for partition_log in logs:
                if partition_log.offline_reason is None:
                    partition_log.mark_flushed()
        for partition_log in logs:
            partition_log.close(sync=not sync_all)
        self.metadata.close()
        if sync_all:
            os.sync()  # the producer-state snapshots written since
        if self._lock is not None and self.config.data_dir is not None:
            # Without its recovery points the next start must recover as after a crash.
            if self.save_recovery_points():
                for log_dir in self.log_dirs:
                    try:
                        data_dir_files.mark_clean_shutdown(log_dir)
                    except OSError as exc:
                        log.warning(
                            "Could not mark the clean shutdown of %s (%s): the next start recovers as after a crash",
                            log_dir,
                            exc,
                        )
            self._lock.release()
        self._closed = True

    # --- internals -----------------------------------------------------

    def _materialise(self, record: TopicRecord) -> None:
        log_config = log_config_for(self.config, record.configs)
        if self.controller is not None:
            partitions = [self._cluster_partition(record, index, log_config) for index in range(record.partitions)]
        else:
            partitions = [
                Partition.lead(
                    record.name,
                    index,
                    self._open_log(record.name, index, log_config, record.topic_id),
                    self.config.node_id,
                )
                for index in range(record.partitions)
            ]
        self._register(record, partitions)

    # --- following the controller (a node of a multi-node cluster) ------------

    def _cluster_partition(self, record: TopicRecord, index: int, log_config: LogConfig) -> Partition:
        """A partition of a cluster's topic: its log opened if this node is
        one of its replicas; leadership comes with _apply_leadership."""
        hosted = self.config.node_id in record.replicas[index]
        replica = self._open_log(record.name, index, log_config, record.topic_id) if hosted else None
        return Partition(record.name, index, replica)

    def follow_controller(self) -> None:
        """Copy and apply what the controller published since the last call."""
        if self._closed or self.controller is None:
            return
        self._copy_controller_metadata()
        self._snapshot = self.metadata.replay(into=self._snapshot, start=self._replayed)
        self._replayed = self.metadata.log.log_end_offset
        self._sync_topology()
        self._reconcile()

    def _copy_controller_metadata(self) -> None:
        """The controller's metadata batches this node's copy lacks, appended
        as they are (same offsets), as a KRaft broker replicates the log."""
        assert self.controller is not None
        source, target = self.controller.metadata.log, self.metadata.log
        if target.log_end_offset > source.log_end_offset:
            raise StartupError(
                f"The metadata log of node {self.config.node_id} ends at offset {target.log_end_offset}, after the "
                f"controller's ({source.log_end_offset}): the node's data directory belongs to another cluster"
            )
        while target.log_end_offset < source.log_end_offset:
            data = b"".join(bytes(chunk) for chunk in source.read(target.log_end_offset, _METADATA_COPY_BYTES))
            copied = False
            for _position, header, batch in batches_in(data):
                if header.base_offset == target.log_end_offset:
                    target.append(bytearray(batch), header, header.partition_leader_epoch)
                    copied = True
            if not copied:
                break
        target.flush()

    def _sync_topology(self) -> None:
        """The live brokers as the controller knows them; the controller id
        clients see is a live broker's (KRaft hides its controllers)."""
        assert self.controller is not None
        live = self.controller.endpoints()
        self.topology.brokers = live
        self.topology.controller_id = min(live) if live else self.config.node_id

    def _reconcile(self) -> None:
        """This node's topics, partitions, configs and leadership made what
        the snapshot says."""
        snapshot = self._snapshot
        gone = [
            known
            for name, known in self.topics.items()
            if name not in snapshot.topics or snapshot.topics[name].topic_id != known.topic_id
        ]
        self.deleted_topic_ids |= snapshot.deleted_topic_ids
        if gone:
            self._retire_topics(gone)
        for name, record in snapshot.topics.items():
            topic = self.topics.get(name)
            if topic is None:
                self._materialise(record)
                continue
            if record.partitions > len(topic.partitions):
                first = len(topic.partitions)
                topic.replicas = [list(each) for each in record.replicas]
                topic.partitions.extend(
                    self._cluster_partition(record, index, topic.log_config)
                    for index in range(first, record.partitions)
                )
            if record.configs != topic.configs:
                self._reconfigure(topic, dict(record.configs))
        self.broker_configs.reload(snapshot.broker_configs)
        self.group_configs.reload(snapshot.group_configs)
        self.client_metrics.reload(snapshot.client_metrics_configs)
        self.client_quotas.reload(snapshot.client_quotas)
        self.acls.reload(snapshot.acls)
        self.scram_credentials.reload(snapshot.scram_credentials)
        changed = self._apply_leadership()
        self.version += 1
        if self.on_leadership is not None:
            self.on_leadership(changed)  # (with none changed too: which brokers are live may have)

    def _apply_leadership(self) -> list[Partition]:
        """Each partition's leader, epoch and ISR from the snapshot; the hosted ones that changed."""
        changed = []
        states = self._snapshot.partition_states
        for topic in self.topics.values():
            for partition in topic.partitions:
                state = states.get((topic.topic_id, partition.index))
                if state is None:
                    continue
                now = (state.leader, state.leader_epoch, state.isr, state.partition_epoch)
                if (partition.leader, partition.leader_epoch, partition.isr, partition.partition_epoch) != now:
                    partition.leader, partition.leader_epoch, partition.isr, partition.partition_epoch = now
                    if partition.replica is not None:
                        changed.append(partition)
        return changed

    def _create_partitions(
        self, record: TopicRecord, first: int = 0, log_config: LogConfig | None = None
    ) -> tuple[list[Partition], list[Path]]:
        """The partition logs `first`.. of `record` (a new topic's, or those
        CreatePartitions adds), and the directories made for them; on a disk
        error none is left and StorageError is raised."""
        if log_config is None:
            log_config = log_config_for(self.config, record.configs)
        partitions: list[Partition] = []
        created: list[Path] = []
        counts = self.partition_counts()
        try:
            for index in range(first, record.partitions):
                log_dir = None
                if self.log_dirs:
                    log_dir = least_loaded(self.log_dirs, counts)
                    counts[log_dir] = counts.get(log_dir, 0) + 1
                    directory = log_dir / partition_dir_name(record.name, index)
                    if not directory.exists():
                        created.append(directory)
                partitions.append(
                    Partition.lead(
                        record.name,
                        index,
                        self._open_log(record.name, index, log_config, record.topic_id, log_dir),
                        self.config.node_id,
                    )
                )
        except OSError as exc:
            self._discard_partitions(partitions, created)
            raise StorageError(f"Could not create the log of {record.name}-{first + len(partitions)}: {exc}") from exc
        return partitions, created

    def _discard_partitions(self, partitions: list[Partition], created: list[Path]) -> None:
        for partition in partitions:
            partition.log.close(sync=False)
        for directory in created:
            shutil.rmtree(directory, ignore_errors=True)

    def _register(self, record: TopicRecord, partitions: list[Partition]) -> None:
        # A record written before replicas were recorded: every partition on this node.
        replicas = [list(each) for each in record.replicas] or [[self.config.node_id] for _ in range(record.partitions)]
        topic = Topic(
            record.name,
            record.topic_id,
            partitions,
            record.configs,
            log_config_for(self.config, record.configs),
            replicas,
        )
        self.topics[record.name] = topic
        self.topics_by_id[record.topic_id] = topic
        self._collision_keys[collision_key(record.name)] = record.name
        self.version += 1

    def _open_log(
        self,
        topic: str,
        index: int,
        log_config: LogConfig,
        topic_id: uuid.UUID | None = None,
        log_dir: Path | None = None,
    ) -> PartitionLog:
        """The partition's log: at start-up where its directory was found
        (a new one where a new partition goes), while running in `log_dir`
        (placed by the caller; the metadata log always in the first)."""
        if self.config.data_dir is None:
            return PartitionLog.in_memory(log_config, self.clock)
        name = partition_dir_name(topic, index)
        loading = self._loading
        if topic == METADATA_TOPIC:
            directory = self.log_dirs[0] / name
        elif loading is not None and (topic, index) in loading.locations:
            directory = loading.locations[(topic, index)]
        else:
            if log_dir is None:
                counts = self.partition_counts() if loading is None else self._loading_counts(loading)
                log_dir = least_loaded(self.log_dirs, counts)
            directory = log_dir / name
            self._move_aside_if_deleted(directory, topic, index)
        if loading is None:  # a partition created while running
            partition_log = PartitionLog.open(directory, log_config, clock=self.clock)
        else:
            log_dir = directory.parent
            if topic != METADATA_TOPIC and not loading.new_directory and not directory.exists():
                log.warning(
                    "Partition %s-%d has no directory in any log directory (%s): it starts empty in %s",
                    topic,
                    index,
                    ", ".join(map(str, self.log_dirs)),
                    log_dir,
                )
            partition_log = PartitionLog.open(
                directory,
                log_config,
                loading.recovery_points.get(log_dir, {}).get((topic, index), 0),
                loading.clean_shutdown.get(log_dir, False),
                self.clock,
            )
            loading.logs.append(partition_log)
        partition_log.on_offline = self._partition_went_offline
        if topic_id is not None:
            try:
                write_partition_metadata(directory, topic_id)
            except OSError:
                partition_log.close(sync=False)
                raise
        return partition_log

    def _move_aside_if_deleted(self, directory: Path, topic: str, index: int) -> None:
        """A new partition must not adopt the directory of a deleted topic
        (one whose rename failed): move it out of the way, or refuse."""
        if not directory.exists():
            return
        try:
            topic_id = read_topic_id(directory)
        except ValueError:
            return
        if topic_id in self.deleted_topic_ids:
            renamed = self._rename_for_removal(directory, topic, index)
            if renamed is None:
                raise OSError(f"{directory} still holds a deleted topic's data")
            self._removals.append(_Removal(renamed, self.clock.monotonic()))

    # --- log directories ---------------------------------------------

    @staticmethod
    def log_dir_of(partition: Partition) -> Path:
        """The log directory holding a partition (on disk only)."""
        directory = partition.log.directory
        assert directory is not None, "an in-memory log has no directory"
        return directory.parent

    def partition_counts(self) -> dict[Path, int]:
        """How many partitions each log directory holds (moves waiting for
        the cleaner count in their target too, as Kafka's future logs do)."""
        counts = {log_dir: 0 for log_dir in self.log_dirs}
        if not self.log_dirs:
            return counts
        for _topic, partition in self.hosted_partitions():
            log_dir = self.log_dir_of(partition)
            counts[log_dir] = counts.get(log_dir, 0) + 1
        for target in self.pending_moves.values():
            counts[target] = counts.get(target, 0) + 1
        return counts

    def _loading_counts(self, loading: _Loading) -> dict[Path, int]:
        counts = {log_dir: 0 for log_dir in self.log_dirs}
        for partition_log in loading.logs:
            directory = partition_log.directory
            if directory is not None and directory.name != partition_dir_name(METADATA_TOPIC, 0):
                counts[directory.parent] = counts.get(directory.parent, 0) + 1
        return counts

    @staticmethod
    def log_dir_path(log_dir: Path) -> str:
        """A log directory as DescribeLogDirs shows it and AlterReplicaLogDirs
        expects it: its absolute path."""
        return os.path.abspath(log_dir)

    def find_log_dir(self, path: str) -> Path | None:
        """The configured log directory a client names; None if it is not
        one of them. As in Kafka, the path must be the directory's absolute
        path as DescribeLogDirs shows it (a relative one names none); its
        path with symbolic links resolved is taken too."""
        for log_dir in self.log_dirs:
            if path in (self.log_dir_path(log_dir), str(Path(log_dir).resolve())):
                return log_dir
        return None

    def move_partition(self, name: str, index: int, log_dir: Path) -> bool:
        """AlterReplicaLogDirs for one partition: move its log to `log_dir`
        (one of log_dirs). Done at once, between appends, unless the cleaner
        is compacting it: then it waits (pending_moves) for the cleaner.
        Whether it moved now. Raises KafkaError (unknown partition) or
        StorageError (the log stays where it was)."""
        partition = self.partition(name, index)
        if partition is None:
            raise KafkaError(ErrorCode.unknown_topic_or_partition, f"Partition {name}-{index} does not exist")
        if self.log_dir_of(partition) == log_dir:
            self.pending_moves.pop((name, index), None)  # (moving back cancels a waiting move)
            return False
        if partition.log.flush_pending:  # a segment roll's fsync in the background: brief
            FLUSHER.wait_idle(_FLUSHER_WAIT_S)
            FLUSHER.apply_completed()
        if partition.log.cleaning or partition.log.flush_pending:
            self.pending_moves[(name, index)] = log_dir
            log.info("Moving %s-%d to %s once the log cleaner is done with it", name, index, log_dir)
            return False
        self.pending_moves.pop((name, index), None)
        self._move(partition, log_dir)
        return True

    def complete_pending_moves(self) -> int:
        """The maintenance tick: the moves that waited for the cleaner; how many were done."""
        done = 0
        for (name, index), log_dir in list(self.pending_moves.items()):
            partition = self.partition(name, index)
            if partition is None:
                del self.pending_moves[(name, index)]
                continue
            try:
                done += self.move_partition(name, index, log_dir)
            except StorageError as exc:
                log.error("Could not move %s-%d to %s: %s", name, index, log_dir, exc)
                self.pending_moves.pop((name, index), None)
        return done

    def _move(self, partition: Partition, log_dir: Path) -> None:
        """Close the log (flushed, producer state and leader epochs saved),
        copy its files into a future directory in `log_dir` (fsynced),
        rename the old directory for removal, the future one into place,
        and open the log there; see log_dirs for what a crash leaves."""
        old = partition.log
        source = old.directory
        assert source is not None
        name, index = partition.topic_name, partition.index
        if old.offline_reason is not None:
            raise StorageError(f"{name}-{index} is offline: {old.offline_reason}")
        target = log_dir / partition_dir_name(name, index)
        self._move_aside_if_deleted(target, name, index)
        if target.exists():
            raise StorageError(f"Could not move {name}-{index}: {target} already exists")
        started = time.monotonic()
        old.flush()  # StorageError: nothing changed
        old.on_offline = None
        old.close(sync=True)
        future = log_dir / future_dir_name(name, index, uuid.uuid4().hex)
        try:
            copied = copy_partition_dir(source, future)
        except OSError as exc:
            partition.log = self._reopen(partition, source, old)
            raise StorageError(f"Could not copy {name}-{index} to {log_dir}: {exc.strerror or exc}") from exc
        # The old directory goes first: a crash now leaves only the complete copy.
        renamed = self._rename_for_removal(source, name, index)
        if renamed is None:
            shutil.rmtree(future, ignore_errors=True)
            partition.log = self._reopen(partition, source, old)
            raise StorageError(f"Could not move {name}-{index}: its directory {source} could not be renamed")
        try:
            fsync_directory(source.parent)
            os.rename(future, target)
            fsync_directory(log_dir)
        except OSError as exc:
            # The copy is complete; start-up completes the move if the rename did not happen.
            partition.log.take_offline(f"its move to {log_dir} failed: {exc}")
            raise StorageError(f"Could not move {name}-{index} to {log_dir}: {exc.strerror or exc}") from exc
        self._removals.append(
            _Removal(renamed, self.clock.monotonic() + self.config.log_segment_delete_delay_ms / 1000)
        )
        partition.log = self._reopen(partition, target, old)
        self.version += 1
        log.info(
            "Moved %s-%d from %s to %s (%d bytes, offsets %d to %d) in %.3f s",
            name,
            index,
            source.parent,
            log_dir,
            copied,
            partition.log.log_start_offset,
            partition.log.log_end_offset,
            time.monotonic() - started,
        )
        self.save_log_starts()
        self.save_cleaner_offsets()
        self.save_recovery_points()

    def _reopen(self, partition: Partition, directory: Path, old: PartitionLog) -> PartitionLog:
        """A closed (flushed) log opened again, as `old` was."""
        partition_log = PartitionLog.open(directory, old.config, clean_shutdown=True, clock=self.clock)
        partition_log.restore_log_start(old.log_start_offset)
        partition_log.restore_first_dirty_offset(old.first_dirty_offset)
        partition_log.replicated = old.replicated
        partition_log.set_high_watermark(old.high_watermark)
        partition_log.on_offline = self._partition_went_offline
        partition_log.start_leader_epoch(partition.leader_epoch)
        return partition_log

    def _partition_went_offline(self) -> None:
        self.version += 1  # metadata answers change: cached responses go
