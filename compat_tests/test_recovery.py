"""Crash recovery through real clients: what a crash or bit rot damages is
found at start-up or on the read path, cut or refused with a log line, and
clients only ever see whole batches; indexes are rebuilt; a damaged data
directory is reported by `kwire check`; one broker per data directory."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import threading
import time

import pytest

from compat_tests.clients import Outgoing, consume, create_topic, produce, watermarks
from compat_tests.test_log_lifecycle import offsets_for_times
from kwire.protocol.records import HEADER_SIZE
from tests.log.segment_files import batches_in, flip_byte, patch, segment_paths

CLI_TIMEOUT_S = 30
READ_TIMEOUT_S = 20
BASE_TIMESTAMP = 1_700_000_000_000


def numbered(count: int, partition: int = 0, start: int = 0) -> list[Outgoing]:
    return [
        Outgoing(
            key=None,
            value=b"m-%05d-" % (start + i) + b"x" * 80,
            partition=partition,
            timestamp=BASE_TIMESTAMP + 10 * (start + i),
        )
        for i in range(count)
    ]


def fill(broker, topic: str, partitions: int = 1, per_partition: int = 600, segment_bytes: int = 20_000) -> None:
    """Small batches (20 records) over several small segments, kept forever
    (their timestamps are old)."""
    create_topic(
        "confluent-kafka",
        broker.bootstrap,
        topic,
        partitions,
        {"segment.bytes": str(segment_bytes), "retention.ms": "-1"},
    )
    for partition in range(partitions):
        produce(
            "confluent-kafka", broker.bootstrap, topic, numbered(per_partition, partition), **{"batch.num.messages": 20}
        )


def kill(broker) -> None:
    os.kill(broker.pid, signal.SIGKILL)
    broker.process.wait(10)


def run_kwire(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kwire", *args], capture_output=True, text=True, timeout=CLI_TIMEOUT_S)


def files_state(root) -> dict:
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def read_until_error(
    client: str, bootstrap: str, topic: str, start, count: int | None = None, timeout: float = READ_TIMEOUT_S
):
    """(messages, error): every message a consumer gets from `start` on,
    until the client reports an error, `count` messages came, or `timeout` passes."""
    messages, error = [], None
    deadline = time.monotonic() + timeout
    if client == "confluent-kafka":
        from confluent_kafka import Consumer, TopicPartition

        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "recovery", "enable.auto.commit": False})
        consumer.assign([TopicPartition(topic, 0, start)])
        try:
            while error is None and time.monotonic() < deadline and len(messages) < (count or 2**63):
                for message in consumer.consume(1000, 1.0):
                    if message.error():
                        error = message.error()
                        break
                    messages.append((message.offset(), message.value()))
        finally:
            consumer.close()
        return messages, error
    from kafka import KafkaConsumer, TopicPartition
    from kafka.errors import KafkaError

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    partition = TopicPartition(topic, 0)
    consumer.assign([partition])
    consumer.seek(partition, start)
    try:
        while error is None and time.monotonic() < deadline and len(messages) < (count or 2**63):
            try:
                for records in consumer.poll(timeout_ms=1000).values():
                    messages.extend((r.offset, r.value) for r in records)
            except KafkaError as exc:
                error = exc
    finally:
        consumer.close()
    return messages, error


def expected(offsets) -> list[tuple[int, bytes]]:
    return [(o, numbered(1, start=o)[0].value) for o in offsets]


# --- indexes -----------------------------------------------------------------------------


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_a_deleted_time_index_is_rebuilt_and_timestamp_lookups_stay_right(start_kwire, client):
    broker = start_kwire()
    fill(broker, "times", per_partition=3000, segment_bytes=60_000)
    assert broker.stop() == 0
    directory = broker.data_dir / "times-0"
    holding = [p for p in segment_paths(directory) if int(p.name[:20]) <= 1500][-1]
    assert holding != segment_paths(directory)[-1]  # a closed segment
    holding.with_suffix(".timeindex").unlink()
    broker.start()
    for target in (0, 1500, 1501, int(holding.name[:20]), 2999):
        assert offsets_for_times(client, broker.bootstrap, "times", BASE_TIMESTAMP + 10 * target) == target
    assert offsets_for_times(client, broker.bootstrap, "times", BASE_TIMESTAMP + 10 * 3000) is None
    log = broker.log_path.read_text()
    assert (
        f"Rebuilt the indexes of partition times-0 segment {holding.name} from its log: "
        "the time index file is missing" in log
    )


# --- damage found at start-up after a crash ------------------------------------------------


def _damage_mid_batch(segment) -> tuple[int, int]:
    """Flip a byte inside the records of a batch in the middle of `segment`:
    (the batch's byte position, its base offset)."""
    batches = batches_in(segment)
    position, header = batches[len(batches) // 2]
    flip_byte(segment, position + HEADER_SIZE + 10)
    return position, header.base_offset


def test_an_unclean_restart_cuts_the_log_at_damage_and_says_where(start_kwire):
    broker = start_kwire()
    fill(broker, "hurt", partitions=2)
    kill(broker)
    closed = segment_paths(broker.data_dir / "hurt-0")[1]
    active = segment_paths(broker.data_dir / "hurt-1")[-1]
    assert closed != segment_paths(broker.data_dir / "hurt-0")[-1]
    cuts = {0: _damage_mid_batch(closed), 1: _damage_mid_batch(active)}
    broker.start()

    log = broker.log_path.read_text()
    for partition, segment in ((0, closed), (1, active)):
        position, offset = cuts[partition]
        assert (
            f"Truncated partition hurt-{partition} segment {segment.name} after an unclean shutdown at byte "
            f"{position}: offsets from {offset} on are dropped"
        ) in log
    assert "CRC-32C mismatch" in log
    for client in ("kafka-python", "confluent-kafka"):
        for partition in (0, 1):
            offset = cuts[partition][1]
            got = consume(client, broker.bootstrap, "hurt", [partition], offset, timeout=READ_TIMEOUT_S)
            assert [(m.offset, m.value) for m in got] == [
                (o, numbered(1, partition, o)[0].value) for o in range(offset)
            ]
            assert watermarks(client, broker.bootstrap, "hurt", partition) == (0, offset)
    acked = produce("kafka-python", broker.bootstrap, "hurt", numbered(3, 0))
    assert [offset for _p, offset in acked] == [cuts[0][1], cuts[0][1] + 1, cuts[0][1] + 2]


# --- damage found on the read path -----------------------------------------------------------

BROKEN_HEADERS = {"bad magic": (16, b"\x07"), "batch length -12": (8, struct.pack(">i", -12))}


@pytest.mark.parametrize("damage", sorted(BROKEN_HEADERS))
@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_a_broken_batch_in_a_closed_segment_never_reaches_a_client(start_kwire, client, damage):
    broker = start_kwire()
    fill(broker, "rot")
    assert broker.stop() == 0  # clean: nothing is re-validated at start-up
    first, second = segment_paths(broker.data_dir / "rot-0")[:2]
    position, header = batches_in(first)[len(batches_in(first)) // 2]
    field, value = BROKEN_HEADERS[damage]
    patch(first, position + field, value)
    broker.start()

    messages, error = read_until_error(client, broker.bootstrap, "rot", 0)
    assert messages == expected(range(header.base_offset))  # every whole batch before the damage
    if client == "confluent-kafka":
        from confluent_kafka import KafkaError

        assert error is not None and error.code() == KafkaError.INVALID_MSG  # the broker's CORRUPT_MESSAGE
    else:
        from kafka.errors import CorruptRecordError

        assert isinstance(error, CorruptRecordError)
    log = broker.log_path.read_text()
    assert log.count(f"partition rot-0 segment {first.name}: the batch at byte {position} is broken") == 1
    # Past the broken segment, reads carry on.
    next_base = int(second.name[:20])
    messages, error = read_until_error(client, broker.bootstrap, "rot", next_base, count=600 - next_base)
    assert messages == expected(range(next_base, 600)) and error is None


# --- the data directory ---------------------------------------------------------------------


def test_a_second_broker_on_a_directory_in_use_is_refused_in_one_line(start_kwire):
    first = start_kwire()
    fill(first, "busy", per_partition=40)
    before = files_state(first.data_dir)
    second = run_kwire("serve", "--port", "0", "--data-dir", str(first.data_dir))
    assert second.returncode == 1
    assert second.stderr == (
        f"kwire serve: data directory {first.data_dir} is in use by another process "
        f"(lock {first.data_dir / '.lock'} is held)\n"
    )
    assert files_state(first.data_dir) == before
    assert first.alive()
    produce("kafka-python", first.bootstrap, "busy", numbered(5, start=40))
    got = consume("confluent-kafka", first.bootstrap, "busy", [0], 45)
    assert [(m.offset, m.value) for m in got] == expected(range(45))


def test_a_damaged_meta_properties_refuses_to_start_in_one_line(start_kwire):
    broker = start_kwire()
    fill(broker, "meta", per_partition=10)
    assert broker.stop() == 0
    (broker.data_dir / "meta.properties").write_bytes(b"\x80\x81garbage\xff")
    before = files_state(broker.data_dir)
    refused = run_kwire("serve", "--port", "0", "--data-dir", str(broker.data_dir))
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and str(broker.data_dir / "meta.properties") in refused.stderr
    assert files_state(broker.data_dir) == before


def test_a_topic_lost_from_the_end_of_the_metadata_log_comes_back(start_kwire):
    broker = start_kwire()
    fill(broker, "kept", per_partition=30)
    create_topic("confluent-kafka", broker.bootstrap, "lost", 3, {"retention.ms": "-1"})
    for partition in range(3):
        produce("confluent-kafka", broker.bootstrap, "lost", numbered(30, partition))
    assert broker.stop() == 0
    (metadata,) = segment_paths(broker.data_dir / "__cluster_metadata-0")
    data = metadata.read_bytes()
    at = next(
        position
        for position, header in batches_in(metadata)
        if b"topic:lost" in data[position : position + header.size]
    )
    os.truncate(metadata, at + 30)  # the record creating "lost" is torn
    broker.start()
    log = broker.log_path.read_text()
    assert "Truncated partition __cluster_metadata-0" in log
    assert "Recovered topic lost" in log
    for client in ("kafka-python", "confluent-kafka"):
        got = consume(client, broker.bootstrap, "lost", [0, 1, 2], 90)
        assert sorted((m.partition, m.offset, m.value) for m in got) == sorted(
            (p, o, numbered(1, p, o)[0].value) for p in range(3) for o in range(30)
        )
    assert len(consume("kafka-python", broker.bootstrap, "kept", [0], 30)) == 30


def test_kwire_check_beside_a_running_broker_and_after_damage(start_kwire):
    broker = start_kwire()
    fill(broker, "checked", partitions=2, per_partition=300)
    stop = threading.Event()
    errors: list = []

    def keep_producing():
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 1})
        while not stop.is_set():
            producer.produce(
                "checked",
                value=b"live" * 30,
                partition=0,
                on_delivery=lambda err, _m: errors.append(err) if err else None,
            )
            producer.poll(0.001)
        producer.flush(10)

    writer = threading.Thread(target=keep_producing)
    writer.start()
    try:
        time.sleep(0.3)
        live = run_kwire("check", "--data-dir", str(broker.data_dir))
    finally:
        stop.set()
        writer.join(30)
    assert live.returncode == 0, live.stdout
    assert "a broker holds the lock" in live.stdout
    assert not errors
    assert broker.stop() == 0
    clean = run_kwire("check", "--data-dir", str(broker.data_dir))
    assert clean.returncode == 0 and clean.stdout.splitlines()[-1].endswith(": 0 problem(s)"), clean.stdout
    segment = segment_paths(broker.data_dir / "checked-1")[1]
    position, _offset = _damage_mid_batch(segment)
    damaged = run_kwire("check", "--data-dir", str(broker.data_dir))
    assert damaged.returncode == 1
    assert f"checked-1/{segment.name}: byte {position}" in damaged.stdout and "CRC-32C mismatch" in damaged.stdout
    assert damaged.stdout.splitlines()[-1].endswith(": 1 problem(s)"), damaged.stdout
