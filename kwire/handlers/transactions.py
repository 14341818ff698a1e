"""Transactions: InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn,
EndTxn, TxnOffsetCommit, and for operators DescribeProducers,
DescribeTransactions and ListTransactions.

An id (or, for TxnOffsetCommit, a group) this node does not coordinate gets
NOT_COORDINATOR (the transaction service answers so for the producer's
requests); ListTransactions lists the ids this node coordinates."""

from __future__ import annotations

from typing import Any

import attrs

from kwire.coordinator.offsets import CommittedOffset
from kwire.coordinator.transaction_log import TxnMetadata, TxnState
from kwire.handlers.authorization import NOTHING_REFUSED, group_refusal, refusal_message, refused_names
from kwire.handlers.base import RequestContext, once_replicated, respond
from kwire.handlers.offsets import CommitPartition, answered, fail_written
from kwire.log.storage_errors import StorageError
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode
from kwire.protocol.registry import api
from kwire.security.resources import AclOperation, ResourceType

# The request version from which PRODUCER_FENCED replaced INVALID_PRODUCER_EPOCH (KIP-588).
_FENCED_FROM = {
    ApiKey.INIT_PRODUCER_ID: 4,
    ApiKey.ADD_PARTITIONS_TO_TXN: 2,
    ApiKey.ADD_OFFSETS_TO_TXN: 2,
    ApiKey.END_TXN: 2,
    ApiKey.TXN_OFFSET_COMMIT: 2,
}


def _code(ctx: RequestContext, error: ErrorCode) -> ErrorCode:
    """Older clients know a fenced producer as INVALID_PRODUCER_EPOCH."""
    if error == ErrorCode.producer_fenced and ctx.api_version < _FENCED_FROM.get(ctx.api_key, 0):
        return ErrorCode.invalid_producer_epoch
    return error


# --- InitProducerId -----------------------------------------------------------------


@api(ApiKey.INIT_PRODUCER_ID, 0, 6)
def handle_init_producer_id(ctx: RequestContext, request: Any) -> Any:
    state = ctx.state
    refusal = _init_refusal(ctx, request.transactional_id) if state.authorizer is not None else None
    if refusal is not None:
        error, producer_id, epoch = refusal, -1, -1
    elif request.transactional_id is None:
        # Idempotent producers get a fresh id at epoch 0, also when they
        # re-initialise with their old id (KIP-360), as Kafka does.
        try:
            error, producer_id, epoch = ErrorCode.none, state.producer_ids.allocate(), 0
        except StorageError:
            # As Kafka when no block of ids can be had: retriable.
            error, producer_id, epoch = ErrorCode.coordinator_load_in_progress, -1, -1
    else:
        timeout = request.transaction_timeout
        timeout_ms = timeout if isinstance(timeout, int) else int(timeout.total_seconds() * 1000)
        # From v3 a producer names the id and epoch it had (KIP-360).
        has_current = ctx.api_version >= 3
        error, producer_id, epoch = state.transactions.init_producer_id(
            request.transactional_id,
            timeout_ms,
            request.producer_id if has_current else -1,
            request.producer_epoch if has_current else -1,
        )
    return respond(
        ctx,
        dict(
            error_code=_code(ctx, error),
            producer_id=producer_id,
            producer_epoch=epoch,
            ongoing_txn_producer_id=-1,
            ongoing_txn_producer_epoch=-1,
        ),
    )


def _init_refusal(ctx: RequestContext, transactional_id: str | None) -> ErrorCode | None:
    """As Kafka: WRITE on the transactional id; an idempotent producer needs
    IDEMPOTENT_WRITE on the cluster or WRITE on some topic."""
    if transactional_id is not None:
        if ctx.allowed(AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, transactional_id):
            return None
        return ErrorCode.transactional_id_authorization_failed
    if ctx.allowed_on_cluster(AclOperation.IDEMPOTENT_WRITE, audit=False) or ctx.allowed_on_any(
        AclOperation.WRITE, ResourceType.TOPIC
    ):
        return None
    ctx.allowed_on_cluster(AclOperation.IDEMPOTENT_WRITE)  # the refusal's audit line
    return ErrorCode.cluster_authorization_failed


def _refused_txn(ctx: RequestContext, transactional_id: str) -> bool:
    return ctx.state.authorizer is not None and not ctx.allowed(
        AclOperation.WRITE, ResourceType.TRANSACTIONAL_ID, transactional_id
    )


# --- AddPartitionsToTxn ---------------------------------------------------------------


@api(ApiKey.ADD_PARTITIONS_TO_TXN, 0, 5)
def handle_add_partitions_to_txn(ctx: RequestContext, request: Any) -> Any:
    if ctx.api_version >= 4 and ctx.state.authorizer is not None:
        # v4+ comes from brokers (KIP-890): CLUSTER_ACTION, as Kafka.
        if not ctx.allowed_on_cluster(AclOperation.CLUSTER_ACTION):
            return respond(ctx, dict(error_code=ErrorCode.cluster_authorization_failed, results_by_transaction=[]))
    if ctx.api_version <= 3:
        results = _add_partitions(
            ctx,
            request.v3_and_below_transactional_id,
            request.v3_and_below_producer_id,
            request.v3_and_below_producer_epoch,
            request.v3_and_below_topics,
            False,
        )
        return respond(ctx, dict(results_by_topic_v3_and_below=results))
    by_transaction = [
        dict(
            transactional_id=t.transactional_id,
            topic_results=_add_partitions(
                ctx, t.transactional_id, t.producer_id, t.producer_epoch, t.topics, t.verify_only
            ),
        )
        for t in request.transactions
    ]
    return respond(ctx, dict(error_code=ErrorCode.none, results_by_transaction=by_transaction))


def _add_partitions(
    ctx: RequestContext, transactional_id: str, producer_id: int, producer_epoch: int, topics: Any, verify_only: bool
) -> list[dict[str, Any]]:
    """Per-topic, per-partition results: all succeed or none is added (Kafka's
    rule). A client's request (v3 and older) needs WRITE on the transactional
    id and on each topic; internal topics are never added (TOPIC_AUTHORIZATION_FAILED,
    with or without an authorizer, as Kafka)."""
    cluster = ctx.state.cluster
    wanted = [(t.name, p) for t in topics for p in t.partitions]
    from_client = ctx.api_version <= 3
    if from_client and _refused_txn(ctx, transactional_id):
        errors = dict.fromkeys(wanted, ErrorCode.transactional_id_authorization_failed)
        return _by_topic(topics, errors)
    refused = (
        refused_names(ctx, AclOperation.WRITE, ResourceType.TOPIC, (t.name for t in topics))
        if from_client
        else NOTHING_REFUSED
    )
    failed: dict[tuple[str, int], ErrorCode] = {}
    for name, p in wanted:
        topic = cluster.get(name)
        if from_client and (name in refused or (topic is not None and topic.is_internal)):
            failed[(name, p)] = ErrorCode.topic_authorization_failed
        elif cluster.partition(name, p) is None:
            failed[(name, p)] = ErrorCode.unknown_topic_or_partition
    if failed:
        errors = {key: failed.get(key, ErrorCode.operation_not_attempted) for key in wanted}
    else:
        error = ctx.state.transactions.add_partitions(
            transactional_id, producer_id, producer_epoch, wanted, verify_only
        )
        errors = {key: _code(ctx, error) for key in wanted}
    return _by_topic(topics, errors)


def _by_topic(topics: Any, errors: dict[tuple[str, int], ErrorCode]) -> list[dict[str, Any]]:
    return [
        dict(
            name=t.name,
            results_by_partition=[
                dict(partition_index=p, partition_error_code=errors[(t.name, p)]) for p in t.partitions
            ],
        )
        for t in topics
    ]


# --- AddOffsetsToTxn / EndTxn ------------------------------------------------------------


@api(ApiKey.ADD_OFFSETS_TO_TXN, 0, 4)
def handle_add_offsets_to_txn(ctx: RequestContext, request: Any) -> Any:
    service = ctx.state.transactions
    if _refused_txn(ctx, request.transactional_id):
        return respond(ctx, dict(error_code=ErrorCode.transactional_id_authorization_failed))
    refusal = group_refusal(ctx, AclOperation.READ, request.group_id)
    if refusal:
        return respond(ctx, dict(error_code=refusal))
    if not request.group_id:
        return respond(ctx, dict(error_code=ErrorCode.invalid_group_id))
    try:
        offsets_partition = service.offsets_partition(request.group_id)
    except StorageError:  # `__consumer_offsets` could not be created
        return respond(ctx, dict(error_code=ErrorCode.not_coordinator))
    error = service.add_partitions(
        request.transactional_id,
        request.producer_id,
        request.producer_epoch,
        [offsets_partition],
    )
    return respond(ctx, dict(error_code=_code(ctx, error)))


@api(ApiKey.END_TXN, 0, 4)
def handle_end_txn(ctx: RequestContext, request: Any) -> Any:
    transactions = ctx.state.transactions
    if _refused_txn(ctx, request.transactional_id):
        return respond(ctx, dict(error_code=ErrorCode.transactional_id_authorization_failed))
    error = transactions.end_transaction(
        request.transactional_id,
        request.producer_id,
        request.producer_epoch,
        bool(request.committed),
    )
    if error != ErrorCode.none:
        return respond(ctx, dict(error_code=_code(ctx, error)))
    # Answered once the PrepareCommit/PrepareAbort record is in the ISR (Kafka's acks=all append).
    return once_replicated(
        ctx,
        [transactions.state_partition(request.transactional_id)],
        lambda failed: respond(ctx, dict(error_code=_code(ctx, failed or ErrorCode.none))),
    )


# --- TxnOffsetCommit ----------------------------------------------------------------------


@attrs.frozen
class TxnCommitTopic:
    name: str
    partitions: list[CommitPartition]


@attrs.frozen
class TxnOffsetCommitRequest:
    """A TxnOffsetCommit request of any served version; before v3 (KIP-447)
    it names no group member: generation -1, member ""."""

    transactional_id: str
    group_id: str
    producer_id: int
    producer_epoch: int
    generation_id: int
    member_id: str
    group_instance_id: str | None
    topics: list[TxnCommitTopic]

    @classmethod
    def from_wire(cls, request: Any, version: int) -> TxnOffsetCommitRequest:
        has_member = version >= 3
        return cls(
            transactional_id=request.transactional_id,
            group_id=request.group_id,
            producer_id=request.producer_id,
            producer_epoch=request.producer_epoch,
            generation_id=request.generation_id if has_member else -1,
            member_id=(request.member_id or "") if has_member else "",
            group_instance_id=request.group_instance_id if has_member else None,
            topics=[
                TxnCommitTopic(t.name, [CommitPartition.from_wire(p, version >= 2) for p in t.partitions])
                for t in request.topics
            ],
        )


@api(ApiKey.TXN_OFFSET_COMMIT, 0, 4)
def handle_txn_offset_commit(ctx: RequestContext, wire_request: Any) -> Any:
    state = ctx.state
    request = TxnOffsetCommitRequest.from_wire(wire_request, ctx.api_version)
    # As Kafka: WRITE on the transactional id, READ on the group, then READ on each topic.
    refusal = (
        ErrorCode.transactional_id_authorization_failed
        if _refused_txn(ctx, request.transactional_id)
        else group_refusal(ctx, AclOperation.READ, request.group_id)
    )
    refused = (
        refused_names(ctx, AclOperation.READ, ResourceType.TOPIC, (t.name for t in request.topics))
        if not refusal
        else NOTHING_REFUSED
    )
    # Sent to the group's coordinator, which checks that it is one first.
    error = (
        refusal
        or state.groups.coordinator_error(request.group_id)
        or state.check_transactional_producer(request.transactional_id, request.producer_id, request.producer_epoch)
    )
    generation, member_id = request.generation_id, request.member_id
    if error == ErrorCode.none and (generation >= 0 or member_id):
        # KIP-447: a consumer-group-aware commit must come from a current member.
        error = state.groups.commit_check(request.group_id, generation, member_id, request.group_instance_id)
    now_ms = state.clock.wall_ms()
    accepted: dict[tuple[str, int], CommittedOffset] = {}
    topics = []
    for entry in request.topics:
        results = []
        for part in entry.partitions:
            part_error = error
            if refused and entry.name in refused:
                part_error = ErrorCode.topic_authorization_failed
            elif part_error == ErrorCode.none and state.cluster.partition(entry.name, part.partition_index) is None:
                part_error = ErrorCode.unknown_topic_or_partition
            if part_error == ErrorCode.none:
                accepted[(entry.name, part.partition_index)] = CommittedOffset(
                    part.committed_offset, part.committed_leader_epoch, part.committed_metadata, now_ms
                )
            results.append(dict(partition_index=part.partition_index, error_code=_code(ctx, part_error)))
        topics.append(dict(name=entry.name, partitions=results))
    if accepted:
        try:
            state.groups.commit_transactional(request.group_id, accepted, request.producer_id, request.producer_epoch)
        except StorageError:
            fail_written(topics, _code(ctx, ErrorCode.not_coordinator))  # as Kafka: find the coordinator, retry
        else:
            return once_replicated(ctx, [state.groups.offsets_partition(request.group_id)], answered(ctx, topics))
    return respond(ctx, dict(topics=topics))


# --- operators' views ------------------------------------------------------------------------


@api(ApiKey.DESCRIBE_PRODUCERS, 0, 0)
def handle_describe_producers(ctx: RequestContext, request: Any) -> Any:
    cluster = ctx.state.cluster
    topics = []
    refused = refused_names(ctx, AclOperation.READ, ResourceType.TOPIC, (t.name for t in request.topics))
    for entry in request.topics:
        partitions = []
        for index in entry.partition_indexes:
            if refused and entry.name in refused:
                error = ErrorCode.topic_authorization_failed
                partitions.append(
                    dict(
                        partition_index=index,
                        error_code=error,
                        error_message=refusal_message(error),
                        active_producers=[],
                    )
                )
                continue
            partition = cluster.partition(entry.name, index)
            if partition is None or not cluster.leads(entry.name, index):
                error = ErrorCode.unknown_topic_or_partition if partition is None else ErrorCode.not_leader_or_follower
                partitions.append(
                    dict(partition_index=index, error_code=error, error_message=None, active_producers=[])
                )
                continue
            log = partition.log
            producers = [
                dict(
                    producer_id=e.producer_id,
                    producer_epoch=e.epoch,
                    last_sequence=e.last_seq,
                    last_timestamp=e.batches[-1].max_timestamp if e.batches else -1,
                    coordinator_epoch=e.coordinator_epoch,
                    current_txn_start_offset=log.transactions.ongoing.get(e.producer_id, -1),
                )
                for e in log.producer_state.entries.values()
            ]
            partitions.append(
                dict(partition_index=index, error_code=ErrorCode.none, error_message=None, active_producers=producers)
            )
        topics.append(dict(name=entry.name, partitions=partitions))
    return respond(ctx, dict(topics=topics))


def _topics_of(ctx: RequestContext, meta: TxnMetadata) -> list[dict[str, Any]]:
    """The transaction's partitions, in the topics the principal may DESCRIBE (as Kafka)."""
    by_topic: dict[str, list[int]] = {}
    for topic, index in sorted(meta.partitions):
        by_topic.setdefault(topic, []).append(index)
    hidden = refused_names(ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, by_topic)
    return [dict(topic=t, partitions=p) for t, p in by_topic.items() if t not in hidden]


def _describe_refused(ctx: RequestContext, transactional_id: str) -> ErrorCode:
    """TRANSACTIONAL_ID_AUTHORIZATION_FAILED without DESCRIBE on the id; ErrorCode.none (falsy) with it."""
    if ctx.state.authorizer is None or ctx.allowed(
        AclOperation.DESCRIBE, ResourceType.TRANSACTIONAL_ID, transactional_id
    ):
        return ErrorCode.none
    return ErrorCode.transactional_id_authorization_failed


@api(ApiKey.DESCRIBE_TRANSACTIONS, 0, 0)
def handle_describe_transactions(ctx: RequestContext, request: Any) -> Any:
    service = ctx.state.transactions
    states = []
    for transactional_id in request.transactional_ids:
        error = _describe_refused(ctx, transactional_id) or service.coordinator_error(transactional_id)
        meta = service.transaction(transactional_id) if error == ErrorCode.none else None
        if meta is None:
            states.append(
                dict(
                    error_code=error or ErrorCode.transactional_id_not_found,
                    transactional_id=transactional_id,
                    transaction_state="",
                    transaction_timeout=0,
                    transaction_start_time=0,
                    producer_id=0,
                    producer_epoch=0,
                    topics=[],
                )
            )  # Kafka's field defaults
            continue
        states.append(
            dict(
                error_code=ErrorCode.none,
                transactional_id=transactional_id,
                transaction_state=meta.state.kafka_name,
                transaction_timeout=meta.timeout_ms,
                transaction_start_time=meta.start_ms,
                producer_id=meta.producer_id,
                producer_epoch=meta.producer_epoch,
                topics=_topics_of(ctx, meta),
            )
        )
    return respond(ctx, dict(transaction_states=states))


@api(ApiKey.LIST_TRANSACTIONS, 0, 1)
def handle_list_transactions(ctx: RequestContext, request: Any) -> Any:
    known = {state.kafka_name: state for state in TxnState}
    wanted_states = set(request.state_filters or ())
    unknown = sorted(s for s in wanted_states if s not in known)
    producer_ids = set(request.producer_id_filters or ())
    min_duration = request.duration_filter if ctx.api_version >= 1 else -1  # KIP-994
    now = ctx.state.clock.wall_ms()
    listed = []
    for meta in ctx.state.transactions.transactions():
        if wanted_states and meta.state.kafka_name not in wanted_states:
            continue
        if producer_ids and meta.producer_id not in producer_ids:
            continue
        if _describe_refused(ctx, meta.transactional_id):
            continue  # listed only with DESCRIBE on the id, as Kafka
        if (
            min_duration is not None
            and min_duration >= 0
            and (meta.state != TxnState.ONGOING or now - meta.start_ms < min_duration)
        ):
            continue
        listed.append(
            dict(
                transactional_id=meta.transactional_id,
                producer_id=meta.producer_id,
                transaction_state=meta.state.kafka_name,
            )
        )
    return respond(ctx, dict(error_code=ErrorCode.none, unknown_state_filters=unknown, transaction_states=listed))
