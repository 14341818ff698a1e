"""`kwire produce` and `kwire consume` against a kwire process, checked with
real clients: what kwire produce writes reads back the same through kcat and
confluent-kafka; what kcat, kafka-python and confluent-kafka write, kwire
consume prints in each format; keys land where confluent-kafka's
murmur2_random puts them; a group's committed offsets are used and advanced;
aborted transactions stay hidden under read_committed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from compat_tests.clients import Outgoing, consume, create_topic, produce

RUN_TIMEOUT_S = 60


def kwire(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "kwire", *args], input=stdin, capture_output=True, timeout=RUN_TIMEOUT_S
    )


def kwire_ok(*args: str, stdin: bytes = b"") -> bytes:
    done = kwire(*args, stdin=stdin)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def kcat(*args: str, stdin: bytes = b"") -> bytes:
    done = subprocess.run(["kcat", "-q", *args], input=stdin, capture_output=True, timeout=RUN_TIMEOUT_S)
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout


def printed(broker, topic: str, *args: str) -> bytes:
    """Everything in the topic so far, as kwire consume prints it."""
    return kwire_ok("consume", topic, "--bootstrap-server", broker.bootstrap, "--timeout-ms", "1000", *args)


@pytest.mark.parametrize("compression", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_produced_lines_read_back_through_kcat_and_confluent_kafka(shared_kwire, topic_name, compression):
    create_topic("confluent-kafka", shared_kwire.bootstrap, topic_name, partitions=3)
    lines = [b"key-%d:value %d" % (i, i) for i in range(300)]
    kwire_ok(
        "produce",
        topic_name,
        "--bootstrap-server",
        shared_kwire.bootstrap,
        "--key-separator",
        ":",
        "--header",
        "source=cli",
        "--compression",
        compression,
        stdin=b"\n".join(lines) + b"\n",
    )
    expected = {(b"key-%d" % i, b"value %d" % i) for i in range(300)}

    got = consume("confluent-kafka", shared_kwire.bootstrap, topic_name, [0, 1, 2], 300)
    assert {(m.key, m.value) for m in got} == expected
    assert all(m.headers == (("source", b"cli"),) for m in got)

    out = kcat("-C", "-b", shared_kwire.bootstrap, "-t", topic_name, "-e", "-o", "beginning", "-f", "%k=%s\n")
    assert {tuple(line.split(b"=", 1)) for line in out.splitlines()} == expected


def test_keys_land_where_confluent_kafka_murmur2_random_and_kafka_python_put_them(shared_kwire, topic_name):
    ours, theirs, java_like = (f"{topic_name}-{who}" for who in ("cli", "confluent", "kafka-python"))
    for topic in (ours, theirs, java_like):
        create_topic("kafka-python", shared_kwire.bootstrap, topic, partitions=7)
    keys = [b"user-%d" % i for i in range(100)] + [b"", b"\xff\xfe", "ключ".encode()]
    kwire_ok(
        "produce",
        ours,
        "--bootstrap-server",
        shared_kwire.bootstrap,
        "--key-separator",
        "\t",
        stdin=b"".join(key + b"\t" + key + b"\n" for key in keys),
    )
    messages = [Outgoing(key=key, value=key) for key in keys]
    placed = produce("confluent-kafka", shared_kwire.bootstrap, theirs, messages, partitioner="murmur2_random")
    placed_java = produce("kafka-python", shared_kwire.bootstrap, java_like, messages)
    expected = {key: partition for key, (partition, _offset) in zip(keys, placed, strict=True)}
    assert expected == {key: partition for key, (partition, _offset) in zip(keys, placed_java, strict=True)}
    assert len(set(expected.values())) > 3  # the keys really are spread

    got = consume("confluent-kafka", shared_kwire.bootstrap, ours, list(range(7)), len(keys))
    assert {m.key: m.partition for m in got} == expected


@pytest.mark.parametrize("writer", ["kcat", "kafka-python"])
def test_consume_prints_what_other_clients_wrote_in_each_format(shared_kwire, topic_name, writer):
    create_topic("confluent-kafka", shared_kwire.bootstrap, topic_name, partitions=1)
    if writer == "kcat":
        kcat("-P", "-b", shared_kwire.bootstrap, "-t", topic_name, "-K", ":", "-H", "h=v", stdin=b"k1:v1\nk2:v2\n")
    else:
        messages = [Outgoing(key=b"k1", value=b"v1", headers=(("h", b"v"),)), Outgoing(key=b"k2", value=b"v2")]
        produce("kafka-python", shared_kwire.bootstrap, topic_name, messages)
        # kafka-python's second record has no header: make the two writers' topics alike.
    start = ["--from-beginning"]
    assert printed(shared_kwire, topic_name, *start) == b"v1\nv2\n"
    assert printed(shared_kwire, topic_name, *start, "--format", "key:value") == b"k1\tv1\nk2\tv2\n"
    assert printed(shared_kwire, topic_name, *start, "--format", "key:value", "--key-separator", "=") == (
        b"k1=v1\nk2=v2\n"
    )
    rows = [json.loads(line) for line in printed(shared_kwire, topic_name, *start, "--format", "json").splitlines()]
    assert [(r["partition"], r["offset"], r["key"], r["value"]) for r in rows] == [
        (0, 0, "k1", "v1"),
        (0, 1, "k2", "v2"),
    ]
    assert rows[0]["headers"] == [["h", "v"]]
    assert all(isinstance(r["timestamp"], int) and r["timestamp"] > 0 for r in rows)


def test_start_positions_and_limits(shared_kwire, topic_name):
    create_topic("kafka-python", shared_kwire.bootstrap, topic_name, partitions=2)
    messages = [Outgoing(key=None, value=b"m%d" % i, partition=i % 2, timestamp=1_000_000 + i) for i in range(10)]
    produce("kafka-python", shared_kwire.bootstrap, topic_name, messages)
    bootstrap = ["--bootstrap-server", shared_kwire.bootstrap]

    assert printed(shared_kwire, topic_name) == b""  # latest, as the console consumer starts
    assert printed(shared_kwire, topic_name, "--partition", "1", "--offset", "3") == b"m7\nm9\n"
    assert printed(shared_kwire, topic_name, "--partition", "0", "--timestamp", "1000005") == b"m6\nm8\n"
    lines = printed(shared_kwire, topic_name, "--offset", "earliest").splitlines()
    assert sorted(lines) == sorted(b"m%d" % i for i in range(10))
    two = kwire_ok("consume", topic_name, *bootstrap, "--from-beginning", "--partition", "0", "--max-messages", "2")
    assert two == b"m0\nm2\n"  # and it exits without --timeout-ms
    # Past the end: reading starts at the end (auto.offset.reset), said on stderr.
    done = kwire("consume", topic_name, *bootstrap, "--partition", "0", "--offset", "99", "--timeout-ms", "1000")
    assert done.returncode == 0 and done.stdout == b""
    assert b"out of range" in done.stderr


@pytest.mark.parametrize("committer", ["confluent-kafka", "kafka-python"])
def test_a_groups_committed_offsets_are_used_and_advanced(shared_kwire, topic_name, committer):
    from confluent_kafka import Consumer, TopicPartition

    create_topic("confluent-kafka", shared_kwire.bootstrap, topic_name, partitions=1)
    produce("confluent-kafka", shared_kwire.bootstrap, topic_name, [Outgoing(None, b"m%d" % i) for i in range(6)])
    group = f"{topic_name}-group"
    if committer == "confluent-kafka":
        consumer = Consumer({"bootstrap.servers": shared_kwire.bootstrap, "group.id": group})
        consumer.commit(offsets=[TopicPartition(topic_name, 0, 4)], asynchronous=False)
        consumer.close()
    else:
        from kafka import KafkaConsumer
        from kafka import TopicPartition as KafkaTopicPartition
        from kafka.structs import OffsetAndMetadata

        consumer = KafkaConsumer(bootstrap_servers=shared_kwire.bootstrap, group_id=group, enable_auto_commit=False)
        consumer.commit({KafkaTopicPartition(topic_name, 0): OffsetAndMetadata(4, "", -1)})
        consumer.close()

    assert printed(shared_kwire, topic_name, "--group", group) == b"m4\nm5\n"
    produce("kafka-python", shared_kwire.bootstrap, topic_name, [Outgoing(None, b"m6")])
    assert printed(shared_kwire, topic_name, "--group", group) == b"m6\n"
    assert printed(shared_kwire, topic_name, "--group", group) == b""

    checker = Consumer({"bootstrap.servers": shared_kwire.bootstrap, "group.id": group})
    try:
        [committed] = checker.committed([TopicPartition(topic_name, 0)], timeout=30)
    finally:
        checker.close()
    assert committed.offset == 7
    # A group with nothing committed starts where --from-beginning says.
    fresh = printed(shared_kwire, topic_name, "--group", f"{group}-new", "--from-beginning", "--max-messages", "3")
    assert fresh == b"m0\nm1\nm2\n"
    assert printed(shared_kwire, topic_name, "--group", f"{group}-new") == b"m3\nm4\nm5\nm6\n"


def test_aborted_transactions_are_skipped_under_read_committed(shared_kwire, topic_name):
    from confluent_kafka import Producer

    create_topic("confluent-kafka", shared_kwire.bootstrap, topic_name, partitions=1)
    producer = Producer({"bootstrap.servers": shared_kwire.bootstrap, "transactional.id": f"{topic_name}-tx"})
    producer.init_transactions(30)
    for outcome in ("commit", "abort", "commit"):
        producer.begin_transaction()
        for i in range(3):
            producer.produce(topic_name, value=b"%s-%d" % (outcome.encode(), i))
        producer.flush(30)
        if outcome == "commit":
            producer.commit_transaction(30)
        else:
            producer.abort_transaction(30)
    producer.flush(30)
    produce("confluent-kafka", shared_kwire.bootstrap, topic_name, [Outgoing(None, b"plain")])  # not transactional

    committed = printed(shared_kwire, topic_name, "--from-beginning", "--isolation-level", "read_committed")
    assert committed == b"commit-0\ncommit-1\ncommit-2\n" * 2 + b"plain\n"
    everything = printed(shared_kwire, topic_name, "--from-beginning")
    assert everything.count(b"abort-") == 3 and everything.count(b"commit-") == 6
    # The markers are not records: six committed, three aborted, one plain.
    assert len(everything.splitlines()) == 10


def test_acks_and_partition_choices(shared_kwire, topic_name):
    create_topic("confluent-kafka", shared_kwire.bootstrap, topic_name, partitions=3)
    for acks in ("0", "1", "all"):
        kwire_ok(
            "produce", topic_name, "--bootstrap-server", shared_kwire.bootstrap, "--acks", acks, "--partition", "2",
            stdin=b"acks=%s\n" % acks.encode(),
        )  # fmt: skip
    got = consume("kafka-python", shared_kwire.bootstrap, topic_name, [2], 3)
    assert sorted(m.value for m in got) == [b"acks=0", b"acks=1", b"acks=all"]
    # Keyless lines stick to a partition per batch: a small batch size spreads them.
    kwire_ok(
        "produce", topic_name, "--bootstrap-server", shared_kwire.bootstrap, "--batch-size", "100",
        stdin=b"".join(b"spread-%02d\n" % i for i in range(30)),
    )  # fmt: skip
    got = consume("kafka-python", shared_kwire.bootstrap, topic_name, [0, 1, 2], 33)
    assert {m.partition for m in got if m.value.startswith(b"spread")} == {0, 1, 2}


def test_errors_are_one_line_and_exit_1(shared_kwire, topic_name):
    create_topic("confluent-kafka", shared_kwire.bootstrap, topic_name, partitions=1)
    bootstrap = ["--bootstrap-server", shared_kwire.bootstrap]
    cases = [
        (kwire("consume", f"{topic_name}-missing", *bootstrap, "--timeout-ms", "100"), b"UNKNOWN_TOPIC_OR_PARTITION"),
        (kwire("consume", topic_name, *bootstrap, "--partition", "5"), b"no partition 5"),
        (kwire("produce", topic_name, *bootstrap, "--partition", "5", stdin=b"x\n"), b"no partition 5"),
        (kwire("produce", topic_name, *bootstrap, "--key-separator", ":", stdin=b"a:1\nnokey\n"), b"line number 2"),
        (kwire("consume", topic_name, "--bootstrap-server", "127.0.0.1:1"), b"cannot connect"),
    ]
    for done, message in cases:
        assert done.returncode == 1, done
        [line] = done.stderr.decode().strip().splitlines()[-1:]
        assert message.decode() in line
        assert "Traceback" not in done.stderr.decode()
    # A record larger than the topic allows: the broker's error, by name.
    big = kwire("produce", topic_name, *bootstrap, stdin=b"x" * 1_100_000 + b"\n")
    assert big.returncode == 1 and b"MESSAGE_TOO_LARGE" in big.stderr


def test_sigterm_stops_consume_after_committing_what_it_printed(shared_kwire, topic_name):
    import signal

    create_topic("kafka-python", shared_kwire.bootstrap, topic_name, partitions=1)
    produce("kafka-python", shared_kwire.bootstrap, topic_name, [Outgoing(None, b"m%d" % i) for i in range(3)])
    group = f"{topic_name}-group"
    command = [sys.executable, "-m", "kwire", "consume", topic_name, "--bootstrap-server", shared_kwire.bootstrap]
    consumer = subprocess.Popen(
        [*command, "--group", group, "--from-beginning"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert consumer.stdout is not None
        assert [consumer.stdout.readline() for _ in range(3)] == [b"m0\n", b"m1\n", b"m2\n"]
        consumer.send_signal(signal.SIGTERM)
        assert consumer.wait(30) == 130
        assert b"Processed a total of 3 messages" in consumer.stderr.read()
    finally:
        if consumer.poll() is None:
            consumer.kill()  # only the process this test started
            consumer.wait(10)
        consumer.stdout.close()
        consumer.stderr.close()
    # What it printed was committed: the next run starts after m2.
    produce("kafka-python", shared_kwire.bootstrap, topic_name, [Outgoing(None, b"m3")])
    assert printed(shared_kwire, topic_name, "--group", group) == b"m3\n"
