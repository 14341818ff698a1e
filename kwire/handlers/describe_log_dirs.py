"""DescribeLogDirs: each log directory with its partitions and their sizes,
and the disk's total and usable bytes; AlterReplicaLogDirs: move partitions
between the log directories (`log.dirs`)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from kwire.handlers.base import RequestContext, respond
from kwire.log.files import future_dir_name
from kwire.log.storage_errors import StorageError
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode, KafkaError
from kwire.protocol.registry import api
from kwire.security.resources import AclOperation

log = logging.getLogger("kwire.cluster")

_UNKNOWN_VOLUME_BYTES = -1
_UNIQUE_ID = "0" * 32  # as long as the unique id of a future directory's name
_MAX_DIR_NAME = 255
MEMORY_LOG_DIR = "(memory)"


# v0 went in Kafka 4.0 (KIP-896), as in kio.
@api(ApiKey.DESCRIBE_LOG_DIRS, 1, 4)
def handle_describe_log_dirs(ctx: RequestContext, request: Any) -> Any:
    cluster = ctx.state.cluster
    if not ctx.allowed_on_cluster(AclOperation.DESCRIBE):  # as Kafka: DESCRIBE on the cluster
        return respond(ctx, dict(error_code=ErrorCode.cluster_authorization_failed, results=[]))
    if request.topics is None:
        wanted = {name: range(len(topic.partitions)) for name, topic in cluster.topics.items()}
    else:
        wanted = {entry.topic: entry.partitions for entry in request.topics}
    # log dir -> topic -> its partitions' entries (in memory: one "(memory)" dir)
    by_dir: dict[Path | None, dict[str, list[dict[str, Any]]]] = {log_dir: {} for log_dir in cluster.log_dirs}
    if not cluster.log_dirs:
        by_dir[None] = {}
    for name, indexes in wanted.items():
        topic = cluster.get(name)
        if topic is None:
            continue
        for i in indexes:
            if not 0 <= i < len(topic.partitions) or topic.partitions[i].replica is None:
                continue  # (a partition this node holds no replica of is in no directory of its)
            partition = topic.partitions[i]
            log_dir = cluster.log_dir_of(partition) if cluster.log_dirs else None
            entry = dict(
                partition_index=i, partition_size=partition.log.size_bytes(), offset_lag=0, is_future_key=False
            )
            by_dir.setdefault(log_dir, {}).setdefault(name, []).append(entry)
            target = cluster.pending_moves.get((name, i))
            if target is not None:  # a move waiting for the cleaner: the future replica has nothing yet
                future = dict(
                    partition_index=i, partition_size=0, offset_lag=partition.log.log_end_offset, is_future_key=True
                )
                by_dir.setdefault(target, {}).setdefault(name, []).append(future)
    results = []
    for log_dir, topics in by_dir.items():
        total = usable = _UNKNOWN_VOLUME_BYTES
        if log_dir is not None:
            try:
                usage = shutil.disk_usage(log_dir)
                total, usable = usage.total, usage.free
            except OSError:
                pass
        results.append(
            dict(
                error_code=ErrorCode.none,
                log_dir=cluster.log_dir_path(log_dir) if log_dir is not None else MEMORY_LOG_DIR,
                topics=[dict(name=name, partitions=partitions) for name, partitions in topics.items()],
                total_bytes=total,
                usable_bytes=usable,
            )
        )
    return respond(ctx, dict(error_code=ErrorCode.none, results=results))


# v0 went in Kafka 4.0 (KIP-896), as in kio.
@api(ApiKey.ALTER_REPLICA_LOG_DIRS, 1, 2)
def handle_alter_replica_log_dirs(ctx: RequestContext, request: Any) -> Any:
    cluster = ctx.state.cluster
    results: dict[str, list[dict[str, Any]]] = {}
    if not ctx.allowed_on_cluster(AclOperation.ALTER):  # as Kafka: ALTER on the cluster, every partition refused
        topics = [
            dict(
                topic_name=entry.name,
                partitions=[
                    dict(partition_index=i, error_code=ErrorCode.cluster_authorization_failed) for i in entry.partitions
                ],
            )
            for directory in request.dirs
            for entry in directory.topics
        ]
        return respond(ctx, dict(throttle_time_ms=0, results=topics))
    for directory in request.dirs:
        log_dir = cluster.find_log_dir(directory.path) if cluster.log_dirs else None
        for entry in directory.topics:
            answers = results.setdefault(entry.name, [])
            for index in entry.partitions:
                error = ErrorCode.none
                # Kafka checks the directory first (absolute paths compared), then the partition.
                if len(future_dir_name(entry.name, index, _UNIQUE_ID)) > _MAX_DIR_NAME:
                    error = ErrorCode.invalid_topic_exception  # (Kafka: "The topic name is too long.")
                elif log_dir is None:
                    error = ErrorCode.log_dir_not_found
                elif cluster.partition(entry.name, index) is None:
                    error = ErrorCode.unknown_topic_or_partition
                else:
                    try:
                        cluster.move_partition(entry.name, index, log_dir)
                    except KafkaError as exc:
                        error = exc.error_code
                    except StorageError as exc:
                        log.error("Could not move %s-%d to %s: %s", entry.name, index, log_dir, exc)
                        error = ErrorCode.kafka_storage_error
                answers.append(dict(partition_index=index, error_code=error))
    topics = [dict(topic_name=name, partitions=partitions) for name, partitions in results.items()]
    return respond(ctx, dict(throttle_time_ms=0, results=topics))
