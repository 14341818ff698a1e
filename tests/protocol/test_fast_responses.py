"""The hand-written encoders must produce exactly kio's bytes, every version."""

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st
from kio.index import load_response_schema
from kio.serial import entity_reader

import kwire.protocol  # noqa: F401
from kwire.protocol.fast_responses import (
    FetchPartitionResult,
    FetchTopicResult,
    NodeEndpoint,
    ProducePartitionResult,
    ProduceTopicResult,
    encode_fetch_response,
    encode_produce_response,
)
from kwire.protocol.kio_build import build, encode

names = st.text(min_size=1, max_size=30)
int32 = st.integers(-(2**31), 2**31 - 1)
int64 = st.integers(-(2**63), 2**63 - 1)
errors = st.sampled_from([0, 1, 2, 3, 10, 87, 100])
uuids = st.uuids()

produce_partitions = st.builds(
    ProducePartitionResult,
    index=int32,
    error_code=errors,
    base_offset=int64,
    log_append_time_ms=st.just(-1) | st.integers(0, 2**42),
    log_start_offset=int64,
    error_message=st.none() | st.text(max_size=20),
    record_errors=st.lists(st.tuples(int32, st.none() | st.text(max_size=20)), max_size=3).map(tuple),
    current_leader=st.none() | st.tuples(int32, int32),
)
node_endpoints = st.lists(
    st.builds(NodeEndpoint, node_id=int32, host=names, port=int32, rack=st.none() | st.text(max_size=10)), max_size=3
).map(tuple)
produce_topics = st.builds(
    ProduceTopicResult, name=names, topic_id=uuids, partitions=st.lists(produce_partitions, max_size=3)
)


@settings(max_examples=60, deadline=None)
@given(
    version=st.integers(3, 13),
    topics=st.lists(produce_topics, max_size=3),
    throttle=st.integers(0, 2**31 - 1),
    endpoints=node_endpoints,
)
def test_produce_response_matches_kio(version, topics, throttle, endpoints):
    """Byte for byte, record_errors (KIP-467, v8+) and KIP-951's current leader
    and node endpoints (v10+) included; older versions drop them as Kafka does."""
    schema = load_response_schema(0, version)
    leaders = version >= 10
    expected = build(
        schema,
        dict(
            throttle_time=throttle,
            node_endpoints=[e._asdict() for e in endpoints] if leaders else [],
            responses=[
                dict(
                    name=t.name,
                    topic_id=t.topic_id,
                    partition_responses=[
                        dict(
                            index=p.index,
                            error_code=p.error_code,
                            base_offset=p.base_offset,
                            log_append_time=p.log_append_time_ms,
                            log_start_offset=p.log_start_offset,
                            error_message=p.error_message,
                            record_errors=[
                                dict(batch_index=i, batch_index_error_message=m) for i, m in p.record_errors
                            ],
                            current_leader=dict(
                                leader_id=p.current_leader[0] if leaders and p.current_leader else -1,
                                leader_epoch=p.current_leader[1] if leaders and p.current_leader else -1,
                            ),
                        )
                        for p in t.partitions
                    ],
                )
                for t in topics
            ],
        ),
    )
    ours = encode_produce_response(version, topics, throttle, endpoints)
    assert ours == encode(expected)
    decoded, size = entity_reader(schema)(ours, 0)
    assert size == len(ours)
    assert decoded == expected


def test_produce_record_errors_reach_a_v8_reader():
    """The KIP-467 fields a client reads: which records failed and why."""
    partition = ProducePartitionResult(0, 87, -1, -1, 0, "2 records failed", ((1, "no key"), (4, None)))
    for version in (8, 9, 13):
        schema = load_response_schema(0, version)
        encoded = encode_produce_response(version, [ProduceTopicResult("t", uuid.uuid4(), [partition])])
        decoded, _ = entity_reader(schema)(encoded, 0)
        (answer,) = decoded.responses[0].partition_responses
        assert [(e.batch_index, e.batch_index_error_message) for e in answer.record_errors] == [
            (1, "no key"),
            (4, None),
        ]
        assert answer.error_message == "2 records failed"


chunk_lists = st.lists(st.binary(min_size=1, max_size=40), max_size=3)
fetch_partitions = st.builds(
    FetchPartitionResult,
    partition_index=int32,
    error_code=errors,
    high_watermark=int64,
    last_stable_offset=int64,
    log_start_offset=int64,
    aborted_transactions=st.none() | st.lists(st.tuples(int64, int64), max_size=2),
    records=chunk_lists,
    preferred_read_replica=int32,
    current_leader=st.none() | st.tuples(int32, int32),
)
fetch_topics = st.builds(
    FetchTopicResult, name=names, topic_id=uuids, partitions=st.lists(fetch_partitions, max_size=3)
)


@settings(max_examples=80, deadline=None)
@given(
    version=st.integers(4, 18),
    topics=st.lists(fetch_topics, max_size=3),
    throttle=st.integers(0, 2**31 - 1),
    error=errors,
    session=int32,
    endpoints=node_endpoints,
)
def test_fetch_response_matches_kio(version, topics, throttle, error, session, endpoints):
    schema = load_response_schema(1, version)
    leaders = version >= 12
    expected = build(
        schema,
        dict(
            node_endpoints=[e._asdict() for e in endpoints] if version >= 16 else [],
            throttle_time=throttle,
            error_code=error,
            session_id=session,
            responses=[
                dict(
                    topic=t.name,
                    topic_id=t.topic_id,
                    partitions=[
                        dict(
                            partition_index=p.partition_index,
                            error_code=p.error_code,
                            high_watermark=p.high_watermark,
                            last_stable_offset=p.last_stable_offset,
                            log_start_offset=p.log_start_offset,
                            aborted_transactions=None
                            if p.aborted_transactions is None
                            else [dict(producer_id=a, first_offset=b) for a, b in p.aborted_transactions],
                            preferred_read_replica=p.preferred_read_replica,
                            records=b"".join(p.records),
                            current_leader=dict(
                                leader_id=p.current_leader[0] if leaders and p.current_leader else -1,
                                leader_epoch=p.current_leader[1] if leaders and p.current_leader else -1,
                            ),
                        )
                        for p in t.partitions
                    ],
                )
                for t in topics
            ],
        ),
    )
    parts = encode_fetch_response(
        version, topics, throttle_time_ms=throttle, error_code=error, session_id=session, node_endpoints=endpoints
    )
    ours = b"".join(bytes(p) for p in parts)
    assert ours == encode(expected)
    decoded, _ = entity_reader(schema)(ours, 0)
    assert decoded == expected


def test_fetch_record_chunks_are_passed_through_not_copied():
    chunk = bytearray(b"x" * 100)
    topic = FetchTopicResult("t", uuid.uuid4(), [FetchPartitionResult(0, 0, 1, 1, 0, None, [chunk])])
    parts = encode_fetch_response(12, [topic])
    assert any(part is chunk for part in parts)
