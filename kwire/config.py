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
        attribute = kafka_name.strip().replace(".", "_")
        known = {f.name: f for f in attrs.fields(BrokerConfig)}
        if attribute not in known or attribute in _NOT_KAFKA_SETTINGS:
            raise ValueError(f"unknown broker config {kafka_name!r}")
        current = getattr(self, attribute)
        if isinstance(current, bool):
            value: object = _kafka_bool(raw_value)
        elif isinstance(current, int):
            value = int(raw_value)
        else:
            value = raw_value
        setattr(self, attribute, value)


_NOT_KAFKA_SETTINGS = frozenset({"host", "port", "advertised_host", "advertised_port", "data_dir"})
