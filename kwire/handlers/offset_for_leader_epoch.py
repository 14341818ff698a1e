"""OffsetForLeaderEpoch: where a leader epoch ended in a partition's log.

Consumers (KIP-320) send it after a leader change to check that their
position is still on the log: for the epoch they last fetched, the answer
is the largest known epoch at or below it and the offset where the next
epoch starts (the log end for the current epoch), or -1/-1 when the epoch
is unknown. `current_leader_epoch` is checked as Fetch checks it.
"""

from __future__ import annotations

from typing import Any

import attrs

from kwire.handlers.authorization import NOTHING_REFUSED, refused_names
from kwire.handlers.base import RequestContext, respond
from kwire.log.leader_epochs import UNDEFINED_EPOCH, UNDEFINED_OFFSET
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode
from kwire.protocol.registry import api
from kwire.security.resources import AclOperation, ResourceType

CONSUMER_REPLICA_ID = -1
DEBUGGING_REPLICA_ID = -2  # the default before v3


@attrs.frozen
class EpochWanted:
    partition: int
    current_leader_epoch: int  # -1: don't check
    leader_epoch: int


@attrs.frozen
class OffsetForLeaderEpochRequest:
    # A broker's id (a follower), or -1 / -2: a consumer. Every caller gets
    # the same answer (an authorizer looks at the principal, not this id).
    replica_id: int
    topics: dict[str, list[EpochWanted]]

    @classmethod
    def from_wire(cls, request: Any, version: int) -> OffsetForLeaderEpochRequest:
        topics: dict[str, list[EpochWanted]] = {}
        for topic in request.topics:
            topics.setdefault(topic.topic, []).extend(
                EpochWanted(p.partition, p.current_leader_epoch, p.leader_epoch) for p in topic.partitions
            )
        return cls(request.replica_id if version >= 3 else DEBUGGING_REPLICA_ID, topics)


# v0-v1 went in Kafka 4.0 (KIP-896), as in kio.
@api(ApiKey.OFFSET_FOR_LEADER_EPOCH, 2, 4)
def handle_offset_for_leader_epoch(ctx: RequestContext, wire_request: Any) -> Any:
    request = OffsetForLeaderEpochRequest.from_wire(wire_request, ctx.api_version)
    cluster = ctx.state.cluster
    refused = _refused(ctx, request)
    topics = []
    for name, wanted in request.topics.items():
        results = []
        for entry in wanted:
            if refused and name in refused:
                results.append(_result(entry.partition, ErrorCode.topic_authorization_failed))
                continue
            partition = cluster.partition(name, entry.partition)
            if partition is None:
                results.append(_result(entry.partition, ErrorCode.unknown_topic_or_partition))
                continue
            epoch_error = partition.leader_epoch_error(entry.current_leader_epoch)
            if not cluster.leads(name, entry.partition):
                results.append(_result(entry.partition, ErrorCode.not_leader_or_follower))
            elif partition.log.offline_reason is not None:
                results.append(_result(entry.partition, ErrorCode.kafka_storage_error))
            elif epoch_error is not None:
                results.append(_result(entry.partition, epoch_error))
            else:
                epoch, end_offset = partition.log.end_offset_for_epoch(entry.leader_epoch)
                results.append(_result(entry.partition, ErrorCode.none, epoch, end_offset))
        topics.append(dict(topic=name, partitions=results))
    return respond(ctx, dict(topics=topics))


def _refused(ctx: RequestContext, request: OffsetForLeaderEpochRequest) -> frozenset[str]:
    """Topics the caller may not DESCRIBE; a caller allowed CLUSTER_ACTION (a
    follower) may ask about every topic, as in Kafka."""
    if ctx.state.authorizer is None or ctx.allowed_on_cluster(AclOperation.CLUSTER_ACTION, audit=False):
        return NOTHING_REFUSED
    return refused_names(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, request.topics)


def _result(
    partition: int, error: ErrorCode, epoch: int = UNDEFINED_EPOCH, end_offset: int = UNDEFINED_OFFSET
) -> dict[str, Any]:
    return dict(error_code=error, partition=partition, leader_epoch=epoch, end_offset=end_offset)
