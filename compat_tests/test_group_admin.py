"""Admin operations on consumer groups through each client's admin API:
list, describe, committed offsets, alter/delete offsets, remove members,
delete groups."""

from __future__ import annotations

import asyncio

import pytest

from compat_tests.clients import create_topic
from compat_tests.group_consumers import GroupConsumer, wait_for, wait_settled
from compat_tests.test_groups import FAST_SESSIONS, produce_spread

GROUP = "admin-group"
TIMEOUT_S = 20
SESSION_MS = 2000  # how long a closed static member stays in the group


@pytest.fixture
def live_group(start_kwire, topic_name):
    """A group with one live (static) member that has consumed and committed
    20 messages from each of 2 partitions."""
    broker = start_kwire(*FAST_SESSIONS, memory=True)
    create_topic("confluent-kafka", broker.bootstrap, topic_name, partitions=2)
    produced = produce_spread(broker, topic_name, 2, 40)
    member = GroupConsumer(
        "confluent-kafka", broker.bootstrap, GROUP, topic_name, instance_id="worker-1", session_ms=SESSION_MS
    )
    try:
        wait_settled([member], 2)
        wait_for(lambda: member.offsets_seen() >= produced, "the member to read everything")
        assert member.commit() == {0: 20, 1: 20}
        yield broker, topic_name, member
    finally:
        member.stop()


def test_confluent_admin(live_group):
    from confluent_kafka import ConsumerGroupState, ConsumerGroupTopicPartitions, KafkaException, TopicPartition
    from confluent_kafka.admin import AdminClient

    broker, topic, member = live_group
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    listed = admin.list_consumer_groups(request_timeout=10).result(TIMEOUT_S)
    assert [(g.group_id, g.state) for g in listed.valid] == [(GROUP, ConsumerGroupState.STABLE)]
    stable_only = admin.list_consumer_groups(states={ConsumerGroupState.EMPTY}).result(TIMEOUT_S)
    assert stable_only.valid == []

    described = admin.describe_consumer_groups([GROUP])[GROUP].result(TIMEOUT_S)
    assert described.state == ConsumerGroupState.STABLE
    assert described.partition_assignor == "range"
    (only,) = described.members
    assert only.group_instance_id == "worker-1"
    assert sorted(tp.partition for tp in only.assignment.topic_partitions) == [0, 1]

    request = [ConsumerGroupTopicPartitions(GROUP)]
    offsets = admin.list_consumer_group_offsets(request)[GROUP].result(TIMEOUT_S)
    assert sorted((tp.topic, tp.partition, tp.offset) for tp in offsets.topic_partitions) == [
        (topic, 0, 20),
        (topic, 1, 20),
    ]

    with pytest.raises(KafkaException, match="NON_EMPTY_GROUP"):
        admin.delete_consumer_groups([GROUP])[GROUP].result(TIMEOUT_S)
    member.close()  # a static member does not leave on close: its session must run out
    wait_for(
        lambda: admin.describe_consumer_groups([GROUP])[GROUP].result(TIMEOUT_S).state == ConsumerGroupState.EMPTY,
        "the group to empty",
        timeout_s=TIMEOUT_S,
    )
    altered = admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(GROUP, [TopicPartition(topic, 0, 5)])])[
        GROUP
    ].result(TIMEOUT_S)
    assert [(tp.partition, tp.offset, tp.error) for tp in altered.topic_partitions] == [(0, 5, None)]
    offsets = admin.list_consumer_group_offsets(request)[GROUP].result(TIMEOUT_S)
    assert sorted((tp.partition, tp.offset) for tp in offsets.topic_partitions) == [(0, 5), (1, 20)]
    admin.delete_consumer_groups([GROUP])[GROUP].result(TIMEOUT_S)
    assert admin.list_consumer_groups().result(TIMEOUT_S).valid == []


def test_kafka_python_admin(live_group):
    from kafka import KafkaAdminClient, TopicPartition
    from kafka.admin import MemberToRemove
    from kafka.errors import GroupSubscribedToTopicError, NoError
    from kafka.structs import OffsetAndMetadata

    broker, topic, member = live_group
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, request_timeout_ms=10_000)
    try:
        groups = admin.list_groups()
        assert [(g["group_id"], g["group_state"]) for g in groups] == [(GROUP, "Stable")]
        described = admin.describe_groups([GROUP])[GROUP]
        assert described["group_state"] == "Stable" and described["protocol_data"] == "range"
        (only,) = described["members"]
        assert only["group_instance_id"] == "worker-1"

        offsets = admin.list_group_offsets({GROUP: None})[GROUP]
        assert {tp.partition: meta.offset for tp, meta in offsets.items()} == {0: 20, 1: 20}

        # The member consumes the topic: its offsets cannot be deleted.
        subscribed = admin.delete_group_offsets(GROUP, [TopicPartition(topic, 0)])
        assert subscribed == {TopicPartition(topic, 0): GroupSubscribedToTopicError}

        # Remove the static member by its instance id (batched LeaveGroup). Its
        # process goes first, silently: a live one would rejoin within
        # milliseconds and make the group Stable again, while a static member
        # that just stopped stays in the group until its session runs out.
        member.stop()
        assert [m["group_instance_id"] for m in admin.describe_groups([GROUP])[GROUP]["members"]] == ["worker-1"]
        removed = admin.remove_group_members(GROUP, [MemberToRemove(group_instance_id="worker-1")])
        assert list(removed.values()) == [NoError]
        described = admin.describe_groups([GROUP])[GROUP]
        assert described["members"] == [] and described["group_state"] in ("Empty", "PreparingRebalance")
        wait_for(lambda: admin.describe_groups([GROUP])[GROUP]["group_state"] == "Empty", "the group to empty")

        assert admin.alter_group_offsets(GROUP, {TopicPartition(topic, 1): OffsetAndMetadata(7, "note", -1)}) == {
            TopicPartition(topic, 1): NoError
        }
        assert admin.delete_group_offsets(GROUP, [TopicPartition(topic, 0)]) == {TopicPartition(topic, 0): NoError}
        offsets = admin.list_group_offsets({GROUP: None})[GROUP]
        assert {tp.partition: (meta.offset, meta.metadata) for tp, meta in offsets.items()} == {1: (7, "note")}
        assert admin.delete_groups([GROUP]) == {GROUP: "OK"}
        assert admin.delete_groups(["never-was"]) == {"never-was": "GroupIdNotFoundError"}
        assert admin.list_groups() == []
    finally:
        admin.close()


def test_aiokafka_admin(live_group):
    from aiokafka.admin import AIOKafkaAdminClient

    broker, topic, _member = live_group

    async def inspect():
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        try:
            listed = await admin.list_consumer_groups()
            described = await admin.describe_consumer_groups([GROUP])
            offsets = await admin.list_consumer_group_offsets(GROUP)
            return listed, described, offsets
        finally:
            await admin.close()

    listed, described, offsets = asyncio.run(asyncio.wait_for(inspect(), TIMEOUT_S))
    assert [g[0] for g in listed] == [GROUP]
    group = described[0].to_object()["groups"][0]
    assert (group["group"], group["state"], group["protocol"]) == (GROUP, "Stable", "range")
    assert len(group["members"]) == 1
    assert {tp.partition: meta.offset for tp, meta in offsets.items()} == {0: 20, 1: 20}
