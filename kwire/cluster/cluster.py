"""Topics and their partitions' logs on this (single) broker."""

from __future__ import annotations

import base64
import logging
import os
import shutil
import uuid
from pathlib import Path

import attrs

from kwire.cluster.offset_checkpoint import CLEANER, LOG_START, read_checkpoint, write_checkpoint
from kwire.cluster.metadata_log import METADATA_TOPIC, MetadataLog, TopicRecord
from kwire.cluster.topic_configs import log_config_for, validate_topic_configs
from kwire.cluster.topic_names import collision_key, validate_topic_name
from kwire.config import BrokerConfig
from kwire.log import PartitionLog
from kwire.log.config import LogConfig
from kwire.log.durable_files import write_atomically
from kwire.log.flusher import FLUSHER
from kwire.log.storage_errors import StorageError
from kwire.protocol.errors import ErrorCode, KafkaError

log = logging.getLogger(__name__)

MAX_PARTITIONS = 10_000  # a sanity bound for one topic on one small broker
# At shutdown, up to this many logs with unflushed data are fsynced one by
# one; more, and one sync() of the whole disk is quicker.
_FSYNC_EACH_UP_TO = 64
_FLUSHER_WAIT_S = 30
INTERNAL_TOPICS = frozenset({"__consumer_offsets", "__transaction_state"})


@attrs.define(eq=False)
class Partition:
    topic_name: str
    index: int
    log: PartitionLog
    leader_epoch: int = 0

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

    @property
    def is_internal(self) -> bool:
        return self.name in INTERNAL_TOPICS


class Cluster:
    def __init__(self, config: BrokerConfig) -> None:
        self.config = config
        self.topics: dict[str, Topic] = {}
        self.topics_by_id: dict[uuid.UUID, Topic] = {}
        # Bumped on every topic change; response caches key on it.
        self.version = 0
        self.cluster_id = "kwire-in-memory-cluster"
        self._collision_keys: dict[str, str] = {}
        self.metadata = MetadataLog(self._open_log(METADATA_TOPIC, 0, LogConfig(segment_bytes=64 * 1024 * 1024)))
        snapshot = self.metadata.replay()
        self.next_producer_id_floor = snapshot.next_producer_id
        if config.data_dir is not None:
            self.cluster_id = _load_or_create_meta_properties(config.data_dir, config.node_id)
        for record in snapshot.topics.values():
            self._materialise(record)
        if config.data_dir is not None:
            for (name, index), offset in read_checkpoint(config.data_dir, LOG_START).items():
                found = self.partition(name, index)
                if found is not None and found.log.log_start_offset < offset <= found.log.log_end_offset:
                    found.log.log_start_offset = offset
            for (name, index), offset in read_checkpoint(config.data_dir, CLEANER).items():
                found = self.partition(name, index)
                if found is not None and 0 <= offset <= found.log.log_end_offset:
                    found.log.first_dirty_offset = offset

    # --- queries -------------------------------------------------------

    def get(self, name: str) -> Topic | None:
        return self.topics.get(name)

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
    ) -> TopicRecord:
        """Kafka's CreateTopics checks, in Kafka's order; raises KafkaError."""
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
            replication_factor = self.config.default_replication_factor
        if replication_factor <= 0:
            raise KafkaError(ErrorCode.invalid_replication_factor, "Replication factor must be larger than 0.")
        if replication_factor > 1:
            raise KafkaError(
                ErrorCode.invalid_replication_factor,
                f"Unable to replicate the partition {replication_factor} time(s): "
                "The target replication factor of "
                f"{replication_factor} cannot be reached because only 1 broker(s) are registered.",
            )
        clean_configs = validate_topic_configs(configs or {})
        record = TopicRecord(name=name, topic_id=uuid.uuid4(), partitions=num_partitions, configs=clean_configs)
        if not validate_only:
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

    def alter_topic_configs(self, name: str, configs: dict[str, str], validate_only: bool = False) -> None:
        """Replace a topic's config overrides (validated, persisted, applied to its logs)."""
        topic = self.topics.get(name)
        if topic is None:
            raise KafkaError(ErrorCode.unknown_topic_or_partition, f"Topic {name} does not exist")
        clean = validate_topic_configs(configs)
        if validate_only:
            return
        self.metadata.write_topic(TopicRecord(name, topic.topic_id, len(topic.partitions), clean))
        topic.configs = clean
        topic.log_config = log_config_for(self.config, clean)
        for partition in topic.partitions:
            partition.log.config = topic.log_config
        self.version += 1

    def delete_records(self, name: str, index: int, offset: int) -> int:
        """DeleteRecords for one partition: move its log start up to `offset`
        (-1: the high watermark); returns the new low watermark."""
        partition = self.partition(name, index)
        log = partition.log
        log.advance_log_start(log.log_end_offset if offset == -1 else offset)
        self.save_log_starts()
        return log.log_start_offset

    def save_log_starts(self) -> None:
        self._save_checkpoint(LOG_START, lambda log: log.log_start_offset)

    def save_cleaner_offsets(self) -> None:
        self._save_checkpoint(CLEANER, lambda log: log.first_dirty_offset)

    def _save_checkpoint(self, file_name: str, offset_of) -> None:
        """One offset per partition (those above 0) into a Kafka checkpoint
        file; if the disk refuses, the old file stays and a warning says so."""
        if self.config.data_dir is None:
            return
        offsets = {
            (topic.name, partition.index): offset_of(partition.log)
            for topic in self.topics.values() for partition in topic.partitions
            if offset_of(partition.log) > 0
        }
        try:
            write_checkpoint(self.config.data_dir, file_name, offsets)
        except OSError as exc:
            log.warning("Could not write %s (%s); the previous one stays until the next change", file_name, exc)

    def close(self) -> None:
        """Flush every log (as Kafka's clean shutdown), then close it."""
        logs = [partition.log for topic in self.topics.values() for partition in topic.partitions]
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

    # --- internals -----------------------------------------------------

    def _materialise(self, record: TopicRecord) -> None:
        log_config = log_config_for(self.config, record.configs)
        partitions = [
            Partition(record.name, index, self._open_log(record.name, index, log_config, record.topic_id))
            for index in range(record.partitions)
        ]
        self._register(record, partitions)

    def _create_partitions(self, record: TopicRecord) -> tuple[list[Partition], list[Path]]:
        """A new topic's partition logs, and the directories made for them;
        on a disk error none is left and StorageError is raised."""
        log_config = log_config_for(self.config, record.configs)
        partitions: list[Partition] = []
        created: list[Path] = []
        try:
            for index in range(record.partitions):
                if self.config.data_dir is not None:
                    directory = Path(self.config.data_dir) / f"{record.name}-{index}"
                    if not directory.exists():
                        created.append(directory)
                partitions.append(Partition(record.name, index,
                                            self._open_log(record.name, index, log_config, record.topic_id)))
        except OSError as exc:
            self._discard_partitions(partitions, created)
            raise StorageError(f"Could not create the log of {record.name}-{len(partitions)}: {exc}") from exc
        return partitions, created

    def _discard_partitions(self, partitions: list[Partition], created: list[Path]) -> None:
        for partition in partitions:
            partition.log.close(sync=False)
        for directory in created:
            shutil.rmtree(directory, ignore_errors=True)

    def _register(self, record: TopicRecord, partitions: list[Partition]) -> None:
        topic = Topic(record.name, record.topic_id, partitions, record.configs,
                      log_config_for(self.config, record.configs))
        self.topics[record.name] = topic
        self.topics_by_id[record.topic_id] = topic
        self._collision_keys[collision_key(record.name)] = record.name
        self.version += 1

    def _open_log(self, topic: str, index: int, log_config: LogConfig, topic_id: uuid.UUID | None = None) -> PartitionLog:
        if self.config.data_dir is None:
            return PartitionLog.in_memory(log_config)
        directory = Path(self.config.data_dir) / f"{topic}-{index}"
        partition_log = PartitionLog.open(directory, log_config)
        partition_log.on_offline = self._partition_went_offline
        if topic_id is not None:
            try:
                _write_partition_metadata(directory, topic_id)
            except OSError:
                partition_log.close(sync=False)
                raise
        return partition_log

    def _partition_went_offline(self) -> None:
        self.version += 1  # metadata answers change: cached responses go


def _write_partition_metadata(directory: Path, topic_id: uuid.UUID) -> None:
    """Kafka's `partition.metadata` file: the topic id beside the segments.
    Replaced atomically but not fsynced: it is derived from the metadata log
    (fsynced on every write) and rewritten here at every start-up if it
    differs, while an fsync would cost ~2 ms per partition created."""
    path = directory / "partition.metadata"
    content = f"version: 0\ntopic_id: {_base64_uuid(topic_id)}\n"
    if not path.exists() or path.read_bytes() != content.encode():
        write_atomically(path, content.encode(), durable=False)


def _base64_uuid(value: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(value.bytes).decode().rstrip("=")


def _load_or_create_meta_properties(data_dir: Path, node_id: int) -> str:
    """Kafka's `meta.properties`: the cluster id survives restarts."""
    path = Path(data_dir) / "meta.properties"
    if path.exists():
        for line in path.read_text().splitlines():
            if line.startswith("cluster.id="):
                return line.split("=", 1)[1].strip()
    cluster_id = _base64_uuid(uuid.uuid4())
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, f"#kwire\ncluster.id={cluster_id}\nnode.id={node_id}\nversion=1\n".encode())
    return cluster_id
