"""Hostile or malformed input closes that one connection (or gets Kafka's
error code) while real clients on the same broker carry on."""

import struct

import pytest

from compat_tests.clients import Outgoing, Reader, consume, create_topic, produce
from compat_tests.raw import call, closed_by_peer, connect
from kwire.protocol.record_codec import Record, build_batch
from tests.wire import request_frame


def frame(body: bytes) -> bytes:
    return struct.pack(">i", len(body)) + body


def header(api_key: int, version: int, correlation_id: int = 7) -> bytes:
    return struct.pack(">hhih", api_key, version, correlation_id, 3) + b"bad"


HOSTILE = {
    "unparseable body": frame(header(3, 12) + b"\x00" + b"\xff" * 9),
    "negative size": struct.pack(">i", -5) + b"abc",
    "size over socket.request.max.bytes": struct.pack(">i", 200 * 1024 * 1024) + b"x" * 100,
    "unknown api key": frame(header(9999, 0) + b"whatever"),
    "unsupported version": frame(header(3, 99) + b"\x00\x00"),
    "produce v2 (listed for librdkafka, refused as Kafka 4 does)": frame(header(0, 2) + b"\x00" * 20),
    "garbage": b"\x13\x37" * 50,
    "frame shorter than a header": frame(b"\x00\x03"),
    "truncated JoinGroup": frame(header(11, 5) + b"\x00\x01g\x00\x00\x27"),
    "OffsetCommit with a negative array length": frame(
        header(8, 8) + b"\x00\x01g\xff\xff\xff\xff\x00\x00\x00\x00\x80\x00\x00\x00"
    ),
}


def still_serves(bootstrap: str, topic: str) -> None:
    produce("confluent-kafka", bootstrap, topic, [Outgoing(key=b"k", value=b"still here", partition=0)])
    assert consume("kafka-python", bootstrap, topic, [0], 1, timeout=10)[-1].value == b"still here"


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_frame_closes_only_its_connection(shared_kwire, topic_name, name):
    bootstrap = shared_kwire.bootstrap
    create_topic("confluent-kafka", bootstrap, topic_name, 1)
    bystander = connect(bootstrap)  # an idle connection that must survive
    sock = connect(bootstrap)
    sock.sendall(HOSTILE[name])
    if name == "garbage":
        sock.shutdown(1)  # garbage may read as a huge size prefix: close our side
    assert closed_by_peer(sock)
    assert shared_kwire.alive()
    still_serves(bootstrap, topic_name)
    response = call(bystander, 18, 0, {})
    assert response.error_code == 0


def test_truncated_frame_then_close(shared_kwire, topic_name):
    create_topic("kafka-python", shared_kwire.bootstrap, topic_name, 1)
    sock = connect(shared_kwire.bootstrap)
    whole = request_frame(
        3, 12, dict(topics=None, allow_auto_topic_creation=False, include_topic_authorized_operations=False)
    )
    sock.sendall(whole[: len(whole) // 2])
    sock.close()
    still_serves(shared_kwire.bootstrap, topic_name)


def produce_raw(bootstrap, topic, records: bytes, version=7, transactional_id=None):
    sock = connect(bootstrap)
    try:
        values = dict(
            transactional_id=transactional_id,
            acks=-1,
            timeout=5000,
            topic_data=[dict(name=topic, partition_data=[dict(index=0, records=records)])],
        )
        return call(sock, 0, version, values).responses[0].partition_responses[0]
    finally:
        sock.close()


def a_batch(value=b"v") -> bytearray:
    return build_batch([Record(0, 0, b"k", value)], base_timestamp=1)


@pytest.mark.parametrize("version", [3, 7, 9])
def test_corrupt_crc_is_corrupt_message_and_nothing_is_stored(shared_kwire, topic_name, version):
    create_topic("aiokafka", shared_kwire.bootstrap, topic_name, 1)
    batch = a_batch()
    batch[-1] ^= 0x55
    result = produce_raw(shared_kwire.bootstrap, topic_name, bytes(batch), version)
    assert result.error_code == 2  # CORRUPT_MESSAGE
    with Reader("confluent-kafka", shared_kwire.bootstrap).assign(topic_name, [0]) as reader:
        assert reader.poll_to_end() == []


def test_batch_over_max_message_bytes(start_kwire):
    broker = start_kwire("-o", "message.max.bytes=5000", memory=True)
    create_topic("kafka-python", broker.bootstrap, "small", 1)
    assert produce_raw(broker.bootstrap, "small", bytes(a_batch(b"x" * 10_000))).error_code == 10  # MESSAGE_TOO_LARGE
    assert produce_raw(broker.bootstrap, "small", bytes(a_batch(b"x" * 100))).error_code == 0


def test_magic_one_batch_is_invalid_record(shared_kwire, topic_name):
    create_topic("kafka-python", shared_kwire.bootstrap, topic_name, 1)
    batch = a_batch()
    batch[16] = 1
    assert produce_raw(shared_kwire.bootstrap, topic_name, bytes(batch)).error_code == 87  # INVALID_RECORD


@pytest.mark.parametrize("commit", [True, False])
def test_a_client_cannot_forge_transaction_markers(shared_kwire, topic_name, commit):
    from kwire.protocol.control_batches import build_marker

    create_topic("kafka-python", shared_kwire.bootstrap, topic_name, 1)
    forged = build_marker(producer_id=0, producer_epoch=0, commit=commit, timestamp_ms=1)
    # Sent under a transactional id, so that it reaches record validation
    # (without one Kafka refuses any transactional batch first: 53).
    refused = produce_raw(shared_kwire.bootstrap, topic_name, bytes(forged), transactional_id="forger")
    assert refused.error_code == 87  # INVALID_RECORD
    assert produce_raw(shared_kwire.bootstrap, topic_name, bytes(a_batch(b"after"))).error_code == 0
    for reader in ("confluent-kafka", "aiokafka"):
        got = consume(reader, shared_kwire.bootstrap, topic_name, [0], 1)
        assert [(m.offset, m.value) for m in got] == [(0, b"after")], reader


def test_api_versions_raw(shared_kwire):
    sock = connect(shared_kwire.bootstrap)
    try:
        v0 = call(sock, 18, 0, {})
        v3 = call(sock, 18, 3, dict(client_software_name="raw", client_software_version="1.0"), correlation_id=2)
        for response in (v0, v3):
            keys = {k.api_key: (k.min_version, k.max_version) for k in response.api_keys}
            assert keys[0] == (0, 13) and keys[1][1] >= 12 and keys[3][1] >= 12
        sock.sendall(frame(header(18, 99, correlation_id=3) + b"\x00"))
        from compat_tests.raw import read_frame

        payload = read_frame(sock)
        correlation, error, count = struct.unpack_from(">ihi", payload)
        assert (correlation, error, count) == (3, 35, 1)  # UNSUPPORTED_VERSION, v0 body
    finally:
        sock.close()


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_a_member_that_vanishes_mid_rebalance_does_not_block_the_group(start_kwire, topic_name, client):
    """A raw member joins, becomes leader and disappears without a SyncGroup:
    its session runs out and a real consumer then gets every partition."""
    from compat_tests.group_consumers import GroupConsumer, wait_settled

    broker = start_kwire("-o", "group.min.session.timeout.ms=1000", memory=True)
    create_topic("confluent-kafka", broker.bootstrap, topic_name, 2)
    ghost = connect(broker.bootstrap)
    join = dict(
        group_id="haunted",
        session_timeout=1000,
        rebalance_timeout=1000,
        member_id="",
        group_instance_id=None,
        protocol_type="consumer",
        protocols=[dict(name="range", metadata=b"")],
        reason=None,
    )
    first = call(ghost, 11, 5, join)
    assert first.error_code == 79  # MEMBER_ID_REQUIRED
    joined = call(ghost, 11, 5, dict(join, member_id=first.member_id), correlation_id=2)
    assert joined.leader == joined.member_id
    ghost.close()
    consumer = GroupConsumer(client, broker.bootstrap, "haunted", topic_name)
    try:
        wait_settled([consumer], 2)
    finally:
        consumer.stop()
