"""A topic's partitions and their leaders, as `kwire produce` and `kwire
consume` route requests by them, and the partition errors worth a retry."""

from __future__ import annotations

import time

from kwire.admin.cluster_client import ClusterClient, ClusterError
from kwire.protocol.errors import ErrorCode

# Partition errors a Kafka client retries after fresh metadata (Kafka's RetriableException ones).
RETRIABLE = frozenset(
    {
        ErrorCode.unknown_topic_or_partition,
        ErrorCode.leader_not_available,
        ErrorCode.not_leader_or_follower,
        ErrorCode.request_timed_out,
        ErrorCode.network_exception,
        ErrorCode.not_enough_replicas,
        ErrorCode.not_enough_replicas_after_append,
        ErrorCode.kafka_storage_error,
        ErrorCode.fenced_leader_epoch,
        ErrorCode.unknown_leader_epoch,
        ErrorCode.offset_not_available,
    }
)
ATTEMPTS = 5
BACKOFF_S = 0.1


def error_name(code: int) -> str:
    """An error code as Kafka's clients print it: UNKNOWN_TOPIC_OR_PARTITION."""
    try:
        return ErrorCode(code).name.upper()
    except ValueError:
        return f"error code {code}"


def topic_leaders(cluster: ClusterClient, topic: str, auto_create: bool = False) -> dict[int, int]:
    """partition -> leader node id for `topic`, waiting out a topic that is
    still being created (LEADER_NOT_AVAILABLE) a few times; ClusterError when
    the topic does not exist or has a partition without a leader."""
    for attempt in range(ATTEMPTS):
        answer = cluster.metadata([topic], allow_auto_create=auto_create)
        found = [entry for entry in answer.topics if entry.name == topic]
        code = found[0].error_code if found else ErrorCode.unknown_topic_or_partition
        if code == ErrorCode.none:
            leaders = {p.partition_index: p.leader_id for p in found[0].partitions}
            if leaders and all(leader >= 0 for leader in leaders.values()):
                return leaders
            code = ErrorCode.leader_not_available
        if code not in (ErrorCode.leader_not_available,) and not (auto_create and code in RETRIABLE):
            break
        time.sleep(BACKOFF_S * (attempt + 1))
    raise ClusterError(f"topic {topic}: {error_name(code)}")
