"""Produce: validate each batch's header and CRC, append it as received.

No record is decoded here: the 61-byte header and the CRC-32C are all a v2
batch needs to be checked and stored. Records are looked at only where a
topic's rules may refuse one (batch_transforms.refused_records); a batch with
refused records fails whole and its answer names each one (KIP-467).
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import attrs

from kwire.broker_state import BrokerState
from kwire.cluster.cluster import Topic
from kwire.handlers.authorization import NOTHING_REFUSED, refused_names
from kwire.handlers.base import CLOSE_CONNECTION, NO_RESPONSE, Delayed, Encoded, RequestContext, Sentinel, millis
from kwire.log.partition_log import PartitionLog
from kwire.log.producer_state import ProducerStateError
from kwire.log.storage_errors import StorageError
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.batch_transforms import (
    RecordDecodeError,
    could_refuse_records,
    needs_transform,
    refusal_of_batch,
    refused_records,
    transform_for_topic,
)
from kwire.protocol.errors import ErrorCode
from kwire.protocol.fast_responses import (
    NodeEndpoint,
    ProducePartitionResult,
    ProduceTopicResult,
    encode_produce_response,
)
from kwire.protocol.records import InvalidRecords, claims_transactional, validate_produced_batch
from kwire.protocol.registry import api
from kwire.quotas.entities import PRODUCER_BYTE_RATE
from kwire.security.resources import AclOperation, ResourceType

_VALID_ACKS = (0, 1, -1)


@attrs.frozen
class TopicData:
    name: str | None  # by name up to v12,
    topic_id: uuid.UUID | None  # by id from v13
    partition_data: Any  # kio's entries: index and records, the same in every version


@attrs.frozen
class ProduceRequest:
    """A Produce request of any served version."""

    transactional_id: str | None
    acks: int
    topic_data: list[TopicData]

    @classmethod
    def from_wire(cls, request: Any, version: int) -> ProduceRequest:
        by_id = version >= 13
        return cls(
            transactional_id=request.transactional_id,
            acks=request.acks,
            topic_data=[
                TopicData(None if by_id else t.name, t.topic_id if by_id else None, t.partition_data)
                for t in request.topic_data
            ],
        )


# Kafka 4.x lists v0-2 in ApiVersions but refuses them (see registry.py).
@api(ApiKey.PRODUCE, 3, 13, advertised_min=0)
def handle_produce(ctx: RequestContext, wire_request: Any) -> Any:
    state = ctx.state
    request = ProduceRequest.from_wire(wire_request, ctx.api_version)
    acks = request.acks
    authorizing = state.authorizer is not None
    if (request.transactional_id is None or authorizing) and any(
        claims_transactional(p.records) for t in request.topic_data for p in t.partition_data
    ):
        # Kafka authorizes transactional records by the request's transactional
        # id (WRITE on it), and without one refuses the whole request before
        # writing anything.
        if request.transactional_id is None or not ctx.allowed(
            AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, request.transactional_id
        ):
            return _refuse_all(ctx, request)
    refused = _write_refused(ctx, request) if authorizing else NOTHING_REFUSED
    any_error = False
    topic_results = []
    leaders: dict[int, NodeEndpoint] = {}  # KIP-951: where the leaders named in the answer listen
    replicas = state.replicas  # a node of a multi-node cluster
    waits: list[_AcksAllWait] = []  # acks=all appends the ISR has yet to copy
    metrics = state.metrics
    counting = metrics.enabled  # BrokerTopicMetrics, only with the HTTP port on
    for topic_data in request.topic_data:
        if refused and _topic_name(ctx, topic_data) in refused:
            topic, error = None, ErrorCode.topic_authorization_failed
        else:
            topic, error = _resolve_topic(ctx, topic_data)
        partition_results = []
        for partition_data in topic_data.partition_data:
            index = partition_data.index
            if acks not in _VALID_ACKS:
                result = ProducePartitionResult(index=index, error_code=ErrorCode.invalid_required_acks, base_offset=-1)
            elif topic is None:
                result = ProducePartitionResult(index=index, error_code=error, base_offset=-1)
            elif not 0 <= index < len(topic.partitions):
                result = ProducePartitionResult(
                    index=index, error_code=ErrorCode.unknown_topic_or_partition, base_offset=-1
                )
            elif not state.cluster.leads(topic.name, index):
                # Led by another node: NOT_LEADER_OR_FOLLOWER naming it.
                result = _not_leader(state, topic, index, leaders, ctx.listener)
            elif replicas is not None:
                error = replicas.check_append(topic.name, index, acks)
                if error == ErrorCode.none:
                    result = _append(state, topic, index, partition_data.records, request.transactional_id)
                    if acks == -1 and result.error_code == ErrorCode.none:
                        waits.append(
                            _AcksAllWait(result, topic.name, index, state.cluster.partition(topic.name, index))
                        )
                else:
                    result = _replication_refusal(topic, index, error)
            elif acks == -1 and topic.log_config.min_insync_replicas > 1:
                # One broker is the whole in-sync replica set.
                result = ProducePartitionResult(
                    index=index,
                    error_code=ErrorCode.not_enough_replicas,
                    base_offset=-1,
                    error_message=f"The size of the current ISR 1 is insufficient to satisfy the min.isr requirement "
                    f"of {topic.log_config.min_insync_replicas} for partition {topic.name}-{index}",
                )
            else:
                result = _append(state, topic, index, partition_data.records, request.transactional_id)
            any_error = any_error or result.error_code != ErrorCode.none
            partition_results.append(result)
            if counting and topic is not None:
                metrics.produced(topic.name, result.error_code, partition_data.records)
        name = topic.name if topic is not None else (topic_data.name or "")
        topic_id = topic.topic_id if topic is not None else topic_data.topic_id
        topic_results.append(ProduceTopicResult(name=name, topic_id=topic_id, partitions=partition_results))
    throttle_ms = 0
    if state.quotas.enforces(PRODUCER_BYTE_RATE):
        # producer_byte_rate counts the whole request, as Kafka's does.
        throttle_ms = state.quotas.record(PRODUCER_BYTE_RATE, ctx.client_id, ctx.request_size)
    endpoints = tuple(leaders[n] for n in sorted(leaders))
    if replicas is not None and waits:
        return _wait_for_isr(ctx, wire_request, waits, topic_results, any_error, throttle_ms, endpoints)
    return _answer(ctx, acks, any_error, topic_results, throttle_ms, endpoints)


def _refuse_all(ctx: RequestContext, request: ProduceRequest) -> Encoded | Sentinel:
    """TRANSACTIONAL_ID_AUTHORIZATION_FAILED on every partition, nothing written."""
    return _answer(
        ctx,
        request.acks,
        True,
        [
            ProduceTopicResult(
                name=t.name or "",
                topic_id=t.topic_id,
                partitions=[
                    ProducePartitionResult(
                        index=p.index, error_code=ErrorCode.transactional_id_authorization_failed, base_offset=-1
                    )
                    for p in t.partition_data
                ],
            )
            for t in request.topic_data
        ],
    )


def _topic_name(ctx: RequestContext, topic_data: TopicData) -> str | None:
    """The name a request topic is authorized by (v13+ gives ids: their topic's name)."""
    if topic_data.name is not None:
        return topic_data.name
    topic = ctx.state.cluster.topics_by_id.get(topic_data.topic_id) if topic_data.topic_id is not None else None
    return topic.name if topic is not None else None


def _write_refused(ctx: RequestContext, request: ProduceRequest) -> frozenset[str]:
    """The request's topics this principal may not WRITE (TOPIC_AUTHORIZATION_FAILED)."""
    return refused_names(ctx, AclOperation.WRITE, ResourceType.TOPIC, (_topic_name(ctx, t) for t in request.topic_data))


@attrs.define
class _AcksAllWait:
    """One partition of an acks=all produce: answered once the high watermark passes it."""

    result: ProducePartitionResult
    topic: str
    index: int
    partition: Any
    done: bool = False

    @property
    def required_offset(self) -> int:
        """One past the batch's last offset: the log end right after the append."""
        return int(self.partition.log.log_end_offset) if self.partition is not None else 0


def _wait_for_isr(
    ctx: RequestContext,
    wire_request: Any,
    waits: list[_AcksAllWait],
    topic_results: list[ProduceTopicResult],
    any_error: bool,
    throttle_ms: int,
    endpoints: tuple[NodeEndpoint, ...],
) -> Any:
    """Kafka's DelayedProduce: the answer waits until every acks=all append
    is in the ISR (NOT_ENOUGH_REPLICAS_AFTER_APPEND if the ISR shrank under
    min.insync.replicas meanwhile, NOT_LEADER_OR_FOLLOWER if leadership
    left), or until the request's timeout: REQUEST_TIMED_OUT."""
    replicas = ctx.state.replicas
    assert replicas is not None
    required = {id(wait): wait.required_offset for wait in waits}
    timeout_ms = max(0, millis(wire_request.timeout))

    def complete(final: bool) -> Any:
        pending = False
        for wait in waits:
            if wait.done:
                continue
            done, error = replicas.acks_all_done(wait.topic, wait.index, required[id(wait)])
            if not done and not final:
                pending = True
                continue
            wait.done = True
            if not done:
                error = ErrorCode.request_timed_out
            if error != ErrorCode.none:
                _replace_result(topic_results, wait, error)
        if pending:
            return None
        failed = any_error or any(p.error_code != ErrorCode.none for t in topic_results for p in t.partitions)
        return _answer(ctx, -1, failed, topic_results, throttle_ms, endpoints)

    answer = complete(False)
    if answer is not None:
        return answer
    return Delayed([(wait.topic, wait.index) for wait in waits], timeout_ms, complete)


def _replace_result(topic_results: list[ProduceTopicResult], wait: _AcksAllWait, error: ErrorCode) -> None:
    for topic_result in topic_results:
        for position, result in enumerate(topic_result.partitions):
            if result is wait.result:
                topic_result.partitions[position] = dataclasses.replace(result, error_code=error, base_offset=-1)
                return


def _replication_refusal(topic: Topic, index: int, error: ErrorCode) -> ProducePartitionResult:
    message = None
    if error == ErrorCode.not_enough_replicas:
        partition = topic.partitions[index]
        message = (
            f"The size of the current ISR {len(partition.isr)} is insufficient to satisfy the min.isr "
            f"requirement of {topic.log_config.min_insync_replicas} for partition {topic.name}-{index}"
        )
    return ProducePartitionResult(index=index, error_code=error, base_offset=-1, error_message=message)


def _not_leader(
    state: BrokerState, topic: Topic, index: int, leaders: dict[int, NodeEndpoint], listener: str
) -> ProducePartitionResult:
    """NOT_LEADER_OR_FOLLOWER, naming the leader (KIP-951, v10+) when its address is known."""
    leader = topic.partitions[index].leader
    endpoint = state.cluster.topology.brokers.get(leader)
    if endpoint is None:
        return ProducePartitionResult(index=index, error_code=ErrorCode.not_leader_or_follower, base_offset=-1)
    endpoint = endpoint.on(listener)
    leaders[leader] = NodeEndpoint(endpoint.node_id, endpoint.host, endpoint.port, endpoint.rack)
    return ProducePartitionResult(
        index=index,
        error_code=ErrorCode.not_leader_or_follower,
        base_offset=-1,
        current_leader=(leader, topic.partitions[index].leader_epoch),
    )


def _answer(
    ctx: RequestContext,
    acks: int,
    any_error: bool,
    topic_results: list[ProduceTopicResult],
    throttle_ms: int = 0,
    leaders: tuple[NodeEndpoint, ...] = (),
) -> Encoded | Sentinel:
    if any_error and ctx.event is not None:
        _note_errors(ctx, topic_results)
    if acks == 0:
        # Nothing goes back; on failure Kafka closes the connection so the
        # client learns about it through the reconnect.
        return CLOSE_CONNECTION if any_error else NO_RESPONSE
    version = ctx.api_version

    def encoded(throttle: int) -> Encoded:
        return Encoded([encode_produce_response(version, topic_results, throttle, leaders)], throttle, encoded)

    return encoded(throttle_ms)


def _note_errors(ctx: RequestContext, topic_results: list[ProduceTopicResult]) -> None:
    """The failed partitions' errors for metrics and the request log, each
    reason naming its partition (and kwire's message, when there is one)."""
    for topic_result in topic_results:
        for result in topic_result.partitions:
            if result.error_code:
                where = f"{topic_result.name}-{result.index}"
                ctx.note_error(
                    result.error_code, reason=f"{where}: {result.error_message}" if result.error_message else where
                )


def _resolve_topic(ctx: RequestContext, topic_data: TopicData) -> tuple[Topic | None, ErrorCode]:
    """(the topic, ErrorCode.none), or (None, why it cannot be written)."""
    cluster = ctx.state.cluster
    name = topic_data.name
    if name is None:  # v13+: topics by id
        topic_id = topic_data.topic_id
        topic = cluster.topics_by_id.get(topic_id) if topic_id is not None else None
        return (topic, ErrorCode.none) if topic is not None else (None, ErrorCode.unknown_topic_id)
    topic = cluster.get(name)
    if topic is None and _may_create(ctx, name):
        topic = cluster.auto_create(name)
    if topic is None:
        return None, ErrorCode.unknown_topic_or_partition
    if topic.is_internal:
        return None, ErrorCode.invalid_topic_exception
    return topic, ErrorCode.none


def _may_create(ctx: RequestContext, name: str) -> bool:
    """Auto-creation on produce needs CREATE on the cluster or the topic, as
    Metadata's does (always, with no authorizer)."""
    if ctx.state.authorizer is None:
        return True
    return ctx.allowed_on_cluster(AclOperation.CREATE, audit=False) or ctx.allowed(
        AclOperation.CREATE, ResourceType.TOPIC, name
    )


def _append(
    state: BrokerState, topic: Topic, index: int, records: Any, transactional_id: str | None
) -> ProducePartitionResult:
    partition = topic.partitions[index]
    log = partition.log
    if records is None:
        return ProducePartitionResult(
            index=index,
            error_code=ErrorCode.invalid_record,
            base_offset=-1,
            error_message="Produce request carries no records",
        )
    try:
        header = validate_produced_batch(records, topic.log_config.max_message_bytes)
    except InvalidRecords as exc:
        return _failed(index, log, exc.error_code, exc.message)
    try:
        duplicate = log.producer_state.check(header)
    except ProducerStateError as exc:
        return _failed(index, log, exc.error_code, exc.message)
    if duplicate is not None:
        # A retry of a batch already written: its original offset, nothing new stored.
        return ProducePartitionResult(
            index=index,
            error_code=ErrorCode.none,
            base_offset=duplicate.base_offset,
            log_start_offset=log.log_start_offset,
        )
    if header.is_transactional and header.producer_id not in log.transactions.ongoing:
        # handle_produce refuses transactional batches in requests without one.
        assert transactional_id is not None
        error = state.transactions.verify_first_write(transactional_id, header, (topic.name, index))
        if error != ErrorCode.none:
            return _failed(index, log, error)
    batch = bytearray(records)
    now_ms = state.clock.wall_ms()
    refused = None
    try:
        if could_refuse_records(header, topic.log_config, now_ms):
            refused = refused_records(batch, header, topic.log_config, now_ms, f"{topic.name}-{index}")
        if not refused and needs_transform(topic.log_config):
            batch, header = transform_for_topic(batch, header, topic.log_config, now_ms)
    except RecordDecodeError as exc:
        return _failed(index, log, ErrorCode.corrupt_message, str(exc))
    if refused:
        error_code, message = refusal_of_batch(refused)
        return ProducePartitionResult(
            index=index,
            error_code=error_code,
            base_offset=-1,
            log_start_offset=log.log_start_offset,
            error_message=message,
            record_errors=tuple((r.batch_index, r.message) for r in refused),
        )
    try:
        base_offset = log.append(batch, header, partition.leader_epoch)
    except StorageError as exc:
        # Nothing was written; the client may retry (KAFKA_STORAGE_ERROR is retriable).
        return _failed(index, log, exc.error_code, exc.message)
    state.notify_append(topic.name, index)
    return ProducePartitionResult(
        index=index, error_code=ErrorCode.none, base_offset=base_offset, log_start_offset=log.log_start_offset
    )


def _failed(index: int, log: PartitionLog, error_code: ErrorCode, message: str | None = None) -> ProducePartitionResult:
    """A partition's batch refused: nothing of it was written."""
    return ProducePartitionResult(
        index=index, error_code=error_code, base_offset=-1, log_start_offset=log.log_start_offset, error_message=message
    )
