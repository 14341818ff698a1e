"""ElectLeaders. On one node every partition's leader already is its
preferred (and only) replica, so an election is never needed; in a
multi-node cluster the controller elects (kwire/cluster/controller.py):
the preferred replica when it is live and in sync, or for an unclean
election a live replica of a partition without a leader.

Answered as Kafka's controller answers: ELECTION_NOT_NEEDED,
PREFERRED_LEADER_NOT_AVAILABLE, ELIGIBLE_LEADERS_NOT_AVAILABLE per
partition, UNKNOWN_TOPIC_OR_PARTITION for one that does not exist; a null
topic list means every partition, and then (as Kafka) partitions needing no
election are left out of the answer.
"""

from __future__ import annotations

from typing import Any

import attrs

from kwire.handlers.authorization import refusal_message
from kwire.handlers.base import RequestContext, log_admin_change, respond
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode
from kwire.protocol.registry import api
from kwire.security.resources import AclOperation

PREFERRED, UNCLEAN = 0, 1


@attrs.frozen
class ElectLeadersRequest:
    election_type: int  # PREFERRED before v1
    topic_partitions: dict[str, list[int]] | None  # None: every partition

    @classmethod
    def from_wire(cls, request: Any, version: int) -> ElectLeadersRequest:
        wanted: dict[str, list[int]] | None = None
        if request.topic_partitions is not None:
            wanted = {}
            for entry in request.topic_partitions:
                wanted.setdefault(entry.topic, []).extend(entry.partitions)
        return cls(request.election_type if version >= 1 else PREFERRED, wanted)


@api(ApiKey.ELECT_LEADERS, 0, 2)
def handle_elect_leaders(ctx: RequestContext, wire_request: Any) -> Any:
    request = ElectLeadersRequest.from_wire(wire_request, ctx.api_version)
    if not ctx.allowed_on_cluster(AclOperation.ALTER):
        return _refused(ctx, request)
    if request.election_type not in (PREFERRED, UNCLEAN):
        return respond(ctx, dict(error_code=ErrorCode.invalid_request, replica_election_results=[]))
    cluster = ctx.state.cluster
    results: list[dict[str, Any]] = []
    controller = cluster.controller
    if controller is not None:
        wanted_partitions = request.topic_partitions
        if wanted_partitions is None:
            wanted_partitions = {name: list(range(len(topic.partitions))) for name, topic in cluster.topics.items()}
        for name, partitions in wanted_partitions.items():
            topic = cluster.get(name)
            answers = []
            for index in partitions:
                message: str | None
                if topic is None or not 0 <= index < len(topic.partitions):
                    error, message = ErrorCode.unknown_topic_or_partition, f"No such partition as {name}-{index}"
                else:
                    error, message = controller.elect((topic.topic_id, index), request.election_type)
                if error == ErrorCode.election_not_needed and request.topic_partitions is None:
                    continue
                if error == ErrorCode.election_not_needed:
                    message = "Leader election not needed for topic partition."
                answers.append(dict(partition_id=index, error_code=error, error_message=message))
            results.append(dict(topic=name, partition_result=answers))
        kind = "unclean" if request.election_type == UNCLEAN else "preferred"
        log_admin_change(ctx, f"{kind} election: {_outcomes(results)}")
        return respond(ctx, dict(error_code=ErrorCode.none, replica_election_results=results))
    if request.topic_partitions is None:
        # Every partition already has its preferred leader: nothing to list.
        results = [dict(topic=name, partition_result=[]) for name in cluster.topics]
    else:
        for name, partitions in request.topic_partitions.items():
            topic = cluster.get(name)
            answers = []
            for index in partitions:
                if topic is None:
                    error, message = ErrorCode.unknown_topic_or_partition, f"No such topic as {name}"
                elif not 0 <= index < len(topic.partitions):
                    error, message = ErrorCode.unknown_topic_or_partition, f"No such partition as {name}-{index}"
                else:
                    error, message = ErrorCode.election_not_needed, "Leader election not needed for topic partition."
                answers.append(dict(partition_id=index, error_code=error, error_message=message))
            results.append(dict(topic=name, partition_result=answers))
    kind = "unclean" if request.election_type == UNCLEAN else "preferred"
    wanted = "every partition" if request.topic_partitions is None else sorted(request.topic_partitions)
    log_admin_change(ctx, f"{kind} election for {wanted}: not needed on a single node")
    return respond(ctx, dict(error_code=ErrorCode.none, replica_election_results=results))


def _refused(ctx: RequestContext, request: ElectLeadersRequest) -> Any:
    """As Kafka: ALTER on the cluster, else CLUSTER_AUTHORIZATION_FAILED for
    the request and every partition named."""
    error = ErrorCode.cluster_authorization_failed
    message = refusal_message(error)
    results = [
        dict(
            topic=name,
            partition_result=[dict(partition_id=i, error_code=error, error_message=message) for i in partitions],
        )
        for name, partitions in (request.topic_partitions or {}).items()
    ]
    return respond(ctx, dict(error_code=error, replica_election_results=results))


def _outcomes(results: list[dict[str, Any]]) -> str:
    done = [
        f"{entry['topic']}-{answer['partition_id']}: {ErrorCode(answer['error_code']).name}"
        for entry in results
        for answer in entry["partition_result"]
    ]
    return ", ".join(done) or "nothing to elect"
