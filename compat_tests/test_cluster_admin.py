"""Cluster-level admin APIs through real clients: DescribeCluster,
DescribeTopicPartitions, ElectLeaders, partition reassignments, features
(ApiVersions v3+, UpdateFeatures), and OffsetForLeaderEpoch (a librdkafka
consumer validating its committed position), plus librdkafka 2.0.2 (the
distro library, through ctypes) reading ApiVersions with feature fields."""

from __future__ import annotations

import asyncio
import ctypes
import time

import pytest

from compat_tests import raw
from compat_tests.clients import Outgoing, create_topic, produce
from compat_tests.recording_proxy import RecordingProxy

TIMEOUT_S = 20
OFFSET_FOR_LEADER_EPOCH = 23


# --- confluent-kafka (librdkafka 2.16) ----------------------------------------------


def test_confluent_describe_cluster_and_topics(shared_kwire, topic_name):
    from confluent_kafka import ElectionType, KafkaException, TopicCollection, TopicPartition
    from confluent_kafka.admin import AdminClient

    create_topic("confluent-kafka", shared_kwire.bootstrap, topic_name, partitions=3)
    admin = AdminClient({"bootstrap.servers": shared_kwire.bootstrap})
    cluster = admin.describe_cluster(include_authorized_operations=True, request_timeout=10).result(TIMEOUT_S)
    (node,) = cluster.nodes
    assert (node.id, node.host, node.port) == (1, "127.0.0.1", shared_kwire.port)
    assert cluster.controller.id == 1 and cluster.cluster_id
    assert cluster.authorized_operations  # every operation: there is no authorizer

    described = admin.describe_topics(TopicCollection([topic_name]), include_authorized_operations=True)
    topic = described[topic_name].result(TIMEOUT_S)
    assert topic.name == topic_name and not topic.is_internal
    assert [(p.id, p.leader.id, [r.id for r in p.replicas], [r.id for r in p.isr]) for p in topic.partitions] == [
        (i, 1, [1], [1]) for i in range(3)
    ]
    assert topic.authorized_operations
    with pytest.raises(KafkaException) as missing:
        admin.describe_topics(TopicCollection(["no-such-topic-here"]))["no-such-topic-here"].result(TIMEOUT_S)
    assert missing.value.args[0].name() == "UNKNOWN_TOPIC_OR_PART"

    partitions = [TopicPartition(topic_name, 0), TopicPartition(topic_name, 7)]
    elected = admin.elect_leaders(ElectionType.PREFERRED, partitions).result(TIMEOUT_S)
    errors = {tp.partition: (err.name() if err is not None else None) for tp, err in elected.items()}
    assert errors == {0: "ELECTION_NOT_NEEDED", 7: "UNKNOWN_TOPIC_OR_PART"}


def consume_values(consumer, count):
    values = []
    deadline = time.monotonic() + TIMEOUT_S
    while len(values) < count and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            values.append(message.value())
    return values


def test_confluent_consumer_validates_its_position(start_kwire, topic_name):
    """A librdkafka seek to a position that carries a leader epoch is
    validated with OffsetForLeaderEpoch (KIP-320) before fetching resumes:
    kwire's answer must let the consumer carry on from there."""
    from confluent_kafka import Consumer, TopicPartition

    proxy = RecordingProxy()  # to see the requests the consumer sends
    broker = start_kwire("--advertised-port", str(proxy.port), memory=True)
    proxy.start(broker.port)
    bootstrap = f"127.0.0.1:{proxy.port}"
    try:
        create_topic("confluent-kafka", bootstrap, topic_name)
        produce("confluent-kafka", bootstrap, topic_name, [Outgoing(None, b"v%d" % i) for i in range(5)])
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "epochs", "enable.auto.commit": False})
        try:
            consumer.assign([TopicPartition(topic_name, 0, 0)])
            assert consume_values(consumer, 5) == [b"v%d" % i for i in range(5)]
            consumer.seek(TopicPartition(topic_name, 0, 2, leader_epoch=0))
            assert consume_values(consumer, 3) == [b"v2", b"v3", b"v4"]
        finally:
            consumer.close()
        asked = [f for _label, f in proxy.frames if int.from_bytes(f[:2], "big") == OFFSET_FOR_LEADER_EPOCH]
        assert asked, "librdkafka validated its position with OffsetForLeaderEpoch"
    finally:
        proxy.stop()


def test_offset_for_leader_epoch_raw(shared_kwire, topic_name):
    create_topic("kafka-python", shared_kwire.bootstrap, topic_name)
    produce("kafka-python", shared_kwire.bootstrap, topic_name, [Outgoing(None, b"v%d" % i) for i in range(4)])
    sock = raw.connect(shared_kwire.bootstrap)

    def ask(partition, leader_epoch, current=-1):
        parts = [dict(partition=partition, current_leader_epoch=current, leader_epoch=leader_epoch)]
        response = raw.call(
            sock, OFFSET_FOR_LEADER_EPOCH, 4, dict(replica_id=-1, topics=[dict(topic=topic_name, partitions=parts)])
        )
        (result,) = response.topics[0].partitions
        return result.error_code.name, result.leader_epoch, result.end_offset

    assert ask(0, 0) == ("none", 0, 4)
    assert ask(0, 3) == ("none", -1, -1)
    assert ask(0, 0, current=1) == ("unknown_leader_epoch", -1, -1)
    assert ask(1, 0) == ("unknown_topic_or_partition", -1, -1)


# --- kafka-python -------------------------------------------------------------------


@pytest.fixture
def kafka_python_admin(shared_kwire):
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=shared_kwire.bootstrap, request_timeout_ms=10_000)
    yield admin
    admin.close()


def test_kafka_python_describe_cluster_and_features(kafka_python_admin, shared_kwire):
    cluster = kafka_python_admin.describe_cluster()
    assert cluster["controller_id"] == 1 and cluster["cluster_id"]
    assert [(b["broker_id"], b["host"], b["port"]) for b in cluster["brokers"]] == [(1, "127.0.0.1", shared_kwire.port)]
    assert kafka_python_admin.describe_features() == {
        "group.version": {"supported": (1, 1), "finalized": (1, 1), "finalized_epoch": 0},
        "metadata.version": {"supported": (25, 25), "finalized": (25, 25), "finalized_epoch": 0},
        "transaction.version": {"supported": (0, 0)},
    }


def test_kafka_python_update_features(kafka_python_admin):
    from kafka.errors import InvalidUpdateVersionError

    assert kafka_python_admin.update_features({"metadata.version": 25}, validate_only=True) == {
        "metadata.version": "OK"
    }
    with pytest.raises(InvalidUpdateVersionError):
        kafka_python_admin.update_features({"metadata.version": 26})
    with pytest.raises(InvalidUpdateVersionError):
        kafka_python_admin.update_features({"group.version": 2})  # KIP-848 groups are level 1


def test_kafka_python_describe_topic_partitions_pages(kafka_python_admin, shared_kwire, topic_name):
    create_topic("kafka-python", shared_kwire.bootstrap, topic_name, partitions=3)
    first = kafka_python_admin.describe_topic_partitions([topic_name], response_partition_limit=2)
    (topic,) = first["topics"]
    assert (topic["name"], topic["error_code"], topic["is_internal"]) == (topic_name, 0, False)
    assert topic["topic_id"].int != 0
    assert [(p["partition_index"], p["leader_id"], p["leader_epoch"]) for p in topic["partitions"]] == [
        (0, 1, 0),
        (1, 1, 0),
    ]
    assert first["next_cursor"] == {"topic_name": topic_name, "partition_index": 2}
    rest = kafka_python_admin.describe_topic_partitions([topic_name], cursor=first["next_cursor"])
    assert [p["partition_index"] for p in rest["topics"][0]["partitions"]] == [2]
    assert rest["next_cursor"] is None
    (missing,) = kafka_python_admin.describe_topic_partitions(["no-such-topic-here"])["topics"]
    assert missing["error_code"] == 3  # UNKNOWN_TOPIC_OR_PARTITION


def test_kafka_python_elections_and_reassignments(kafka_python_admin, shared_kwire, topic_name):
    from kafka import TopicPartition
    from kafka.errors import InvalidReplicationAssignmentError, NoReassignmentInProgressError

    create_topic("kafka-python", shared_kwire.bootstrap, topic_name, partitions=2)
    response = kafka_python_admin.elect_leaders(0, {topic_name: [0, 1]}, raise_errors=False)
    assert {
        (r.topic, p.partition_id, p.error_code) for r in response.replica_election_results for p in r.partition_result
    } == {
        (topic_name, 0, 84),  # ELECTION_NOT_NEEDED
        (topic_name, 1, 84),
    }
    assert kafka_python_admin.list_partition_reassignments() == {}
    altered = kafka_python_admin.alter_partition_reassignments(
        {TopicPartition(topic_name, 0): [1], TopicPartition(topic_name, 1): [2]}
    )
    assert altered == {
        TopicPartition(topic_name, 0): None,
        TopicPartition(topic_name, 1): InvalidReplicationAssignmentError,
    }
    cancelled = kafka_python_admin.alter_partition_reassignments({TopicPartition(topic_name, 0): None})
    assert cancelled == {TopicPartition(topic_name, 0): NoReassignmentInProgressError}


# --- aiokafka -----------------------------------------------------------------------


def test_aiokafka_describe_cluster(shared_kwire):
    from aiokafka.admin import AIOKafkaAdminClient

    async def describe():
        admin = AIOKafkaAdminClient(bootstrap_servers=shared_kwire.bootstrap)
        await admin.start()
        try:
            return await admin.describe_cluster()
        finally:
            await admin.close()

    cluster = asyncio.run(asyncio.wait_for(describe(), TIMEOUT_S))
    assert cluster["controller_id"] == 1 and cluster["cluster_id"]
    assert [(b["node_id"], b["port"]) for b in cluster["brokers"]] == [(1, shared_kwire.port)]


# --- librdkafka 2.0.2 ------------------------------------------------------------------

OLD_LIBRDKAFKA = "/usr/lib/x86_64-linux-gnu/librdkafka.so.1"


def test_old_librdkafka_reads_api_versions_with_features(shared_kwire):
    """ApiVersions v3 carries the feature fields as tagged fields (as Kafka
    sends them); librdkafka 2.0.2 must still get through to Metadata."""
    try:
        lib = ctypes.CDLL(OLD_LIBRDKAFKA)
    except OSError:
        pytest.skip("no distro librdkafka")
    lib.rd_kafka_version_str.restype = ctypes.c_char_p
    lib.rd_kafka_conf_new.restype = ctypes.c_void_p
    lib.rd_kafka_conf_set.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_size_t,
    ]
    lib.rd_kafka_new.restype = ctypes.c_void_p
    lib.rd_kafka_new.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.rd_kafka_metadata.argtypes = [
        ctypes.c_void_p,
        ctypes.c_int,
        ctypes.c_void_p,
        ctypes.POINTER(ctypes.c_void_p),
        ctypes.c_int,
    ]
    lib.rd_kafka_metadata_destroy.argtypes = [ctypes.c_void_p]
    lib.rd_kafka_destroy.argtypes = [ctypes.c_void_p]
    errors = ctypes.create_string_buffer(512)
    conf = lib.rd_kafka_conf_new()
    for key, value in ((b"bootstrap.servers", shared_kwire.bootstrap.encode()), (b"api.version.request", b"true")):
        assert lib.rd_kafka_conf_set(conf, key, value, errors, 512) == 0, errors.value
    handle = lib.rd_kafka_new(0, conf, errors, 512)  # a producer
    assert handle, errors.value
    metadata = ctypes.c_void_p()
    try:
        error = lib.rd_kafka_metadata(handle, 1, None, ctypes.byref(metadata), 10_000)
        assert error == 0, f"librdkafka {lib.rd_kafka_version_str().decode()}: metadata failed with {error}"
        lib.rd_kafka_metadata_destroy(metadata)
    finally:
        lib.rd_kafka_destroy(handle)


# --- the leader-epoch-checkpoint on disk ---------------------------------------------


def test_leader_epoch_checkpoint_in_kafkas_format(start_kwire, topic_name):
    broker = start_kwire()
    create_topic("kafka-python", broker.bootstrap, topic_name)
    produce("kafka-python", broker.bootstrap, topic_name, [Outgoing(None, b"v%d" % i) for i in range(3)])
    assert broker.stop() == 0
    checkpoint = broker.data_dir / f"{topic_name}-0" / "leader-epoch-checkpoint"
    assert checkpoint.read_text() == "0\n1\n0 0\n"
    broker.start()
    sock = raw.connect(broker.bootstrap)
    parts = [dict(partition=0, current_leader_epoch=0, leader_epoch=0)]
    response = raw.call(
        sock, OFFSET_FOR_LEADER_EPOCH, 4, dict(replica_id=-1, topics=[dict(topic=topic_name, partitions=parts)])
    )
    (result,) = response.topics[0].partitions
    assert (result.error_code, result.leader_epoch, result.end_offset) == (0, 0, 3)
