"""One group consumer in its own process, so a test can run several side by
side, close them or kill them like real applications.

    python -m compat_tests.group_worker '<json options>'

Reports JSON lines on stdout (ready, assignment, revoked, messages,
committed, closed) and obeys commands on stdin ("commit", "close").
Options: client, bootstrap, group, topic, reset, assignor, instance_id,
session_ms, heartbeat_ms, protocol ("consumer": confluent-kafka's KIP-848
consumer, `assignor` then naming the broker's assignor). Runs at most `lifetime_s` seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import sys
import threading
import time

POLL_S = 0.05
KAFKA_PYTHON_POLL_MS = 1000


def emit(event: str, **fields) -> None:
    print(json.dumps(dict(e=event, **fields)), flush=True)


def read_commands() -> queue.Queue[str]:
    commands: queue.Queue[str] = queue.Queue()

    def reader():
        for line in sys.stdin:
            commands.put(line.strip())
        commands.put("close")  # the test went away

    threading.Thread(target=reader, daemon=True).start()
    return commands


def next_command(commands: queue.Queue[str]) -> str | None:
    try:
        return commands.get_nowait()
    except queue.Empty:
        return None


class Tracker:
    """Turns rebalance callbacks into 'assignment' / 'revoked' events."""

    def __init__(self) -> None:
        self.rebalanced = False
        self.reported: list[int] = []

    def revoked(self, partitions) -> None:
        emit("revoked", partitions=sorted(partitions))

    def assigned(self) -> None:
        self.rebalanced = True

    def report(self, current) -> None:
        """After each poll: the whole assignment, when it changed or a
        rebalance handed out the same (or an empty) one."""
        current = sorted(current)
        if self.rebalanced or current != self.reported:
            self.rebalanced = False
            self.reported = current
            emit("assignment", partitions=current)


def messages_event(items) -> None:
    if items:
        emit("messages", items=items)


# --- confluent-kafka ---------------------------------------------------------------


def run_confluent(options: dict, commands, deadline: float) -> None:
    from confluent_kafka import Consumer, KafkaError, KafkaException

    config = {
        "bootstrap.servers": options["bootstrap"],
        "group.id": options["group"],
        "auto.offset.reset": options.get("reset", "earliest"),
        "enable.auto.commit": False,
    }
    if options.get("protocol") == "consumer":
        # KIP-848: the broker assigns and sets the session and heartbeat interval.
        config["group.protocol"] = "consumer"
        if options.get("assignor"):
            config["group.remote.assignor"] = options["assignor"]
    else:
        config["session.timeout.ms"] = options.get("session_ms", 6000)
        config["heartbeat.interval.ms"] = options.get("heartbeat_ms", 200)
        config["partition.assignment.strategy"] = options.get("assignor", "range")
    if options.get("instance_id"):
        config["group.instance.id"] = options["instance_id"]
    consumer = Consumer(config)
    tracker = Tracker()
    consumer.subscribe(
        [options["topic"]],
        on_assign=lambda c, parts: tracker.assigned(),
        on_revoke=lambda c, parts: tracker.revoked([p.partition for p in parts]),
        on_lost=lambda c, parts: tracker.revoked([p.partition for p in parts]),
    )
    emit("ready")
    while time.monotonic() < deadline:
        command = next_command(commands)
        if command == "commit":
            try:
                committed = consumer.commit(asynchronous=False) if consumer.assignment() else []
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError._NO_OFFSET:
                    raise
                committed = []  # nothing consumed since the last commit: nothing to commit
            emit("committed", offsets={str(tp.partition): tp.offset for tp in committed or []})
        elif command == "close":
            consumer.close()
            emit("closed")
            return
        batch = consumer.consume(num_messages=1000, timeout=POLL_S)
        tracker.report(tp.partition for tp in consumer.assignment())
        messages_event([[m.partition(), m.offset(), (m.value() or b"").decode()] for m in batch if not m.error()])


# --- kafka-python -------------------------------------------------------------------


def kafka_python_assignor(name: str):
    from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    from kafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
    from kafka.coordinator.assignors.sticky.sticky_assignor import StickyPartitionAssignor

    return {
        "range": RangePartitionAssignor,
        "roundrobin": RoundRobinPartitionAssignor,
        "sticky": StickyPartitionAssignor,
        "cooperative-sticky": CooperativeStickyAssignor,
    }[name]


def run_kafka_python(options: dict, commands, deadline: float) -> None:
    from kafka import ConsumerRebalanceListener, KafkaConsumer

    tracker = Tracker()

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            tracker.revoked([tp.partition for tp in revoked])

        def on_partitions_assigned(self, assigned):
            tracker.assigned()

    consumer = KafkaConsumer(
        bootstrap_servers=options["bootstrap"],
        group_id=options["group"],
        group_instance_id=options.get("instance_id"),
        auto_offset_reset=options.get("reset", "earliest"),
        enable_auto_commit=False,
        session_timeout_ms=options.get("session_ms", 6000),
        heartbeat_interval_ms=options.get("heartbeat_ms", 200),
        partition_assignment_strategy=[kafka_python_assignor(options.get("assignor", "range"))],
    )
    consumer.subscribe([options["topic"]], listener=Listener())
    emit("ready")
    while time.monotonic() < deadline:
        command = next_command(commands)
        if command == "commit":
            positions = {tp.partition: consumer.position(tp) for tp in consumer.assignment()}
            consumer.commit()
            emit("committed", offsets={str(p): o for p, o in positions.items()})
        elif command == "close":
            consumer.close()
            emit("closed")
            return
        # A long poll: kafka-python 3.0.12 can drop a join that completes
        # across two poll() calls when the rejoin came from a metadata change
        # (need_rejoin() turns False once the leader has assigned, so the
        # finished join is never applied and heartbeats stop).
        batch = consumer.poll(timeout_ms=KAFKA_PYTHON_POLL_MS, max_records=1000)
        tracker.report(tp.partition for tp in consumer.assignment())
        messages_event(
            [[r.partition, r.offset, (r.value or b"").decode()] for records in batch.values() for r in records]
        )


# --- aiokafka -------------------------------------------------------------------------


async def run_aiokafka(options: dict, commands, deadline: float) -> None:
    from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
    from aiokafka.coordinator.assignors.range import RangePartitionAssignor
    from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

    tracker = Tracker()

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            tracker.revoked([tp.partition for tp in revoked])

        def on_partitions_assigned(self, assigned):
            tracker.assigned()

    assignor = {"range": RangePartitionAssignor, "roundrobin": RoundRobinPartitionAssignor}[
        options.get("assignor", "range")
    ]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=options["bootstrap"],
        group_id=options["group"],
        group_instance_id=options.get("instance_id"),
        auto_offset_reset=options.get("reset", "earliest"),
        enable_auto_commit=False,
        session_timeout_ms=options.get("session_ms", 6000),
        heartbeat_interval_ms=options.get("heartbeat_ms", 200),
        partition_assignment_strategy=(assignor,),
    )
    consumer.subscribe([options["topic"]], listener=Listener())
    await consumer.start()
    emit("ready")
    while time.monotonic() < deadline:
        command = next_command(commands)
        if command == "commit":
            positions = {tp.partition: await consumer.position(tp) for tp in consumer.assignment()}
            await consumer.commit()
            emit("committed", offsets={str(p): o for p, o in positions.items()})
        elif command == "close":
            await consumer.stop()
            emit("closed")
            return
        batch = await consumer.getmany(timeout_ms=int(POLL_S * 1000), max_records=1000)
        tracker.report(tp.partition for tp in consumer.assignment())
        messages_event(
            [[r.partition, r.offset, (r.value or b"").decode()] for records in batch.values() for r in records]
        )


def main() -> None:
    options = json.loads(sys.argv[1])
    if os.environ.get("KWIRE_WORKER_DEBUG"):
        import logging

        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    commands = read_commands()
    deadline = time.monotonic() + options.get("lifetime_s", 120)
    client = options["client"]
    if client == "confluent-kafka":
        run_confluent(options, commands, deadline)
    elif client == "kafka-python":
        run_kafka_python(options, commands, deadline)
    else:
        asyncio.run(run_aiokafka(options, commands, deadline))


if __name__ == "__main__":
    main()
