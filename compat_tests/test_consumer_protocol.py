"""KIP-848 consumer groups (`group.protocol=consumer`) through
confluent-kafka: the broker assigns, members join and leave incrementally,
commits carry member epochs and survive a broker restart, and a classic
kafka-python group keeps working beside them. One broker for the module;
each consumer runs in its own process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from confluent_kafka import ConsumerGroupType
from confluent_kafka.admin import AdminClient

from compat_tests.broker import KwireProcess, wait_for
from compat_tests.clients import create_topic
from compat_tests.group_consumers import (
    GroupConsumer,
    all_offsets,
    deliveries,
    describe,
    holds_every_partition_once,
    produce_round_robin,
)

PARTITIONS = 6
# Heartbeats every 200 ms (Kafka's default is 5 s) so a handover takes well under a second.
FAST_HEARTBEATS = ("-o", "group.consumer.heartbeat.interval.ms=200", "--log-level", "INFO,kwire.groups=DEBUG")


@pytest.fixture(scope="module")
def kwire(tmp_path_factory):
    directory = tmp_path_factory.mktemp("consumer-protocol")
    broker = KwireProcess(directory / "data", directory / "kwire.log", list(FAST_HEARTBEATS)).start()
    yield broker
    broker.kill()  # the process this fixture started


def start(consumers, broker, group, topic, client="confluent-kafka", **options) -> GroupConsumer:
    if client == "confluent-kafka":
        options.setdefault("protocol", "consumer")
    consumer = GroupConsumer(client, broker.bootstrap, group, topic, **options)
    consumers.append(consumer)
    return consumer


def produce_spread(broker, topic, count, first=0) -> set[tuple[int, int]]:
    return produce_round_robin(broker.bootstrap, topic, count, PARTITIONS, first)


def shared_out(group: list[GroupConsumer]) -> bool:
    return holds_every_partition_once(group, PARTITIONS)


def stable_description(broker, group_id: str, members: int):
    description = describe(broker.bootstrap, group_id)
    if description is None or description.state != "Stable" or len(description.members) != members:
        return None
    return description


def check_described(broker, group_id: str, topic: str, group: list[GroupConsumer]) -> None:
    """`kwire groups describe` and confluent-kafka's admin client see the
    group as Kafka shows a KIP-848 group: member epochs, target assignments,
    type consumer."""
    description = wait_for(lambda: stable_description(broker, group_id, len(group)), "the group described Stable")
    held = sorted(sorted(p for _t, p in m.partitions) for m in description.members)
    assert held == sorted(c.assignment for c in group)
    for member in description.members:
        assert member.member_epoch is not None and member.member_epoch > 0
        assert member.target == member.partitions
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    (found,) = admin.describe_consumer_groups([group_id]).values()
    described = found.result(timeout=10)
    assert described.type == ConsumerGroupType.CONSUMER
    assert sorted(len(m.assignment.topic_partitions) for m in described.members) == [2] * len(group)
    listed = admin.list_consumer_groups(types={ConsumerGroupType.CONSUMER}).result(timeout=10)
    assert group_id in {g.group_id for g in listed.valid}
    classic_only = admin.list_consumer_groups(types={ConsumerGroupType.CLASSIC}).result(timeout=10)
    assert group_id not in {g.group_id for g in classic_only.valid}


def test_members_share_the_partitions_and_hand_them_over_incrementally(kwire, consumers, topic_name):
    create_topic("confluent-kafka", kwire.bootstrap, topic_name, partitions=PARTITIONS)
    group = [start(consumers, kwire, "kip848-share", topic_name) for _ in range(3)]
    wait_for(lambda: shared_out(group), f"the partitions shared out: {group}")
    produced = produce_spread(kwire, topic_name, 300)  # nothing committed: produced once the group is formed
    wait_for(lambda: all_offsets(group) >= produced, "every message consumed")
    assert max(deliveries(group).values()) == 1, "a message consumed twice"
    assert sorted(len(c.assignment) for c in group) == [2, 2, 2]
    check_described(kwire, "kip848-share", topic_name, group)

    # One member commits and leaves: only its partitions move, the others keep theirs.
    leaving, staying = group[0], group[1:]
    revocations_before = [len(c.revocations) for c in staying]
    held_before = [set(c.assignment) for c in staying]
    leaving.commit()
    leaving.close()
    wait_for(lambda: shared_out(staying), f"the leaver's partitions taken over: {staying}")
    assert [len(c.revocations) for c in staying] == revocations_before, "a member that stayed gave partitions up"
    assert all(before <= set(c.assignment) for before, c in zip(held_before, staying))
    produced |= produce_spread(kwire, topic_name, 60, first=300)
    wait_for(lambda: all_offsets(group) >= produced, "every message consumed after the handover")
    assert max(deliveries(group).values()) == 1, "a message consumed twice after the handover"


def test_commits_resume_after_a_broker_restart_beside_a_classic_group(kwire, consumers, topic_name):
    create_topic("confluent-kafka", kwire.bootstrap, topic_name, partitions=PARTITIONS)
    produced = produce_spread(kwire, topic_name, 120)
    first = start(consumers, kwire, "kip848-resume", topic_name)
    classic = start(consumers, kwire, "classic-beside", topic_name, client="kafka-python")
    wait_for(lambda: all_offsets([first]) >= produced, "the KIP-848 consumer read everything")
    wait_for(lambda: all_offsets([classic]) >= produced, "the classic consumer read everything")
    committed = first.commit()
    assert sum(committed.values()) == 120
    first.close()
    classic.close()

    kwire.restart()
    later = produce_spread(kwire, topic_name, 60, first=120)
    second = start(consumers, kwire, "kip848-resume", topic_name)
    wait_for(lambda: all_offsets([second]) >= later, "the new member read the new messages")
    assert all_offsets([second]) == later, "the new member read from before the committed offsets"
    again = start(consumers, kwire, "classic-beside", topic_name, client="kafka-python")
    wait_for(lambda: all_offsets([again]) >= later, "the classic group still consumes after the restart")


def test_running_members_carry_on_across_a_broker_restart(kwire, consumers, topic_name):
    """The group is in `__consumer_offsets`: after a restart the members
    heartbeat with their ids and epochs and carry on, nothing re-read."""
    group_id = "kip848-carry-on"
    create_topic("confluent-kafka", kwire.bootstrap, topic_name, partitions=PARTITIONS)
    group = [start(consumers, kwire, group_id, topic_name) for _ in range(2)]
    wait_for(lambda: shared_out(group), f"the partitions shared out: {group}")
    # A third member comes and goes: the epochs (4) are then beyond what a
    # group formed again from scratch by two members would reach (2).
    passing = start(consumers, kwire, group_id, topic_name)
    wait_for(lambda: passing.assignment, "the third member assigned")
    passing.close()
    wait_for(lambda: shared_out(group), f"the partitions shared out again: {group}")
    produced = produce_spread(kwire, topic_name, 120)
    wait_for(lambda: all_offsets(group) >= produced, "every message consumed")
    for consumer in group:
        consumer.commit()
    before = wait_for(lambda: stable_description(kwire, group_id, 2), "the group Stable")
    members = {(m.member_id, m.member_epoch, tuple(sorted(m.partitions))) for m in before.members}
    assert {e for _m, e, _p in members} == {4}

    kwire.restart()
    shown = json.loads(
        subprocess.run(
            [sys.executable, "-m", "kwire", "groups", "describe", "--group", group_id, "--members"]
            + ["--bootstrap-server", kwire.bootstrap, "--output", "json"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    )
    (described,) = shown
    assert described["state"] == "Stable", described
    shown_members = {(m["consumer_id"], m["member_epoch"]) for m in described["members"]}
    assert shown_members == {(m, e) for m, e, _p in members}
    later = produce_spread(kwire, topic_name, 60, first=120)
    wait_for(lambda: all_offsets(group) >= produced | later, f"the new messages consumed: {group}")
    assert max(deliveries(group).values()) == 1, "a message consumed twice"
    after = wait_for(lambda: stable_description(kwire, group_id, 2), "the group Stable after the restart")
    assert {(m.member_id, m.member_epoch, tuple(sorted(m.partitions))) for m in after.members} == members

    # A client reading `__consumer_offsets` (kafka-python here) gets the
    # group's records as Kafka writes them.
    from kafka import KafkaConsumer, TopicPartition

    from kwire.coordinator.consumer_group import records
    from kwire.coordinator.offsets import partition_for

    reader = KafkaConsumer(bootstrap_servers=kwire.bootstrap, enable_auto_commit=False, exclude_internal_topics=False)
    try:
        partition = TopicPartition("__consumer_offsets", partition_for(group_id, 50))
        reader.assign([partition])
        reader.seek_to_beginning(partition)
        kinds: set[int] = set()

        def read() -> bool:
            for batch in reader.poll(200).values():
                for record in batch:
                    key = records.parse_key(record.key)
                    if key is not None and key.group_id == group_id:
                        kinds.add(key.record_type)
            return kinds >= {3, 5, 6, 7, 8}

        wait_for(read, f"the group's records read by kafka-python: {kinds}")
    finally:
        reader.close()
