"""Cluster metadata kept as records in an internal log, `__cluster_metadata-0`,
and replayed at start-up: the same storage engine and recovery path as any
partition.

Each record's key names what it describes and its value is JSON; a null
value (tombstone) removes the thing. Last write wins.

A deleted topic is a tombstone of its `topic:` record plus a
`deleted-topic:<id>` record, in one batch (so both or neither survive a
crash): the second lets start-up tell the directories of a deleted topic,
left behind by a crash before they were renamed, from those of a topic
the metadata log lost (see orphans.py), and remove them.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterable, Mapping

import attrs

from kwire.log import PartitionLog
from kwire.log.keyed_records import append_keyed_records, iter_keyed_records
from kwire.security.acls import AclBinding, acl_from_json, acl_json
from kwire.security.credentials import ScramCredential

# A client quota entity: (type, name) pairs, sorted (kwire/quotas/entities.py).
QuotaEntity = tuple[tuple[str, str | None], ...]

METADATA_TOPIC = "__cluster_metadata"
_TOPIC_PREFIX = b"topic:"
_PRODUCER_ID_BLOCK = b"producer-id-block"
_DELETED_TOPIC_PREFIX = b"deleted-topic:"
# Dynamic broker configs: "" is the cluster-wide default, else a node id.
_BROKER_CONFIG_PREFIX = b"broker-config:"
_GROUP_CONFIG_PREFIX = b"group-config:"
# CLIENT_METRICS resources (KIP-714 subscriptions): all configs of one resource.
_CLIENT_METRICS_PREFIX = b"client-metrics-config:"
# Client quotas: the key names the entity as JSON ([[type, name or null], ...]
# sorted by type), the value holds all of its quotas ({key: number}).
_CLIENT_QUOTA_PREFIX = b"client-quota:"
# An ACL: the key is the whole binding as JSON (kwire/security/acls.py), so
# the same ACL created twice is one record; a tombstone deletes it.
_ACL_PREFIX = b"acl:"
# SCRAM credentials (Kafka's UserScramCredentialRecord): the key is JSON
# [user, mechanism], the value the stored form (bytes in base64), never a password.
_SCRAM_PREFIX = b"scram-credential:"
# A partition's leadership in a multi-node cluster (`partition:<topic id>:<index>`),
# written by the controller: Kafka's PartitionRecord / PartitionChangeRecord.
_PARTITION_PREFIX = b"partition:"


@attrs.frozen
class TopicRecord:
    name: str
    topic_id: uuid.UUID
    partitions: int
    configs: dict[str, str] = attrs.field(factory=dict)
    # Each partition's replica node ids, preferred leader first; () in a
    # record written before kwire recorded them (then: this node alone).
    replicas: tuple[tuple[int, ...], ...] = ()


@attrs.frozen
class PartitionState:
    """Who leads a partition, in which epoch, and its in-sync replicas (-1: no leader, offline)."""

    leader: int
    leader_epoch: int
    isr: tuple[int, ...]
    partition_epoch: int = 0  # bumped on every change, leader or ISR


@attrs.define
class MetadataSnapshot:
    topics: dict[str, TopicRecord] = attrs.field(factory=dict)
    # First producer id not yet handed out in an earlier run.
    next_producer_id: int = 0
    # The ids of every topic ever deleted.
    deleted_topic_ids: set[uuid.UUID] = attrs.field(factory=set)
    # Dynamic broker configs by resource name ("" or a node id).
    broker_configs: dict[str, dict[str, str]] = attrs.field(factory=dict)
    # GROUP config resources: the overrides of each group.
    group_configs: dict[str, dict[str, str]] = attrs.field(factory=dict)
    # CLIENT_METRICS config resources: each subscription's configs.
    client_metrics_configs: dict[str, dict[str, str]] = attrs.field(factory=dict)
    # Client quotas by entity (see kwire/quotas/entities.py).
    client_quotas: dict[QuotaEntity, dict[str, float]] = attrs.field(factory=dict)
    # SCRAM credentials by (user, mechanism name).
    scram_credentials: dict[tuple[str, str], ScramCredential] = attrs.field(factory=dict)
    # Multi-node clusters: each partition's leadership by (topic id, index).
    partition_states: dict[tuple[uuid.UUID, int], PartitionState] = attrs.field(factory=dict)
    acls: set[AclBinding] = attrs.field(factory=set)


def replay_records(
    records: Iterable[tuple[bytes, bytes | None]], into: MetadataSnapshot | None = None
) -> MetadataSnapshot:
    """The state the (key, value) records of the metadata log describe
    (applied on top of `into` when given: a node following the controller)."""
    snapshot = MetadataSnapshot() if into is None else into
    for key, value in records:
        if key.startswith(_TOPIC_PREFIX):
            name = key[len(_TOPIC_PREFIX) :].decode()
            if value is None:
                snapshot.topics.pop(name, None)
            else:
                data = json.loads(value)
                snapshot.topics[name] = TopicRecord(
                    name=name,
                    topic_id=uuid.UUID(data["topic_id"]),
                    partitions=int(data["partitions"]),
                    configs=dict(data.get("configs", {})),
                    replicas=tuple(tuple(int(node) for node in each) for each in data.get("replicas", ())),
                )
        elif key.startswith(_DELETED_TOPIC_PREFIX):
            snapshot.deleted_topic_ids.add(uuid.UUID(key[len(_DELETED_TOPIC_PREFIX) :].decode()))
        elif key.startswith(_BROKER_CONFIG_PREFIX):
            _replay_configs(snapshot.broker_configs, key[len(_BROKER_CONFIG_PREFIX) :].decode(), value)
        elif key.startswith(_GROUP_CONFIG_PREFIX):
            _replay_configs(snapshot.group_configs, key[len(_GROUP_CONFIG_PREFIX) :].decode(), value)
        elif key.startswith(_CLIENT_METRICS_PREFIX):
            _replay_configs(snapshot.client_metrics_configs, key[len(_CLIENT_METRICS_PREFIX) :].decode(), value)
        elif key.startswith(_CLIENT_QUOTA_PREFIX):
            entity: QuotaEntity = tuple(
                (str(kind), None if name is None else str(name))
                for kind, name in json.loads(key[len(_CLIENT_QUOTA_PREFIX) :])
            )
            quotas = {} if value is None else {str(k): float(v) for k, v in json.loads(value).items()}
            if quotas:
                snapshot.client_quotas[entity] = quotas
            else:
                snapshot.client_quotas.pop(entity, None)
        elif key.startswith(_ACL_PREFIX):
            acl = acl_from_json(json.loads(key[len(_ACL_PREFIX) :]))
            (snapshot.acls.discard if value is None else snapshot.acls.add)(acl)
        elif key.startswith(_SCRAM_PREFIX):
            _replay_scram(snapshot.scram_credentials, key[len(_SCRAM_PREFIX) :], value)
        elif key.startswith(_PARTITION_PREFIX):
            topic_id, index = key[len(_PARTITION_PREFIX) :].decode().rsplit(":", 1)
            where = (uuid.UUID(topic_id), int(index))
            if value is None:
                snapshot.partition_states.pop(where, None)
            else:
                data = json.loads(value)
                snapshot.partition_states[where] = PartitionState(
                    int(data["leader"]), int(data["leader_epoch"]), tuple(data["isr"]), int(data["partition_epoch"])
                )
        elif key == _PRODUCER_ID_BLOCK and value is not None:
            snapshot.next_producer_id = int(json.loads(value)["next"])
    return snapshot


def _replay_configs(into: dict[str, dict[str, str]], name: str, value: bytes | None) -> None:
    configs = {} if value is None else {str(k): str(v) for k, v in json.loads(value).items()}
    if configs:
        into[name] = configs
    else:
        into.pop(name, None)


def _replay_scram(into: dict[tuple[str, str], ScramCredential], key: bytes, value: bytes | None) -> None:
    user, mechanism = (str(part) for part in json.loads(key))
    if value is None:
        into.pop((user, mechanism), None)
        return
    data = json.loads(value)
    into[(user, mechanism)] = ScramCredential(
        mechanism,
        base64.b64decode(data["salt"]),
        int(data["iterations"]),
        base64.b64decode(data["stored_key"]),
        base64.b64decode(data["server_key"]),
    )


class MetadataLog:
    def __init__(self, log: PartitionLog) -> None:
        self._log = log

    def replay(self, into: MetadataSnapshot | None = None, start: int = 0) -> MetadataSnapshot:
        """The snapshot of the records from `start` on (applied on top of `into`)."""
        return replay_records(iter_keyed_records(self._log, start), into)

    def write_topic(self, topic: TopicRecord) -> None:
        value: dict[str, object] = {
            "topic_id": str(topic.topic_id),
            "partitions": topic.partitions,
            "configs": topic.configs,
        }
        if topic.replicas:
            value["replicas"] = [list(each) for each in topic.replicas]
        self._append(_TOPIC_PREFIX + topic.name.encode(), json.dumps(value, sort_keys=True).encode())

    def delete_topics(self, topics: Iterable[TopicRecord]) -> None:
        """The records that delete `topics`, all in one batch (durable on return)."""
        records: list[tuple[bytes, bytes | None]] = []
        for topic in topics:
            records.append((_TOPIC_PREFIX + topic.name.encode(), None))
            gone = {"name": topic.name, "partitions": topic.partitions}
            records.append((_DELETED_TOPIC_PREFIX + str(topic.topic_id).encode(), json.dumps(gone).encode()))
        if records:
            append_keyed_records(self._log, records)
            self._log.flush()

    def write_broker_configs(self, resource_name: str, configs: dict[str, str]) -> None:
        """The whole set of dynamic broker configs of one level ("": cluster default)."""
        self._write_configs(_BROKER_CONFIG_PREFIX + resource_name.encode(), configs)

    def write_group_configs(self, group_id: str, configs: dict[str, str]) -> None:
        """The whole set of one group's config overrides."""
        self._write_configs(_GROUP_CONFIG_PREFIX + group_id.encode(), configs)

    def write_client_metrics_configs(self, name: str, configs: dict[str, str]) -> None:
        """The whole set of one CLIENT_METRICS resource's configs."""
        self._write_configs(_CLIENT_METRICS_PREFIX + name.encode(), configs)

    def write_client_quotas(self, changes: Mapping[QuotaEntity, dict[str, float]]) -> None:
        """All quotas of each changed entity (none: a tombstone), in one batch
        (durable on return): one AlterClientQuotas applies whole or not at all."""
        records: list[tuple[bytes, bytes | None]] = [
            (
                _CLIENT_QUOTA_PREFIX + json.dumps([list(component) for component in entity]).encode(),
                json.dumps(quotas, sort_keys=True).encode() if quotas else None,
            )
            for entity, quotas in changes.items()
        ]
        if records:
            append_keyed_records(self._log, records)
            self._log.flush()

    def write_acls(self, changes: Mapping[AclBinding, bool]) -> None:
        """ACLs created (True) and deleted (False), in one batch (durable on return)."""
        records = [
            (_ACL_PREFIX + json.dumps(acl_json(acl)).encode(), b"{}" if present else None)
            for acl, present in changes.items()
        ]
        if records:
            append_keyed_records(self._log, records)
            self._log.flush()

    def write_scram_credentials(self, changes: Mapping[tuple[str, str], ScramCredential | None]) -> None:
        """Credentials by (user, mechanism), None deleting one, in one batch (durable on return)."""
        records: list[tuple[bytes, bytes | None]] = []
        for (user, mechanism), credential in changes.items():
            value = None
            if credential is not None:
                stored = {
                    "salt": base64.b64encode(credential.salt).decode(),
                    "iterations": credential.iterations,
                    "stored_key": base64.b64encode(credential.stored_key).decode(),
                    "server_key": base64.b64encode(credential.server_key).decode(),
                }
                value = json.dumps(stored, sort_keys=True).encode()
            records.append((_SCRAM_PREFIX + json.dumps([user, mechanism]).encode(), value))
        if records:
            append_keyed_records(self._log, records)
            self._log.flush()

    def _write_configs(self, key: bytes, configs: dict[str, str]) -> None:
        # An empty set is a tombstone: nothing is left to remember.
        self._append(key, json.dumps(configs, sort_keys=True).encode() if configs else None)

    def write_partition_states(self, states: Mapping[tuple[uuid.UUID, int], PartitionState | None]) -> None:
        """Leadership changes, in one batch (durable on return); None forgets a partition."""
        records: list[tuple[bytes, bytes | None]] = []
        for (topic_id, index), state in states.items():
            value = None
            if state is not None:
                value = json.dumps(
                    {
                        "leader": state.leader,
                        "leader_epoch": state.leader_epoch,
                        "isr": list(state.isr),
                        "partition_epoch": state.partition_epoch,
                    }
                ).encode()
            records.append((_PARTITION_PREFIX + f"{topic_id}:{index}".encode(), value))
        if records:
            append_keyed_records(self._log, records)
            self._log.flush()

    def write_producer_id_block(self, next_unallocated: int) -> None:
        self._append(_PRODUCER_ID_BLOCK, json.dumps({"next": next_unallocated}).encode())

    @property
    def recovery_point(self) -> int:
        return self._log.recovery_point

    @property
    def log(self) -> PartitionLog:
        """The log itself: a node's copy follows the controller's batch by batch."""
        return self._log

    def close(self) -> None:
        self._log.close()

    def _append(self, key: bytes, value: bytes | None) -> None:
        append_keyed_records(self._log, [(key, value)])
        self._log.flush()
