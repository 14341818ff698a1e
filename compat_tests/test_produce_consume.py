"""Each client produces keyed messages with headers and reads them back exactly."""

import collections

import pytest

from compat_tests.clients import CLIENTS, Outgoing, consume, create_topic, produce, watermarks

N_MESSAGES = 10_000


@pytest.mark.parametrize("client", CLIENTS)
def test_ten_thousand_keyed_messages_with_headers_round_trip(shared_kwire, topic_name, client):
    bootstrap = shared_kwire.bootstrap
    create_topic(client, bootstrap, topic_name, partitions=3)
    base_ts = 1_700_000_000_000
    messages = [
        Outgoing(
            key=b"key-%d" % (i % 97),
            value=b"value-%d-" % i + bytes([i % 256]) * (i % 50),
            headers=(("seq", b"%d" % i), ("client", client.encode())),
            timestamp=base_ts + i,
        )
        for i in range(N_MESSAGES)
    ]
    acks = produce(client, bootstrap, topic_name, messages)
    assert len(acks) == N_MESSAGES

    received = consume(client, bootstrap, topic_name, [0, 1, 2], N_MESSAGES)
    assert len(received) == N_MESSAGES

    by_partition = collections.defaultdict(list)
    for message in received:
        by_partition[message.partition].append(message)
    assert set(by_partition) == {0, 1, 2}
    partition_of_key = {}
    for partition, items in by_partition.items():
        # Offsets contiguous from 0, in produce order within the partition.
        assert [m.offset for m in items] == list(range(len(items)))
        sequence = [int(dict(m.headers)["seq"]) for m in items]
        assert sequence == sorted(sequence)
        for m in items:
            assert partition_of_key.setdefault(m.key, partition) == partition  # a key stays on one partition
    sent = {i: m for i, m in enumerate(messages)}
    for m in received:
        original = sent[int(dict(m.headers)["seq"])]
        assert (m.key, m.value, m.headers, m.timestamp) == (
            original.key,
            original.value,
            original.headers,
            original.timestamp,
        )
    # What the producer was told matches where the data is.
    assert sorted(acks) == sorted((m.partition, m.offset) for m in received)
    for partition in range(3):
        assert watermarks(client, bootstrap, topic_name, partition) == (0, len(by_partition[partition]))


SPECIAL = [
    Outgoing(key=None, value=b"no key"),
    Outgoing(key=b"tombstone", value=None),
    Outgoing(key=b"empty", value=b""),
    Outgoing(key=b"", value=b"empty key"),
    Outgoing(key=b"big", value=bytes(range(256)) * 4096),  # 1 MiB
]


@pytest.mark.parametrize("acks", ["all", 1, 0])
@pytest.mark.parametrize("client", CLIENTS)
def test_null_keys_tombstones_empty_and_one_megabyte_values(start_kwire, client, acks):
    broker = start_kwire("-o", "message.max.bytes=2000000", memory=True)
    topic = f"special-{acks}"
    create_topic(client, broker.bootstrap, topic, partitions=1)
    size_option = {
        "kafka-python": {"max_request_size": 2_000_000},
        "confluent-kafka": {"message.max.bytes": 2_000_000},
        "aiokafka": {"max_request_size": 2_000_000},
    }[client]
    for message in SPECIAL:  # one at a time: the order on the partition is then known
        produce(client, broker.bootstrap, topic, [message._replace(partition=0)], acks=acks, **size_option)
    fetch_option = {
        "kafka-python": {"max_partition_fetch_bytes": 2_000_000},
        "confluent-kafka": {},
        "aiokafka": {"max_partition_fetch_bytes": 2_000_000},
    }[client]
    received = consume(client, broker.bootstrap, topic, [0], len(SPECIAL), **fetch_option)
    assert [(m.offset, m.key, m.value) for m in received] == [(i, m.key, m.value) for i, m in enumerate(SPECIAL)]
