"""What each supported setting means, for `kwire config list` and for
DescribeConfigs' documentation field (v3+, `include_documentation`).

Kept beside the SETTINGS table (kwire/config.py) rather than in it so that
table stays one short line per setting; tests/test_config_docs.py checks
that every setting kwire takes has a line here.
"""

from __future__ import annotations

import attrs

from kwire.config import SETTINGS, BrokerConfig, is_setting, rule_for, shown

DOCS: dict[str, str] = {
    # Address, storage and identity (Kafka's names for kwire's options).
    "listeners": "where to listen: NAME://HOST:PORT, several separated by commas (controller listeners are left out)",
    "advertised.listeners": "the addresses clients are told, NAME://HOST:PORT per listener",
    "log.dirs": "the log directories, comma-separated (the first holds the metadata log); --memory: none",
    "log.dir": "the log directories when log.dirs is not set",
    "node.id": "this broker's id, as clients see it in metadata",
    "broker.id": "node.id's older name",
    # Topics and requests.
    "num.partitions": "partitions of auto-created topics",
    "auto.create.topics.enable": "create unknown topics on Metadata and Produce",
    "default.replication.factor": "replication factor of auto-created topics (up to the number of brokers)",
    "replica.lag.time.max.ms": "a follower that has not caught up for this long leaves the ISR",
    "replica.fetch.wait.max.ms": "how long a follower's fetch waits for new data at the leader",
    "replica.fetch.max.bytes": "bytes a follower copies per partition and fetch",
    "unclean.leader.election.enable": "let an out-of-sync replica lead when no in-sync one is alive (data loss)",
    "auto.leader.rebalance.enable": "move leadership back to the preferred replica once it is in sync",
    "leader.imbalance.check.interval.seconds": "how often the controller checks for preferred leaders to restore",
    "replica.selector.class": "the rack-aware selector lets consumers fetch from a replica in their client.rack",
    "broker.rack": "this broker's rack, reported in metadata and used by rack-aware replica placement",
    "message.max.bytes": "largest record batch accepted (topic: max.message.bytes)",
    "socket.request.max.bytes": "larger request frames close the connection",
    "fetch.max.bytes": "cap on one fetch response",
    "delete.topic.enable": "let DeleteTopics delete topics (false: TOPIC_DELETION_DISABLED)",
    "log.segment.delete.delay.ms": "how long a deleted topic's renamed files wait before removal (topic: file.delete.delay.ms)",
    "min.insync.replicas": "default for the topic config min.insync.replicas",
    "compression.type": "default for the topic config compression.type",
    # Segments and retention.
    "log.segment.bytes": "segment roll size (topic: segment.bytes)",
    "log.index.interval.bytes": "offset-index density (topic: index.interval.bytes)",
    "log.index.size.max.bytes": "largest index file (topic: segment.index.bytes)",
    "log.retention.ms": "delete segments older than this; -1: keep forever (topic: retention.ms)",
    "log.retention.minutes": "log.retention.ms in minutes, when that is not set",
    "log.retention.hours": "log.retention.ms in hours, when neither finer one is set",
    "log.retention.bytes": "delete old segments beyond this size per partition; -1: no limit (topic: retention.bytes)",
    "log.roll.ms": "roll a segment this old (topic: segment.ms)",
    "log.roll.hours": "log.roll.ms in hours, when that is not set",
    "log.cleanup.policy": "delete and/or compact (topic: cleanup.policy)",
    "log.message.timestamp.type": "CreateTime or LogAppendTime (topic: message.timestamp.type)",
    "log.message.timestamp.before.max.ms": "refuse CreateTime records older than this (topic: message.timestamp.before.max.ms)",
    "log.message.timestamp.after.max.ms": "refuse CreateTime records this far in the future (topic: message.timestamp.after.max.ms)",
    "log.retention.check.interval.ms": "how often retention deletes old segments",
    "log.cleaner.enable": "run log compaction",
    "log.cleaner.backoff.ms": "how often compaction looks for work",
    "log.cleaner.delete.retention.ms": "how long compaction keeps tombstones (topic: delete.retention.ms)",
    "log.cleaner.min.compaction.lag.ms": "records younger than this are not compacted (topic: min.compaction.lag.ms)",
    "log.cleaner.min.cleanable.ratio": "dirty ratio that makes a log worth compacting (topic: min.cleanable.dirty.ratio)",
    # Durability.
    "log.flush.interval.messages": "fsync after this many messages (topic: flush.messages)",
    "log.flush.interval.ms": "fsync data this old; unset: log.flush.scheduler.interval.ms (topic: flush.ms)",
    "log.flush.scheduler.interval.ms": "how often logs are checked for data to fsync",
    "log.flush.offset.checkpoint.interval.ms": "how often each log's recovery point is saved",
    # Consumer groups.
    "group.initial.rebalance.delay.ms": "how long a new group waits for more members, again for each that joins meanwhile (kwire: 100, Kafka: 3000)",
    "group.min.session.timeout.ms": "smallest consumer session.timeout.ms allowed",
    "group.max.session.timeout.ms": "largest consumer session.timeout.ms allowed",
    "group.max.size": "members a group may have",
    "group.consumer.heartbeat.interval.ms": "how often a KIP-848 consumer (group.protocol=consumer) heartbeats",
    "group.consumer.min.heartbeat.interval.ms": "smallest consumer.heartbeat.interval.ms a group may set",
    "group.consumer.max.heartbeat.interval.ms": "largest consumer.heartbeat.interval.ms a group may set",
    "group.consumer.session.timeout.ms": "a KIP-848 consumer silent this long leaves its group",
    "group.consumer.min.session.timeout.ms": "smallest consumer.session.timeout.ms a group may set",
    "group.consumer.max.session.timeout.ms": "largest consumer.session.timeout.ms a group may set",
    "group.consumer.assignors": "server-side assignors of KIP-848 groups, the first the default (uniform, range)",
    "group.consumer.max.size": "members a KIP-848 consumer group may have",
    "group.share.enable": "serve share groups (KIP-932: ShareGroupHeartbeat, ShareFetch, ShareAcknowledge ...)",
    "group.share.record.lock.duration.ms": "how long a share consumer holds a record it was given (group: share.record.lock.duration.ms)",
    "group.share.min.record.lock.duration.ms": "smallest share.record.lock.duration.ms a group may set",
    "group.share.max.record.lock.duration.ms": "largest share.record.lock.duration.ms a group may set",
    "group.share.min.session.timeout.ms": "smallest share.session.timeout.ms a group may set",
    "group.share.max.session.timeout.ms": "largest share.session.timeout.ms a group may set",
    "group.share.min.heartbeat.interval.ms": "smallest share.heartbeat.interval.ms a group may set",
    "group.share.max.heartbeat.interval.ms": "largest share.heartbeat.interval.ms a group may set",
    "group.share.delivery.count.limit": "deliveries of a record to share consumers before it is archived",
    "group.share.session.timeout.ms": "share group member session timeout (group: share.session.timeout.ms)",
    "group.share.heartbeat.interval.ms": "share group heartbeat interval (group: share.heartbeat.interval.ms)",
    "group.share.partition.max.record.locks": "most records in flight per share-partition",
    "group.share.max.share.sessions": "most share sessions a node keeps",
    "share.coordinator.state.topic.num.partitions": "partitions of __share_group_state",
    "share.coordinator.state.topic.replication.factor": "replicas of __share_group_state (capped at the live brokers)",
    "offsets.topic.replication.factor": "replicas of __consumer_offsets (capped at the live brokers)",
    "transaction.state.log.replication.factor": "replicas of __transaction_state (capped at the live brokers)",
    "offsets.commit.timeout.ms": "how long an offset or transaction write waits for its ISR (several brokers)",
    "offsets.topic.num.partitions": "partitions of __consumer_offsets",
    "offsets.retention.minutes": "an empty group's committed offsets are dropped after this long",
    "offsets.retention.check.interval.ms": "how often expired offsets are looked for",
    "offset.metadata.max.bytes": "longest commit metadata accepted",
    "telemetry.max.bytes": "most metrics bytes a client may send in one PushTelemetry (KIP-714)",
    # Producers and transactions.
    "transaction.state.log.num.partitions": "partitions of __transaction_state",
    "transaction.max.timeout.ms": "largest producer transaction.timeout.ms allowed",
    "transaction.abort.timed.out.transaction.cleanup.interval.ms": "how often open transactions are checked against their timeout",
    "transactional.id.expiration.ms": "a transactional id unused this long (no transaction open) is forgotten",
    "transaction.remove.expired.transaction.cleanup.interval.ms": "how often expired transactional ids are looked for",
    "transaction.partition.verification.enable": "refuse transactional batches for partitions outside the transaction (KIP-890)",
    "producer.id.expiration.ms": "an idempotent producer's state is dropped after this long without a write",
    "producer.id.expiration.check.interval.ms": "how often expired producer ids are looked for",
    # Connections.
    "connections.max.idle.ms": "close a connection idle this long; negative: never",
    "queued.max.request.bytes": "bytes of requests being received or handled at once (kwire bounds it; -1: no bound)",
    "max.connections": "connections the broker accepts",
    "max.connections.per.ip": "connections accepted from one address",
    "quota.window.num": "samples a client quota's rate is measured over",
    "quota.window.size.seconds": "length of each client quota sample, in seconds",
    # Security: listeners, TLS, SASL, ACLs.
    "listener.security.protocol.map": "NAME:PROTOCOL pairs naming each listener's security protocol",
    "inter.broker.listener.name": "the listener brokers use among themselves (a cluster: must be one of listeners)",
    "security.inter.broker.protocol": "the inter-broker security protocol when inter.broker.listener.name is not set",
    "ssl.keystore.type": "PEM or PKCS12 (JKS needs Java: a PEM or PKCS12 file is read whatever this says)",
    "ssl.keystore.location": "the broker's certificate and private key (PEM file, or PKCS12)",
    "ssl.keystore.password": "password of the keystore (PKCS12) or of its private key (PEM)",
    "ssl.key.password": "password of the private key",
    "ssl.keystore.certificate.chain": "the broker's certificate chain as PEM text (instead of a keystore file)",
    "ssl.keystore.key": "the broker's private key as PEM text (instead of a keystore file)",
    "ssl.truststore.type": "PEM or PKCS12",
    "ssl.truststore.location": "CA certificates that client certificates must chain to",
    "ssl.truststore.password": "password of a PKCS12 truststore",
    "ssl.truststore.certificates": "trusted CA certificates as PEM text (instead of a truststore file)",
    "ssl.client.auth": "client certificates: required, requested or none",
    "ssl.enabled.protocols": "TLS versions accepted",
    "ssl.protocol": "the TLS protocol family (TLS, TLSv1.2, TLSv1.3)",
    "ssl.cipher.suites": "cipher suites allowed (OpenSSL names); empty: the defaults",
    "ssl.principal.mapping.rules": "RULE:pattern/replacement/[LU] rules mapping a certificate subject to a user name",
    "ssl.endpoint.identification.algorithm": "a client setting, accepted and unused by the broker",
    "sasl.enabled.mechanisms": "SASL mechanisms offered (kwire: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER; Kafka's default GSSAPI is not supported)",
    "sasl.jaas.config": 'JAAS options; PLAIN\'s users as user_NAME="password" (usually per listener and mechanism)',
    "sasl.mechanism.inter.broker.protocol": "the mechanism brokers use among themselves (accepted; kwire's brokers share one process)",
    "sasl.server.max.receive.size": "largest SASL message accepted before authentication",
    "connections.max.reauth.ms": "sessions must re-authenticate this often (KIP-368); 0: no bound (a token's expiry still ends a session)",
    "connection.failed.authentication.delay.ms": "how long after a failed authentication's answer its connection is closed",
    "sasl.oauthbearer.jwks.endpoint.url": "a JWKS (file: URL or path) to check signed OAUTHBEARER tokens; unset: unsecured tokens",
    "sasl.oauthbearer.expected.audience": "audiences a token must name one of (empty: any)",
    "sasl.oauthbearer.expected.issuer": "the issuer a token must name (unset: any)",
    "sasl.oauthbearer.sub.claim.name": "the token claim that names the principal",
    "sasl.oauthbearer.scope.claim.name": "the token claim that lists its scopes",
    "sasl.oauthbearer.clock.skew.seconds": "clock skew allowed when checking a token's times",
    "authorizer.class.name": "any of Kafka's authorizer class names turns ACL authorization on",
    "super.users": "principals that every ACL check allows, separated by semicolons",
    "allow.everyone.if.no.acl.found": "allow access to resources that have no ACL",
    # kwire's own settings (no Kafka broker has them).
    "kafka.request.logging": "kwire only: log every request to the kafka.request.logger logger at INFO (routine polling at DEBUG)",
}

# Kafka types and defaults of the settings that are not BrokerConfig fields.
_OTHER_SETTINGS = {
    "listeners": ("LIST", "PLAINTEXT://127.0.0.1:9092"),
    "advertised.listeners": ("LIST", "null"),
    "log.dirs": ("LIST", "kwire-data"),
    "log.dir": ("STRING", "kwire-data"),
    "broker.id": ("INT", "1"),
    "listener.security.protocol.map": (
        "LIST",
        "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
    ),
    "log.retention.minutes": ("INT", "null"),
    "log.retention.hours": ("INT", "168"),
    "log.roll.hours": ("INT", "168"),
}


def documentation(name: str) -> str:
    """A setting's meaning as one sentence (DescribeConfigs), or "" if unknown."""
    meaning = DOCS.get(name, "")
    return meaning[:1].upper() + meaning[1:] + "." if meaning else ""


def setting_rows() -> list[dict[str, str]]:
    """One row (name, type, default, meaning) for every setting kwire takes, by name."""
    rows = []
    for field in attrs.fields(BrokerConfig):
        name = field.name.replace("_", ".")
        if is_setting(name):
            rows.append(_row(name, rule_for(name, field).kind, shown(field.default)))
    for name, (kind, default) in _OTHER_SETTINGS.items():
        rows.append(_row(name, kind, default))
    return sorted(rows, key=lambda row: row["name"])


def documented_names() -> set[str]:
    """Every name `kwire config list` shows (for the tests)."""
    return {row["name"] for row in setting_rows()} | set(SETTINGS)


def _row(name: str, kind: str, default: str) -> dict[str, str]:
    return {"name": name, "type": kind, "default": default, "meaning": DOCS.get(name, "")}


def table(rows: list[dict[str, str]]) -> str:
    """The rows as an aligned text table with a header."""
    columns = ("name", "type", "default", "meaning")
    widths = {column: max(len(column), *(len(row[column]) for row in rows)) for column in columns}
    lines = ["  ".join(column.upper().ljust(widths[column]) for column in columns).rstrip()]
    for row in rows:
        lines.append("  ".join(row[column].ljust(widths[column]) for column in columns).rstrip())
    return "\n".join(lines)
