"""DeleteRecords: move partitions' log start offsets (low watermarks) up."""

from __future__ import annotations

from typing import Any

from kwire.handlers.authorization import refused_names
from kwire.handlers.base import RequestContext, log_admin_change, note_result_errors, outcome, respond
from kwire.log import OffsetOutOfRange
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode
from kwire.protocol.registry import api
from kwire.security.resources import AclOperation, ResourceType


@api(ApiKey.DELETE_RECORDS, 0, 2)
def handle_delete_records(ctx: RequestContext, request: Any) -> Any:
    cluster = ctx.state.cluster
    # As Kafka: DELETE on each topic.
    refused = refused_names(ctx, AclOperation.DELETE, ResourceType.TOPIC, (t.name for t in request.topics))
    topics = []
    for entry in request.topics:
        topic = cluster.get(entry.name)
        results = []
        for part in entry.partitions:
            low_watermark, error = -1, ErrorCode.none
            if refused and entry.name in refused:
                error = ErrorCode.topic_authorization_failed
            elif topic is None or not 0 <= part.partition_index < len(topic.partitions):
                error = ErrorCode.unknown_topic_or_partition
            elif topic.is_internal:
                error = ErrorCode.invalid_topic_exception  # Kafka refuses internal topics too
            elif not cluster.leads(entry.name, part.partition_index):
                error = ErrorCode.not_leader_or_follower  # (the admin client asks the leader)
            elif part.offset < -1:
                error = ErrorCode.offset_out_of_range
            else:
                try:
                    low_watermark = cluster.delete_records(entry.name, part.partition_index, part.offset)
                except OffsetOutOfRange:
                    error = ErrorCode.offset_out_of_range
            results.append(dict(partition_index=part.partition_index, low_watermark=low_watermark, error_code=error))
        topics.append(dict(name=entry.name, partitions=results))
    outcomes = ", ".join(
        f"{t['name']}-{p['partition_index']}: " + outcome(p["error_code"], done=f"log start {p['low_watermark']}")
        for t in topics
        for p in t["partitions"]
    )
    note_result_errors(
        ctx, [dict(p, name=f"{t['name']}-{p['partition_index']}") for t in topics for p in t["partitions"]]
    )
    log_admin_change(ctx, outcomes, topics=[t["name"] for t in topics])
    return respond(ctx, dict(topics=topics))
