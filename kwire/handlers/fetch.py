"""Fetch: record bytes straight from the log, with long-poll.

No fetch sessions (KIP-227) yet: every answer says session id 0, which
clients treat as "no session" and keep sending full fetch requests.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Mapping
from typing import Any

import attrs

from kwire.cluster.cluster import Partition
from kwire.handlers.authorization import NOTHING_REFUSED, refused_names
from kwire.handlers.base import Delayed, Encoded, RequestContext, millis
from kwire.log import CorruptSegment, OffsetOutOfRange
from kwire.log.storage_errors import StorageError
from kwire.observability.metrics import NodeMetrics
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode
from kwire.protocol.fast_responses import (
    Chunk,
    FetchPartitionResult,
    FetchTopicResult,
    NodeEndpoint,
    encode_fetch_response,
)
from kwire.protocol.registry import api
from kwire.quotas.entities import CONSUMER_BYTE_RATE
from kwire.security.resources import AclOperation, ResourceType

READ_COMMITTED = 1


# What a fetch asks of one partition: (partition index, the Partition or the
# error to answer instead, fetch offset, partition max bytes).
@attrs.frozen
class _NotLeader:
    """A partition another node leads: NOT_LEADER_OR_FOLLOWER naming it (KIP-951, v12+)."""

    leader: int
    leader_epoch: int


@attrs.frozen
class _ReadFrom:
    """KIP-392: the consumer should fetch this partition from `replica` (its rack's)."""

    replica: int
    partition: Partition


_PartitionPlan = tuple[int, Partition | ErrorCode | _NotLeader | _ReadFrom, int, int]
RACK_AWARE_SELECTOR = "org.apache.kafka.common.replica.RackAwareReplicaSelector"
# [(topic name, topic id, [partition plan])], in request order.
_Plan = list[tuple[str | None, uuid.UUID | None, list[_PartitionPlan]]]


@attrs.frozen
class PartitionWanted:
    index: int
    fetch_offset: int
    partition_max_bytes: int
    current_leader_epoch: int  # -1: not given (before v9)


@attrs.frozen
class TopicWanted:
    name: str | None  # by name up to v12,
    topic_id: uuid.UUID | None  # by id from v13
    partitions: list[PartitionWanted]


@attrs.frozen
class FetchRequest:
    """A Fetch request of any served version, older versions' missing
    fields given the values Kafka assumes for them."""

    session_id: int  # 0 and epoch -1: no fetch session (before v7, always)
    session_epoch: int
    isolation_level: int
    max_bytes: int
    max_wait_ms: int
    min_bytes: int
    topics: list[TopicWanted]
    rack_id: str = ""  # the consumer's client.rack (v11+)
    from_consumer: bool = True  # replica id -1 (a follower's fetch is not served over the wire)

    @classmethod
    def from_wire(cls, request: Any, version: int) -> FetchRequest:
        by_id = version >= 13
        return cls(
            session_id=request.session_id if version >= 7 else 0,
            session_epoch=request.session_epoch if version >= 7 else -1,
            isolation_level=request.isolation_level,
            max_bytes=request.max_bytes,
            max_wait_ms=millis(request.max_wait),
            min_bytes=request.min_bytes,
            rack_id=(request.rack_id or "") if version >= 11 else "",
            from_consumer=(request.replica_state.replica_id if version >= 15 else request.replica_id) < 0,
            topics=[
                TopicWanted(
                    name=None if by_id else t.topic,
                    topic_id=t.topic_id if by_id else None,
                    partitions=[
                        PartitionWanted(
                            p.partition,
                            p.fetch_offset,
                            p.partition_max_bytes,
                            p.current_leader_epoch if version >= 9 else -1,
                        )
                        for p in t.partitions
                    ],
                )
                for t in request.topics
            ],
        )


@api(ApiKey.FETCH, 4, 18)
def handle_fetch(ctx: RequestContext, wire_request: Any) -> Any:
    state = ctx.state
    version = ctx.api_version
    request = FetchRequest.from_wire(wire_request, version)
    if request.session_id != 0 or request.session_epoch > 0:
        # An incremental fetch for a session this broker never created.
        ctx.note_error(ErrorCode.fetch_session_id_not_found)
        return Encoded(encode_fetch_response(version, [], error_code=ErrorCode.fetch_session_id_not_found))

    read_committed = request.isolation_level == READ_COMMITTED
    response_limit = min(request.max_bytes, state.config.fetch_max_bytes)
    quotas = state.quotas
    quota_window_bytes = quotas.max_value_in_window(CONSUMER_BYTE_RATE, ctx.client_id)
    if quota_window_bytes is not None:
        # As Kafka: never more than the quota lets through in one window span.
        response_limit = min(response_limit, int(quota_window_bytes))
    refused = _read_refused(ctx, request) if state.authorizer is not None else NOTHING_REFUSED
    plan = _plan(ctx, request, refused)
    leaders = _leader_endpoints(ctx, plan)
    max_wait_ms = request.max_wait_ms
    min_bytes = request.min_bytes

    storage_error = _storage_error_for(version)
    metrics = state.metrics
    counting = metrics.enabled  # BrokerTopicMetrics, only with the HTTP port on

    def attempt(final: bool) -> Encoded | None:
        topics, total_bytes, has_error = _read(plan, response_limit, read_committed, storage_error, state.faults.paused)
        if final or has_error or total_bytes >= min_bytes or max_wait_ms <= 0:
            response = _encoded(version, topics, 0, leaders)
            answered = topics
            if quota_window_bytes is not None:
                # consumer_byte_rate counts the whole answer, as Kafka's does.
                size = sum(len(part) for part in response.parts)
                throttle_ms = quotas.record(CONSUMER_BYTE_RATE, ctx.client_id, size)
                if throttle_ms > 0:
                    # As Kafka: a throttled fetch answers no records (so it counts none).
                    quotas.unrecord(CONSUMER_BYTE_RATE, ctx.client_id, size)
                    response = _encoded(version, [], throttle_ms)
                    answered = []
            if has_error and ctx.event is not None:
                _note_errors(ctx, answered)
            if counting:
                _count(metrics, answered, state.cluster.topics)
            return response
        return None

    response = attempt(False)
    if response is not None:
        return response
    wait_keys: list[Hashable] = [
        (topic_name, index)
        for topic_name, _id, entries in plan
        for index, target, _offset, _max_bytes in entries
        if isinstance(target, Partition)
    ]
    return Delayed(wait_keys, max_wait_ms, attempt)


def _note_errors(ctx: RequestContext, topics: list[FetchTopicResult]) -> None:
    """Each partition's error in the answer, for metrics and the request log."""
    for topic in topics:
        for partition in topic.partitions:
            if partition.error_code != ErrorCode.none:
                ctx.note_error(partition.error_code)


def _count(metrics: NodeMetrics, topics: list[FetchTopicResult], known: Mapping[str, object]) -> None:
    """BrokerTopicMetrics: each partition of a topic that exists, its record bytes (BytesOutPerSec)."""
    for topic in topics:
        if topic.name is None or topic.name not in known:
            continue  # no counters for names that are not topics
        for partition in topic.partitions:
            metrics.fetched(topic.name, partition.error_code, sum(len(chunk) for chunk in partition.records))


def _encoded(
    version: int, topics: list[FetchTopicResult], throttle_ms: int, leaders: tuple[NodeEndpoint, ...] = ()
) -> Encoded:
    def retime(throttle: int) -> Encoded:
        return _encoded(version, topics, throttle, leaders)

    body = encode_fetch_response(version, topics, throttle_time_ms=throttle_ms, node_endpoints=leaders)
    return Encoded(body, throttle_ms, retime)


def _leader_endpoints(ctx: RequestContext, plan: _Plan) -> tuple[NodeEndpoint, ...]:
    """KIP-951's NodeEndpoints: where each leader named in the answer listens."""
    brokers = ctx.state.cluster.topology.brokers
    named = {
        target.leader
        for _name, _id, entries in plan
        for _index, target, _offset, _max in entries
        if isinstance(target, _NotLeader) and target.leader in brokers
    }
    endpoints = [brokers[node].on(ctx.listener) for node in sorted(named)]
    return tuple(NodeEndpoint(each.node_id, each.host, each.port, each.rack) for each in endpoints)


def _read_refused(ctx: RequestContext, request: FetchRequest) -> frozenset[str]:
    """The topics this fetch may not read: a consumer needs READ on each, a
    follower CLUSTER_ACTION on the cluster (else every topic is refused), as Kafka."""
    cluster = ctx.state.cluster
    names = []
    for wanted in request.topics:
        if wanted.name is not None:
            names.append(wanted.name)
        elif wanted.topic_id is not None and wanted.topic_id in cluster.topics_by_id:
            names.append(cluster.topics_by_id[wanted.topic_id].name)
    if not request.from_consumer:
        return NOTHING_REFUSED if ctx.allowed_on_cluster(AclOperation.CLUSTER_ACTION) else frozenset(names)
    return refused_names(ctx, AclOperation.READ, ResourceType.TOPIC, names)


def _plan(ctx: RequestContext, request: FetchRequest, refused: frozenset[str] = NOTHING_REFUSED) -> _Plan:
    """Each wanted partition, or the error to answer for it (unknown topic
    or partition, not authorized, or a leader epoch that does not match)."""
    cluster = ctx.state.cluster
    plan: _Plan = []
    for fetch_topic in request.topics:
        name = fetch_topic.name
        if name is None:
            topic_id = fetch_topic.topic_id
            topic = cluster.topics_by_id.get(topic_id) if topic_id is not None else None
            missing = ErrorCode.unknown_topic_id
        else:
            topic = cluster.get(name)
            missing = ErrorCode.unknown_topic_or_partition
            topic_id = topic.topic_id if topic is not None else None
        topic_name = topic.name if topic is not None else name
        denied = bool(refused) and topic_name in refused
        entries: list[_PartitionPlan] = []
        for fetch_partition in fetch_topic.partitions:
            index = fetch_partition.index
            target: Partition | ErrorCode | _NotLeader | _ReadFrom
            if denied:
                target = ErrorCode.topic_authorization_failed
            elif topic is None or not 0 <= index < len(topic.partitions):
                target = missing
            elif not cluster.leads(topic.name, index) and not _follower_serves(ctx, request, topic.partitions[index]):
                # Led by another node: NOT_LEADER_OR_FOLLOWER naming it, with its epoch.
                target = _NotLeader(topic.partitions[index].leader, topic.partitions[index].leader_epoch)
            else:
                partition = topic.partitions[index]
                epoch_error = partition.leader_epoch_error(fetch_partition.current_leader_epoch)
                preferred = _preferred_read_replica(ctx, request, partition)
                target = epoch_error or (partition if preferred is None else _ReadFrom(preferred, partition))
            entries.append((index, target, fetch_partition.fetch_offset, fetch_partition.partition_max_bytes))
        plan.append((topic_name, topic_id, entries))
    return plan


def _follower_serves(ctx: RequestContext, request: FetchRequest, partition: Partition) -> bool:
    """KIP-392: a follower answers a consumer that sends its client metadata
    (v11+), as Kafka's does, from its own replica up to its high watermark."""
    return request.from_consumer and ctx.api_version >= 11 and partition.replica is not None


def _preferred_read_replica(ctx: RequestContext, request: FetchRequest, partition: Partition) -> int | None:
    """The rack-aware selector (replica.selector.class): on the leader, a
    live in-sync replica in the consumer's rack when the leader is not in it."""
    cluster = ctx.state.cluster
    if (
        not request.rack_id
        or not request.from_consumer
        or ctx.state.config.replica_selector_class != RACK_AWARE_SELECTOR
        or partition.leader != ctx.state.config.node_id
    ):
        return None
    brokers = cluster.topology.brokers
    if ctx.state.config.broker_rack == request.rack_id:
        return None
    for node in partition.isr:
        endpoint = brokers.get(node)
        if endpoint is not None and endpoint.rack == request.rack_id:
            return node
    return None


def _storage_error_for(version: int) -> ErrorCode:
    """As Kafka: fetch v5 and older get NOT_LEADER_OR_FOLLOWER instead, which
    such clients know to retry after refreshing metadata."""
    return ErrorCode.kafka_storage_error if version > 5 else ErrorCode.not_leader_or_follower


def _read(
    plan: _Plan,
    response_limit: int,
    read_committed: bool,
    storage_error: ErrorCode,
    paused: frozenset[tuple[str, int]] = frozenset(),
) -> tuple[list[FetchTopicResult], int, bool]:
    """The results, the record bytes in them, and whether any partition failed.
    A partition `paused` by fault injection answers as if it had no new data."""
    remaining = response_limit
    total = 0
    has_error = False
    first_with_data = True
    topics: list[FetchTopicResult] = []
    for topic_name, topic_id, entries in plan:
        results: list[FetchPartitionResult] = []
        for index, target, fetch_offset, partition_max_bytes in entries:
            if isinstance(target, ErrorCode):
                has_error = True
                results.append(_error_result(index, target))
                continue
            if isinstance(target, _ReadFrom):
                # No records: the consumer goes to its preferred replica (KIP-392), answered at once.
                has_error = True
                log = target.partition.log
                results.append(
                    FetchPartitionResult(
                        partition_index=index,
                        error_code=ErrorCode.none,
                        high_watermark=log.high_watermark,
                        last_stable_offset=log.last_stable_offset,
                        log_start_offset=log.log_start_offset,
                        aborted_transactions=None if not read_committed else [],
                        records=[],
                        preferred_read_replica=target.replica,
                    )
                )
                continue
            if isinstance(target, _NotLeader):
                has_error = True
                results.append(
                    _error_result(index, ErrorCode.not_leader_or_follower)._replace(
                        current_leader=(target.leader, target.leader_epoch)
                    )
                )
                continue
            log = target.log
            if log.deleted:  # while this fetch waited (as Kafka: the partition is gone)
                has_error = True
                results.append(_error_result(index, ErrorCode.unknown_topic_or_partition))
                continue
            if log.offline_reason is not None:
                has_error = True
                results.append(_error_result(index, storage_error))
                continue
            # Consumers read up to the high watermark (the log end unless
            # replicated); an offset between it and the log end is valid
            # and answers no records (a long-poll waits for it to move).
            high_watermark = log.high_watermark
            stable = log.last_stable_offset
            chunks: list[Chunk] = []
            error = ErrorCode.none
            if paused and (topic_name, index) in paused and log.log_start_offset <= fetch_offset <= log.log_end_offset:
                results.append(
                    FetchPartitionResult(
                        partition_index=index,
                        error_code=error,
                        high_watermark=min(fetch_offset, high_watermark),
                        last_stable_offset=min(stable, fetch_offset),
                        log_start_offset=log.log_start_offset,
                        aborted_transactions=None if not read_committed else [],
                        records=[],
                    )
                )
                continue
            # read_committed: nothing past the last stable offset, plus the
            # aborted transactions in range so the client can drop their records.
            aborted = log.transactions.aborted_overlapping(fetch_offset, stable) if read_committed else None
            if remaining > 0 or first_with_data:
                limit = min(partition_max_bytes, remaining)
                try:
                    chunks = log.read(fetch_offset, limit, stable if read_committed else high_watermark)
                except OffsetOutOfRange:
                    error = ErrorCode.offset_out_of_range
                    has_error = True
                except StorageError:
                    error = storage_error
                    has_error = True
                except CorruptSegment:
                    # What Kafka answers when its reader meets a corrupt
                    # batch; the segment has logged the damage once.
                    error = ErrorCode.corrupt_message
                    has_error = True
                if chunks:
                    size = sum(len(chunk) for chunk in chunks)
                    # Only the first partition with data may exceed the
                    # limits, so a big batch can never block a consumer.
                    if size > limit and not first_with_data:
                        chunks, size = [], 0
                    if size:
                        first_with_data = False
                        remaining -= size
                        total += size
            results.append(
                FetchPartitionResult(
                    partition_index=index,
                    error_code=error,
                    high_watermark=high_watermark,
                    last_stable_offset=stable,
                    log_start_offset=log.log_start_offset,
                    aborted_transactions=aborted,
                    records=chunks,
                )
            )
        topics.append(FetchTopicResult(name=topic_name, topic_id=topic_id, partitions=results))
    return topics, total, has_error


def _error_result(index: int, error: ErrorCode) -> FetchPartitionResult:
    return FetchPartitionResult(
        partition_index=index,
        error_code=error,
        high_watermark=-1,
        last_stable_offset=-1,
        log_start_offset=-1,
        aborted_transactions=None,
        records=[],
    )
