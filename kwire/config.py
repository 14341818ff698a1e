"""Broker configuration under Kafka's own config names.

Every setting a user can pass with `-o name=value` (or in a Python dict when
embedding the broker) has the Kafka broker config name; the attribute name
is the same with dots turned into underscores.
"""

from __future__ import annotations

from pathlib import Path

import attrs

GIB = 1024 * 1024 * 1024


def _kafka_bool(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ValueError(f"not a boolean: {value!r}")


@attrs.define
class BrokerConfig:
    # Where to listen and what to tell clients.
    host: str = "127.0.0.1"
    port: int = 9092
    advertised_host: str | None = None
    advertised_port: int | None = None
    # None keeps every log in memory (`--memory`).
    data_dir: Path | None = Path("kwire-data")

    # Kafka broker settings (names: dots for underscores).
    node_id: int = 1  # node.id
    num_partitions: int = 1  # num.partitions
    auto_create_topics_enable: bool = True  # auto.create.topics.enable
    default_replication_factor: int = 1  # default.replication.factor
    message_max_bytes: int = 1048588  # message.max.bytes
    socket_request_max_bytes: int = 100 * 1024 * 1024  # socket.request.max.bytes
    log_segment_bytes: int = GIB  # log.segment.bytes
    log_index_interval_bytes: int = 4096  # log.index.interval.bytes
    fetch_max_bytes: int = 55 * 1024 * 1024  # fetch.max.bytes
    # Kafka's default is 3000 ms; kwire starts groups at once for CI.
    group_initial_rebalance_delay_ms: int = 0  # group.initial.rebalance.delay.ms
    group_min_session_timeout_ms: int = 6000  # group.min.session.timeout.ms
    group_max_session_timeout_ms: int = 1800000  # group.max.session.timeout.ms
    group_max_size: int = 2**31 - 1  # group.max.size
    offsets_topic_num_partitions: int = 50  # offsets.topic.num.partitions
    offsets_retention_minutes: int = 10080  # offsets.retention.minutes
    offsets_retention_check_interval_ms: int = 600000  # offsets.retention.check.interval.ms
    offset_metadata_max_bytes: int = 4096  # offset.metadata.max.bytes
    # Log defaults that topics inherit (topic name in brackets).
    log_retention_ms: int = 604800000  # log.retention.ms (retention.ms); .hours/.minutes accepted
    log_retention_bytes: int = -1  # log.retention.bytes (retention.bytes)
    log_roll_ms: int = 604800000  # log.roll.ms (segment.ms); log.roll.hours accepted
    log_cleanup_policy: str = "delete"  # log.cleanup.policy (cleanup.policy)
    compression_type: str = "producer"  # compression.type
    log_message_timestamp_type: str = "CreateTime"  # log.message.timestamp.type (message.timestamp.type)
    log_index_size_max_bytes: int = 10485760  # log.index.size.max.bytes (segment.index.bytes)
    log_cleaner_delete_retention_ms: int = 86400000  # log.cleaner.delete.retention.ms (delete.retention.ms)
    log_cleaner_min_compaction_lag_ms: int = 0  # log.cleaner.min.compaction.lag.ms (min.compaction.lag.ms)
    log_cleaner_min_cleanable_ratio: float = 0.5  # log.cleaner.min.cleanable.ratio (min.cleanable.dirty.ratio)
    min_insync_replicas: int = 1  # min.insync.replicas
    transaction_state_log_num_partitions: int = 50  # transaction.state.log.num.partitions
    transaction_max_timeout_ms: int = 900000  # transaction.max.timeout.ms
    # How often open transactions are checked against their timeout.
    transaction_abort_timed_out_transaction_cleanup_interval_ms: int = 10000
    # Transactional ids unused this long (no transaction open) are forgotten.
    transactional_id_expiration_ms: int = 604800000  # transactional.id.expiration.ms
    transaction_remove_expired_transaction_cleanup_interval_ms: int = 3600000
    # KIP-890: a transactional batch that opens a transaction in a partition
    # must come from a producer whose transaction includes that partition.
    transaction_partition_verification_enable: bool = True  # transaction.partition.verification.enable
    # Idempotent producers' state is dropped after this long without a write.
    producer_id_expiration_ms: int = 86400000  # producer.id.expiration.ms
    producer_id_expiration_check_interval_ms: int = 600000  # producer.id.expiration.check.interval.ms
    # How often the broker looks for segments to delete and logs to compact.
    log_retention_check_interval_ms: int = 300000  # log.retention.check.interval.ms
    log_cleaner_enable: bool = True  # log.cleaner.enable
    log_cleaner_backoff_ms: int = 15000  # log.cleaner.backoff.ms
    # How often each log's recovery point is saved (recovery-point-offset-checkpoint).
    log_flush_offset_checkpoint_interval_ms: int = 60000  # log.flush.offset.checkpoint.interval.ms

    # Fault injection for tests (not a Kafka setting): every Nth produce
    # request is written but answered by closing the connection.
    drop_produce_responses_every: int = 0
    # ...and the process exits (as if killed) right after writing the Nth one.
    exit_after_produce: int = 0
    # Kafka names set explicitly (DescribeConfigs: STATIC_BROKER_CONFIG).
    explicit: set = attrs.field(factory=set)

    @property
    def in_memory(self) -> bool:
        return self.data_dir is None

    def advertised(self, bound_port: int) -> tuple[str, int]:
        host = self.advertised_host or self.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return host, self.advertised_port or bound_port

    def apply_override(self, kafka_name: str, raw_value: str) -> None:
        """Set one setting given by its Kafka name, e.g. ("num.partitions", "3")."""
        kafka_name = kafka_name.strip()
        if kafka_name in _IN_OTHER_UNITS:
            kafka_name, factor = _IN_OTHER_UNITS[kafka_name]
            raw_value = str(int(raw_value) * factor)
        attribute = kafka_name.replace(".", "_")
        known = {f.name: f for f in attrs.fields(BrokerConfig)}
        if attribute not in known or attribute in _NOT_KAFKA_SETTINGS:
            raise ValueError(f"unknown broker config {kafka_name!r}")
        current = getattr(self, attribute)
        if isinstance(current, bool):
            value: object = _kafka_bool(raw_value)
        elif isinstance(current, int):
            value = int(raw_value)
        elif isinstance(current, float):
            value = float(raw_value)
        else:
            value = raw_value
        setattr(self, attribute, value)
        self.explicit.add(kafka_name)


_NOT_KAFKA_SETTINGS = frozenset({
    "host", "port", "advertised_host", "advertised_port", "data_dir", "explicit", "drop_produce_responses_every",
    "exit_after_produce",
})
# Kafka's coarser synonyms, stored in the finest unit.
_IN_OTHER_UNITS = {
    "log.retention.hours": ("log.retention.ms", 3600_000),
    "log.retention.minutes": ("log.retention.ms", 60_000),
    "log.roll.hours": ("log.roll.ms", 3600_000),
}
