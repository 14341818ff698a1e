"""FindCoordinator: the leader of the key's partition of `__consumer_offsets`
(groups) or `__transaction_state` (transactional ids), as Kafka places them.
A lone node answers itself (it creates the topic on first use); a node of a
multi-node cluster creates the topic here, as Kafka does, and answers
COORDINATOR_NOT_AVAILABLE while the partition has no leader.

A node asked for a group or transactional id it does not coordinate
answers NOT_COORDINATOR (the group and transaction handlers ask the
services' `coordinator_error`), and the client comes back here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kwire.coordinator.offsets import OFFSETS_TOPIC, partition_for
from kwire.coordinator.transaction_log import TRANSACTION_TOPIC
from kwire.handlers.authorization import REFUSAL_ERROR, refusal_message
from kwire.handlers.base import RequestContext, respond
from kwire.log.storage_errors import StorageError
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode, KafkaError
from kwire.protocol.registry import api
from kwire.security.resources import AclOperation, ResourceType

if TYPE_CHECKING:
    from kwire.broker_state import BrokerState

GROUP, TRANSACTION = 0, 1


@api(ApiKey.FIND_COORDINATOR, 0, 6)
def handle_find_coordinator(ctx: RequestContext, request: Any) -> Any:
    # Before v1 every request asks for a group's coordinator.
    key_type = request.key_type if ctx.api_version >= 1 else GROUP
    state = ctx.state
    found: dict[str, Any] | None = None  # the answer for every key (an error), else each key's own
    if key_type not in (GROUP, TRANSACTION):
        found = dict(
            error_code=ErrorCode.invalid_request,
            error_message=f"Unknown key type {key_type}",
            node_id=-1,
            host="",
            port=-1,
        )
    if ctx.api_version >= 4:
        coordinators = [
            dict(
                found or _refused(ctx, key_type, key, None) or _coordinator(state, key_type, key, ctx.listener), key=key
            )
            for key in request.coordinator_keys
        ]
        return respond(ctx, dict(coordinators=coordinators))
    return respond(
        ctx,
        found or _refused(ctx, key_type, request.key, True) or _coordinator(state, key_type, request.key, ctx.listener),
    )


def _refused(ctx: RequestContext, key_type: int, key: str, with_message: bool | None) -> dict[str, Any] | None:
    """As Kafka: finding a group's coordinator needs DESCRIBE on the group, a
    transactional id's DESCRIBE on the id; None when allowed."""
    if ctx.state.authorizer is None:
        return None
    resource_type = ResourceType.GROUP if key_type == GROUP else ResourceType.TRANSACTIONAL_ID
    if ctx.allowed(AclOperation.DESCRIBE, resource_type, key):
        return None
    error = REFUSAL_ERROR[resource_type]
    message = refusal_message(error) if with_message else None
    return dict(error_code=error, error_message=message, node_id=-1, host="", port=-1)


def _coordinator(state: BrokerState, key_type: int, key: str, listener: str) -> dict[str, Any]:
    name = OFFSETS_TOPIC if key_type == GROUP else TRANSACTION_TOPIC
    topic = state.cluster.get(name)
    if topic is None and state.cluster.controller is not None:
        try:
            topic = state.cluster.internal_topic(name)
        except (KafkaError, StorageError) as exc:
            return _not_available(f"Could not create {name}: {exc}")
    endpoint = None
    if topic is not None:
        leader = topic.partitions[partition_for(key, len(topic.partitions))].leader
        if leader == -1:
            return _not_available(f"The coordinator's partition of {name} has no leader")
        endpoint = state.cluster.topology.brokers.get(leader)
        if endpoint is None and state.cluster.controller is not None:
            return _not_available(f"The coordinator {leader} is not available")
    if endpoint is None:
        endpoint = state.cluster.topology.brokers[state.config.node_id]
    endpoint = endpoint.on(listener)
    return dict(
        error_code=ErrorCode.none, error_message=None, node_id=endpoint.node_id, host=endpoint.host, port=endpoint.port
    )


def _not_available(message: str) -> dict[str, Any]:
    return dict(error_code=ErrorCode.coordinator_not_available, error_message=message, node_id=-1, host="", port=-1)
