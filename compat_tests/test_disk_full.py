"""A full disk loses nothing acknowledged: a write that does not fit is
undone and answered KAFKA_STORAGE_ERROR, reads carry on, and once space is
back new writes are acknowledged and readable, also after a restart (clean
or killed).

The data directory sits on a 30 MiB tmpfs (mounting needs root). Where
mounting is not permitted, the broker's file-size limit (RLIMIT_FSIZE)
stands in for the full disk: writes past it fail with EFBIG."""

from __future__ import annotations

import os
import resource
import signal
import subprocess

import pytest

from compat_tests.clients import Outgoing, consume, create_topic, produce

TOPIC = "filling"
VALUE_BYTES = 1024
LEFT_FREE = 48 * 1024  # what the filler leaves: room for a few dozen messages, no more


class SmallDisk:
    """A small filesystem to fill and free again."""

    def __init__(self, root) -> None:
        self.root = root
        self.mounted = False
        self._filler = root / "filler"
        self._limited_pid: int | None = None

    def mount(self) -> SmallDisk:
        try:
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=30m", "tmpfs", str(self.root)],
                check=True,
                capture_output=True,
                timeout=10,
            )
            self.mounted = True
        except (OSError, subprocess.SubprocessError):
            pass  # not permitted here: fill() limits the broker's file size instead
        return self

    def fill(self, broker, leave: int) -> None:
        if self.mounted:
            stats = os.statvfs(self.root)
            free = stats.f_bavail * stats.f_frsize
            with open(self._filler, "wb") as f:
                os.posix_fallocate(f.fileno(), 0, free - leave)
        else:
            largest = max(p.stat().st_size for p in broker.data_dir.rglob("*.log"))
            resource.prlimit(broker.pid, resource.RLIMIT_FSIZE, (largest + leave, resource.RLIM_INFINITY))
            self._limited_pid = broker.pid

    def free(self) -> None:
        if self.mounted:
            self._filler.unlink()
        elif self._limited_pid is not None:
            resource.prlimit(self._limited_pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            self._limited_pid = None

    def unmount(self) -> None:
        if self.mounted:
            result = subprocess.run(["umount", str(self.root)], capture_output=True, timeout=10)
            if result.returncode != 0:
                subprocess.run(["umount", "-l", str(self.root)], capture_output=True, timeout=10)


@pytest.fixture
def small_disk(tmp_path):
    root = tmp_path / "small-disk"
    root.mkdir()
    disk = SmallDisk(root).mount()
    try:
        yield disk
    finally:
        disk.unmount()


def batch(prefix: str, count: int) -> list[Outgoing]:
    return [
        Outgoing(key=None, value=(b"%s-%06d-" % (prefix.encode(), i)).ljust(VALUE_BYTES, b"x")) for i in range(count)
    ]


def produce_until_refused(bootstrap: str, messages: list[Outgoing]) -> tuple[list[tuple[int, bytes]], list]:
    """confluent-kafka without retries, one message at a time: the
    (offset, value) of each acknowledged message and the errors of the rest."""
    from confluent_kafka import Producer

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "retries": 0,
            "enable.idempotence": False,
            "linger.ms": 0,
            "message.timeout.ms": 20_000,
        }
    )
    acked, errors = [], []

    def delivered(error, message):
        if error is None:
            acked.append((message.offset(), message.value()))
        else:
            errors.append(error)

    for m in messages:
        producer.produce(TOPIC, value=m.value, on_delivery=delivered)
        assert producer.flush(20) == 0
        if len(errors) >= 3:
            break
    return acked, errors


def kafka_python_refused(bootstrap: str) -> Exception:
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        retries=0,
        enable_idempotence=False,
        max_block_ms=10_000,
        request_timeout_ms=10_000,
    )
    try:
        future = producer.send(TOPIC, value=b"y" * (4 * LEFT_FREE))  # cannot fit
        with pytest.raises(Exception) as caught:
            future.get(20)
        return caught.value
    finally:
        producer.close(10)


def read_all(client: str, bootstrap: str, count: int) -> list[tuple[int, bytes]]:
    got = consume(client, bootstrap, TOPIC, [0], count)
    return [(m.offset, m.value) for m in got]


@pytest.mark.parametrize("restart", ["SIGTERM", "SIGKILL"])
def test_a_full_disk_loses_nothing_acknowledged(start_kwire, small_disk, restart):
    broker = start_kwire("--data-dir", str(small_disk.root / "data"))
    broker.data_dir = small_disk.root / "data"
    create_topic("confluent-kafka", broker.bootstrap, TOPIC, 1)
    before = produce("confluent-kafka", broker.bootstrap, TOPIC, batch("before", 100))
    expected = [(offset, m.value) for (_p, offset), m in zip(before, batch("before", 100))]

    small_disk.fill(broker, LEFT_FREE)
    acked, errors = produce_until_refused(broker.bootstrap, batch("filling", 400))
    assert errors, "the disk never filled"
    assert {e.name() for e in errors} == {"KAFKA_STORAGE_ERROR"}, errors  # not a closed connection
    refused = kafka_python_refused(broker.bootstrap)
    assert type(refused).__name__ == "KafkaStorageError", refused
    expected += acked
    # Reads keep working, and nothing acknowledged is lost or torn.
    assert read_all("kafka-python", broker.bootstrap, len(expected)) == expected

    small_disk.free()
    after = batch("after", 2000)
    offsets = produce("confluent-kafka", broker.bootstrap, TOPIC, after)
    expected += [(offset, m.value) for (_p, offset), m in zip(offsets, after)]
    assert [offset for offset, _v in expected] == list(range(len(expected)))  # no holes, no torn batches
    assert read_all("confluent-kafka", broker.bootstrap, len(expected)) == expected
    assert broker.alive()

    if restart == "SIGTERM":
        assert broker.stop() == 0
    else:
        os.kill(broker.pid, signal.SIGKILL)
        broker.process.wait(10)
    broker.start()
    assert read_all("kafka-python", broker.bootstrap, len(expected)) == expected
    assert read_all("confluent-kafka", broker.bootstrap, len(expected)) == expected
