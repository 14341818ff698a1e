"""Coordinators on a 3-broker kwire: every node names the same coordinator
(the leader of the key's internal partition, also after it moves); a consumer
group keeps consuming, with its committed offsets, when the node coordinating
it stops; transactions whose partitions and group live on other nodes than
their coordinator; a transactional consume-transform-produce loop across a
transaction coordinator move."""

from __future__ import annotations

import logging
import time

import pytest

from compat_tests import raw
from compat_tests.clients import Reader
from compat_tests.cluster import heal_after, running_cluster
from compat_tests.cluster_clients import CLUSTER_CLIENTS, Sender, create_topic, produce_values
from compat_tests.test_transactions import GroupSource, TransactionalProducer
from kwire.coordinator.offsets import partition_for

pytestmark = pytest.mark.timeout(90)
TIMEOUT_S = 15
FIND_COORDINATOR = 10
SHARE_GROUP_HEARTBEAT, SHARE_FETCH = 76, 78
NOT_LEADER_OR_FOLLOWER = 6


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with running_cluster(
        tmp_path_factory.mktemp("cluster"),
        "-o",
        "default.replication.factor=3",
        "-o",
        "group.initial.rebalance.delay.ms=0",
        "-o",
        "group.consumer.heartbeat.interval.ms=300",
    ) as cluster:
        create_internal_topics(cluster)
        yield cluster


def create_internal_topics(cluster) -> None:
    """Commit an offset for a throwaway group and start a throwaway
    transactional producer, so that __consumer_offsets and
    __transaction_state exist before the tests start: the tests pick group
    and transactional ids by where their partitions are led."""
    from confluent_kafka import Consumer, TopicPartition

    create_topic("confluent-kafka", cluster.bootstrap, "warm-up")
    consumer = Consumer({"bootstrap.servers": cluster.bootstrap, "group.id": "warm-up"})
    try:
        consumer.commit(offsets=[TopicPartition("warm-up", 0, 0)], asynchronous=False)
    finally:
        consumer.close()
    TransactionalProducer("confluent-kafka", cluster.bootstrap, "warm-up").close()
    cluster.wait_fully_replicated("__consumer_offsets")
    cluster.wait_fully_replicated("__transaction_state")


@pytest.fixture(autouse=True)
def healed(cluster, request):
    yield from heal_after(cluster, request)


class Member:
    """One consumer of a group (subscribe, poll, commit) through either client."""

    def __init__(self, client: str, bootstrap: str, group: str, topic: str, protocol: str = "classic") -> None:
        self.client, self.topic = client, topic
        self.commits: list = []  # the outcomes of commit_async, as polls report them
        if client == "confluent-kafka":
            from confluent_kafka import Consumer

            config = {
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "on_commit": lambda error, _partitions: self.commits.append(error),
            }
            if protocol == "consumer":  # KIP-848: the broker sets session and heartbeat interval
                config["group.protocol"] = "consumer"
            else:
                config.update({"session.timeout.ms": 6000, "heartbeat.interval.ms": 500})
            self._consumer = Consumer(config)
        else:
            from kafka import KafkaConsumer

            self._consumer = KafkaConsumer(
                bootstrap_servers=bootstrap,
                group_id=group,
                auto_offset_reset="earliest",
                enable_auto_commit=False,
                session_timeout_ms=6000,
                heartbeat_interval_ms=500,
            )
            # The topic's metadata first: joining without it, kafka-python
            # rejoins as soon as it arrives, and 3.0.12 then sometimes leaves
            # its heartbeat disabled, so the member's session expires.
            assert self._consumer.partitions_for_topic(topic)
        self._consumer.subscribe([topic])

    def poll(self, timeout: float) -> list[bytes]:
        if self.client == "confluent-kafka":
            return [m.value() for m in self._consumer.consume(100, timeout) if m.error() is None]
        batches = self._consumer.poll(timeout_ms=int(timeout * 1000))
        return [record.value for records in batches.values() for record in records]

    def commit_async(self) -> None:
        """Commit the current positions; the outcome (None or the error) is
        appended to `commits` by a later poll."""
        if self.client == "confluent-kafka":
            self._consumer.commit(asynchronous=True)
        else:
            self._consumer.commit_async(callback=lambda _offsets, error: self.commits.append(error))

    def commit(self) -> None:
        """Commit the current positions (synchronously)."""
        if self.client == "confluent-kafka":
            from confluent_kafka import KafkaError, KafkaException

            try:
                self._consumer.commit(asynchronous=False)
            except KafkaException as error:
                if error.args[0].code() != KafkaError._NO_OFFSET:  # nothing consumed since the assignment
                    raise
        else:
            self._consumer.commit()

    def committed(self, partitions: list[int]) -> dict[int, int]:
        """The group's committed offsets, as this client fetches them."""
        if self.client == "confluent-kafka":
            from confluent_kafka import TopicPartition

            found = self._consumer.committed([TopicPartition(self.topic, p) for p in partitions], timeout=10)
            return {tp.partition: tp.offset for tp in found}
        from kafka import TopicPartition

        return {p: self._consumer.committed(TopicPartition(self.topic, p)) for p in partitions}

    def close(self) -> None:
        self._consumer.close()


def consume_until(members: list[Member], wanted: set[bytes], what: str) -> list[bytes]:
    """Poll the members in turn until they have, between them, every wanted
    value (bounded); everything they got, in order."""
    got: list[bytes] = []
    deadline = time.monotonic() + TIMEOUT_S
    while not wanted <= set(got):
        assert time.monotonic() < deadline, f"timed out waiting for {what}: missing {sorted(wanted - set(got))}"
        for member in members:
            got.extend(member.poll(0.2))
    return got


def describe_group(bootstrap: str, group: str):
    """(coordinator node id, state name, member count) per the confluent AdminClient."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    found = admin.describe_consumer_groups([group], request_timeout=10)[group].result(10)
    return found.coordinator.id, found.state.name, len(found.members)


GROUP, TRANSACTION = 0, 1  # FindCoordinator key types
INTERNAL_TOPIC = {GROUP: "__consumer_offsets", TRANSACTION: "__transaction_state"}


def find_coordinator_answers(cluster, key: str, key_type: int = GROUP) -> dict[int, int]:
    """FindCoordinator (v1) asked of each running node: {node asked: node named}."""
    answers = {}
    for node in cluster.running():
        request = {"key": key, "key_type": key_type}
        answers[node] = int(raw.call(raw.connect(cluster.addresses[node]), FIND_COORDINATOR, 1, request).node_id)
    return answers


def wait_for_coordinator_agreement(cluster, key: str, key_type: int = GROUP, timeout_s: float = 5) -> int:
    """Until every running node names as coordinator the leader of the key's
    partition of __consumer_offsets / __transaction_state (Kafka's
    definition of the coordinator); that node."""
    topic = INTERNAL_TOPIC[key_type]

    def agreed():
        leader = cluster.leader_of(topic, partition_for(key, len(cluster.partitions(topic))))
        answers = find_coordinator_answers(cluster, key, key_type)
        return leader if set(answers.values()) == {leader} else None

    return cluster.wait_for(agreed, f"every node to name the leader of {key}'s {topic} partition", timeout_s)


@pytest.mark.parametrize("client", CLUSTER_CLIENTS)
def test_group_carries_on_when_its_coordinator_stops(cluster, client, topic_name, caplog):
    # kafka-python says why it rejoins at DEBUG: shown if the test fails.
    caplog.set_level(logging.DEBUG, logger="kafka.coordinator.consumer")
    create_topic(client, cluster.bootstrap, topic_name, partitions=2)
    cluster.wait_fully_replicated(topic_name)
    group = topic_name
    members = [Member(client, cluster.bootstrap, group, topic_name) for _ in range(2)]
    try:
        # Both members in the group (they join only while they poll) before
        # anything is consumed: each then commits what it read of its partition.
        coordinator = wait_until_stable(members, cluster, group, 2)
        first = [b"old-%d" % n for n in range(20)]
        with Sender(client, cluster.bootstrap, topic_name) as sender:
            for n, value in enumerate(first):
                sender.send(value, partition=n % 2)
            sender.flush()
        consume_until(members, set(first), "the first 20")
        for member in members:
            member.commit()
        assert coordinator == wait_for_coordinator_agreement(cluster, group)

        cluster.stop_node(coordinator)
        moved_to = wait_for_coordinator_agreement(cluster, group)
        second = [b"new-%d" % n for n in range(20)]
        with Sender(client, cluster.bootstrap, topic_name) as sender:
            for n, value in enumerate(second):
                sender.send(value, partition=n % 2)
            sender.flush()
        got = consume_until(members, set(second), "the 20 produced after the coordinator stopped")
        # The committed offsets were kept: nothing from before the stop comes again.
        assert [value for value in got if value.startswith(b"old-")] == []
        assert wait_until_stable(members, cluster, group, 2) == moved_to != coordinator
        for member in members:
            member.commit()
        assert members[0].committed([0, 1]) == {0: 20, 1: 20}
    finally:
        for member in members:
            member.close()


def test_a_kip848_group_keeps_its_members_when_its_coordinator_stops(cluster, topic_name):
    """The next coordinator loads the group from its replica of
    `__consumer_offsets`: the members carry on with their ids and epochs."""
    client = "confluent-kafka"
    create_topic(client, cluster.bootstrap, topic_name, partitions=2)
    cluster.wait_fully_replicated(topic_name)
    group = topic_name
    members = [Member(client, cluster.bootstrap, group, topic_name, protocol="consumer") for _ in range(2)]
    try:
        wait_until_stable(members, cluster, group, 2)
        # A third member comes and goes: the epochs (4) are then beyond what a
        # group formed again from scratch by the two would reach (2).
        passing = Member(client, cluster.bootstrap, group, topic_name, protocol="consumer")
        coordinator = wait_until_stable([*members, passing], cluster, group, 3)
        passing.close()
        wait_until_stable(members, cluster, group, 2)
        before = member_epochs(cluster.bootstrap, group)
        assert set(before.values()) == {4}
        first = [b"old-%d" % n for n in range(20)]
        with Sender(client, cluster.bootstrap, topic_name) as sender:
            for n, value in enumerate(first):
                sender.send(value, partition=n % 2)
            sender.flush()
        consume_until(members, set(first), "the first 20")
        for member in members:
            member.commit()
        assert coordinator == wait_for_coordinator_agreement(cluster, group)
        cluster.wait_fully_replicated("__consumer_offsets")

        cluster.stop_node(coordinator)
        moved_to = wait_for_coordinator_agreement(cluster, group)
        second = [b"new-%d" % n for n in range(20)]
        with Sender(client, cluster.bootstrap, topic_name) as sender:
            for n, value in enumerate(second):
                sender.send(value, partition=n % 2)
            sender.flush()
        got = consume_until(members, set(second), "the 20 produced after the coordinator stopped")
        assert [value for value in got if value.startswith(b"old-")] == []
        assert wait_until_stable(members, cluster, group, 2) == moved_to != coordinator
        assert member_epochs(cluster.bootstrap, group) == before  # nobody joined again
    finally:
        for member in members:
            member.close()


def member_epochs(bootstrap: str, group: str) -> dict[str, int | None]:
    """{member id: member epoch} as `kwire groups describe` shows them."""
    from kwire.admin.cluster_client import ClusterClient
    from kwire.admin.groups import describe_group as kwire_describe

    with ClusterClient(bootstrap) as client:
        return {m.member_id: m.member_epoch for m in kwire_describe(client, group).members}


@pytest.mark.parametrize("client", CLUSTER_CLIENTS)
def test_acknowledged_commit_survives_a_coordinator_failover(cluster, client, topic_name):
    """An offset commit is acknowledged only once the in-sync followers have
    it (Kafka writes group offsets with acks=-1), so the next coordinator has
    it. kwire once answered at once: with the followers cut off, the commit
    was acknowledged, and lost with the coordinator."""
    create_topic(client, cluster.bootstrap, topic_name)
    cluster.wait_fully_replicated(topic_name)
    produce_values(client, cluster.bootstrap, topic_name, [b"%d" % n for n in range(10)])
    group = topic_name
    member = Member(client, cluster.bootstrap, group, topic_name)
    try:
        consume_until([member], {b"%d" % n for n in range(10)}, "the 10 messages")
        coordinator = wait_for_coordinator_agreement(cluster, group)
        offsets = cluster.partition(
            "__consumer_offsets", partition_for(group, len(cluster.partitions("__consumer_offsets")))
        )
        followers = [r for r in offsets["replicas"] if r != coordinator]
        for follower in followers:
            cluster.isolate(follower, True)
        member.commit_async()
        # No follower can have the commit yet, so it must not be acknowledged yet.
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline:
            member.poll(0.1)
            assert member.commits == [], "commit acknowledged before any in-sync follower has it"
        for follower in followers:
            cluster.isolate(follower, False)
        cluster.wait_for(lambda: member.poll(0.1) is not None and member.commits, "the commit acknowledged")
        assert member.commits == [None], member.commits

        cluster.stop_node(coordinator)
        assert member.committed([0]) == {0: 10}
    finally:
        member.close()


def wait_until_stable(members: list[Member], cluster, group: str, count: int) -> int:
    """Poll the members until the group is STABLE with `count` members; its coordinator's id."""

    def stable():
        for member in members:
            member.poll(0.1)
        coordinator, state, found = describe_group(cluster.bootstrap, group)
        return coordinator if (state, found) == ("STABLE", count) else None

    return cluster.wait_for(stable, f"group {group} stable with {count} members")


@pytest.mark.parametrize("key_type", [GROUP, TRANSACTION], ids=["group", "transaction"])
def test_find_coordinator_agrees_before_the_internal_topic_exists(start_cluster, key_type):
    """On a new cluster, before any group or transaction, every node names the
    same coordinator: the leader of the key's partition of the internal topic
    (Kafka creates the topic on the first FindCoordinator). kwire once had each
    node name itself, splitting the first groups between nodes."""
    cluster = start_cluster("-o", "default.replication.factor=3")  # new: no internal topics yet

    def agreed():
        answers = find_coordinator_answers(cluster, "first", key_type)
        return answers if len(set(answers.values())) == 1 else None

    answers = cluster.wait_for(agreed, "every node to name the same coordinator", timeout_s=3)
    topic = INTERNAL_TOPIC[key_type]
    assert set(answers.values()) == {cluster.leader_of(topic, partition_for("first", len(cluster.partitions(topic))))}


@pytest.mark.parametrize("key_type", [GROUP, TRANSACTION], ids=["group", "transaction"])
def test_find_coordinator_follows_the_partition_leader(cluster, key_type):
    """Moving the leadership of a group's (transactional id's) partition of
    __consumer_offsets (__transaction_state) moves its coordinator."""
    key, topic = f"follow-the-leader-{key_type}", INTERNAL_TOPIC[key_type]
    partition = cluster.partition(topic, partition_for(key, len(cluster.partitions(topic))))
    assert wait_for_coordinator_agreement(cluster, key, key_type) == partition["leader"]
    target = next(r for r in partition["replicas"] if r != partition["leader"])
    cluster.move_leader(topic, partition["partition"], target)
    assert wait_for_coordinator_agreement(cluster, key, key_type) == target


@pytest.mark.parametrize("client", CLUSTER_CLIENTS)
def test_consume_transform_produce_survives_a_transaction_coordinator_move(cluster, client, topic_name):
    """Read-process-write in transactions (output and input offsets committed
    together) while the leadership of the transactional id's
    __transaction_state partition moves to another broker: every input is
    transformed exactly once, and the group's offset covers all of them.

    Before the move everything the transactions touch (the transaction and
    group coordinators, the output partition) is on one node, so that only the
    move is tested here (the other tests below have them apart). Which node
    the clients then find as coordinator is
    test_find_coordinator_follows_the_partition_leader's."""
    home = 1
    source, sink = f"{topic_name}-in", f"{topic_name}-out"
    create_topic(client, cluster.bootstrap, source)
    create_topic(client, cluster.bootstrap, sink)
    cluster.wait_fully_replicated(source)
    cluster.wait_fully_replicated(sink)
    cluster.move_leader(sink, 0, home)
    transactional_id = id_coordinated_by(cluster, "__transaction_state", f"{topic_name}-tx", home)
    group = id_coordinated_by(cluster, "__consumer_offsets", f"{topic_name}-etl", home)
    with Sender(client, cluster.bootstrap, source) as sender:
        for n in range(20):
            sender.send(b"%d" % n)
        sender.flush()
    producer = TransactionalProducer(client, cluster.bootstrap, transactional_id)
    consumer = GroupSource(client, cluster.bootstrap, source, group, producer)
    moved = None
    try:
        done, deadline = 0, time.monotonic() + TIMEOUT_S
        while done < 20:
            assert time.monotonic() < deadline, f"only {done} of 20 inputs processed"
            if moved is None and done >= 10:
                moved = move_transaction_coordinator(cluster, transactional_id)
            values = consumer.poll()
            if not values:
                continue
            producer.begin()
            for value in values:
                producer.send(sink, b"out-" + value)
            consumer.send_offsets()
            producer.commit()
            done += len(values)
    finally:
        consumer.close()
        producer.close()

    assert moved is not None
    assert read_committed(client, cluster.bootstrap, sink, 20) == [b"out-%d" % n for n in range(20)]
    checker = Member(client, cluster.bootstrap, group, source)
    try:
        assert checker.committed([0]) == {0: 20}
    finally:
        checker.close()


@pytest.mark.parametrize("client", CLUSTER_CLIENTS)
def test_transaction_writes_to_a_partition_led_by_another_node(cluster, client, topic_name):
    """The partition leader verifies a transactional write with the id's
    coordinator on another node (KIP-890), and gets its commit marker."""
    create_topic(client, cluster.bootstrap, topic_name)
    cluster.wait_fully_replicated(topic_name)
    transactional_id = id_coordinated_by(cluster, "__transaction_state", f"{topic_name}-tx", 1)
    cluster.move_leader(topic_name, 0, 2)  # not the transaction coordinator's node
    producer = TransactionalProducer(client, cluster.bootstrap, transactional_id)
    try:
        producer.begin()
        producer.send(topic_name, b"committed")
        producer.commit()
    finally:
        producer.close()
    assert read_committed(client, cluster.bootstrap, topic_name, 1) == [b"committed"]


@pytest.mark.parametrize("client", CLUSTER_CLIENTS)
def test_transaction_commits_offsets_to_a_group_coordinated_by_another_node(cluster, client, topic_name):
    """TxnOffsetCommit goes to the group's coordinator, another node than the
    transaction's (kwire once checked the producer against its own
    transaction coordinator there: INVALID_PRODUCER_ID_MAPPING)."""
    source, sink = f"{topic_name}-in", f"{topic_name}-out"
    for topic in (source, sink):
        create_topic(client, cluster.bootstrap, topic)
        cluster.wait_fully_replicated(topic)
    with Sender(client, cluster.bootstrap, source) as sender:
        sender.send(b"in")
        sender.flush()
    transactional_id = id_coordinated_by(cluster, "__transaction_state", f"{topic_name}-tx", 1)
    group = id_coordinated_by(cluster, "__consumer_offsets", f"{topic_name}-group", 2)
    producer = TransactionalProducer(client, cluster.bootstrap, transactional_id)
    consumer = GroupSource(client, cluster.bootstrap, source, group, producer)
    try:
        values = []
        deadline = time.monotonic() + TIMEOUT_S
        while not values:
            assert time.monotonic() < deadline, "nothing consumed"
            values = consumer.poll()
        producer.begin()
        producer.send(sink, b"out")
        consumer.send_offsets()
        producer.commit()
    finally:
        consumer.close()
        producer.close()
    assert read_committed(client, cluster.bootstrap, sink, 1) == [b"out"]
    checker = Member(client, cluster.bootstrap, group, source)
    try:
        assert checker.committed([0]) == {0: 1}
    finally:
        checker.close()


def read_committed(client: str, bootstrap: str, topic: str, at_least: int, timeout: float = 5) -> list[bytes]:
    option = (
        {"isolation.level": "read_committed"} if client == "confluent-kafka" else {"isolation_level": "read_committed"}
    )
    with Reader(client, bootstrap, **option).assign(topic, [0]) as reader:
        return [m.value for m in reader.poll_to_end(at_least=at_least, timeout=timeout)]


def id_coordinated_by(cluster, internal_topic: str, prefix: str, node: int) -> str:
    """A group or transactional id starting with `prefix` whose partition of
    `internal_topic` has `node` as first replica and leader (so every node's
    FindCoordinator names it, whatever it bases the answer on)."""
    partitions = {p["partition"]: p for p in cluster.partitions(internal_topic)}
    for n in range(1000):
        candidate = f"{prefix}-{n}"
        partition = partitions[partition_for(candidate, len(partitions))]
        if partition["replicas"][0] == partition["leader"] == node:
            return candidate
    raise AssertionError(f"no id for node {node} in {internal_topic}")


def move_transaction_coordinator(cluster, transactional_id: str) -> int:
    """Move the leadership of the transactional id's __transaction_state partition to another replica; its node."""
    topic = "__transaction_state"
    partition = cluster.partition(topic, partition_for(transactional_id, len(cluster.partitions(topic))))
    target = next(r for r in partition["replicas"] if r != partition["leader"])
    cluster.move_leader("__transaction_state", partition["partition"], target)
    return target


def test_a_share_group_reads_at_the_partition_leader_and_its_state_moves_with_leadership(cluster, topic_name):
    """KIP-932 on 3 nodes: ShareGroupHeartbeat goes to the group's coordinator,
    ShareFetch to the partition's leader, another node; a node that does not
    lead the partition answers NOT_LEADER_OR_FOLLOWER with the leader's
    endpoint. The share-partition's state is in __share_group_state, so
    when leadership moves the next leader carries on where it was."""
    from confluent_kafka import AcknowledgeType, ShareConsumer
    from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource

    create_topic("confluent-kafka", cluster.bootstrap, topic_name)
    cluster.wait_fully_replicated(topic_name)
    produce_values("confluent-kafka", cluster.bootstrap, topic_name, [b"%d" % n for n in range(5)])
    leader = cluster.leader_of(topic_name, 0)
    home = next(node for node in cluster.running() if node != leader)
    group = id_coordinated_by(cluster, "__consumer_offsets", f"{topic_name}-share", home)
    earliest = ConfigEntry("share.auto.offset.reset", "earliest", incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource(ConfigResource.Type.GROUP, group, incremental_configs=[earliest])
    admin = AdminClient({"bootstrap.servers": cluster.bootstrap})  # (kept referenced until the result)
    admin.incremental_alter_configs([resource])[resource].result(TIMEOUT_S)
    consumer = ShareConsumer(
        {"bootstrap.servers": cluster.bootstrap, "group.id": group, "share.acknowledgement.mode": "explicit"}
    )
    consumer.subscribe([topic_name])
    values: list[bytes] = []
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while len(values) < 5 and time.monotonic() < deadline:
            for message in consumer.poll(0.5) or []:
                assert message.error() is None, message.error()
                values.append(message.value())
                accepted = message.offset() < 3
                consumer.acknowledge(message, AcknowledgeType.ACCEPT if accepted else AcknowledgeType.RELEASE)
        consumer.commit_sync(TIMEOUT_S)  # the acknowledgements, to the leader
    finally:
        consumer.close()
    assert sorted(values) == [b"%d" % n for n in range(5)]

    coordinator = raw.connect(cluster.addresses[home])
    joined = raw.call(
        coordinator,
        SHARE_GROUP_HEARTBEAT,
        1,
        dict(group_id=group, member_id="raw-member", member_epoch=0, subscribed_topic_names=[topic_name]),
    )
    assert joined.error_code == 0, joined
    if not joined.assignment.topic_partitions:  # a coordinator new to the group initializes the topic first
        joined = raw.call(
            coordinator,
            SHARE_GROUP_HEARTBEAT,
            1,
            dict(group_id=group, member_id="raw-member", member_epoch=joined.member_epoch, subscribed_topic_names=None),
        )
    topic_id = joined.assignment.topic_partitions[0].topic_id
    fetch = dict(
        group_id=group,
        member_id="raw-member",
        share_session_epoch=0,
        max_wait=0,
        min_bytes=0,
        max_bytes=1 << 20,
        max_records=10,
        batch_size=10,
        topics=[dict(topic_id=topic_id, partitions=[dict(partition_index=0, acknowledgement_batches=[])])],
        forgotten_topics_data=[],
    )
    elsewhere = raw.call(coordinator, SHARE_FETCH, 2, fetch)
    (refused,) = elsewhere.responses[0].partitions
    assert (refused.error_code, refused.current_leader.leader_id) == (NOT_LEADER_OR_FOLLOWER, leader)
    assert [e.node_id for e in elsewhere.node_endpoints] == [leader]
    at_leader = raw.call(raw.connect(cluster.addresses[leader]), SHARE_FETCH, 2, fetch)
    (served,) = at_leader.responses[0].partitions
    assert served.error_code == 0
    # 0-2 accepted, 3-4 released by the consumer: delivered a second time.
    assert [(a.first_offset, a.last_offset, a.delivery_count) for a in served.acquired_records] == [(3, 4, 2)]

    # Leadership moves (as in a failover; stopping the node takes the same
    # path and costs the shared cluster a restart to heal).
    successor = next(node for node in cluster.partition(topic_name, 0)["isr"] if node != leader)
    cluster.move_leader(topic_name, 0, successor)
    cluster.wait_for(lambda: cluster.leader_of(topic_name, 0) == successor, "the new leader")
    after = raw.call(raw.connect(cluster.addresses[successor]), SHARE_FETCH, 2, fetch)
    (moved,) = after.responses[0].partitions
    assert moved.error_code == 0
    # The locks ended with their node: 3-4 available again, a third delivery; 0-2 stay done.
    assert [(a.first_offset, a.last_offset, a.delivery_count) for a in moved.acquired_records] == [(3, 4, 3)]
