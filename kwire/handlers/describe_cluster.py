"""DescribeCluster: the brokers this node knows (kwire/cluster/topology.py:
itself alone today) and the controller."""

from __future__ import annotations

from typing import Any

import attrs

from kwire.handlers.base import CLUSTER_OPERATIONS, OPERATIONS_NOT_REQUESTED, RequestContext, respond
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode
from kwire.protocol.registry import api
from kwire.security.resources import CLUSTER_NAME, AclOperation, ResourceType

BROKER_ENDPOINT = 1  # EndpointType.BROKER; 2 is CONTROLLER


@attrs.frozen
class DescribeClusterRequest:
    include_cluster_authorized_operations: bool
    endpoint_type: int  # BROKER before v1

    @classmethod
    def from_wire(cls, request: Any, version: int) -> DescribeClusterRequest:
        endpoint = request.endpoint_type if version >= 1 else BROKER_ENDPOINT
        return cls(bool(request.include_cluster_authorized_operations), endpoint)


def _cluster_operations(ctx: RequestContext, request: DescribeClusterRequest) -> int:
    """As Kafka's brokers: DescribeCluster itself needs no permission; the
    operations are 0 without DESCRIBE on the cluster."""
    if not request.include_cluster_authorized_operations:
        return OPERATIONS_NOT_REQUESTED
    if not ctx.allowed_on_cluster(AclOperation.DESCRIBE):
        return 0
    return ctx.authorized_operations(ResourceType.CLUSTER, CLUSTER_NAME, CLUSTER_OPERATIONS)


@api(ApiKey.DESCRIBE_CLUSTER, 0, 2)
def handle_describe_cluster(ctx: RequestContext, wire_request: Any) -> Any:
    request = DescribeClusterRequest.from_wire(wire_request, ctx.api_version)
    state = ctx.state
    if request.endpoint_type != BROKER_ENDPOINT:
        # A broker listener serves broker endpoints only (as Kafka's brokers).
        return respond(
            ctx,
            dict(
                error_code=ErrorCode.unsupported_endpoint_type,
                error_message="The broker does not support the requested endpoint type",
                endpoint_type=request.endpoint_type,
                cluster_id=state.cluster.cluster_id,
                controller_id=-1,
                brokers=[],
            ),
        )
    topology = state.cluster.topology
    brokers = [
        dict(broker_id=broker.node_id, host=broker.host, port=broker.port, rack=broker.rack, is_fenced=False)
        for broker in (each.on(ctx.listener) for each in topology.sorted_brokers())
    ]
    return respond(
        ctx,
        dict(
            error_code=ErrorCode.none,
            error_message=None,
            endpoint_type=BROKER_ENDPOINT,
            cluster_id=state.cluster.cluster_id,
            # Clients cannot reach a KRaft controller; Kafka names a live broker (this one, alone today).
            controller_id=topology.controller_id,
            brokers=brokers,
            cluster_authorized_operations=_cluster_operations(ctx, request),
        ),
    )
