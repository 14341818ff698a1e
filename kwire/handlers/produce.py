"""Produce: validate each batch's header and CRC, append it as received.

No record is decoded here: the 61-byte header and the CRC-32C are all a v2
batch needs to be checked and stored. Records are looked at only where a
topic's rules may refuse one (batch_transforms.refused_records); a batch with
refused records fails whole and its answer names each one (KIP-467).
"""

from __future__ import annotations

from kwire.cluster.cluster import Topic
from kwire.handlers.base import CLOSE_CONNECTION, NO_RESPONSE, Encoded, RequestContext
from kwire.protocol.errors import ErrorCode
from kwire.protocol.fast_responses import ProducePartitionResult, ProduceTopicResult, encode_produce_response
from kwire.log.producer_state import ProducerStateError
from kwire.log.storage_errors import StorageError
from kwire.protocol.batch_transforms import (
    RecordDecodeError, could_refuse_records, needs_transform, refusal_of_batch, refused_records,
    transform_for_topic,
)
from kwire.protocol.records import InvalidRecords, claims_transactional, validate_produced_batch

API_KEY = 0
# Kafka 4.x lists v0-2 in ApiVersions but refuses them (see registry.py).
ADVERTISED_MIN_VERSION, MIN_VERSION, MAX_VERSION = 0, 3, 13
_VALID_ACKS = (0, 1, -1)


def handle_produce(ctx: RequestContext, request):
    core = ctx.core
    acks = request.acks
    if request.transactional_id is None and any(
            claims_transactional(p.records) for t in request.topic_data for p in t.partition_data):
        # Kafka authorizes transactional records by the request's transactional
        # id, and without one refuses the whole request before writing anything.
        return _answer(ctx, acks, True, [
            ProduceTopicResult(name=getattr(t, "name", None) or "", topic_id=getattr(t, "topic_id", None), partitions=[
                ProducePartitionResult(index=p.index, error_code=ErrorCode.transactional_id_authorization_failed,
                                       base_offset=-1) for p in t.partition_data])
            for t in request.topic_data])
    any_error = False
    topic_results = []
    for topic_data in request.topic_data:
        topic, error = _resolve_topic(ctx, topic_data)
        partition_results = []
        for partition_data in topic_data.partition_data:
            index = partition_data.index
            if acks not in _VALID_ACKS:
                result = ProducePartitionResult(index=index, error_code=ErrorCode.invalid_required_acks, base_offset=-1)
            elif error is not None:
                result = ProducePartitionResult(index=index, error_code=error, base_offset=-1)
            elif not 0 <= index < len(topic.partitions):
                result = ProducePartitionResult(index=index, error_code=ErrorCode.unknown_topic_or_partition, base_offset=-1)
            elif acks == -1 and topic.log_config.min_insync_replicas > 1:
                # One broker is the whole in-sync replica set.
                result = ProducePartitionResult(
                    index=index, error_code=ErrorCode.not_enough_replicas, base_offset=-1,
                    error_message=f"The size of the current ISR 1 is insufficient to satisfy the min.isr requirement "
                                  f"of {topic.log_config.min_insync_replicas} for partition {topic.name}-{index}",
                )
            else:
                result = _append(core, topic, index, partition_data.records, request.transactional_id)
            any_error = any_error or result.error_code != ErrorCode.none
            partition_results.append(result)
        name = topic.name if topic is not None else (getattr(topic_data, "name", None) or "")
        topic_id = topic.topic_id if topic is not None else getattr(topic_data, "topic_id", None)
        topic_results.append(ProduceTopicResult(name=name, topic_id=topic_id, partitions=partition_results))
    if core.should_drop_produce_response():
        return CLOSE_CONNECTION  # fault injection: written, but the client must retry to learn it
    return _answer(ctx, acks, any_error, topic_results)


def _answer(ctx: RequestContext, acks: int, any_error: bool, topic_results: list[ProduceTopicResult]):
    if acks == 0:
        # Nothing goes back; on failure Kafka closes the connection so the
        # client learns about it through the reconnect.
        return CLOSE_CONNECTION if any_error else NO_RESPONSE
    return Encoded([encode_produce_response(ctx.api_version, topic_results)])


def _resolve_topic(ctx: RequestContext, topic_data) -> tuple[Topic | None, ErrorCode | None]:
    cluster = ctx.core.cluster
    name = getattr(topic_data, "name", None)
    if name is None:  # v13+: topics by id
        topic = cluster.topics_by_id.get(topic_data.topic_id)
        return (topic, None) if topic is not None else (None, ErrorCode.unknown_topic_id)
    topic = cluster.get(name) or cluster.auto_create(name)
    if topic is None:
        return None, ErrorCode.unknown_topic_or_partition
    if topic.is_internal:
        return None, ErrorCode.invalid_topic_exception
    return topic, None


def _append(core, topic: Topic, index: int, records, transactional_id: str | None) -> ProducePartitionResult:
    partition = topic.partitions[index]
    log = partition.log
    if records is None:
        return ProducePartitionResult(index=index, error_code=ErrorCode.invalid_record, base_offset=-1,
                                      error_message="Produce request carries no records")
    try:
        header = validate_produced_batch(records, topic.log_config.max_message_bytes)
    except InvalidRecords as exc:
        return ProducePartitionResult(index=index, error_code=exc.error_code, base_offset=-1,
                                      log_start_offset=log.log_start_offset, error_message=exc.message)
    try:
        duplicate = log.producer_state.check(header)
    except ProducerStateError as exc:
        return ProducePartitionResult(index=index, error_code=exc.error_code, base_offset=-1,
                                      log_start_offset=log.log_start_offset, error_message=exc.message)
    if duplicate is not None:
        # A retry of a batch already written: its original offset, nothing new stored.
        return ProducePartitionResult(index=index, error_code=ErrorCode.none, base_offset=duplicate.base_offset,
                                      log_start_offset=log.log_start_offset)
    if header.is_transactional and header.producer_id not in log.transactions.ongoing:
        error = core.transactions.verify_first_write(transactional_id, header, (topic.name, index))
        if error != ErrorCode.none:
            return ProducePartitionResult(index=index, error_code=error, base_offset=-1,
                                          log_start_offset=log.log_start_offset)
    batch = bytearray(records)
    now_ms = log.clock.wall_ms()
    refused = None
    try:
        if could_refuse_records(header, topic.log_config, now_ms):
            refused = refused_records(batch, header, topic.log_config, now_ms, f"{topic.name}-{index}")
        if not refused and needs_transform(topic.log_config):
            batch, header = transform_for_topic(batch, header, topic.log_config, now_ms)
    except RecordDecodeError as exc:
        return ProducePartitionResult(index=index, error_code=ErrorCode.corrupt_message, base_offset=-1,
                                      log_start_offset=log.log_start_offset, error_message=str(exc))
    if refused:
        error_code, message = refusal_of_batch(refused)
        return ProducePartitionResult(
            index=index, error_code=error_code, base_offset=-1, log_start_offset=log.log_start_offset,
            error_message=message, record_errors=tuple((r.batch_index, r.message) for r in refused),
        )
    try:
        base_offset = log.append(batch, header, partition.leader_epoch)
    except StorageError as exc:
        # Nothing was written; the client may retry (KAFKA_STORAGE_ERROR is retriable).
        return ProducePartitionResult(index=index, error_code=exc.error_code, base_offset=-1,
                                      log_start_offset=log.log_start_offset, error_message=exc.message)
    core.notify_append(topic.name, index)
    return ProducePartitionResult(index=index, error_code=ErrorCode.none, base_offset=base_offset,
                                  log_start_offset=log.log_start_offset)

