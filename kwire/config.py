"""Broker configuration under Kafka's own config names.

Every setting a user can pass with `-o name=value` (or in a Python dict when
embedding the broker) has the Kafka broker config name; the attribute name
is the same with dots turned into underscores.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

import attrs

from kwire.errors import StartupError

GIB = 1024 * 1024 * 1024


class ConfigError(StartupError, ValueError):
    """A setting Kafka would refuse; str(error) is one line naming it (one
    line per problem when several are reported together)."""


@attrs.frozen
class ListenerSpec:
    """One listener: Kafka's listener name, its security protocol, and where it listens."""

    name: str
    protocol: str
    host: str
    port: int


@attrs.define
class BrokerConfig:
    # Where to listen and what to tell clients.
    host: str = "127.0.0.1"
    port: int = 9092
    advertised_host: str | None = None
    advertised_port: int | None = None
    # None keeps every log in memory (`--memory`). `log.dirs` with several
    # directories: the first is data_dir (it also holds the metadata log,
    # Kafka's default `metadata.log.dir`), the rest are other_log_dirs.
    data_dir: Path | None = Path("kwire-data")
    other_log_dirs: tuple[Path, ...] = ()

    # Kafka broker settings (names: dots for underscores).
    node_id: int = 1  # node.id
    num_partitions: int = 1  # num.partitions
    auto_create_topics_enable: bool = True  # auto.create.topics.enable
    default_replication_factor: int = 1  # default.replication.factor
    broker_rack: str | None = None  # broker.rack
    # Replication (a multi-node cluster: `kwire serve --brokers N`).
    replica_lag_time_max_ms: int = 30000  # replica.lag.time.max.ms: a follower this far behind leaves the ISR
    replica_fetch_wait_max_ms: int = 500  # replica.fetch.wait.max.ms
    replica_fetch_max_bytes: int = 1048576  # replica.fetch.max.bytes
    unclean_leader_election_enable: bool = False  # unclean.leader.election.enable
    auto_leader_rebalance_enable: bool = True  # auto.leader.rebalance.enable
    leader_imbalance_check_interval_seconds: int = 300  # leader.imbalance.check.interval.seconds
    # KIP-392: which replica a consumer fetches from (the rack-aware one:
    # org.apache.kafka.common.replica.RackAwareReplicaSelector).
    replica_selector_class: str | None = None  # replica.selector.class
    message_max_bytes: int = 1048588  # message.max.bytes
    socket_request_max_bytes: int = 100 * 1024 * 1024  # socket.request.max.bytes
    log_segment_bytes: int = GIB  # log.segment.bytes
    log_index_interval_bytes: int = 4096  # log.index.interval.bytes
    fetch_max_bytes: int = 55 * 1024 * 1024  # fetch.max.bytes
    # Kafka's default is 3000 ms; kwire's 100 ms gathers consumers started
    # together into one generation and still assigns a lone one at once
    # (README, "Consumer groups").
    group_initial_rebalance_delay_ms: int = 100  # group.initial.rebalance.delay.ms
    group_min_session_timeout_ms: int = 6000  # group.min.session.timeout.ms
    group_max_session_timeout_ms: int = 1800000  # group.max.session.timeout.ms
    group_max_size: int = 2**31 - 1  # group.max.size
    # KIP-848 consumer groups (ConsumerGroupHeartbeat). Kafka's defaults but
    # for the heartbeat interval: a member learns of a new assignment (and
    # of partitions to revoke for a joiner) only when it next heartbeats, so
    # Kafka's 5000 ms makes a 4th member wait 5-10 s for its partitions; the
    # issue's CI target is well under a second (README, "KIP-848").
    group_consumer_heartbeat_interval_ms: int = 500  # group.consumer.heartbeat.interval.ms
    group_consumer_min_heartbeat_interval_ms: int = 100  # group.consumer.min.heartbeat.interval.ms
    group_consumer_max_heartbeat_interval_ms: int = 15000  # group.consumer.max.heartbeat.interval.ms
    group_consumer_session_timeout_ms: int = 45000  # group.consumer.session.timeout.ms
    group_consumer_min_session_timeout_ms: int = 45000  # group.consumer.min.session.timeout.ms
    group_consumer_max_session_timeout_ms: int = 60000  # group.consumer.max.session.timeout.ms
    group_consumer_assignors: str = "uniform,range"  # group.consumer.assignors (the first is the default)
    group_consumer_max_size: int = 2**31 - 1  # group.consumer.max.size
    # Online conversion of a non-empty group between the classic and the
    # consumer protocol (empty groups are always taken over): Kafka 4.x's
    # default lets both ways happen.
    group_consumer_migration_policy: str = "bidirectional"  # group.consumer.migration.policy
    # Share groups (KIP-932). On by default as in Kafka 4.2, where they are
    # production-ready and a new cluster finalizes share.version=1 (kwire
    # keeps Kafka 4.0's switch name to turn them off).
    group_share_enable: bool = True  # group.share.enable
    group_share_record_lock_duration_ms: int = 30000  # group.share.record.lock.duration.ms
    group_share_min_record_lock_duration_ms: int = 15000  # group.share.min.record.lock.duration.ms
    group_share_max_record_lock_duration_ms: int = 60000  # group.share.max.record.lock.duration.ms
    group_share_delivery_count_limit: int = 5  # group.share.delivery.count.limit
    group_share_session_timeout_ms: int = 45000  # group.share.session.timeout.ms
    group_share_min_session_timeout_ms: int = 45000  # group.share.min.session.timeout.ms
    group_share_max_session_timeout_ms: int = 60000  # group.share.max.session.timeout.ms
    # 500 ms, not Kafka's 5000, for the reason the consumer's is: a topic new
    # to a share group is assigned from the heartbeat after the one that
    # subscribed (README, "Share groups").
    group_share_heartbeat_interval_ms: int = 500  # group.share.heartbeat.interval.ms
    group_share_min_heartbeat_interval_ms: int = 100  # group.share.min.heartbeat.interval.ms
    group_share_max_heartbeat_interval_ms: int = 15000  # group.share.max.heartbeat.interval.ms
    group_share_partition_max_record_locks: int = 2000  # group.share.partition.max.record.locks
    group_share_max_share_sessions: int = 2000  # group.share.max.share.sessions
    # Where share-partition state is kept (Kafka's share coordinator topic).
    share_coordinator_state_topic_num_partitions: int = 50  # share.coordinator.state.topic.num.partitions
    # Kafka's default 3; kwire caps it at the live brokers (one broker: 1).
    share_coordinator_state_topic_replication_factor: int = 3  # share.coordinator.state.topic.replication.factor
    offsets_topic_num_partitions: int = 50  # offsets.topic.num.partitions
    # Kafka's default 3; kwire caps it at the live brokers (one broker: 1).
    offsets_topic_replication_factor: int = 3  # offsets.topic.replication.factor
    offsets_retention_minutes: int = 10080  # offsets.retention.minutes
    offsets_retention_check_interval_ms: int = 600000  # offsets.retention.check.interval.ms
    offset_metadata_max_bytes: int = 4096  # offset.metadata.max.bytes
    # How long an offset commit waits for the ISR of its __consumer_offsets partition.
    offsets_commit_timeout_ms: int = 5000  # offsets.commit.timeout.ms
    # The most metrics bytes a client may send in one PushTelemetry (KIP-714).
    telemetry_max_bytes: int = 1048576  # telemetry.max.bytes
    # Log defaults that topics inherit (topic name in brackets).
    log_retention_ms: int = 604800000  # log.retention.ms (retention.ms); .hours/.minutes accepted
    log_retention_bytes: int = -1  # log.retention.bytes (retention.bytes)
    log_roll_ms: int = 604800000  # log.roll.ms (segment.ms); log.roll.hours accepted
    log_cleanup_policy: str = "delete"  # log.cleanup.policy (cleanup.policy)
    compression_type: str = "producer"  # compression.type
    log_message_timestamp_type: str = "CreateTime"  # log.message.timestamp.type (message.timestamp.type)
    # CreateTime records this much older or newer than the broker's clock are refused (Kafka 4's defaults).
    log_message_timestamp_before_max_ms: int = 2**63 - 1  # log.message.timestamp.before.max.ms
    log_message_timestamp_after_max_ms: int = 3600000  # log.message.timestamp.after.max.ms
    log_index_size_max_bytes: int = 10485760  # log.index.size.max.bytes (segment.index.bytes)
    log_cleaner_delete_retention_ms: int = 86400000  # log.cleaner.delete.retention.ms (delete.retention.ms)
    log_cleaner_min_compaction_lag_ms: int = 0  # log.cleaner.min.compaction.lag.ms (min.compaction.lag.ms)
    log_cleaner_min_cleanable_ratio: float = 0.5  # log.cleaner.min.cleanable.ratio (min.cleanable.dirty.ratio)
    min_insync_replicas: int = 1  # min.insync.replicas
    transaction_state_log_num_partitions: int = 50  # transaction.state.log.num.partitions
    transaction_state_log_replication_factor: int = 3  # transaction.state.log.replication.factor (capped as above)
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
    # Connections and the memory requests may hold (kwire/server/).
    connections_max_idle_ms: int = 600000  # connections.max.idle.ms (negative: never close)
    # Kafka's default is -1 (no bound); kwire bounds the bytes of requests
    # being received or handled to one maximum-size request's worth, so a
    # few slow senders of large frames cannot run a CI machine out of memory.
    queued_max_request_bytes: int = 100 * 1024 * 1024  # queued.max.request.bytes (<= 0: no bound)
    max_connections: int = 2**31 - 1  # max.connections
    max_connections_per_ip: int = 2**31 - 1  # max.connections.per.ip
    # Client quotas (kwire/quotas/): rates are measured over this many
    # windows of this many seconds each, as Kafka's.
    quota_window_num: int = 11  # quota.window.num
    quota_window_size_seconds: int = 1  # quota.window.size.seconds
    # Durability, with Kafka's defaults: no fsync per write; a segment is
    # fsynced when it rolls. flush.ms (log.flush.interval.ms, when unset
    # log.flush.scheduler.interval.ms) is checked every
    # log.flush.scheduler.interval.ms, by default never (as in Kafka).
    log_flush_interval_messages: int = 2**63 - 1  # log.flush.interval.messages (flush.messages)
    log_flush_interval_ms: int | None = None  # log.flush.interval.ms (flush.ms)
    log_flush_scheduler_interval_ms: int = 2**63 - 1  # log.flush.scheduler.interval.ms
    # How often each log's recovery point is saved (recovery-point-offset-checkpoint).
    log_flush_offset_checkpoint_interval_ms: int = 60000  # log.flush.offset.checkpoint.interval.ms

    # DeleteTopics; a deleted partition's renamed directory is removed this much later.
    delete_topic_enable: bool = True  # delete.topic.enable
    log_segment_delete_delay_ms: int = 60000  # log.segment.delete.delay.ms (file.delete.delay.ms)

    # Security (kwire/security/): listeners beyond the first, TLS, SASL and ACLs.
    # Every listener as (name, security protocol, host, port); empty: one
    # PLAINTEXT listener on host:port. The first entry always mirrors host:port.
    listener_specs: tuple[tuple[str, str, str, int], ...] = ()
    # Listener name -> (host, port) clients are told (advertised.listeners).
    advertised_listener_specs: dict[str, tuple[str, int]] = attrs.field(factory=dict)
    inter_broker_listener_name: str | None = None  # inter.broker.listener.name
    security_inter_broker_protocol: str = "PLAINTEXT"  # security.inter.broker.protocol
    # TLS: PEM or PKCS12 files (Kafka's JKS needs Java; a PEM or PKCS12 file is read whatever the type says).
    ssl_keystore_type: str = "JKS"  # ssl.keystore.type
    ssl_keystore_location: str | None = None  # ssl.keystore.location
    ssl_keystore_password: str | None = None  # ssl.keystore.password
    ssl_key_password: str | None = None  # ssl.key.password
    ssl_keystore_certificate_chain: str | None = None  # ssl.keystore.certificate.chain (PEM text)
    ssl_keystore_key: str | None = None  # ssl.keystore.key (PEM text)
    ssl_truststore_type: str = "JKS"  # ssl.truststore.type
    ssl_truststore_location: str | None = None  # ssl.truststore.location
    ssl_truststore_password: str | None = None  # ssl.truststore.password
    ssl_truststore_certificates: str | None = None  # ssl.truststore.certificates (PEM text)
    ssl_client_auth: str = "none"  # ssl.client.auth
    ssl_enabled_protocols: str = "TLSv1.2,TLSv1.3"  # ssl.enabled.protocols
    ssl_protocol: str = "TLSv1.3"  # ssl.protocol
    ssl_cipher_suites: str = ""  # ssl.cipher.suites (empty: the ssl module's defaults)
    ssl_principal_mapping_rules: str = "DEFAULT"  # ssl.principal.mapping.rules
    ssl_endpoint_identification_algorithm: str = "https"  # ssl.endpoint.identification.algorithm
    # SASL. Kafka's default is GSSAPI, which kwire lacks; kwire enables every mechanism it has.
    sasl_enabled_mechanisms: str = "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER"  # sasl.enabled.mechanisms
    sasl_jaas_config: str | None = None  # sasl.jaas.config (PLAIN's user_NAME="password" options)
    sasl_mechanism_inter_broker_protocol: str = "GSSAPI"  # sasl.mechanism.inter.broker.protocol
    sasl_server_max_receive_size: int = 524288  # sasl.server.max.receive.size
    connections_max_reauth_ms: int = 0  # connections.max.reauth.ms (KIP-368; 0: no bound but a token's expiry)
    # A failed authentication's answer goes out at once; the close follows this much later.
    connection_failed_authentication_delay_ms: int = 100  # connection.failed.authentication.delay.ms
    # OAUTHBEARER: unsecured JWS tokens unless a JWKS is named (a file: URL or path).
    sasl_oauthbearer_jwks_endpoint_url: str | None = None  # sasl.oauthbearer.jwks.endpoint.url
    sasl_oauthbearer_expected_audience: str = ""  # sasl.oauthbearer.expected.audience
    sasl_oauthbearer_expected_issuer: str | None = None  # sasl.oauthbearer.expected.issuer
    sasl_oauthbearer_sub_claim_name: str = "sub"  # sasl.oauthbearer.sub.claim.name
    sasl_oauthbearer_scope_claim_name: str = "scope"  # sasl.oauthbearer.scope.claim.name
    sasl_oauthbearer_clock_skew_seconds: int = 30  # sasl.oauthbearer.clock.skew.seconds
    # ACLs: any of Kafka's authorizer class names turns kwire's ACL authorizer on.
    authorizer_class_name: str = ""  # authorizer.class.name
    super_users: str = ""  # super.users ("User:a;User:b")
    allow_everyone_if_no_acl_found: bool = False  # allow.everyone.if.no.acl.found
    # listener.name.<listener>.<setting> (and .<mechanism>.sasl.jaas.config), as given.
    listener_overrides: dict[str, str] = attrs.field(factory=dict)

    # kwire's own (Kafka has only its log4j logger): log every request to
    # `kafka.request.logger` at INFO (README, "Logs").
    kafka_request_logging: bool = False  # kafka.request.logging

    # Fault injection for tests (not a Kafka setting): every Nth produce
    # request is written but answered by closing the connection.
    drop_produce_responses_every: int = 0
    # ...and the process exits (as if killed) right after writing the Nth one.
    exit_after_produce: int = 0
    # The fault-injection HTTP endpoint on 127.0.0.1 (--control-port; 0 picks a free port; None: off).
    control_port: int | None = None
    # The HTTP endpoint (--http-port; 0 picks a free port; None: off): /metrics,
    # /healthz, /readyz and the web console, on http_host (loopback unless told).
    http_port: int | None = None
    http_host: str = "127.0.0.1"
    # Kafka names set explicitly (DescribeConfigs: STATIC_BROKER_CONFIG).
    explicit: set[str] = attrs.field(factory=set)

    @property
    def in_memory(self) -> bool:
        return self.data_dir is None

    @property
    def log_dirs(self) -> tuple[Path, ...]:
        """Every log directory, data_dir first; none in memory."""
        if self.data_dir is None:
            return ()
        return (Path(self.data_dir), *(Path(directory) for directory in self.other_log_dirs))

    def advertised(self, bound_port: int) -> tuple[str, int]:
        host = self.advertised_host or self.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return host, self.advertised_port or bound_port

    def listeners(self) -> list[ListenerSpec]:
        """Every listener, the first on host:port (so --host/--port move it)."""
        specs = self.listener_specs or (("PLAINTEXT", "PLAINTEXT", self.host, self.port),)
        first_name, first_protocol = specs[0][0], specs[0][1]
        return [
            ListenerSpec(first_name, first_protocol, self.host, self.port),
            *(ListenerSpec(*spec) for spec in specs[1:]),
        ]

    def advertised_for(self, listener: ListenerSpec, bound_port: int) -> tuple[str, int]:
        """What clients that came in on `listener` are told to connect to:
        advertised.listeners' entry for it, else where it listens."""
        if listener.name == self.listeners()[0].name:
            return self.advertised(bound_port)
        host, port = self.advertised_listener_specs.get(listener.name, (listener.host, 0))
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return host, port or bound_port

    def listener_setting(self, listener: str, kafka_name: str, mechanism: str | None = None) -> str | None:
        """`kafka_name` for one listener: `listener.name.<listener>.[<mechanism>.]<name>`
        when given, else the broker-wide value (None when unset), as a string."""
        prefix = f"listener.name.{listener.lower()}."
        keys = [prefix + (f"{mechanism.lower()}." if mechanism else "") + kafka_name]
        if mechanism:
            keys.append(prefix + kafka_name)
        for key in keys:
            if key in self.listener_overrides:
                return self.listener_overrides[key]
        value = getattr(self, kafka_name.replace(".", "_"), None)
        return None if value is None else shown(value)

    def apply_override(self, kafka_name: str, raw_value: str) -> None:
        """Set one setting given by its Kafka name, e.g. ("num.partitions", "3");
        raises ConfigError naming the setting when Kafka would refuse the value."""
        kafka_name = kafka_name.strip()
        if kafka_name in _IN_OTHER_UNITS:
            finest_name, factor = _IN_OTHER_UNITS[kafka_name]
            coarse = SETTINGS[kafka_name].parse(f"configuration {kafka_name}", raw_value)
            kafka_name, raw_value = finest_name, str(coarse * factor)
        if not is_setting(kafka_name):
            raise ConfigError(f"Unknown broker config {kafka_name!r}")
        attribute = kafka_name.replace(".", "_")
        rule = rule_for(kafka_name, attrs.fields_dict(BrokerConfig)[attribute])
        setattr(self, attribute, rule.parse(f"configuration {kafka_name}", raw_value))
        self.explicit.add(kafka_name)

    def problems(self) -> list[str]:
        """Every setting Kafka would refuse, one line each (empty when all is well)."""
        found = []
        for field in attrs.fields(BrokerConfig):
            if field.name in _OPTIONS:
                label, rule = _OPTIONS[field.name]
            elif field.name in _NOT_KAFKA_SETTINGS:
                continue
            else:
                kafka_name = field.name.replace("_", ".")
                label, rule = f"configuration {kafka_name}", rule_for(kafka_name, field)
            value = getattr(self, field.name)
            if value is None and field.default is None:
                continue  # unset, as Kafka's null defaults
            try:
                rule.check(label, value)
            except ConfigError as problem:
                found.append(str(problem))
        found.extend(self._cross_problems())
        return found

    def validate(self) -> None:
        """Raise ConfigError (one line per problem) unless Kafka would accept every setting."""
        found = self.problems()
        if found:
            raise ConfigError("\n".join(found))

    def _cross_problems(self) -> list[str]:
        """Kafka's checks across settings (KafkaConfig.validateValues)."""
        found = []
        if (
            self.queued_max_request_bytes > 0
            and "queued.max.request.bytes" in self.explicit
            and self.queued_max_request_bytes < self.socket_request_max_bytes
        ):
            found.append(
                f"Invalid value {self.queued_max_request_bytes} for configuration queued.max.request.bytes: "
                f"must be at least socket.request.max.bytes ({self.socket_request_max_bytes}) or -1"
            )
        if self.max_connections_per_ip == 0:
            found.append(
                "Invalid value 0 for configuration max.connections.per.ip: "
                "zero needs max.connections.per.ip.overrides, which kwire does not support"
            )
        seen: set[Path] = set()
        for directory in self.log_dirs:
            absolute = Path(os.path.abspath(directory))
            if absolute in seen:
                found.append(
                    f"Invalid value {','.join(map(str, self.log_dirs))} for configuration log.dirs: "
                    f"duplicate log directory {absolute}"
                )
                break
            seen.add(absolute)
        if self.advertised_host is not None and not self.advertised_host.strip():
            found.append("Invalid value '' for option --advertised-host: must not be empty")
        if not self.host.strip():
            found.append("Invalid value '' for option --host: must not be empty (0.0.0.0 listens everywhere)")
        found.extend(self._listener_problems())
        found.extend(self._group_timing_problems())
        return found

    def _group_timing_problems(self) -> list[str]:
        """GroupCoordinatorConfig's checks of the KIP-848 and share-group
        timings against their min/max bounds, in Kafka's words."""
        found = []
        for kind in ("consumer", "share"):
            for setting in ("heartbeat.interval.ms", "session.timeout.ms"):
                name, low, high = (
                    f"group.{kind}.{setting}",
                    f"group.{kind}.min.{setting}",
                    f"group.{kind}.max.{setting}",
                )
                value, minimum, maximum = (getattr(self, n.replace(".", "_")) for n in (name, low, high))
                if maximum < minimum:
                    found.append(f"{high} must be greater than or equal to {low}")
                if value < minimum:
                    found.append(f"{name} must be greater than or equal to {low}")
                if value > maximum:
                    found.append(f"{name} must be less than or equal to {high}")
            heartbeat = f"group.{kind}.heartbeat.interval.ms"
            session = f"group.{kind}.session.timeout.ms"
            if getattr(self, heartbeat.replace(".", "_")) >= getattr(self, session.replace(".", "_")):
                found.append(f"{heartbeat} must be less than {session}")
        lock = self.group_share_record_lock_duration_ms
        shortest = self.group_share_min_record_lock_duration_ms
        longest = self.group_share_max_record_lock_duration_ms
        if longest < shortest:
            found.append(
                "group.share.max.record.lock.duration.ms must be greater than or equal to "
                "group.share.min.record.lock.duration.ms"
            )
        if not shortest <= lock <= longest:
            found.append(
                "group.share.record.lock.duration.ms must be between group.share.min.record.lock.duration.ms "
                "and group.share.max.record.lock.duration.ms"
            )
        return found

    def _listener_problems(self) -> list[str]:
        names = [listener.name for listener in self.listeners()]
        found = [
            f"Invalid value {name} for configuration advertised.listeners: listener {name} is not one of listeners "
            f"({','.join(names)})"
            for name in self.advertised_listener_specs
            if name not in names
        ]
        if self.inter_broker_listener_name is not None:
            if "security.inter.broker.protocol" in self.explicit:
                found.append("Only one of inter.broker.listener.name and security.inter.broker.protocol should be set")
            elif self.inter_broker_listener_name.upper() not in names:
                found.append(
                    f"Invalid value {self.inter_broker_listener_name} for configuration inter.broker.listener.name: "
                    f"{self.inter_broker_listener_name} is not one of listeners ({','.join(names)})"
                )
        return found


# --- types and ranges --------------------------------------------------------------------------------------------

# Kafka's ConfigDef types.
BOOLEAN, STRING, INT, LONG, DOUBLE, LIST = "BOOLEAN", "STRING", "INT", "LONG", "DOUBLE", "LIST"
# A setting's value once parsed: what its Kafka type becomes in Python.
ConfigValue = bool | int | float | str
_INTEGER_BOUNDS = {INT: (-(2**31), 2**31 - 1), LONG: (-(2**63), 2**63 - 1)}
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


@attrs.frozen
class Rule:
    """A setting's Kafka type and validator; parse() and check() raise
    ConfigError worded as Kafka's ConfigException."""

    kind: str
    at_least: float | None = None
    at_most: float | None = None
    choices: tuple[str, ...] = ()
    # Kafka's CaseInsensitiveValidString: any case of a choice is accepted.
    case_insensitive: bool = False
    # Kafka turns any negative value into -1 (unlimited) before the range check.
    negative_is_unlimited: bool = False
    # Kafka lets AlterConfigs change it at run time (DynamicBrokerConfig),
    # per broker and as the cluster-wide default.
    dynamic: bool = False

    def parse(self, label: str, raw: str) -> ConfigValue:
        text = raw.strip()
        if self.kind == BOOLEAN:
            if text.lower() not in ("true", "false"):
                raise _invalid(label, raw, "Expected value to be either true or false")
            value: ConfigValue = text.lower() == "true"
        elif self.kind in (INT, LONG):
            if not _INTEGER.fullmatch(text):
                raise _invalid(label, raw, f"Not a number of type {self.kind}")
            value = int(text)
            low, high = _INTEGER_BOUNDS[self.kind]
            if not low <= value <= high:
                raise _invalid(label, raw, f"Not a number of type {self.kind}")
        elif self.kind == DOUBLE:
            if not _DECIMAL.fullmatch(text) or not math.isfinite(float(text)):
                raise _invalid(label, raw, "Not a number of type DOUBLE")
            value = float(text)
        elif self.kind == LIST:
            value = ",".join(item.strip() for item in text.split(",")) if text else ""
        else:
            value = text
        if self.negative_is_unlimited and isinstance(value, int) and value < 0:
            value = -1
        self.check(label, value)
        return value

    def check(self, label: str, value: object) -> None:
        """Check a typed value (parsed, or set in code) against the type and range."""
        shown_value = shown(value)
        if self.kind == BOOLEAN:
            if not isinstance(value, bool):
                raise _invalid(label, shown_value, "Expected value to be either true or false")
            return
        if self.kind in (INT, LONG):
            low, high = _INTEGER_BOUNDS[self.kind]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise _invalid(label, shown_value, f"Not a number of type {self.kind}")
            if self.negative_is_unlimited and value == -1:
                return
        elif self.kind == DOUBLE:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise _invalid(label, shown_value, "Not a number of type DOUBLE")
        elif not isinstance(value, str):
            raise _invalid(label, shown_value, "Expected value to be a string")
        if not isinstance(value, str):  # an INT, LONG or DOUBLE, as checked above
            self._check_range(label, shown_value, value)
        elif self.choices:
            items = [item.strip() for item in value.split(",")] if self.kind == LIST else [value]
            if self.kind == LIST and not value.strip():
                raise _invalid(label, shown_value, "Empty list is not allowed")
            for item in items:
                if self.case_insensitive and item.lower() in self.choices:
                    continue
                if item not in self.choices:
                    kind = " (case insensitive)" if self.case_insensitive else ""
                    raise _invalid(label, shown_value, f"String must be one of{kind}: {', '.join(self.choices)}")

    def _check_range(self, label: str, text: str, value: float) -> None:
        if self.at_least is not None and value < self.at_least:
            unlimited = " (or -1 for unlimited)" if self.negative_is_unlimited else ""
            raise _invalid(label, text, f"Value must be at least {_plain(self.at_least)}{unlimited}")
        if self.at_most is not None and value > self.at_most:
            raise _invalid(label, text, f"Value must be no more than {_plain(self.at_most)}")


def _invalid(label: str, value: str, reason: str) -> ConfigError:
    return ConfigError(f"Invalid value {value} for {label}: {reason}")


def shown(value: object) -> str:
    """A setting's value as Kafka prints it ("null" for unset)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def rule_for(kafka_name: str, field: attrs.Attribute[Any]) -> Rule:
    """The setting's rule; a setting without one is checked by its Python type only."""
    if kafka_name in SETTINGS:
        return SETTINGS[kafka_name]
    default, annotation = field.default, str(field.type)
    if isinstance(default, bool) or default is None and "bool" in annotation:
        return Rule(BOOLEAN)
    if isinstance(default, int) or default is None and "int" in annotation:
        return Rule(LONG)
    if isinstance(default, float) or default is None and "float" in annotation:
        return Rule(DOUBLE)
    return Rule(STRING)


# Each broker setting's Kafka type and valid values, from Kafka's ConfigDef
# definitions: one line per setting (a setting missing here is checked by
# the type of its default only).
SETTINGS: dict[str, Rule] = {
    "node.id": Rule(INT, at_least=0),
    "num.partitions": Rule(INT, at_least=1),
    "auto.create.topics.enable": Rule(BOOLEAN),
    "default.replication.factor": Rule(INT, at_least=1),
    "replica.lag.time.max.ms": Rule(LONG, at_least=1),
    "replica.fetch.wait.max.ms": Rule(INT, at_least=0),
    "replica.fetch.max.bytes": Rule(INT, at_least=0),
    "unclean.leader.election.enable": Rule(BOOLEAN, dynamic=True),
    "auto.leader.rebalance.enable": Rule(BOOLEAN),
    "leader.imbalance.check.interval.seconds": Rule(LONG, at_least=1),
    "replica.selector.class": Rule(STRING),
    "message.max.bytes": Rule(INT, at_least=0, dynamic=True),
    "socket.request.max.bytes": Rule(INT, at_least=1),
    "log.segment.bytes": Rule(INT, at_least=14, dynamic=True),
    "log.index.interval.bytes": Rule(INT, at_least=0, dynamic=True),
    "fetch.max.bytes": Rule(INT, at_least=1024),
    "group.initial.rebalance.delay.ms": Rule(INT),
    "group.min.session.timeout.ms": Rule(INT),
    "group.max.session.timeout.ms": Rule(INT),
    "group.max.size": Rule(INT, at_least=1),
    "group.consumer.heartbeat.interval.ms": Rule(INT, at_least=1),
    "group.consumer.min.heartbeat.interval.ms": Rule(INT, at_least=1),
    "group.consumer.max.heartbeat.interval.ms": Rule(INT, at_least=1),
    "group.consumer.session.timeout.ms": Rule(INT, at_least=1),
    "group.consumer.min.session.timeout.ms": Rule(INT, at_least=1),
    "group.consumer.max.session.timeout.ms": Rule(INT, at_least=1),
    "group.consumer.assignors": Rule(LIST, choices=("uniform", "range")),
    "group.consumer.max.size": Rule(INT, at_least=1),
    "group.consumer.migration.policy": Rule(
        STRING, choices=("disabled", "downgrade", "upgrade", "bidirectional"), case_insensitive=True
    ),
    "group.share.enable": Rule(BOOLEAN),
    "group.share.record.lock.duration.ms": Rule(INT, at_least=1000),
    "group.share.min.record.lock.duration.ms": Rule(INT, at_least=1000),
    "group.share.max.record.lock.duration.ms": Rule(INT, at_least=1000),
    "group.share.delivery.count.limit": Rule(INT, at_least=2),
    "group.share.session.timeout.ms": Rule(INT, at_least=1),
    "group.share.min.session.timeout.ms": Rule(INT, at_least=1),
    "group.share.max.session.timeout.ms": Rule(INT, at_least=1),
    "group.share.heartbeat.interval.ms": Rule(INT, at_least=1),
    "group.share.min.heartbeat.interval.ms": Rule(INT, at_least=1),
    "group.share.max.heartbeat.interval.ms": Rule(INT, at_least=1),
    "group.share.partition.max.record.locks": Rule(INT, at_least=100),
    "group.share.max.share.sessions": Rule(INT, at_least=1),
    "share.coordinator.state.topic.num.partitions": Rule(INT, at_least=1),
    "share.coordinator.state.topic.replication.factor": Rule(INT, at_least=1),
    "offsets.topic.num.partitions": Rule(INT, at_least=1),
    "offsets.topic.replication.factor": Rule(INT, at_least=1),
    "transaction.state.log.replication.factor": Rule(INT, at_least=1),
    "offsets.retention.minutes": Rule(INT, at_least=1),
    "offsets.retention.check.interval.ms": Rule(LONG, at_least=1),
    "offset.metadata.max.bytes": Rule(INT),
    "offsets.commit.timeout.ms": Rule(INT, at_least=1),
    "telemetry.max.bytes": Rule(INT, at_least=1),
    "log.retention.ms": Rule(LONG, at_least=1, negative_is_unlimited=True, dynamic=True),
    "log.retention.minutes": Rule(INT),
    "log.retention.hours": Rule(INT),
    "log.retention.bytes": Rule(LONG, dynamic=True),
    "log.roll.ms": Rule(LONG, at_least=1, dynamic=True),
    "log.roll.hours": Rule(INT, at_least=1),
    "log.cleanup.policy": Rule(LIST, choices=("compact", "delete"), dynamic=True),
    "compression.type": Rule(
        STRING, choices=("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"), dynamic=True
    ),
    "log.message.timestamp.type": Rule(STRING, choices=("CreateTime", "LogAppendTime"), dynamic=True),
    "log.message.timestamp.before.max.ms": Rule(LONG, at_least=0, dynamic=True),
    "log.message.timestamp.after.max.ms": Rule(LONG, at_least=0, dynamic=True),
    "log.index.size.max.bytes": Rule(INT, at_least=4, dynamic=True),
    "log.cleaner.delete.retention.ms": Rule(LONG, at_least=0, dynamic=True),
    "log.cleaner.min.compaction.lag.ms": Rule(LONG, at_least=0, dynamic=True),
    "log.cleaner.min.cleanable.ratio": Rule(DOUBLE, at_least=0, at_most=1, dynamic=True),
    "min.insync.replicas": Rule(INT, at_least=1, dynamic=True),
    "transaction.state.log.num.partitions": Rule(INT, at_least=1),
    "transaction.max.timeout.ms": Rule(INT, at_least=1),
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": Rule(INT, at_least=1),
    "transactional.id.expiration.ms": Rule(INT, at_least=1),
    "transaction.remove.expired.transaction.cleanup.interval.ms": Rule(INT, at_least=1),
    "transaction.partition.verification.enable": Rule(BOOLEAN, dynamic=True),
    "producer.id.expiration.ms": Rule(INT, at_least=1, dynamic=True),
    "producer.id.expiration.check.interval.ms": Rule(INT, at_least=1),
    "log.retention.check.interval.ms": Rule(LONG, at_least=1),
    "log.cleaner.enable": Rule(BOOLEAN),
    "log.cleaner.backoff.ms": Rule(LONG, at_least=0, dynamic=True),
    "connections.max.idle.ms": Rule(LONG),
    "queued.max.request.bytes": Rule(LONG),
    "max.connections": Rule(INT, at_least=0, dynamic=True),
    "max.connections.per.ip": Rule(INT, at_least=0, dynamic=True),
    "quota.window.num": Rule(INT, at_least=1),
    "quota.window.size.seconds": Rule(INT, at_least=1),
    "log.flush.interval.messages": Rule(LONG, at_least=1, dynamic=True),
    "log.flush.interval.ms": Rule(LONG, dynamic=True),
    "log.flush.scheduler.interval.ms": Rule(LONG),
    "log.flush.offset.checkpoint.interval.ms": Rule(INT, at_least=0),
    "delete.topic.enable": Rule(BOOLEAN),
    "log.segment.delete.delay.ms": Rule(LONG, at_least=0, dynamic=True),
    "security.inter.broker.protocol": Rule(STRING, choices=("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")),
    "ssl.keystore.type": Rule(STRING, choices=("JKS", "PKCS12", "PEM")),
    "ssl.truststore.type": Rule(STRING, choices=("JKS", "PKCS12", "PEM")),
    "ssl.client.auth": Rule(STRING, choices=("required", "requested", "none")),
    "ssl.enabled.protocols": Rule(LIST, choices=("TLSv1.2", "TLSv1.3")),
    "ssl.protocol": Rule(STRING, choices=("TLS", "TLSv1.2", "TLSv1.3")),
    "ssl.cipher.suites": Rule(LIST),
    "ssl.principal.mapping.rules": Rule(STRING),
    "ssl.endpoint.identification.algorithm": Rule(STRING),
    "sasl.enabled.mechanisms": Rule(LIST),
    "sasl.mechanism.inter.broker.protocol": Rule(STRING),
    "sasl.server.max.receive.size": Rule(INT, at_least=1),
    "connections.max.reauth.ms": Rule(LONG, at_least=0),
    "connection.failed.authentication.delay.ms": Rule(INT, at_least=0),
    "sasl.oauthbearer.expected.audience": Rule(LIST),
    "sasl.oauthbearer.clock.skew.seconds": Rule(INT, at_least=0),
    "authorizer.class.name": Rule(STRING),
    "super.users": Rule(STRING),
    "allow.everyone.if.no.acl.found": Rule(BOOLEAN),
    "kafka.request.logging": Rule(BOOLEAN),  # kwire's own, not Kafka's
}

# Command-line options that are not Kafka settings: attribute -> (label, rule).
_OPTIONS: dict[str, tuple[str, Rule]] = {
    "port": ("option --port", Rule(INT, at_least=0, at_most=65535)),
    "advertised_port": ("option --advertised-port", Rule(INT, at_least=1, at_most=65535)),
    "drop_produce_responses_every": ("option --drop-produce-responses", Rule(INT, at_least=0)),
    "exit_after_produce": ("option --exit-after-produce", Rule(INT, at_least=0)),
    "control_port": ("option --control-port", Rule(INT, at_least=0, at_most=65535)),
    "http_port": ("option --http-port", Rule(INT, at_least=0, at_most=65535)),
    "http_host": ("option --http-host", Rule(STRING)),
}


def parse_option(attribute: str, raw: str, label: str | None = None) -> ConfigValue:
    """A command-line option's value (--port, or --node-id for node.id) checked like a setting;
    errors name `label` (an environment variable, say) instead of the option when given."""
    if attribute in _OPTIONS:
        option_label, rule = _OPTIONS[attribute]
    else:
        option_label, rule = "option --" + attribute.replace("_", "-"), SETTINGS[attribute.replace("_", ".")]
    return rule.parse(label or option_label, raw)


def is_setting(kafka_name: str) -> bool:
    """Whether `kafka_name` is a Kafka broker setting kwire takes (by its exact Kafka name)."""
    if kafka_name in SETTINGS:
        return True
    attribute = kafka_name.replace(".", "_")
    return (
        "_" not in kafka_name and attribute in attrs.fields_dict(BrokerConfig) and attribute not in _NOT_KAFKA_SETTINGS
    )


_NOT_KAFKA_SETTINGS = frozenset(
    {
        "host",
        "port",
        "advertised_host",
        "advertised_port",
        "data_dir",
        "other_log_dirs",
        "explicit",
        "drop_produce_responses_every",
        "exit_after_produce",
        "control_port",
        "http_port",
        "http_host",
        "listener_specs",
        "advertised_listener_specs",
        "listener_overrides",
    }
)
# Kafka's coarser synonyms, stored in the finest unit.
_IN_OTHER_UNITS = {
    "log.retention.hours": ("log.retention.ms", 3600_000),
    "log.retention.minutes": ("log.retention.ms", 60_000),
    "log.roll.hours": ("log.roll.ms", 3600_000),
}
