"""Classic and KIP-848 consumers in one group (Kafka's online migration,
group.consumer.migration.policy=bidirectional by default): a kafka-python
group is upgraded when a confluent-kafka `group.protocol=consumer` member
joins, the two share the partitions with nothing lost or read twice, and
the group goes back to the classic protocol when the KIP-848 member leaves.
One broker for the module; each consumer runs in its own process."""

from __future__ import annotations

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
from kwire.admin.cluster_client import ClusterClient
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode

PARTITIONS = 4
FAST_HEARTBEATS = ("-o", "group.consumer.heartbeat.interval.ms=200", "--log-level", "INFO,kwire.groups=DEBUG")


@pytest.fixture(scope="module")
def kwire(tmp_path_factory):
    directory = tmp_path_factory.mktemp("protocol-migration")
    broker = KwireProcess(directory / "data", directory / "kwire.log", list(FAST_HEARTBEATS)).start()
    yield broker
    broker.kill()  # the process this fixture started


def start(consumers, broker, group, topic, client, **options) -> GroupConsumer:
    consumer = GroupConsumer(client, broker.bootstrap, group, topic, **options)
    consumers.append(consumer)
    return consumer


def produce_spread(broker, topic, count, first=0) -> set[tuple[int, int]]:
    return produce_round_robin(broker.bootstrap, topic, count, PARTITIONS, first)


def shared_out(group: list[GroupConsumer]) -> bool:
    return holds_every_partition_once(group, PARTITIONS)


def listed_type(admin: AdminClient, group_id: str) -> ConsumerGroupType | None:
    listed = admin.list_consumer_groups().result(timeout=10)
    return next((g.type for g in listed.valid if g.group_id == group_id), None)


def test_a_classic_group_upgrades_shares_with_a_kip848_member_and_downgrades(kwire, consumers, topic_name):
    group_id = "migrating"
    admin = AdminClient({"bootstrap.servers": kwire.bootstrap})
    create_topic("confluent-kafka", kwire.bootstrap, topic_name, partitions=PARTITIONS)
    classic = start(consumers, kwire, group_id, topic_name, "kafka-python")
    wait_for(lambda: shared_out([classic]), f"the classic consumer holding everything: {classic}")
    assert listed_type(admin, group_id) == ConsumerGroupType.CLASSIC

    # Upgrade: a KIP-848 member joins the classic group; the two share the partitions.
    modern = start(consumers, kwire, group_id, topic_name, "confluent-kafka", protocol="consumer")
    group = [classic, modern]
    wait_for(lambda: shared_out(group), f"the partitions shared by both protocols: {group}")
    assert sorted(len(c.assignment) for c in group) == [2, 2]
    produced = produce_spread(kwire, topic_name, 200)  # nothing committed: produced once the group is mixed
    wait_for(lambda: all_offsets(group) >= produced, f"every message consumed: {group}")
    assert max(deliveries(group).values()) == 1, "a message consumed twice"

    # Kafka shows a consumer group with a classic member.
    assert listed_type(admin, group_id) == ConsumerGroupType.CONSUMER
    (found,) = admin.describe_consumer_groups([group_id]).values()
    described = found.result(timeout=10)
    assert described.type == ConsumerGroupType.CONSUMER and len(described.members) == 2
    assert sorted(len(m.assignment.topic_partitions) for m in described.members) == [2, 2]
    description = describe(kwire.bootstrap, group_id)
    assert description is not None and len(description.members) == 2
    with ClusterClient(kwire.bootstrap) as cluster:
        coordinator = cluster.coordinator(group_id)
        _v, classic_view = coordinator.call(
            ApiKey.DESCRIBE_GROUPS, dict(groups=[group_id], include_authorized_operations=False), 6, 6
        )
        (entry,) = classic_view.groups
        assert (entry.group_state, entry.error_code) == ("Dead", ErrorCode.group_id_not_found)
        assert entry.error_message == f"Group {group_id} is not a classic group."
        _v, modern_view = coordinator.call(
            ApiKey.CONSUMER_GROUP_DESCRIBE, dict(group_ids=[group_id], include_authorized_operations=False), 1, 1
        )
        assert sorted(m.member_type for m in modern_view.groups[0].members) == [0, 1]  # classic, consumer

    # Downgrade: the KIP-848 member commits and leaves; the classic member takes everything back.
    classic.commit()
    modern.commit()
    modern.close()
    wait_for(lambda: shared_out([classic]), f"the classic consumer holding everything again: {classic}")
    assert listed_type(admin, group_id) == ConsumerGroupType.CLASSIC
    later = produce_spread(kwire, topic_name, 40, first=200)
    wait_for(lambda: all_offsets([classic]) >= later, f"the classic consumer read on: {classic}")
    assert max(deliveries(group).values()) == 1, "a message consumed twice across the downgrade"


# An eager classic client, and librdkafka's classic protocol with cooperative rebalancing.
CLASSIC_MEMBERS = [("aiokafka", {}), ("confluent-kafka", {"assignor": "cooperative-sticky"})]


@pytest.mark.parametrize("classic_client, options", CLASSIC_MEMBERS, ids=[c for c, _ in CLASSIC_MEMBERS])
def test_a_classic_member_joins_and_leaves_a_kip848_group(kwire, consumers, topic_name, classic_client, options):
    group_id = f"mixed-{classic_client}"
    create_topic("confluent-kafka", kwire.bootstrap, topic_name, partitions=PARTITIONS)
    modern = start(consumers, kwire, group_id, topic_name, "confluent-kafka", protocol="consumer")
    wait_for(lambda: shared_out([modern]), f"the KIP-848 consumer holding everything: {modern}")

    # A classic consumer joins the consumer group: the coordinator assigns it too.
    classic = start(consumers, kwire, group_id, topic_name, classic_client, **options)
    group = [modern, classic]
    wait_for(lambda: shared_out(group), f"the partitions shared by both protocols: {group}")
    produced = produce_spread(kwire, topic_name, 200)
    wait_for(lambda: all_offsets(group) >= produced, f"every message consumed: {group}")
    assert max(deliveries(group).values()) == 1, "a message consumed twice"

    # The classic member leaves (LeaveGroup): the group stays a consumer group and the KIP-848 member takes over.
    classic.commit()
    modern.commit()
    classic.close()
    wait_for(lambda: shared_out([modern]), f"the KIP-848 consumer holding everything again: {modern}")
    admin = AdminClient({"bootstrap.servers": kwire.bootstrap})
    assert listed_type(admin, group_id) == ConsumerGroupType.CONSUMER
    later = produce_spread(kwire, topic_name, 40, first=200)
    wait_for(lambda: all_offsets([modern]) >= later, f"the KIP-848 consumer read on: {modern}")
    assert max(deliveries(group).values()) == 1, "a message consumed twice after the classic member left"
