#!/usr/bin/env python
"""Regenerate compat_tests/data/request_corpus.txt: the valid request frames
the byte-level fuzzer (compat_tests/test_frame_fuzz.py) starts from.

Starts `python -m kwire serve` (in memory) behind a recording relay
(compat_tests/recording_proxy.py) and drives kafka-python, confluent-kafka
and aiokafka through produce (plain, idempotent, transactional, compressed),
consume (by assignment and in a group), commits, offsets by time and admin
calls (create topics, describe/alter configs, list/describe/delete groups, SCRAM credentials,
group offsets, delete records, log dirs, add partitions, delete topics). Keeps a few distinct frames per
(API, version, client). Served versions no client sent are filled in with a
request written by kio from its own schema (source "kio"), so the fuzzer
covers everything the broker advertises.

    python scripts/capture_requests.py            # writes the corpus
    python scripts/capture_requests.py --out x.txt

Only 127.0.0.1; ends only the broker it started.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import io
import re
import subprocess
import sys
import time
import traceback
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from compat_tests.clients import Outgoing, Reader, create_topic, produce  # noqa: E402
from compat_tests.recording_proxy import RecordingProxy  # noqa: E402
from compat_tests.test_transactions import TransactionalProducer  # noqa: E402

CORPUS = REPO / "compat_tests" / "data" / "request_corpus.txt"
READY = re.compile(r"ready on (\S+):(\d+)")
TIMEOUT_S = 20
FRAMES_PER_SOURCE = 2  # per (api, version, client): the first seen and the richest small one
MAX_FRAME_BYTES = 4096
MESSAGES = [Outgoing(key=b"key-%d" % i, value=b"value-%d " % i * 4, headers=(("h", b"v"),)) for i in range(5)]


def start_broker(advertised_port: int) -> tuple[subprocess.Popen, int]:
    broker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kwire",
            "serve",
            "--port",
            "0",
            "--memory",
            "--advertised-port",
            str(advertised_port),
            "--log-level",
            "WARNING",
            "-o",
            "group.initial.rebalance.delay.ms=0",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    match = READY.search(broker.stdout.readline())
    if not match:
        broker.kill()
        raise SystemExit("kwire did not start")
    return broker, int(match.group(2))


# --- flows, one client at a time -------------------------------------------------


def kafka_python_flows(bootstrap: str, topic: str) -> None:
    from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
    from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
    from kafka.structs import OffsetAndMetadata

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        admin.create_topics([NewTopic(topic, 2, 1, topic_configs={"retention.ms": "600000"})])
        admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.ms": "700000"})])
    finally:
        admin.close()
    produce("kafka-python", bootstrap, topic, MESSAGES, acks=1)
    produce("kafka-python", bootstrap, topic, MESSAGES, acks="all")  # idempotent by default
    for codec in ("gzip", "lz4", "zstd"):
        produce("kafka-python", bootstrap, topic, MESSAGES, acks="all", compression_type=codec)
    transactional(bootstrap, topic, "kafka-python")
    with Reader("kafka-python", bootstrap).assign(topic, [0, 1]) as reader:
        reader.poll(len(MESSAGES), timeout=5)
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id="corpus-kp",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=3000,
    )
    try:
        consumer.poll(timeout_ms=3000)
        consumer.commit()
        consumer.offsets_for_times({TopicPartition(topic, 0): 0})
    finally:
        consumer.close()
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        admin.list_groups()
        admin.describe_groups(["corpus-kp"])
        admin.list_group_offsets({"corpus-kp": None})
        admin.alter_group_offsets("corpus-kp", {TopicPartition(topic, 1): OffsetAndMetadata(1, "note", -1)})
        admin.delete_group_offsets("corpus-kp", [TopicPartition(topic, 0)])
        admin.delete_records({TopicPartition(topic, 0): 1})
        admin.describe_log_dirs()
        admin.alter_replica_log_dirs({(topic, 0, 1): "/in-memory-has-none"})  # LOG_DIR_NOT_FOUND
        admin.describe_cluster()
        admin.describe_features()
        admin.describe_topic_partitions([topic], response_partition_limit=1)
        admin.elect_leaders(0, {topic: [0]}, raise_errors=False)
        admin.list_partition_reassignments()
        admin.alter_partition_reassignments({TopicPartition(topic, 0): [1]})
        admin.update_features({"metadata.version": 25}, validate_only=True)
        _client_quota_requests(admin)
        _scram_requests(admin)
        admin.delete_groups(["corpus-kp"])
        admin.create_partitions({topic: 3})
        admin.delete_topics([topic])  # last: nothing after uses the topic
    finally:
        admin.close()


def _client_quota_requests(admin) -> None:
    """AlterClientQuotas and DescribeClientQuotas through kafka-python's
    protocol classes (its admin client has no quota methods)."""
    from kafka.protocol.admin.client_quotas import AlterClientQuotasRequest, DescribeClientQuotasRequest

    entry = AlterClientQuotasRequest.EntryData
    alter = AlterClientQuotasRequest(
        entries=[
            entry(
                entity=[entry.EntityData(entity_type="client-id", entity_name="corpus")],
                ops=[
                    entry.OpData(key="producer_byte_rate", value=1e9, remove=False),
                    entry.OpData(key="consumer_byte_rate", value=0.0, remove=True),
                ],
            ),
            entry(
                # Not the fuzzer's own address: a mutated copy that is applied
                # must not throttle the fuzzer's connections.
                entity=[entry.EntityData(entity_type="ip", entity_name="127.0.0.2")],
                ops=[entry.OpData(key="connection_creation_rate", value=1e6, remove=False)],
            ),
        ],
        validate_only=True,
    )
    admin._manager.run(admin._manager.send, alter)
    component = DescribeClientQuotasRequest.ComponentData
    describe = DescribeClientQuotasRequest(
        components=[
            component(entity_type="client-id", match_type=0, match="corpus"),
            component(entity_type="user", match_type=1, match=None),
        ],
        strict=False,
    )
    admin._manager.run(admin._manager.send, describe)


def _scram_requests(admin) -> None:
    """AlterUserScramCredentials (an upsertion and a deletion) and DescribeUserScramCredentials."""
    from kafka.admin import ScramMechanism, UserScramCredentialDeletion, UserScramCredentialUpsertion

    admin.alter_user_scram_credentials(
        [
            UserScramCredentialUpsertion("corpus-user", ScramMechanism.SCRAM_SHA_256, "corpus-password"),
            UserScramCredentialDeletion("corpus-other", ScramMechanism.SCRAM_SHA_512),
        ]
    )
    admin.describe_user_scram_credentials(["corpus-user"])


def confluent_flows(bootstrap: str, topic: str) -> None:
    from confluent_kafka import (
        Consumer,
        ConsumerGroupTopicPartitions,
        ElectionType,
        IsolationLevel,
        TopicPartition,
    )
    from confluent_kafka.admin import (
        AdminClient,
        AlterConfigOpType,
        ConfigEntry,
        ConfigResource,
        NewPartitions,
        NewTopic,
        OffsetSpec,
        ResourceType,
    )

    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 2, 1, config={"cleanup.policy": "compact"})])[topic].result(TIMEOUT_S)
    resource = ConfigResource(ResourceType.TOPIC, topic)
    admin.describe_configs([resource])[resource].result(TIMEOUT_S)
    admin.alter_configs([ConfigResource(ResourceType.TOPIC, topic, set_config={"retention.ms": "800000"})])
    incremental = ConfigResource(
        ResourceType.TOPIC,
        topic,
        incremental_configs=[ConfigEntry("retention.ms", "900000", incremental_operation=AlterConfigOpType.SET)],
    )
    admin.incremental_alter_configs([incremental])[incremental].result(TIMEOUT_S)
    produce("confluent-kafka", bootstrap, topic, MESSAGES, acks=1, **{"enable.idempotence": False})
    produce("confluent-kafka", bootstrap, topic, MESSAGES, acks="all", **{"enable.idempotence": True})
    for codec in ("gzip", "snappy", "lz4", "zstd"):
        produce("confluent-kafka", bootstrap, topic, MESSAGES, acks="all", **{"compression.type": codec})
    transactional(bootstrap, topic, "confluent-kafka")
    with Reader("confluent-kafka", bootstrap).assign(topic, [0, 1]) as reader:
        reader.poll(len(MESSAGES), timeout=5)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "corpus-ck",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not consumer.assignment():
            consumer.poll(0.2)
        consumer.consume(10, 2)
        consumer.commit(asynchronous=False)
        consumer.offsets_for_times([TopicPartition(topic, 0, 0)], timeout=10)
        consumer.committed([TopicPartition(topic, 0)], timeout=10)
    finally:
        consumer.close()
    admin.list_consumer_groups(request_timeout=10).result(TIMEOUT_S)
    admin.describe_consumer_groups(["corpus-ck"])["corpus-ck"].result(TIMEOUT_S)
    request = [ConsumerGroupTopicPartitions("corpus-ck")]
    admin.list_consumer_group_offsets(request)["corpus-ck"].result(TIMEOUT_S)
    admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions("corpus-ck", [TopicPartition(topic, 0, 1)])])[
        "corpus-ck"
    ].result(TIMEOUT_S)
    offsets = admin.list_offsets(
        {TopicPartition(topic, 0): OffsetSpec.latest()}, isolation_level=IsolationLevel.READ_COMMITTED
    )
    for future in offsets.values():
        future.result(TIMEOUT_S)
    for future in admin.delete_records([TopicPartition(topic, 1, 1)]).values():
        future.result(TIMEOUT_S)
    admin.describe_cluster(include_authorized_operations=True).result(TIMEOUT_S)
    admin.elect_leaders(ElectionType.PREFERRED, [TopicPartition(topic, 0)]).result(TIMEOUT_S)
    admin.delete_consumer_groups(["corpus-ck"])["corpus-ck"].result(TIMEOUT_S)
    admin.create_partitions([NewPartitions(topic, 3)])[topic].result(TIMEOUT_S)
    admin.delete_topics([topic])[topic].result(TIMEOUT_S)  # last: nothing after uses the topic


def aiokafka_flows(bootstrap: str, topic: str) -> None:
    create_topic("aiokafka", bootstrap, topic, 2)
    produce("aiokafka", bootstrap, topic, MESSAGES, acks=1)
    produce("aiokafka", bootstrap, topic, MESSAGES, acks="all", enable_idempotence=True)
    for codec in ("gzip", "snappy", "lz4", "zstd"):
        produce("aiokafka", bootstrap, topic, MESSAGES, acks="all", compression_type=codec)
    transactional(bootstrap, topic, "aiokafka")
    with Reader("aiokafka", bootstrap).assign(topic, [0, 1]) as reader:
        reader.poll(len(MESSAGES), timeout=5)
    asyncio.run(asyncio.wait_for(_aiokafka_group_and_admin(bootstrap, topic), TIMEOUT_S * 3))


async def _aiokafka_group_and_admin(bootstrap: str, topic: str) -> None:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, RecordsToDelete
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
    from aiokafka.structs import TopicPartition

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id="corpus-aio",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        await consumer.getmany(timeout_ms=3000)
        await consumer.commit()
        await consumer.offsets_for_times({TopicPartition(topic, 0): 0})
    finally:
        await consumer.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, {"retention.ms": "650000"})])
        await admin.list_consumer_groups()
        await admin.describe_consumer_groups(["corpus-aio"])
        await admin.list_consumer_group_offsets("corpus-aio")
        await admin.delete_records({TopicPartition(topic, 0): RecordsToDelete(before_offset=1)})
        await admin.describe_cluster()
        await admin.create_partitions({topic: NewPartitions(3)})
        await admin.delete_topics([topic])  # last: nothing after uses the topic
    finally:
        await admin.close()


def transactional(bootstrap: str, topic: str, client: str) -> None:
    producer = TransactionalProducer(client, bootstrap, f"corpus-tx-{client}")
    try:
        producer.begin()
        producer.send(topic, b"committed", key=b"k")
        producer.flush()
        send_offsets(producer, client, topic, bootstrap)
        producer.commit()
        producer.begin()
        producer.send(topic, b"aborted", key=b"k")
        producer.flush()
        producer.abort()
    finally:
        producer.close()


def send_offsets(producer: TransactionalProducer, client: str, topic: str, bootstrap: str) -> None:
    """AddOffsetsToTxn and TxnOffsetCommit, with a made-up group."""
    if client == "confluent-kafka":
        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "corpus-txg"})
        try:
            producer._producer.send_offsets_to_transaction(
                [TopicPartition(topic, 0, 1)], consumer.consumer_group_metadata(), TIMEOUT_S
            )
        finally:
            consumer.close()
    elif client == "kafka-python":
        from kafka.structs import OffsetAndMetadata, TopicPartition

        producer._producer.send_offsets_to_transaction(
            {TopicPartition(topic, 0): OffsetAndMetadata(1, "", -1)}, "corpus-txg"
        )
    else:
        from aiokafka.structs import TopicPartition

        producer._run(producer._producer.send_offsets_to_transaction({TopicPartition(topic, 0): 1}, "corpus-txg"))


FLOWS = [("kafka-python", kafka_python_flows), ("confluent-kafka", confluent_flows), ("aiokafka", aiokafka_flows)]


# --- corpus ----------------------------------------------------------------------


def select(frames: list[tuple[str, bytes]]) -> dict[tuple[int, int, str], list[bytes]]:
    """A few distinct frames per (api, version, client): the first seen and
    the largest that is still small."""
    by_key: dict[tuple[int, int, str], list[bytes]] = {}
    for source, frame in frames:
        if len(frame) < 8 or len(frame) > MAX_FRAME_BYTES:
            continue
        api_key, version = (
            int.from_bytes(frame[0:2], "big", signed=True),
            int.from_bytes(frame[2:4], "big", signed=True),
        )
        by_key.setdefault((api_key, version, source), [])
        if frame not in by_key[(api_key, version, source)]:
            by_key[(api_key, version, source)].append(frame)
    chosen = {}
    for key, seen in by_key.items():
        picks = [seen[0]]
        largest = max(seen, key=len)
        if largest not in picks and FRAMES_PER_SOURCE > 1:
            picks.append(largest)
        chosen[key] = picks
    return chosen


def kio_written(api_key: int, version: int) -> bytes:
    """A request kio writes from its own schema, where no client sent one:
    every array with one element, every tagged field set, so that every
    length field the version has is present for the fuzzer to lie in."""
    from kio.index import load_request_schema
    from kio.serial import entity_writer

    from kwire.protocol.kio_build import build
    from kwire.protocol.registry import request_is_flexible

    schema = load_request_schema(api_key, version)
    out = io.BytesIO()
    entity_writer(schema)(out, build(schema, sample_values(schema)))
    client = b"kio"
    header = api_key.to_bytes(2, "big") + version.to_bytes(2, "big") + (1).to_bytes(4, "big")
    header += len(client).to_bytes(2, "big") + client + (b"\x00" if request_is_flexible(api_key, version) else b"")
    return header + out.getvalue()


_SAMPLES = {"string": "x", "bytes": b"x", "records": b"", "bool": False, "uuid": uuid.UUID(int=1)}


def sample_values(entity: type) -> dict:
    from kio.serial._introspect import (
        EntityField,
        EntityTupleField,
        PrimitiveTupleField,
        classify_field,
        get_schema_field_type,
    )

    values = {}
    for field in dataclasses.fields(entity):
        shape = classify_field(field)
        if isinstance(shape, (EntityField, EntityTupleField)):
            value = sample_values(shape.type_)
        else:
            value = _SAMPLES.get(get_schema_field_type(field), 1)
        values[field.name] = [value] if isinstance(shape, (EntityTupleField, PrimitiveTupleField)) else value
    return values


def write_corpus(chosen: dict[tuple[int, int, str], list[bytes]], path: Path) -> None:
    from kwire.handlers import build_registry

    registry = build_registry()
    served = {
        (api_key, version)
        for api_key, _low, high in registry.supported()
        for version in range(registry.get(api_key).min_version, high + 1)
    }
    captured = {(api_key, version) for api_key, version, _source in chosen}
    for api_key, version in sorted(served - captured):
        chosen[(api_key, version, "kio")] = [kio_written(api_key, version)]
    lines = [
        "# Valid request frames (without the size prefix) the fuzzer mutates: compat_tests/test_frame_fuzz.py.",
        "# Regenerate with: python scripts/capture_requests.py",
        "# api_key version source hex",
    ]
    for (api_key, version, source), frames in sorted(chosen.items()):
        if (api_key, version) not in served:
            continue
        lines += [f"{api_key} {version} {source} {frame.hex()}" for frame in frames]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    sources = {}
    for api_key, version, source in chosen:
        sources.setdefault(source, set()).add((api_key, version))
    print(f"wrote {len(lines) - 3} frames to {path}")
    for source, keys in sorted(sources.items()):
        print(f"  {source}: {len(keys)} (api, version) pairs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=CORPUS)
    args = parser.parse_args()
    proxy = RecordingProxy()
    broker, port = start_broker(proxy.port)
    proxy.start(port)
    bootstrap = f"127.0.0.1:{proxy.port}"
    try:
        for client, flow in FLOWS:
            proxy.label = client
            started = time.monotonic()
            try:
                flow(bootstrap, f"corpus-{client}")
                print(f"{client}: {time.monotonic() - started:.1f} s")
            except Exception:
                print(f"{client}: a flow failed (frames so far are kept):", file=sys.stderr)
                traceback.print_exc()
            time.sleep(1)  # let background requests (heartbeats, metadata) arrive under this label
    finally:
        proxy.stop()
        broker.terminate()
        broker.wait(10)
    write_corpus(select(proxy.frames), args.out)


if __name__ == "__main__":
    main()
