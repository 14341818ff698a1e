"""Acknowledged data survives a clean stop and a kill, at the same offsets."""

import os
import signal

import pytest

from compat_tests.clients import CLIENTS, Outgoing, consume, create_topic, produce


def messages(prefix: str, count: int):
    return [
        Outgoing(
            key=b"%s-%d" % (prefix.encode(), i % 7), value=b"%s-%d" % (prefix.encode(), i), headers=(("n", b"%d" % i),)
        )
        for i in range(count)
    ]


def read_all(client, bootstrap, topic, partitions, count):
    got = consume(client, bootstrap, topic, partitions, count)
    return sorted((m.partition, m.offset, m.key, m.value, m.headers) for m in got)


@pytest.mark.parametrize("client", CLIENTS)
def test_clean_restart_keeps_every_acknowledged_message(start_kwire, client):
    broker = start_kwire()
    create_topic(client, broker.bootstrap, "durable", partitions=3)
    first = produce(client, broker.bootstrap, "durable", messages("a", 300))
    before = read_all(client, broker.bootstrap, "durable", [0, 1, 2], 300)
    assert len(before) == 300

    assert broker.stop() == 0  # SIGTERM: clean shutdown, exit code 0
    broker.start()

    after = read_all(client, broker.bootstrap, "durable", [0, 1, 2], 300)
    assert after == before
    second = produce(client, broker.bootstrap, "durable", messages("b", 60))
    ends = {}
    for partition, offset in first:
        ends[partition] = max(ends.get(partition, -1), offset)
    for partition, offset in second:
        assert offset > ends.get(partition, -1)  # continues after what was there
    assert len(read_all(client, broker.bootstrap, "durable", [0, 1, 2], 360)) == 360


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_kill_keeps_every_acknowledged_message(start_kwire, client):
    broker = start_kwire()
    create_topic(client, broker.bootstrap, "killed", partitions=2)
    acked = produce(client, broker.bootstrap, "killed", messages("k", 500), acks="all")
    assert len(acked) == 500
    os.kill(broker.pid, signal.SIGKILL)
    broker.process.wait(10)
    broker.start()
    got = consume(client, broker.bootstrap, "killed", [0, 1], 500)
    assert sorted((m.partition, m.offset) for m in got) == sorted(acked)


def test_restart_after_a_torn_write_recovers(start_kwire, tmp_path):
    broker = start_kwire()
    create_topic("confluent-kafka", broker.bootstrap, "torn", partitions=1)
    produce("confluent-kafka", broker.bootstrap, "torn", messages("t", 50))
    assert broker.stop() == 0
    segment = broker.data_dir / "torn-0" / "00000000000000000000.log"
    with open(segment, "ab") as f:
        f.write(b"\x00\x00\x00\x00\x00\x00\x00\x32\x00\x00\x10\x00half a batch")  # a torn append
    broker.start()
    assert len(consume("kafka-python", broker.bootstrap, "torn", [0], 50)) == 50
    acked = produce("kafka-python", broker.bootstrap, "torn", messages("u", 5))
    assert [offset for _p, offset in acked] == list(range(50, 55))
    assert len(consume("aiokafka", broker.bootstrap, "torn", [0], 55)) == 55
