"""Share groups (KIP-932) with librdkafka's ShareConsumer (confluent-kafka 2.16).

One broker for the module, with Kafka's record lock duration and delivery
limit set low (1 s, 3 deliveries) so that redelivery is quick; each test
has its own topic and group, started at the earliest offset through the
group's share.auto.offset.reset."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from confluent_kafka import AcknowledgeType, Producer, ShareConsumer
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic

from compat_tests import raw
from compat_tests.broker import KwireProcess

pytestmark = pytest.mark.xdist_group("share-groups")
WAIT_S = 20
SHARE_GROUP_HEARTBEAT, SHARE_FETCH, SHARE_ACKNOWLEDGE = 76, 78, 79
RENEW, ACCEPT_TYPE = 4, 1
INVALID_REQUEST = 42
REPO_ROOT = Path(__file__).resolve().parent.parent
DELIVERY_LIMIT = 3


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    directory = tmp_path_factory.mktemp("share")
    settings = [
        "group.share.record.lock.duration.ms=1000",
        "group.share.min.record.lock.duration.ms=1000",
        f"group.share.delivery.count.limit={DELIVERY_LIMIT}",
    ]
    options = [a for s in settings for a in ("-o", s)] + ["--http-port", "0"]
    process = KwireProcess(directory / "data", directory / "kwire.log", options)
    process.start()
    yield process
    process.kill()


def _setup(bootstrap: str, topic: str, group: str, count: int, **group_configs: str) -> None:
    """The topic with `count` records, and the group's configs (earliest, and any given)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(WAIT_S)
    entries = [
        ConfigEntry(name, value, incremental_operation=AlterConfigOpType.SET)
        for name, value in {"share.auto.offset.reset": "earliest", **group_configs}.items()
    ]
    resource = ConfigResource(ConfigResource.Type.GROUP, group, incremental_configs=entries)
    admin.incremental_alter_configs([resource])[resource].result(WAIT_S)
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(count):
        producer.produce(topic, f"m{i}".encode())
    assert producer.flush(WAIT_S) == 0


def _consumer(bootstrap: str, group: str, topic: str, **extra: str) -> ShareConsumer:
    consumer = ShareConsumer({"bootstrap.servers": bootstrap, "group.id": group, **extra})
    consumer.subscribe([topic])
    return consumer


def _poll(consumer: ShareConsumer, timeout: float = 0.5) -> list:
    messages = consumer.poll(timeout) or []
    assert all(m.error() is None for m in messages), [m.error() for m in messages]
    return messages


def _poll_until(consumer: ShareConsumer, done, what: str) -> list:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        messages = _poll(consumer)
        if messages and done(messages):
            return messages
    raise AssertionError(f"no {what} within {WAIT_S} s")


def test_consumers_of_one_partition_each_get_different_records(broker):
    _setup(broker.bootstrap, "share-spread", "spread", 30, **{"share.record.lock.duration.ms": "15000"})
    consumers = [_consumer(broker.bootstrap, "spread", "share-spread", **{"max.poll.records": "5"}) for _ in range(3)]
    seen: list[list[int]] = [[] for _ in consumers]
    deadline = time.monotonic() + WAIT_S
    while sum(map(len, seen)) < 30 and time.monotonic() < deadline:
        for consumer, offsets in zip(consumers, seen):
            offsets.extend(m.offset() for m in _poll(consumer, 0.2))  # accepted on the next poll (implicit mode)
    for consumer in consumers:
        consumer.close()
    every = [offset for offsets in seen for offset in offsets]
    assert sorted(every) == list(range(30))  # each record to one consumer only
    assert all(seen), seen  # and every consumer got some


def test_an_unacknowledged_record_comes_back_after_its_lock_with_a_higher_delivery_count(broker):
    _setup(broker.bootstrap, "share-lock", "lock", 2)
    holder = _consumer(broker.bootstrap, "lock", "share-lock", **{"share.acknowledgement.mode": "explicit"})
    first = _poll_until(holder, lambda ms: len(ms) == 2, "first delivery")
    assert [(m.offset(), m.delivery_count()) for m in first] == [(0, 1), (1, 1)]
    # The holder never acknowledges: once its 1 s lock ends another member gets the records.
    other = _consumer(broker.bootstrap, "lock", "share-lock", **{"share.acknowledgement.mode": "explicit"})
    again = _poll_until(other, lambda ms: len(ms) == 2, "redelivery")
    assert [(m.offset(), m.value(), m.delivery_count()) for m in again] == [(0, b"m0", 2), (1, b"m1", 2)]
    for m in again:
        other.acknowledge(m)
    other.commit_sync(WAIT_S)
    other.close()
    holder.close()


def test_reject_archives_and_release_redelivers(broker):
    _setup(broker.bootstrap, "share-acks", "acks", 2)
    consumer = _consumer(broker.bootstrap, "acks", "share-acks", **{"share.acknowledgement.mode": "explicit"})
    first = _poll_until(consumer, lambda ms: len(ms) == 2, "first delivery")
    consumer.acknowledge(first[0], AcknowledgeType.REJECT)
    consumer.acknowledge(first[1], AcknowledgeType.RELEASE)
    consumer.commit_sync(WAIT_S)
    again = _poll_until(consumer, lambda ms: True, "redelivery")
    assert [(m.offset(), m.delivery_count()) for m in again] == [(1, 2)]  # the rejected one never again
    consumer.acknowledge(again[0])
    consumer.commit_sync(WAIT_S)
    assert _poll(consumer, 1.5) == []  # everything done: nothing comes back, not even after a lock's time
    consumer.close()


def test_the_delivery_limit_stops_redelivery(broker):
    _setup(broker.bootstrap, "share-limit", "limit", 1)
    consumer = _consumer(broker.bootstrap, "limit", "share-limit", **{"share.acknowledgement.mode": "explicit"})
    counts = []
    for _ in range(DELIVERY_LIMIT):
        (message,) = _poll_until(consumer, lambda ms: True, "a delivery")
        counts.append(message.delivery_count())
        consumer.acknowledge(message, AcknowledgeType.RELEASE)
        consumer.commit_sync(WAIT_S)
    assert counts == [1, 2, 3]
    assert _poll(consumer, 1.5) == []  # archived after the third delivery
    consumer.close()


def _join(sock, group: str, member: str, topic: str):
    """A member of `group` subscribed to `topic`, over ShareGroupHeartbeat v1; its topic id."""
    joined = raw.call(
        sock,
        SHARE_GROUP_HEARTBEAT,
        1,
        dict(group_id=group, member_id=member, member_epoch=0, subscribed_topic_names=[topic]),
    )
    assert joined.error_code == 0, joined
    # As in Kafka, the topic is assigned once initialized for the group: the next heartbeat.
    again = raw.call(
        sock,
        SHARE_GROUP_HEARTBEAT,
        1,
        dict(group_id=group, member_id=member, member_epoch=joined.member_epoch, subscribed_topic_names=None),
    )
    assert again.error_code == 0 and again.assignment is not None, again
    return again.assignment.topic_partitions[0].topic_id


def _share_fetch(sock, group: str, member: str, epoch: int, topic_id, version: int = 2, acks=(), **fields):
    partition = dict(partition_index=0, acknowledgement_batches=list(acks))
    values = dict(
        group_id=group,
        member_id=member,
        share_session_epoch=epoch,
        max_wait=0,
        min_bytes=0,
        max_bytes=fields.pop("max_bytes", 1 << 20),
        max_records=fields.pop("max_records", 500),
        batch_size=fields.pop("batch_size", 500),
        topics=[dict(topic_id=topic_id, partitions=[partition])],
        forgotten_topics_data=[],
        **fields,
    )
    return raw.call(sock, SHARE_FETCH, version, values)


def _acquired(response) -> list[tuple[int, int, int]]:
    return [
        (a.first_offset, a.last_offset, a.delivery_count)
        for topic in response.responses
        for p in topic.partitions
        for a in p.acquired_records
    ]


def test_share_fetch_v2_record_limit_batch_size_and_renewals_over_raw_protocol(broker):
    """KIP-1206 and KIP-1222 at the bytes: record-limit acquires exactly
    MaxRecords, batch-optimized cuts ranges at BatchSize, RENEW keeps a
    record acquired by its member and needs IsRenewAck with zero fetch
    parameters; ShareAcknowledge v2 answers the lock duration."""
    _setup(broker.bootstrap, "share-v2", "v2", 10, **{"share.record.lock.duration.ms": "15000"})
    sock = raw.connect(broker.bootstrap)
    topic_id = _join(sock, "v2", "member-a", "share-v2")
    first = _share_fetch(sock, "v2", "member-a", 0, topic_id, max_records=3, share_acquire_mode=1)
    assert (first.error_code, first.acquisition_lock_timeout.total_seconds()) == (0, 15)
    assert _acquired(first) == [(0, 2, 1)]
    cut = _share_fetch(sock, "v2", "member-a", 1, topic_id, max_records=5, batch_size=2)
    assert _acquired(cut) == [(3, 4, 1), (5, 6, 1), (7, 7, 1)]
    renew_batch = dict(first_offset=0, last_offset=2, acknowledge_types=[RENEW])
    # RENEW without IsRenewAck: refused for the partition, nothing changed.
    unflagged = _share_fetch(sock, "v2", "member-a", 2, topic_id, acks=[renew_batch], max_records=0)
    assert unflagged.responses[0].partitions[0].acknowledge_error_code == INVALID_REQUEST
    # IsRenewAck with fetch parameters: the whole request is refused.
    fetching = _share_fetch(sock, "v2", "member-a", 3, topic_id, acks=[renew_batch], is_renew_ack=True)
    assert fetching.error_code == INVALID_REQUEST
    renewed = _share_fetch(
        sock,
        "v2",
        "member-a",
        3,
        topic_id,
        acks=[renew_batch],
        is_renew_ack=True,
        max_records=0,
        max_bytes=0,
        batch_size=0,
    )
    assert (renewed.error_code, renewed.responses[0].partitions[0].acknowledge_error_code) == (0, 0)
    assert _acquired(renewed) == []  # a renewal fetches nothing
    accepted = raw.call(
        sock,
        SHARE_ACKNOWLEDGE,
        2,
        dict(
            group_id="v2",
            member_id="member-a",
            share_session_epoch=4,
            is_renew_ack=False,
            topics=[
                dict(
                    topic_id=topic_id,
                    partitions=[
                        dict(
                            partition_index=0,
                            acknowledgement_batches=[
                                dict(first_offset=0, last_offset=7, acknowledge_types=[ACCEPT_TYPE])
                            ],
                        )
                    ],
                )
            ],
        ),
    )
    assert accepted.error_code == 0 and accepted.acquisition_lock_timeout.total_seconds() == 15
    assert accepted.responses[0].partitions[0].error_code == 0  # the renewed records were still the member's
    bad_mode = _share_fetch(sock, "v2", "member-a", 5, topic_id, share_acquire_mode=7)
    assert bad_mode.error_code == INVALID_REQUEST
    closed = _share_fetch(sock, "v2", "member-a", -1, topic_id, max_records=0)
    assert closed.error_code == 0


def _kwire_run(broker, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kwire", *args, "--bootstrap-server", broker.bootstrap],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )


def _kwire(broker, *args: str) -> str:
    result = _kwire_run(broker, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_cli_shows_share_groups_their_members_and_start_offsets(broker):
    _setup(broker.bootstrap, "share-cli", "cli", 3, **{"share.record.lock.duration.ms": "15000"})
    consumer = _consumer(broker.bootstrap, "cli", "share-cli", **{"share.acknowledgement.mode": "explicit"})
    first = _poll_until(consumer, lambda ms: len(ms) == 3, "first delivery")
    consumer.acknowledge(first[0])
    consumer.commit_sync(WAIT_S)
    # The in-flight records, live from the node's HTTP port: offset 0 is done
    # (below the start offset), 1-2 are held by the consumer under a lock.
    http = f"127.0.0.1:{broker.http_port}"
    in_flight = json.loads(
        _kwire(broker, "share-groups", "describe", "--group", "cli", "--in-flight", "--http", http, "--output", "json")
    )
    ((partition,),) = [in_flight["partitions"]]
    assert (partition["topic"], partition["start_offset"], partition["end_offset"]) == ("share-cli", 1, 3)
    ((held,),) = [partition["records"]]
    assert (held["first_offset"], held["last_offset"], held["state"], held["delivery_count"]) == (1, 2, "acquired", 1)
    assert held["member_id"] == in_flight["members"][0]["member_id"]
    assert 0 < held["lock_remaining_ms"] <= 15000
    table = _kwire(broker, "share-groups", "describe", "--group", "cli", "--in-flight", "--http", http)
    assert "1-2" in table and "acquired" in table
    with urllib.request.urlopen(f"http://{http}/groups/cli", timeout=WAIT_S) as page:
        html = page.read().decode()
    assert "In-flight records" in html and "acquired" in html
    refused = _kwire_run(broker, "share-groups", "delete", "--group", "cli")
    assert refused.returncode == 1 and "NON_EMPTY_GROUP" in refused.stdout
    assert "cli" in _kwire(broker, "share-groups", "list").split()
    assert "cli" in _kwire(broker, "groups", "list").split()  # ListGroups lists every type
    (member,) = json.loads(
        _kwire(broker, "share-groups", "describe", "--group", "cli", "--members", "--output", "json")
    )
    assert member["assignment"] == "share-cli:0"
    offsets = json.loads(_kwire(broker, "share-groups", "describe", "--group", "cli", "--output", "json"))
    assert offsets == [dict(group="cli", topic="share-cli", partition=0, start_offset=1, lag=2)]
    consumer.close()
    # Empty now: its start offsets may be reset, and it may forget the topic.
    reset = ["share-groups", "reset-offsets", "--group", "cli", "--topic", "share-cli", "--to-latest"]
    assert json.loads(_kwire(broker, *reset, "--execute", "--output", "json"))[0]["start_offset"] == 3
    offsets = json.loads(_kwire(broker, "share-groups", "describe", "--group", "cli", "--output", "json"))
    assert [(o["start_offset"], o["lag"]) for o in offsets] == [(3, 0)]
    _kwire(broker, "share-groups", "delete-offsets", "--group", "cli", "--topic", "share-cli")
    assert json.loads(_kwire(broker, "share-groups", "describe", "--group", "cli", "--output", "json")) == []


def test_share_state_survives_a_restart(broker):
    """Acknowledged and rejected records stay done, released ones keep their
    delivery counts: the state is in __share_group_state (last test: it restarts the module's broker)."""
    _setup(broker.bootstrap, "share-restart", "restart", 4)
    consumer = _consumer(broker.bootstrap, "restart", "share-restart", **{"share.acknowledgement.mode": "explicit"})
    first = _poll_until(consumer, lambda ms: len(ms) == 4, "first delivery")
    consumer.acknowledge(first[0], AcknowledgeType.ACCEPT)
    consumer.acknowledge(first[1], AcknowledgeType.REJECT)
    consumer.acknowledge(first[2], AcknowledgeType.RELEASE)
    consumer.commit_sync(WAIT_S)
    consumer.close()  # offset 3 was never acknowledged: closing the session releases it
    # A deleted share group stays deleted: its state is tombstoned in __share_group_state.
    _setup(broker.bootstrap, "share-doomed", "doomed", 1)
    doomed = _consumer(broker.bootstrap, "doomed", "share-doomed")
    _poll_until(doomed, lambda ms: True, "a delivery to the doomed group")
    doomed.close()
    assert "successful" in _kwire(broker, "share-groups", "delete", "--group", "doomed")
    assert "doomed" not in _kwire(broker, "share-groups", "list").split()
    broker.restart()
    assert "doomed" not in _kwire(broker, "share-groups", "list").split()
    after = _consumer(broker.bootstrap, "restart", "share-restart", **{"share.acknowledgement.mode": "explicit"})
    again = _poll_until(after, lambda ms: True, "delivery after the restart")
    assert [(m.offset(), m.delivery_count()) for m in again] == [(2, 2), (3, 2)]
    for m in again:
        after.acknowledge(m)
    after.commit_sync(WAIT_S)
    after.close()
