"""The log's lifecycle through real clients: compression codecs across
clients, broker-side recompression, LogAppendTime, offsets_for_times,
retention, DeleteRecords, compaction and DescribeLogDirs."""

from __future__ import annotations

import time

import pytest

from compat_tests.clients import Outgoing, consume, create_topic, produce, watermarks
from compat_tests.group_consumers import wait_for
from kwire.admin.wire_client import WireClient

CODECS = ["gzip", "snappy", "lz4", "zstd"]
# kafka-python needs python-snappy for snappy, which is not installed.
SUPPORTS = {
    "confluent-kafka": set(CODECS),
    "kafka-python": {"gzip", "lz4", "zstd"},
    "aiokafka": set(CODECS),
}
PRODUCER_OPTION = {
    "confluent-kafka": "compression.type",
    "kafka-python": "compression_type",
    "aiokafka": "compression_type",
}
ONE_BATCH = {"confluent-kafka": {"linger.ms": 2000}, "kafka-python": {"linger_ms": 2000}}
FAST_MAINTENANCE = ("-o", "log.retention.check.interval.ms=100", "-o", "log.cleaner.backoff.ms=100")


def messages(count, prefix=b"m", partition=0, timestamp=None):
    return [
        Outgoing(b"k%d" % i, prefix + b"%d" % i * 20, partition=partition, timestamp=timestamp) for i in range(count)
    ]


@pytest.mark.parametrize("producer,codec", [(p, c) for p in SUPPORTS for c in CODECS if c in SUPPORTS[p]])
def test_every_codec_from_one_client_reaches_the_others(shared_kwire, topic_name, codec, producer):
    create_topic("confluent-kafka", shared_kwire.bootstrap, topic_name, 1)
    sent = messages(200)
    produce(producer, shared_kwire.bootstrap, topic_name, sent, **{PRODUCER_OPTION[producer]: codec})
    stored = stored_codecs(shared_kwire.bootstrap, topic_name)
    if producer == "confluent-kafka":
        # librdkafka sends a batch uncompressed when compressing would not
        # shrink it (a lone small message, say), so some batches may be codec 0.
        assert CODEC_IDS[codec] in stored and stored <= {0, CODEC_IDS[codec]}
    else:
        assert stored == {CODEC_IDS[codec]}
    readers = [c for c in SUPPORTS if c != producer and codec in SUPPORTS[c]]
    assert len(readers) >= 1
    for reader in readers:
        got = consume(reader, shared_kwire.bootstrap, topic_name, [0], len(sent))
        assert [(m.key, m.value) for m in got] == [(m.key, m.value) for m in sent], reader


CODEC_IDS = {"uncompressed": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def stored_codecs(bootstrap: str, topic: str, partition: int = 0) -> set[int]:
    """The compression codec of every batch the broker serves, read raw."""
    from kwire.log.segment_scan import batches_in

    host, port = bootstrap.split(":")
    with WireClient(host, int(port)) as client:
        response = client.call(
            1,
            12,
            dict(
                replica_id=-1,
                max_wait=0,
                min_bytes=1,
                max_bytes=50 << 20,
                isolation_level=0,
                session_id=0,
                session_epoch=-1,
                rack_id="",
                forgotten_topics_data=[],
                topics=[
                    dict(
                        topic=topic,
                        topic_id=None,
                        partitions=[
                            dict(
                                partition=partition,
                                current_leader_epoch=-1,
                                fetch_offset=0,
                                last_fetched_epoch=-1,
                                log_start_offset=-1,
                                partition_max_bytes=50 << 20,
                            )
                        ],
                    )
                ],
            ),
        )
    records = bytes(response.responses[0].partitions[0].records or b"")
    return {header.compression for _pos, header, _data in batches_in(records)}


@pytest.mark.parametrize("producer,reader", [("confluent-kafka", "kafka-python"), ("kafka-python", "aiokafka")])
def test_topic_compression_type_recompresses(shared_kwire, topic_name, producer, reader):
    create_topic("confluent-kafka", shared_kwire.bootstrap, topic_name, 1, configs={"compression.type": "zstd"})
    sent = messages(100)
    produce(producer, shared_kwire.bootstrap, topic_name, sent, **{PRODUCER_OPTION[producer]: "gzip"})
    assert stored_codecs(shared_kwire.bootstrap, topic_name) == {CODEC_IDS["zstd"]}
    got = consume(reader, shared_kwire.bootstrap, topic_name, [0], len(sent))
    assert [(m.offset, m.value) for m in got] == [(i, m.value) for i, m in enumerate(sent)]


@pytest.mark.parametrize("producer,reader", [("confluent-kafka", "aiokafka"), ("aiokafka", "kafka-python")])
def test_log_append_time_replaces_the_producers_timestamps(shared_kwire, topic_name, producer, reader):
    create_topic(
        "confluent-kafka", shared_kwire.bootstrap, topic_name, 1, configs={"message.timestamp.type": "LogAppendTime"}
    )
    before = int(time.time() * 1000)
    produce(producer, shared_kwire.bootstrap, topic_name, messages(10, timestamp=1_000_000))
    after = int(time.time() * 1000)
    got = consume(reader, shared_kwire.bootstrap, topic_name, [0], 10)
    assert len(got) == 10 and all(before <= m.timestamp <= after for m in got), [m.timestamp for m in got]


def offsets_for_times(client: str, bootstrap: str, topic: str, timestamp: int) -> int | None:
    if client == "confluent-kafka":
        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "times"})
        try:
            (found,) = consumer.offsets_for_times([TopicPartition(topic, 0, timestamp)], timeout=10)
            return None if found.offset < 0 else found.offset
        finally:
            consumer.close()
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    try:
        found = consumer.offsets_for_times({TopicPartition(topic, 0): timestamp})[TopicPartition(topic, 0)]
        return None if found is None else found.offset
    finally:
        consumer.close()


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_offsets_for_times(shared_kwire, topic_name, client):
    create_topic("confluent-kafka", shared_kwire.bootstrap, topic_name, 1)
    base = 1_700_000_000_000
    batch = [Outgoing(b"k", b"v%d" % i, partition=0, timestamp=base + 1000 * i) for i in range(20)]
    produce("confluent-kafka", shared_kwire.bootstrap, topic_name, batch)
    assert offsets_for_times(client, shared_kwire.bootstrap, topic_name, base) == 0
    assert offsets_for_times(client, shared_kwire.bootstrap, topic_name, base + 5500) == 6
    assert offsets_for_times(client, shared_kwire.bootstrap, topic_name, base + 19_000) == 19
    assert offsets_for_times(client, shared_kwire.bootstrap, topic_name, base + 19_001) is None


@pytest.mark.parametrize("reader", ["confluent-kafka", "kafka-python"])
def test_retention_advances_the_log_start(start_kwire, topic_name, reader):
    broker = start_kwire(*FAST_MAINTENANCE, memory=True)
    create_topic(
        "confluent-kafka", broker.bootstrap, topic_name, 1, configs={"segment.bytes": "2000", "retention.ms": "2000"}
    )
    old = int(time.time() * 1000) - 10_000
    produce("confluent-kafka", broker.bootstrap, topic_name, messages(60, timestamp=old))
    fresh = produce("confluent-kafka", broker.bootstrap, topic_name, messages(5, prefix=b"new"))
    wait_for(lambda: watermarks(reader, broker.bootstrap, topic_name, 0)[0] > 0, "retention to move the log start")
    start, end = watermarks(reader, broker.bootstrap, topic_name, 0)
    assert 0 < start <= fresh[0][1] and end == 65
    got = consume(reader, broker.bootstrap, topic_name, [0], end - start)
    assert got[0].offset >= start and [m.value for m in got][-5:] == [m.value for m in messages(5, prefix=b"new")]


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_size_retention(start_kwire, topic_name, client):
    broker = start_kwire(*FAST_MAINTENANCE, memory=True)
    create_topic(client, broker.bootstrap, topic_name, 1, configs={"segment.bytes": "2000", "retention.bytes": "4000"})
    for round_ in range(10):  # ten batches of ~0.9 kB: two to a segment
        # One batch per round: a long linger holds every message until the
        # flush sends them together (a short one may split a round under load).
        produce(client, broker.bootstrap, topic_name, messages(20, prefix=b"r%d-" % round_), **ONE_BATCH[client])
    # Five segments of 40 records (~1.8 kB each), the last one active. Kafka
    # deletes the oldest while what is left stays >= retention.bytes: two go.
    # Retention runs while the rounds are produced, so wait for the end state.
    wait_for(lambda: watermarks(client, broker.bootstrap, topic_name, 0)[0] >= 80, "size retention")
    time.sleep(0.5)  # several more retention checks: nothing further may go
    start, end = watermarks(client, broker.bootstrap, topic_name, 0)
    assert (start, end) == (80, 200)
    assert consume(client, broker.bootstrap, topic_name, [0], 1)[0].offset == start


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_a_full_index_rolls_the_segment(start_kwire, topic_name, client):
    broker = start_kwire()
    # Room for three offset-index entries, one per batch (index.interval.bytes=0).
    create_topic(
        client,
        broker.bootstrap,
        topic_name,
        1,
        configs={"segment.index.bytes": "24", "index.interval.bytes": "0", "retention.ms": "-1"},
    )
    now = int(time.time() * 1000)  # one timestamp for all: the time index keeps a single entry
    for i in range(9):  # one batch per produce call
        produce(client, broker.bootstrap, topic_name, [Outgoing(b"k", b"m%d" % i, partition=0, timestamp=now)])
    segments = sorted(p.name for p in (broker.data_dir / f"{topic_name}-0").glob("*.log"))
    assert segments == [f"{base:020d}.log" for base in (0, 3, 6)]
    for reader in ("confluent-kafka", "aiokafka"):
        assert [m.value for m in consume(reader, broker.bootstrap, topic_name, [0], 9)] == [
            b"m%d" % i for i in range(9)
        ]


def delete_records(client: str, bootstrap: str, topic: str, offset: int) -> int:
    if client == "confluent-kafka":
        from confluent_kafka import TopicPartition
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": bootstrap})
        tp = TopicPartition(topic, 0, offset)
        return admin.delete_records([tp])[tp].result(20).low_watermark
    from kafka import KafkaAdminClient, TopicPartition

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        result = admin.delete_records({TopicPartition(topic, 0): offset})
        return result[TopicPartition(topic, 0)]["low_watermark"]
    finally:
        admin.close()


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_delete_records_survives_a_restart(start_kwire, topic_name, client):
    broker = start_kwire()
    create_topic(client, broker.bootstrap, topic_name, 1, configs={"segment.bytes": "2000"})
    produce(client, broker.bootstrap, topic_name, messages(100))
    assert delete_records(client, broker.bootstrap, topic_name, 37) == 37
    assert watermarks(client, broker.bootstrap, topic_name, 0) == (37, 100)
    assert consume(client, broker.bootstrap, topic_name, [0], 1)[0].offset == 37
    broker.stop()
    broker.start()
    assert watermarks(client, broker.bootstrap, topic_name, 0) == (37, 100)
    assert consume(client, broker.bootstrap, topic_name, [0], 63)[-1].offset == 99


@pytest.mark.parametrize("producer,reader", [("confluent-kafka", "kafka-python"), ("aiokafka", "confluent-kafka")])
def test_a_compacted_topic_converges_to_one_value_per_key(start_kwire, topic_name, producer, reader):
    broker = start_kwire(*FAST_MAINTENANCE, memory=True)
    create_topic(
        "confluent-kafka",
        broker.bootstrap,
        topic_name,
        1,
        configs={
            "cleanup.policy": "compact",
            "segment.bytes": "4000",
            "min.cleanable.dirty.ratio": "0.01",
            "delete.retention.ms": "0",
        },
    )
    versions = [Outgoing(b"key-%d" % (i % 20), b"version-%d" % i, partition=0) for i in range(400)]
    produce(producer, broker.bootstrap, topic_name, versions)
    produce(producer, broker.bootstrap, topic_name, [Outgoing(b"key-0", None, partition=0)])  # a tombstone
    # Fillers with unique keys push every version into closed segments.
    produce(
        producer,
        broker.bootstrap,
        topic_name,
        [Outgoing(b"filler-%d" % i, b"f" * 100, partition=0) for i in range(200)],
    )
    latest = {b"key-%d" % k: b"version-%d" % (380 + k) for k in range(1, 20)}

    def converged() -> bool:
        got = consume(reader, broker.bootstrap, topic_name, [0], 10_000, timeout=3)
        keyed = [(m.key, m.value) for m in got if m.key.startswith(b"key-")]
        return sorted(keyed) == sorted(latest.items())

    wait_for(converged, "compaction to keep one value per key", timeout_s=30)
    end = watermarks(reader, broker.bootstrap, topic_name, 0)[1]
    assert end == 601  # offsets never change


def test_a_keyless_record_in_a_compacted_topic_is_refused(shared_kwire, topic_name):
    from confluent_kafka import KafkaException

    create_topic("confluent-kafka", shared_kwire.bootstrap, topic_name, 1, configs={"cleanup.policy": "compact"})
    with pytest.raises(KafkaException, match="INVALID_RECORD|Invalid record"):
        produce(
            "confluent-kafka",
            shared_kwire.bootstrap,
            topic_name,
            [Outgoing(None, b"no key", partition=0)],
            **{"message.send.max.retries": 0},
        )
    from kafka.errors import InvalidRecordError

    with pytest.raises(InvalidRecordError):
        produce("kafka-python", shared_kwire.bootstrap, topic_name, [Outgoing(None, b"no key", partition=0)])


def test_min_insync_replicas_above_one_refuses_acks_all(shared_kwire, topic_name):
    from kafka.errors import NotEnoughReplicasError

    create_topic("confluent-kafka", shared_kwire.bootstrap, topic_name, 1, configs={"min.insync.replicas": "2"})
    # Retriable, so librdkafka would retry until its message timeout; kafka-python with no retries shows it.
    with pytest.raises(NotEnoughReplicasError):
        produce("kafka-python", shared_kwire.bootstrap, topic_name, messages(1), retries=0, enable_idempotence=False)
    assert produce("confluent-kafka", shared_kwire.bootstrap, topic_name, messages(1), acks=1) == [(0, 0)]


def test_describe_log_dirs(shared_kwire, topic_name):
    from kafka import KafkaAdminClient

    create_topic("kafka-python", shared_kwire.bootstrap, topic_name, 2)
    produce("kafka-python", shared_kwire.bootstrap, topic_name, messages(50, partition=1))
    admin = KafkaAdminClient(bootstrap_servers=shared_kwire.bootstrap)
    try:
        response = admin.describe_log_dirs()
    finally:
        admin.close()
    sizes = _partition_sizes(response, topic_name)
    assert sizes[0] == 0 and sizes[1] > 50 * 20


def _partition_sizes(response, topic: str) -> dict[int, int]:
    """kafka-python's describe_log_dirs answer -> {partition: size} for `topic`."""
    for broker in response:
        for log_dir in broker["log_dirs"]:
            assert log_dir["error_code"] == 0
            for entry in log_dir["topics"]:
                if entry["name"] == topic:
                    return {p["partition_index"]: p["partition_size"] for p in entry["partitions"]}
    raise AssertionError(f"{topic} not in {response}")


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_a_committed_offset_below_the_log_start_resets(start_kwire, topic_name, client):
    """The group's committed offset falls below the log start: the consumer
    gets OFFSET_OUT_OF_RANGE and resets per auto.offset.reset."""
    from compat_tests.group_consumers import GroupConsumer

    broker = start_kwire(memory=True)
    create_topic("confluent-kafka", broker.bootstrap, topic_name, 1)
    produce("confluent-kafka", broker.bootstrap, topic_name, messages(10))
    first = GroupConsumer(client, broker.bootstrap, "resetting", topic_name)
    try:
        wait_for(lambda: len(first.offsets_seen()) == 10, "the first read")
        assert first.commit() == {0: 10}
        first.close()
    finally:
        first.stop()
    produce("confluent-kafka", broker.bootstrap, topic_name, messages(40, prefix=b"later"))
    assert delete_records("confluent-kafka", broker.bootstrap, topic_name, 30) == 30
    second = GroupConsumer(client, broker.bootstrap, "resetting", topic_name, reset="earliest")
    try:
        wait_for(lambda: len(second.offsets_seen()) == 20, "the reset read")
        assert min(o for _p, o in second.offsets_seen()) == 30
    finally:
        second.stop()
