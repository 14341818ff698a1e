"""Consumer-group figures for bench.py: how fast a group forms, how fast it
rebalances when a member joins, how long a lone consumer waits for its
assignment, and consume throughput through a group. All with the clients'
default group settings (range assignor, heartbeat.interval.ms=3000), and
the same formation with KIP-848 consumers (group.protocol=consumer: the
broker's uniform assignor, group.consumer.heartbeat.interval.ms).

Run alone, it starts `python -m kwire serve --memory` (extra broker settings
with -o) and prints the formation figures only:

    python scripts/bench_groups.py --trials 10
    python scripts/bench_groups.py -o group.initial.rebalance.delay.ms=0
    python scripts/bench_groups.py -o group.consumer.heartbeat.interval.ms=500
"""

from __future__ import annotations

import itertools
import statistics
import threading
import time

TIMEOUT_S = 60
_group_ids = itertools.count()


def _consumer(bootstrap: str, group: str, **extra):
    from confluent_kafka import Consumer

    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            **extra,
        }
    )


def _settled(consumers, partitions: int) -> bool:
    owned = [tp.partition for c in consumers for tp in c.assignment()]
    return all(c.assignment() for c in consumers) and sorted(owned) == list(range(partitions))


def _poll_until_settled(consumers, partitions: int) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < TIMEOUT_S:
        for consumer in consumers:
            consumer.poll(0.005)
        if _settled(consumers, partitions):
            return time.perf_counter() - start
    raise SystemExit("the group did not settle")


def _connected_consumers(bootstrap: str, group: str, topic: str, count: int, protocol: str = "classic") -> list:
    # KIP-848 (group.protocol=consumer): the broker assigns (uniform) and sets the heartbeat interval.
    extra = {"group.protocol": "consumer"} if protocol == "consumer" else {}
    consumers = [_consumer(bootstrap, group, **extra) for _ in range(count)]
    for consumer in consumers:
        consumer.list_topics(topic, timeout=10)  # connected before the clock starts
    return consumers


def formation_and_rebalance(
    bootstrap: str, topic: str, partitions: int, trials: int, protocol: str = "classic"
) -> dict:
    """Each trial: 3 connected consumers of a new group subscribe together;
    the clock stops when every one holds its share. Then, once, a 4th joins.
    `protocol`: "classic" (JoinGroup/SyncGroup) or "consumer" (KIP-848)."""
    formed = []
    for _ in range(trials):
        group = f"bench-formation-{next(_group_ids)}"
        consumers = _connected_consumers(bootstrap, group, topic, 3, protocol)
        for consumer in consumers:
            consumer.subscribe([topic])
        formed.append(_poll_until_settled(consumers, partitions))
        for consumer in consumers:
            consumer.close()
    group = f"bench-formation-{next(_group_ids)}"
    consumers = _connected_consumers(bootstrap, group, topic, 4, protocol)
    for consumer in consumers[:3]:
        consumer.subscribe([topic])
    _poll_until_settled(consumers[:3], partitions)
    consumers[3].subscribe([topic])
    rebalanced = _poll_until_settled(consumers, partitions)
    for consumer in consumers:
        consumer.close()
    return dict(
        formed_median_s=statistics.median(formed),
        formed_min_s=min(formed),
        formed_max_s=max(formed),
        trials=trials,
        rebalanced_s=rebalanced,
    )


def _kafka_python_consumer(bootstrap: str, group: str):
    from kafka import KafkaConsumer

    return KafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest", enable_auto_commit=False
    )


def lone_consumer(bootstrap: str, topic: str, trials: int, client: str = "confluent-kafka") -> dict:
    """Each trial: one connected consumer of a new group subscribes; the
    clock stops when it holds every partition of `topic`."""
    times = []
    for _ in range(trials):
        group = f"bench-lone-{next(_group_ids)}"
        if client == "confluent-kafka":
            consumer = _consumer(bootstrap, group)
            consumer.list_topics(topic, timeout=10)  # connected before the clock starts
            start = time.perf_counter()
            consumer.subscribe([topic])
            while not consumer.assignment():
                consumer.poll(0.005)
                if time.perf_counter() - start > TIMEOUT_S:
                    raise SystemExit("the lone consumer got no assignment")
        else:
            consumer = _kafka_python_consumer(bootstrap, group)
            consumer.topics()  # connected before the clock starts
            start = time.perf_counter()
            consumer.subscribe([topic])
            while not consumer.assignment():
                consumer.poll(timeout_ms=5)
                if time.perf_counter() - start > TIMEOUT_S:
                    raise SystemExit("the lone consumer got no assignment")
        times.append(time.perf_counter() - start)
        consumer.close()
    return dict(median_s=statistics.median(times), min_s=min(times), max_s=max(times), trials=trials)


def group_consume(bootstrap: str, topic: str, count: int, size: int, members: int = 3) -> dict:
    """`members` consumers in one group, one thread each, read `count`
    messages; timed from the first message received to the last."""
    received = [0] * members
    first_message_at: list[float] = []
    start = time.perf_counter()
    deadline = start + 120
    group = f"bench-group-consume-{next(_group_ids)}"

    def run(index: int) -> None:
        consumer = _consumer(bootstrap, group, **{"fetch.queue.backoff.ms": 10})
        consumer.subscribe([topic])
        while sum(received) < count and time.perf_counter() < deadline:
            batch = consumer.consume(10_000, 0.2)
            got = sum(1 for m in batch if m.error() is None)
            if got and not first_message_at:
                first_message_at.append(time.perf_counter())
            received[index] += got
        consumer.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(members)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT_S * 3)
    end = time.perf_counter()
    total = sum(received)
    elapsed = end - (first_message_at[0] if first_message_at else start)
    return dict(
        msgs=total / elapsed,
        mb=total * size / elapsed / 1e6,
        received=total,
        members=members,
        until_first_s=(first_message_at[0] - start) if first_message_at else None,
    )


def main() -> None:
    import argparse

    from bench import Broker, create_topic

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("-o", dest="settings", action="append", default=[], help="broker setting KEY=VALUE")
    args = parser.parse_args()
    extra = tuple(arg for setting in args.settings for arg in ("-o", setting))
    broker = Broker(None, extra_args=extra)
    try:
        create_topic(broker.bootstrap, "bench-groups", 6)
        lone = {client: lone_consumer(broker.bootstrap, "bench-groups", args.trials, client) for client in _CLIENTS}
        formation = formation_and_rebalance(broker.bootstrap, "bench-groups", 6, args.trials)
        kip848 = formation_and_rebalance(broker.bootstrap, "bench-groups", 6, args.trials, protocol="consumer")
    finally:
        broker.stop()
    print(f"kwire group formation, settings: {' '.join(args.settings) or 'defaults'}")
    for client, figures in lone.items():
        print(
            f"{'lone ' + client + ' consumer assigned':44s} median {figures['median_s']:6.3f} s  "
            f"min {figures['min_s']:.3f}  max {figures['max_s']:.3f} ({figures['trials']} trials)"
        )
    for name, figures, note in (
        ("classic", formation, "client heartbeat.interval.ms=3000"),
        ("KIP-848", kip848, "broker group.consumer.heartbeat.interval.ms"),
    ):
        print(
            f"{'group of 3 formed (' + name + ')':44s} median {figures['formed_median_s']:6.3f} s  "
            f"min {figures['formed_min_s']:.3f}  max {figures['formed_max_s']:.3f} ({figures['trials']} trials)"
        )
        print(f"{'  a 4th joins (' + name + ')':44s} {figures['rebalanced_s']:8.3f} s ({note})")


_CLIENTS = ("confluent-kafka", "kafka-python")

if __name__ == "__main__":
    main()
