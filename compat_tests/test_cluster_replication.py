"""Replication on a 3-broker kwire (`kwire serve --brokers 3`) through real
clients: replicated topics, producers through leader failover (acks=all and
acks=1), min.insync.replicas, a follower catching up, offline partitions,
moving leadership, and every node's Metadata agreeing.

One cluster serves the whole module: each test uses its own topics, and the
`healed` fixture restarts whatever a test stopped before the next one."""

from __future__ import annotations

import time

import pytest

from compat_tests.clients import watermarks
from compat_tests.cluster import heal_after, running_cluster
from compat_tests.cluster_clients import (
    CLUSTER_CLIENTS,
    Sender,
    create_topic,
    describe,
    error_name,
    metadata_from,
    produce_values,
    read_all,
)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with running_cluster(tmp_path_factory.mktemp("cluster"), "-o", "default.replication.factor=3") as cluster:
        yield cluster


@pytest.fixture(autouse=True)
def healed(cluster, request):
    yield from heal_after(cluster, request)


def values(start: int, stop: int) -> list[bytes]:
    return [b"%d" % n for n in range(start, stop)]


def other_replica(partition: dict, *not_these: int) -> int:
    """A replica of the partition other than its leader (and `not_these`)."""
    return next(r for r in partition["replicas"] if r != partition["leader"] and r not in not_these)


@pytest.mark.parametrize("client", [*CLUSTER_CLIENTS, "aiokafka"])  # admin calls: cheap for aiokafka too
def test_replicated_topic_metadata(cluster, client, topic_name):
    create_topic(client, cluster.bootstrap, topic_name, partitions=3, replication_factor=3)
    status = cluster.wait_fully_replicated(topic_name)
    seen = describe(client, cluster.bootstrap, topic_name)

    assert sorted(seen) == [0, 1, 2]
    for p in status:
        view = seen[p["partition"]]
        assert sorted(view.replicas) == [1, 2, 3]
        assert sorted(view.isr) == [1, 2, 3]
        assert (view.leader, list(view.replicas)) == (p["leader"], p["replicas"])
    # Kafka places the first replica (the preferred leader) round robin, so
    # three partitions on three brokers have three different leaders.
    assert sorted(view.leader for view in seen.values()) == [1, 2, 3]

    # More replicas than brokers cannot be placed: INVALID_REPLICATION_FACTOR (38).
    too_many = topic_name + "-rf4"
    if client == "confluent-kafka":
        from confluent_kafka import KafkaError, KafkaException

        with pytest.raises(KafkaException) as refused:
            create_topic(client, cluster.bootstrap, too_many, replication_factor=4)
        assert refused.value.args[0].code() == KafkaError.INVALID_REPLICATION_FACTOR
    else:
        if client == "kafka-python":
            from kafka.errors import InvalidReplicationFactorError
        else:
            from aiokafka.errors import InvalidReplicationFactorError

        with pytest.raises(InvalidReplicationFactorError):
            create_topic(client, cluster.bootstrap, too_many, replication_factor=4)
    assert cluster.partitions(too_many) == []


@pytest.mark.parametrize("client", CLUSTER_CLIENTS)
def test_idempotent_acks_all_producer_through_a_leader_stop(cluster, client, topic_name):
    """No acknowledged message lost, none written twice, and the producer
    resumes on the new leader (how soon is printed, not asserted)."""
    create_topic(client, cluster.bootstrap, topic_name)
    cluster.wait_fully_replicated(topic_name)
    with Sender(client, cluster.bootstrap, topic_name, acks="all", idempotent=True) as sender:
        for value in values(0, 50):
            sender.send(value)
        sender.flush()
        old = cluster.partition(topic_name, 0)
        acked_before = len(sender.acked)

        cluster.stop_node(old["leader"])
        stopped = time.monotonic()
        sent, resumed_after = 50, None
        # Keep sending through the failover until 50 more are acknowledged.
        while len(sender.acked) < acked_before + 50 and time.monotonic() - stopped < 8:
            sender.send(b"%d" % sent)
            sent += 1
            sender.poll(0.01)
            if resumed_after is None and len(sender.acked) > acked_before:
                resumed_after = time.monotonic() - stopped
        sender.flush()
    print(f"{client}: first acknowledgement {resumed_after} s after the leader stopped; {sent} sent")

    assert not sender.errors, [(v, error_name(e)) for v, e in sender.errors]
    assert resumed_after is not None, "nothing acknowledged after the leader stopped"
    new = cluster.partition(topic_name, 0)
    assert new["leader"] != old["leader"] and new["leader"] in old["isr"]
    assert new["leader_epoch"] > old["leader_epoch"]
    # Every message acknowledged exactly once, and read back exactly once, in order.
    acked = [value for value, _, _ in sender.acked]
    assert sorted(acked) == sorted(values(0, sent))
    for reader in (client, "aiokafka"):  # aiokafka too: reading is cheap
        assert read_all(reader, cluster.bootstrap, topic_name, [0], at_least=sent) == values(0, sent), reader


@pytest.mark.parametrize("client", CLUSTER_CLIENTS)
def test_acks_1_keeps_what_was_replicated_before_a_leader_stop(cluster, client, topic_name):
    """acks=1 is acknowledged once the leader alone has written it. Kafka may
    lose such a message when leadership moves before a follower copied it
    (the new leader's log wins; the old leader truncates to it). What is below
    the high watermark is on every in-sync replica, so it must survive the
    leader's stop; so must what the new leader acknowledges afterwards."""
    create_topic(client, cluster.bootstrap, topic_name)
    cluster.wait_fully_replicated(topic_name)
    produce_values(client, cluster.bootstrap, topic_name, values(0, 50), acks=1, idempotent=False)
    # The high watermark is the ISR's smallest log end: at 50, every in-sync replica has all 50.
    cluster.wait_for(
        lambda: watermarks(client, cluster.bootstrap, topic_name, 0)[1] == 50, "high watermark 50 (all replicated)"
    )
    old = cluster.partition(topic_name, 0)
    assert sorted(old["isr"]) == [1, 2, 3]

    cluster.stop_node(old["leader"])
    produce_values(client, cluster.bootstrap, topic_name, values(50, 70), acks=1, idempotent=False)

    assert cluster.leader_of(topic_name, 0) not in (-1, old["leader"])
    read = read_all(client, cluster.bootstrap, topic_name, [0], at_least=70)
    assert read[:50] == values(0, 50)
    # Retries without idempotence may duplicate (Kafka allows it); none may be missing.
    assert set(read[50:]) == set(values(50, 70))


@pytest.mark.parametrize("client", CLUSTER_CLIENTS)
def test_not_enough_replicas(cluster, client, topic_name):
    """min.insync.replicas=2 with the ISR down to the leader: acks=all
    produce fails with NOT_ENOUGH_REPLICAS (19); acks=1 is not bound by it;
    with the follower back in the ISR, acks=all succeeds again."""
    create_topic(client, cluster.bootstrap, topic_name, replication_factor=2, configs={"min.insync.replicas": "2"})
    partition = cluster.wait_fully_replicated(topic_name)[0]
    produce_values(client, cluster.bootstrap, topic_name, [b"before"], acks="all")
    follower = other_replica(partition)

    cluster.stop_node(follower)
    cluster.wait_for_isr(topic_name, 0, {partition["leader"]})
    # No retries: the first answer is the delivery report.
    with Sender(
        client, cluster.bootstrap, topic_name, acks="all", idempotent=False, retries=0, delivery_timeout_ms=5000
    ) as sender:
        sender.send(b"refused")
        sender.flush()
    assert sender.acked == []
    ((value, error),) = sender.errors
    if client == "confluent-kafka":
        from confluent_kafka import KafkaError

        assert error.code() == KafkaError.NOT_ENOUGH_REPLICAS, error
    else:
        from kafka.errors import NotEnoughReplicasError

        assert isinstance(error, NotEnoughReplicasError), error
    produce_values(client, cluster.bootstrap, topic_name, [b"acks=1"], acks=1, idempotent=False)

    cluster.start_node(follower)
    cluster.wait_for_isr(topic_name, 0, set(partition["replicas"]))
    produce_values(client, cluster.bootstrap, topic_name, [b"after"], acks="all")
    assert read_all(client, cluster.bootstrap, topic_name, [0], at_least=3) == [b"before", b"acks=1", b"after"]


@pytest.mark.parametrize("client", CLUSTER_CLIENTS)
def test_restarted_follower_catches_up_and_rejoins_the_isr(cluster, client, topic_name):
    create_topic(client, cluster.bootstrap, topic_name)
    partition = cluster.wait_fully_replicated(topic_name)[0]
    produce_values(client, cluster.bootstrap, topic_name, values(0, 20))
    follower = other_replica(partition)
    expands = cluster.status()["isr_expands"]

    cluster.stop_node(follower)
    cluster.wait_for_isr(topic_name, 0, set(partition["replicas"]) - {follower})
    # Written while the follower is away: it must copy these when it is back.
    produce_values(client, cluster.bootstrap, topic_name, values(20, 50))

    cluster.start_node(follower)
    cluster.wait_for_isr(topic_name, 0, set(partition["replicas"]))
    assert cluster.status()["isr_expands"] > expands
    # Led by the restarted node, the partition still has all 50: it caught up.
    cluster.move_leader(topic_name, 0, follower)
    assert cluster.leader_of(topic_name, 0) == follower
    assert read_all(client, cluster.bootstrap, topic_name, [0], at_least=50) == values(0, 50)


@pytest.mark.parametrize("client", CLUSTER_CLIENTS)
def test_acks_all_is_not_held_back_by_a_stopped_follower(start_cluster, client, topic_name):
    """A stopped (fenced) follower leaves the ISR at once, and the high
    watermark stops waiting for it then, not at the next ISR-expiration check
    (kwire once held acks=all produces up to replica.lag.time.max.ms / 2)."""
    # Its own cluster with a long lag bound: the ISR-expiration check (every
    # 60 s) does not run during the test, so what the fence alone does is seen.
    cluster = start_cluster("-o", "default.replication.factor=3", "-o", "replica.lag.time.max.ms=120000")
    create_topic(client, cluster.bootstrap, topic_name)
    partition = cluster.wait_fully_replicated(topic_name)[0]
    follower = other_replica(partition)
    cluster.stop_node(follower)
    cluster.wait_for_isr(topic_name, 0, set(partition["replicas"]) - {follower})

    with Sender(client, cluster.bootstrap, topic_name, acks="all", delivery_timeout_ms=3000) as sender:
        sender.send(b"after the follower stopped")
        sender.flush()
    # Kafka: a fenced broker is not ISR-eligible, so the two in-sync replicas suffice at once.
    assert [value for value, _, _ in sender.acked] == [b"after the follower stopped"], [
        (v, error_name(e)) for v, e in sender.errors
    ]


@pytest.mark.parametrize("client", CLUSTER_CLIENTS)
def test_partition_with_every_replica_stopped_is_offline_until_one_returns(cluster, client, topic_name):
    create_topic(client, cluster.bootstrap, topic_name, replication_factor=2)
    partition = cluster.wait_fully_replicated(topic_name)[0]
    produce_values(client, cluster.bootstrap, topic_name, values(0, 10))
    leader, follower = partition["leader"], other_replica(partition)

    cluster.stop_node(follower)
    cluster.wait_for_isr(topic_name, 0, {leader})
    cluster.stop_node(leader)
    offline = cluster.wait_for(
        lambda: (s := cluster.status())["offline_partitions"] and s, "an offline partition in /cluster"
    )
    assert [p["leader"] for p in offline["partitions"] if p["topic"] == topic_name] == [-1]
    # The third node still answers Metadata: no leader for the partition.
    cluster.wait_for(
        lambda: describe(client, cluster.bootstrap, topic_name)[0].leader == -1, f"{client} sees no leader"
    )

    # Unclean leader election is off: the follower that left the ISR must not take over.
    cluster.start_node(follower)
    assert cluster.leader_of(topic_name, 0) == -1
    cluster.start_node(leader)
    cluster.wait_for(lambda: cluster.leader_of(topic_name, 0) == leader, "the last in-sync replica leads again")
    cluster.wait_for(
        lambda: describe(client, cluster.bootstrap, topic_name)[0].leader == leader, f"{client} sees the leader"
    )
    produce_values(client, cluster.bootstrap, topic_name, values(10, 15))
    assert read_all(client, cluster.bootstrap, topic_name, [0], at_least=15) == values(0, 15)


@pytest.mark.parametrize("client", CLUSTER_CLIENTS)
def test_move_leader_while_producing(cluster, client, topic_name):
    """The old leader answers NOT_LEADER_OR_FOLLOWER from the move on; the
    producer refreshes its metadata and carries on with the new leader."""
    create_topic(client, cluster.bootstrap, topic_name)
    old = cluster.wait_fully_replicated(topic_name)[0]
    target = other_replica(old)
    with Sender(client, cluster.bootstrap, topic_name, acks="all", idempotent=True) as sender:
        sent = 0
        deadline = time.monotonic() + 8
        while len(sender.acked) < 100 and time.monotonic() < deadline:
            if sent == 30:
                cluster.move_leader(topic_name, 0, target)
            sender.send(b"%d" % sent)
            sent += 1
            sender.poll(0.01)
        sender.flush()

    assert not sender.errors, [(v, error_name(e)) for v, e in sender.errors]
    new = cluster.partition(topic_name, 0)
    assert new["leader"] == target and new["leader_epoch"] > old["leader_epoch"]
    assert metadata_from(cluster.addresses[target], topic_name)[0]["leader"] == target
    assert describe(client, cluster.bootstrap, topic_name)[0].leader == target
    assert read_all(client, cluster.bootstrap, topic_name, [0], at_least=sent) == values(0, sent)


@pytest.mark.parametrize("client", CLUSTER_CLIENTS)
def test_every_node_serves_the_same_metadata_after_a_change(cluster, client, topic_name):
    create_topic(client, cluster.bootstrap, topic_name, partitions=3)
    before = cluster.wait_fully_replicated(topic_name)
    stopped = before[0]["leader"]

    cluster.stop_node(stopped)

    def agreed():
        """/cluster's view once it no longer has the stopped node anywhere, if
        every running node's own Metadata answer says the same."""
        expected = {
            p["partition"]: {
                "error": 0,
                "leader": p["leader"],
                "leader_epoch": p["leader_epoch"],
                "replicas": p["replicas"],
                "isr": p["isr"],
            }
            for p in cluster.partitions(topic_name)
        }
        if any(p["leader"] == stopped or stopped in p["isr"] for p in expected.values()):
            return None
        answers = {n: metadata_from(cluster.addresses[n], topic_name) for n in cluster.running()}
        return expected if all(answer == expected for answer in answers.values()) else None

    expected = cluster.wait_for(agreed, "every running node's Metadata == /cluster")
    assert expected[0]["leader"] != stopped
    assert expected[0]["leader_epoch"] > before[0]["leader_epoch"]
    # And what the client makes of it.
    cluster.wait_for(
        lambda: (
            {p: (v.leader, list(v.isr)) for p, v in describe(client, cluster.bootstrap, topic_name).items()}
            == {p: (e["leader"], e["isr"]) for p, e in expected.items()}
        ),
        f"{client}'s Metadata == /cluster",
    )
