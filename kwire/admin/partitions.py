"""Partitions as the cluster places them: which partitions a topic has, and
their offsets (earliest, latest, or by time) asked of each partition's leader."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from kwire.admin.cluster_client import ClusterClient, ClusterError
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode

EARLIEST, LATEST = -2, -1
TopicPartition = tuple[str, int]


def partitions_of(cluster: ClusterClient, topics: Iterable[str]) -> dict[str, list[int]]:
    """Each topic's partition numbers; ClusterError naming a topic that does not exist."""
    wanted = sorted(set(topics))
    if not wanted:
        return {}
    found = {}
    for topic in cluster.metadata(wanted).topics:
        if topic.error_code == ErrorCode.unknown_topic_or_partition:
            raise ClusterError(f"Topic '{topic.name}' does not exist")
        if topic.error_code != ErrorCode.none:
            raise ClusterError(f"topic {topic.name}: {ErrorCode(topic.error_code).name.upper()}")
        found[topic.name] = sorted(p.partition_index for p in topic.partitions)
    return found


def leaders(cluster: ClusterClient, keys: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
    """The leader of each partition that has one."""
    topics = sorted({topic for topic, _ in keys})
    found = {}
    for topic in cluster.metadata(topics).topics if topics else ():
        for partition in topic.partitions:
            if partition.error_code == ErrorCode.none and partition.leader_id >= 0:
                found[(topic.name, partition.partition_index)] = partition.leader_id
    return found


def list_offsets(cluster: ClusterClient, keys: Iterable[TopicPartition], timestamp: int) -> dict[TopicPartition, int]:
    """The offset for `timestamp` (EARLIEST, LATEST or epoch ms) of each partition, asked
    of its leader. Left out: partitions without a leader or that answered an error;
    -1 where no record is at or after a timestamp."""
    wanted = sorted(set(keys))
    by_leader: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for key, leader in leaders(cluster, wanted).items():
        if key in wanted:
            by_leader[leader][key[0]].append(key[1])
    offsets: dict[TopicPartition, int] = {}
    for leader, topics in sorted(by_leader.items()):
        values = dict(
            replica_id=-1,
            isolation_level=0,
            topics=[
                dict(
                    name=topic,
                    partitions=[
                        dict(partition_index=p, current_leader_epoch=-1, timestamp=timestamp, max_num_offsets=1)
                        for p in partitions
                    ],
                )
                for topic, partitions in topics.items()
            ],
        )
        _version, answer = cluster.node(leader).call(ApiKey.LIST_OFFSETS, values, 7, 1)
        for topic in answer.topics:
            for partition in topic.partitions:
                if partition.error_code == ErrorCode.none:
                    offsets[(topic.name, partition.partition_index)] = partition.offset
    return offsets
