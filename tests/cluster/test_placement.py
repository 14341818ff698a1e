"""Replica placement (kwire/cluster/placement.py): Kafka's AdminUtils rule."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from kwire.cluster.placement import assign_replicas, check_manual_assignment, rack_alternated
from kwire.protocol.errors import ErrorCode, KafkaError


def no_racks(*nodes: int) -> dict[int, str | None]:
    return {node: None for node in nodes}


def test_kafka_admin_test_expectation() -> None:
    # Kafka's AdminTest.testReplicaAssignment: brokers 0-4, 10 partitions, RF 3, fixed start index 0.
    expected = {
        0: [0, 1, 2],
        1: [1, 2, 3],
        2: [2, 3, 4],
        3: [3, 4, 0],
        4: [4, 0, 1],
        5: [0, 2, 3],
        6: [1, 3, 4],
        7: [2, 4, 0],
        8: [3, 0, 1],
        9: [4, 1, 2],
    }
    assert assign_replicas(no_racks(0, 1, 2, 3, 4), 10, 3, fixed_start=0) == expected


def test_leaders_round_robin_and_replicas_distinct() -> None:
    for seed in range(20):
        assignment = assign_replicas(no_racks(1, 2, 3), 6, 3, rng=random.Random(seed))
        assert all(sorted(replicas) == [1, 2, 3] for replicas in assignment.values())
        leaders = Counter(replicas[0] for replicas in assignment.values())
        assert leaders == {1: 2, 2: 2, 3: 2}


def test_start_is_random_ish() -> None:
    firsts = {assign_replicas(no_racks(1, 2, 3), 1, 1, rng=random.Random(seed))[0][0] for seed in range(30)}
    assert firsts == {1, 2, 3}


def test_first_partition_continues_the_walk() -> None:
    whole = assign_replicas(no_racks(1, 2, 3, 4), 8, 2, fixed_start=1)
    tail = assign_replicas(no_racks(1, 2, 3, 4), 4, 2, fixed_start=1, first_partition=4)
    assert tail == {p: whole[p] for p in range(4, 8)}


def test_replication_factor_bounds() -> None:
    with pytest.raises(KafkaError) as info:
        assign_replicas(no_racks(1, 2, 3), 1, 4)
    assert info.value.error_code == ErrorCode.invalid_replication_factor
    assert "only 3 broker(s) are registered" in str(info.value)
    with pytest.raises(KafkaError):
        assign_replicas(no_racks(1), 1, 0)
    assert assign_replicas(no_racks(7), 3, 1) == {0: [7], 1: [7], 2: [7]}


def test_rack_alternated_list() -> None:
    # Kafka's AdminRackAwareTest.testGetRackAlternatedBrokerListAndAssignReplicasToBrokers.
    racks = {0: "rack1", 1: "rack3", 2: "rack3", 3: "rack2", 4: "rack2", 5: "rack1"}
    assert rack_alternated(racks) == [0, 3, 1, 5, 4, 2]


def test_rack_aware_spreads_over_racks() -> None:
    racks: dict[int, str | None] = {1: "a", 2: "a", 3: "b", 4: "b", 5: "c", 6: "c"}
    for seed in range(20):
        assignment = assign_replicas(racks, 12, 3, rng=random.Random(seed))
        for replicas in assignment.values():
            assert len(set(replicas)) == 3
            assert {racks[node] for node in replicas} == {"a", "b", "c"}
        assert Counter(replicas[0] for replicas in assignment.values()) == {n: 2 for n in racks}


def test_rack_aware_more_replicas_than_racks() -> None:
    racks: dict[int, str | None] = {1: "a", 2: "a", 3: "b"}
    for seed in range(10):
        for replicas in assign_replicas(racks, 6, 3, rng=random.Random(seed)).values():
            assert sorted(replicas) == [1, 2, 3]


def test_partial_racks_are_an_error() -> None:
    with pytest.raises(KafkaError) as info:
        assign_replicas({1: "a", 2: None}, 1, 1)
    assert info.value.error_code == ErrorCode.invalid_replica_assignment


def test_manual_assignment_checks() -> None:
    check_manual_assignment([[1, 2], [2, 3]], [1, 2, 3])
    bads: list[list[list[int]]] = [[[1, 2], [3]], [[1, 1]], [[1, 9]], [[]]]
    for bad in bads:
        with pytest.raises(KafkaError) as info:
            check_manual_assignment(bad, [1, 2, 3])
        assert info.value.error_code == ErrorCode.invalid_replica_assignment
