"""Replica placement: which nodes hold a new partition's replicas.

Kafka's rule, as `AdminUtils.assignReplicasToBrokers` states it (the ZooKeeper
era's placer, still the rule `kafka-reassign-partitions --generate` uses; KRaft's
`StripedReplicaPlacer` keeps its shape — a random start, leaders striped
round-robin, followers shifted — but also skips fenced brokers, which kwire
does not have yet):

- Rack-unaware (no broker has a rack): brokers sorted by id; partition p's
  first replica (its preferred leader) is broker `(p + start) % n`; the
  other replicas follow it at a shift `1 + (shift + j) % (n - 1)`, where
  `shift` starts random and grows by one each time p wraps around the
  brokers, so followers of consecutive rounds land on different nodes.
- Rack-aware (every broker has a rack): the same walk over a list that
  alternates racks (rack a's first broker, rack b's first, …, rack a's
  second, …); a follower is skipped while some rack or some broker still
  holds no replica of the partition.
- Some brokers with a rack and some without: an error, as in Kafka.

`start` and `shift` are random unless given (tests give them, as Kafka's
`fixedStartIndex`). Pure functions: no I/O, no state.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from kwire.protocol.errors import ErrorCode, KafkaError

Assignment = dict[int, list[int]]  # partition index -> replica node ids, preferred leader first


def assign_replicas(
    brokers: Mapping[int, str | None],
    partitions: int,
    replication_factor: int,
    *,
    fixed_start: int = -1,
    first_partition: int = 0,
    rng: random.Random | None = None,
) -> Assignment:
    """Replicas for `partitions` new partitions numbered from `first_partition`.

    `brokers` maps each live node id to its rack (None: no rack). Raises
    KafkaError(INVALID_REPLICATION_FACTOR) when the factor cannot be met,
    and KafkaError(INVALID_REPLICA_ASSIGNMENT) for a partial rack setup.
    """
    if replication_factor <= 0:
        raise KafkaError(ErrorCode.invalid_replication_factor, "Replication factor must be larger than 0.")
    if replication_factor > len(brokers):
        raise KafkaError(
            ErrorCode.invalid_replication_factor,
            f"Unable to replicate the partition {replication_factor} time(s): The target replication factor of "
            f"{replication_factor} cannot be reached because only {len(brokers)} broker(s) are registered.",
        )
    if partitions < 0:
        raise KafkaError(ErrorCode.invalid_partitions, "Number of partitions must be larger than 0.")
    rng = rng or random.Random()
    with_rack = [node for node, rack in brokers.items() if rack is not None]
    if not with_rack:
        return _rack_unaware(sorted(brokers), partitions, replication_factor, fixed_start, first_partition, rng)
    if len(with_rack) != len(brokers):
        raise KafkaError(
            ErrorCode.invalid_replica_assignment,
            "Not all brokers have rack information for replica rack aware assignment.",
        )
    racks = {node: str(rack) for node, rack in brokers.items()}
    return _rack_aware(racks, partitions, replication_factor, fixed_start, first_partition, rng)


def _follower_index(first: int, shift: int, j: int, n: int) -> int:
    return (first + 1 + (shift + j) % (n - 1)) % n


def _rack_unaware(
    nodes: list[int], partitions: int, factor: int, fixed_start: int, first_partition: int, rng: random.Random
) -> Assignment:
    n = len(nodes)
    start = fixed_start if fixed_start >= 0 else rng.randrange(n)
    shift = fixed_start if fixed_start >= 0 else rng.randrange(n)
    result: Assignment = {}
    for p in range(max(0, first_partition), max(0, first_partition) + partitions):
        if p > 0 and p % n == 0:
            shift += 1
        first = (p + start) % n
        result[p] = [nodes[first]] + [nodes[_follower_index(first, shift, j, n)] for j in range(factor - 1)]
    return result


def rack_alternated(racks: Mapping[int, str]) -> list[int]:
    """Node ids taking one from each rack in turn (racks sorted, nodes sorted in a rack)."""
    by_rack: dict[str, list[int]] = {}
    for node in sorted(racks):
        by_rack.setdefault(racks[node], []).append(node)
    ordered = [by_rack[rack] for rack in sorted(by_rack)]
    result: list[int] = []
    depth = 0
    while len(result) < len(racks):
        for nodes in ordered:
            if depth < len(nodes):
                result.append(nodes[depth])
        depth += 1
    return result


def _rack_aware(
    racks: Mapping[int, str], partitions: int, factor: int, fixed_start: int, first_partition: int, rng: random.Random
) -> Assignment:
    arranged = rack_alternated(racks)
    n = len(arranged)
    rack_count = len(set(racks.values()))
    start = fixed_start if fixed_start >= 0 else rng.randrange(n)
    shift = fixed_start if fixed_start >= 0 else rng.randrange(n)
    result: Assignment = {}
    for p in range(max(0, first_partition), max(0, first_partition) + partitions):
        if p > 0 and p % n == 0:
            shift += 1
        first = (p + start) % n
        leader = arranged[first]
        replicas = [leader]
        racks_used = {racks[leader]}
        nodes_used = {leader}
        k = 0
        for _ in range(factor - 1):
            while True:
                node = arranged[_follower_index(first, shift * rack_count, k, n)] if n > 1 else leader
                k += 1
                rack = racks[node]
                if (rack not in racks_used or len(racks_used) == rack_count) and (
                    node not in nodes_used or len(nodes_used) == n
                ):
                    replicas.append(node)
                    racks_used.add(rack)
                    nodes_used.add(node)
                    break
        result[p] = replicas
    return result


def check_manual_assignment(
    assignment: Sequence[Sequence[int]], brokers: Sequence[int], replication_factor: int | None = None
) -> None:
    """A CreateTopics/CreatePartitions manual assignment, checked as Kafka's
    controller checks it (ReplicationControlManager), with its messages:
    no empty list, only registered brokers, none twice, and every partition
    with as many replicas as the first (or as `replication_factor`, the
    topic's, when partitions are added)."""
    known = set(brokers)
    expected = replication_factor
    for replicas in assignment:
        if not replicas:
            raise KafkaError(
                ErrorCode.invalid_replica_assignment, "The manual partition assignment includes an empty replica list."
            )
        seen: set[int] = set()
        for broker_id in sorted(replicas):
            if broker_id not in known:
                raise KafkaError(
                    ErrorCode.invalid_replica_assignment,
                    f"The manual partition assignment includes broker {broker_id}, but no such broker is registered.",
                )
            if broker_id in seen:
                raise KafkaError(
                    ErrorCode.invalid_replica_assignment,
                    f"The manual partition assignment includes the broker {broker_id} more than once.",
                )
            seen.add(broker_id)
        if expected is None:
            expected = len(replicas)
        elif len(replicas) != expected:
            raise KafkaError(
                ErrorCode.invalid_replica_assignment,
                f"The manual partition assignment includes a partition with {len(replicas)} replica(s), but this "
                f"is not consistent with previous partitions, which have {expected} replica(s).",
            )
