"""Request bodies (as dicts for kio_build) used across handler tests."""

from kwire.protocol.record_codec import Record, build_batch


def metadata(*names, auto=True) -> dict:
    topics = None if names == (None,) else [dict(name=n, topic_id=None) for n in names]
    return dict(
        topics=topics,
        allow_auto_topic_creation=auto,
        include_topic_authorized_operations=False,
        include_cluster_authorized_operations=False,
    )


def create(name, partitions=1, replication=1, configs=None, assignments=(), validate_only=False) -> dict:
    return dict(
        topics=[
            dict(
                name=name,
                num_partitions=partitions,
                replication_factor=replication,
                assignments=list(assignments),
                configs=[dict(name=k, value=v) for k, v in (configs or {}).items()],
            )
        ],
        timeout=1000,
        validate_only=validate_only,
    )


def batch(*values, timestamp=1_000, key_prefix=b"k") -> bytes:
    records = [
        Record(offset_delta=i, timestamp_delta=i, key=key_prefix + b"%d" % i, value=v, headers=())
        for i, v in enumerate(values)
    ]
    return bytes(build_batch(records, base_timestamp=timestamp))


def produce(topic, partition, records, acks=-1) -> dict:
    return dict(
        transactional_id=None,
        acks=acks,
        timeout=1000,
        topic_data=[dict(name=topic, partition_data=[dict(index=partition, records=records)])],
    )


def fetch(
    topic,
    partition,
    offset,
    *,
    max_wait_ms=0,
    min_bytes=1,
    partition_max_bytes=1 << 20,
    max_bytes=50 << 20,
    topic_id=None,
    session_id=0,
    session_epoch=-1,
) -> dict:
    partitions = [
        dict(
            partition=partition,
            current_leader_epoch=-1,
            fetch_offset=offset,
            last_fetched_epoch=-1,
            log_start_offset=-1,
            partition_max_bytes=partition_max_bytes,
        )
    ]
    topic_entry = dict(topic=topic, topic_id=topic_id, partitions=partitions)
    return dict(
        replica_id=-1,
        max_wait=max_wait_ms,
        min_bytes=min_bytes,
        max_bytes=max_bytes,
        isolation_level=0,
        session_id=session_id,
        session_epoch=session_epoch,
        rack_id="",
        forgotten_topics_data=[],
        topics=[topic_entry],
    )


def list_offsets(topic, partition, timestamp) -> dict:
    return dict(
        replica_id=-1,
        isolation_level=0,
        timeout=1000,
        topics=[
            dict(
                name=topic,
                partitions=[
                    dict(partition_index=partition, current_leader_epoch=-1, timestamp=timestamp, max_num_offsets=1)
                ],
            )
        ],
    )


def offset_commit(group, topic, partition, offset) -> dict:
    """OffsetCommit (v8 field names) of one partition, outside any generation."""
    entry = dict(
        partition_index=partition,
        committed_offset=offset,
        committed_leader_epoch=-1,
        committed_metadata="",
        commit_timestamp=-1,
    )
    return dict(
        group_id=group,
        generation_id_or_member_epoch=-1,
        member_id="",
        group_instance_id=None,
        retention_time=-1,
        topics=[dict(name=topic, topic_id=None, partitions=[entry])],
    )
