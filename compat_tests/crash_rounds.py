"""Crash rounds: an idempotent acks=all confluent-kafka producer sends
numbered messages to a few partitions while the broker is killed with
SIGKILL at random (seeded) moments and restarted on the same data directory;
the producer carries on (it retries). At the end everything is consumed and
checked: every acknowledged message is present exactly once, at the offset
it was acknowledged with, in order per partition, and nothing is duplicated.

Used by compat_tests/test_crash_rounds.py (a few fast rounds) and by
scripts/crash_rounds.py (20 rounds or more, for the figures).
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path

import attrs

from compat_tests.broker import KwireProcess
from compat_tests.clients import create_topic

TOPIC = "crash-rounds"
PRODUCER_CONFIG = {
    "enable.idempotence": True,  # implies acks=all
    "acks": "all",
    "linger.ms": 2,
    # Long enough to outlast every restart: a message is acknowledged or
    # fails for a reason worth reporting, never just because the broker was down.
    "message.timeout.ms": 120_000,
    "queue.buffering.max.messages": 20_000,
    "log_level": 2,  # the refused connections while the broker restarts are expected
}
STOP_TIMEOUT_S = 120
CONSUME_TIMEOUT_S = 120


@attrs.define
class RoundsResult:
    rounds: int = 0
    sent: int = 0
    acknowledged: int = 0
    lost: int = 0  # acknowledged but absent
    duplicated: int = 0  # a message stored more than once
    out_of_order: int = 0  # a partition where a message precedes an earlier-numbered one
    misplaced: int = 0  # stored at another offset than acknowledged
    failed_deliveries: int = 0  # reported as failed to the producer (allowed: never acknowledged)
    fatal_errors: list[str] = attrs.field(factory=list)  # the idempotent producer gave up
    startup_seconds: list[float] = attrs.field(factory=list)  # from restart to "ready", after each kill

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.out_of_order or self.misplaced or self.fatal_errors)

    def summary(self) -> str:
        times = " ".join(f"{s:.2f}" for s in self.startup_seconds)
        return (
            f"rounds {self.rounds}, messages sent {self.sent}, acknowledged {self.acknowledged}, lost {self.lost}, "
            f"duplicated {self.duplicated}, out of order {self.out_of_order}, misplaced {self.misplaced}, "
            f"failed deliveries {self.failed_deliveries}, fatal producer errors {len(self.fatal_errors)}\n"
            f"start-up after each kill (s): {times}"
        )


class _NumberedProducer:
    """Sends `<partition>:<number>` to each partition in turn from its own
    thread, recording what is acknowledged at which offset."""

    def __init__(self, bootstrap: str, partitions: int) -> None:
        self.bootstrap = bootstrap
        self.partitions = partitions
        self.acked: dict[tuple[int, int], int] = {}  # (partition, number) -> offset
        self.sent = 0
        self.failed = 0
        self.fatal: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="numbered-producer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(STOP_TIMEOUT_S + 10)
        assert not self._thread.is_alive(), "the producer did not finish"

    def _run(self) -> None:
        from confluent_kafka import Producer

        def delivered(error, message):  # called from poll/flush, on this thread
            if error is not None:
                self.failed += 1
                if error.fatal():
                    self.fatal.append(str(error))
            else:
                number = int(message.value().split(b":")[1])
                self.acked[(message.partition(), number)] = message.offset()

        def on_error(error):
            if error.fatal():
                self.fatal.append(str(error))

        producer = Producer({"bootstrap.servers": self.bootstrap, "error_cb": on_error, **PRODUCER_CONFIG})
        numbers = [0] * self.partitions
        while not self._stop.is_set() and not self.fatal:
            partition = self.sent % self.partitions
            try:
                producer.produce(
                    TOPIC, value=b"%d:%d" % (partition, numbers[partition]), partition=partition, on_delivery=delivered
                )
            except BufferError:
                producer.poll(0.05)
                continue
            numbers[partition] += 1
            self.sent += 1
            producer.poll(0)
            if self.sent % 200 == 0:
                producer.poll(0.01)  # a steady stream, not a flood
        producer.flush(STOP_TIMEOUT_S)


def run_rounds(
    data_dir: Path,
    log_path: Path,
    rounds: int,
    seed: int,
    partitions: int = 3,
    uptime_s: tuple[float, float] = (0.3, 2.0),
) -> RoundsResult:
    """Kill and restart the broker `rounds` times under a producer; check."""
    rng = random.Random(seed)
    result = RoundsResult()
    broker = KwireProcess(data_dir, log_path).start()
    try:
        create_topic("confluent-kafka", broker.bootstrap, TOPIC, partitions)
        producer = _NumberedProducer(broker.bootstrap, partitions)
        producer.start()
        for _ in range(rounds):
            time.sleep(rng.uniform(*uptime_s))
            os.kill(broker.pid, signal.SIGKILL)
            broker.process.wait(10)
            started = time.monotonic()
            broker.start()  # same port and data directory
            result.startup_seconds.append(time.monotonic() - started)
            result.rounds += 1
        time.sleep(uptime_s[0])
        producer.stop()
        result.sent, result.failed_deliveries = producer.sent, producer.failed
        result.acknowledged, result.fatal_errors = len(producer.acked), producer.fatal
        stored = read_everything(broker.bootstrap, partitions)
        check(producer.acked, stored, result)
    finally:
        broker.kill()
    return result


def read_everything(bootstrap: str, partitions: int) -> dict[int, list[tuple[int, int]]]:
    """Per partition, (offset, number) of every stored message, in log order."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "crash-rounds-check", "enable.auto.commit": False})
    try:
        ends = {p: consumer.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=30)[1] for p in range(partitions)}
        consumer.assign([TopicPartition(TOPIC, p, OFFSET_BEGINNING) for p in range(partitions)])
        stored: dict[int, list[tuple[int, int]]] = {p: [] for p in range(partitions)}
        deadline = time.monotonic() + CONSUME_TIMEOUT_S
        while time.monotonic() < deadline and any(
            (stored[p][-1][0] + 1 if stored[p] else 0) < ends[p] for p in range(partitions)
        ):
            for message in consumer.consume(10_000, 1.0):
                if message.error():
                    raise RuntimeError(f"consuming the result failed: {message.error()}")
                number = int(message.value().split(b":")[1])
                stored[message.partition()].append((message.offset(), number))
        return stored
    finally:
        consumer.close()


def check(acked: dict[tuple[int, int], int], stored: dict[int, list[tuple[int, int]]], result: RoundsResult) -> None:
    where: dict[tuple[int, int], list[int]] = {}
    for partition, entries in stored.items():
        numbers = [number for _offset, number in entries]
        if any(later <= earlier for earlier, later in zip(numbers, numbers[1:])):
            result.out_of_order += 1
        for offset, number in entries:
            where.setdefault((partition, number), []).append(offset)
    result.duplicated = sum(len(offsets) - 1 for offsets in where.values())
    for key, offset in acked.items():
        found = where.get(key)
        if not found:
            result.lost += 1
        elif offset not in found:
            result.misplaced += 1
