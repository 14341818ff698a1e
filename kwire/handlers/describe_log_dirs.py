"""DescribeLogDirs: the one log directory and each partition's size."""

from __future__ import annotations

import shutil
from typing import Any

from kwire.handlers.base import RequestContext, respond
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode
from kwire.protocol.registry import api

_UNKNOWN_VOLUME_BYTES = -1
MEMORY_LOG_DIR = "(memory)"


# v0 went in Kafka 4.0 (KIP-896), as in kio.
@api(ApiKey.DESCRIBE_LOG_DIRS, 1, 4)
def handle_describe_log_dirs(ctx: RequestContext, request: Any) -> Any:
    state = ctx.state
    cluster = state.cluster
    if request.topics is None:
        wanted = {name: range(len(topic.partitions)) for name, topic in cluster.topics.items()}
    else:
        wanted = {entry.topic: entry.partitions for entry in request.topics}
    topics = []
    for name, indexes in wanted.items():
        topic = cluster.get(name)
        if topic is None:
            continue
        partitions = [
            dict(
                partition_index=i,
                partition_size=topic.partitions[i].log.size_bytes(),
                offset_lag=0,
                is_future_key=False,
            )
            for i in indexes
            if 0 <= i < len(topic.partitions)
        ]
        topics.append(dict(name=name, partitions=partitions))
    data_dir = state.config.data_dir
    total = usable = _UNKNOWN_VOLUME_BYTES
    if data_dir is not None:
        usage = shutil.disk_usage(data_dir)
        total, usable = usage.total, usage.free
    result = dict(
        error_code=ErrorCode.none,
        log_dir=str(data_dir.resolve()) if data_dir else MEMORY_LOG_DIR,
        topics=topics,
        total_bytes=total,
        usable_bytes=usable,
    )
    return respond(ctx, dict(error_code=ErrorCode.none, results=[result]))
