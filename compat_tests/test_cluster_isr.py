"""ISR shrink and expand on a 3-broker kwire with replica.lag.time.max.ms=1000:
a follower cut off from replication (the `isolate` control) leaves the ISR
once it has been behind for that long, and comes back once it has caught up;
clients see both in Metadata and keep producing with acks=all."""

from __future__ import annotations

import pytest

from compat_tests.cluster import heal_after, running_cluster
from compat_tests.cluster_clients import CLUSTER_CLIENTS, create_topic, describe, produce_values, read_all

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with running_cluster(
        tmp_path_factory.mktemp("cluster"),
        "-o",
        "default.replication.factor=3",
        "-o",
        "replica.lag.time.max.ms=1000",
    ) as cluster:
        yield cluster


@pytest.fixture(autouse=True)
def healed(cluster, request):
    yield from heal_after(cluster, request)


@pytest.mark.parametrize("client", CLUSTER_CLIENTS)
def test_isolated_follower_leaves_the_isr_and_returns(cluster, client, topic_name):
    create_topic(client, cluster.bootstrap, topic_name)
    partition = cluster.wait_fully_replicated(topic_name)[0]
    replicas = set(partition["replicas"])
    follower = next(r for r in partition["replicas"] if r != partition["leader"])
    produce_values(client, cluster.bootstrap, topic_name, [b"0"], acks="all")
    counters = cluster.status()

    cluster.isolate(follower, True)
    # The follower falls behind only when there is something it does not copy.
    produce_values(client, cluster.bootstrap, topic_name, [b"1"], acks=1, idempotent=False)
    cluster.wait_for_isr(topic_name, 0, replicas - {follower}, timeout_s=10)
    assert cluster.status()["isr_shrinks"] > counters["isr_shrinks"]
    cluster.wait_for(
        lambda: set(describe(client, cluster.bootstrap, topic_name)[0].isr) == replicas - {follower},
        f"{client} sees the follower out of the ISR",
    )
    # Two in-sync replicas are enough for acks=all (min.insync.replicas=1).
    produce_values(client, cluster.bootstrap, topic_name, [b"2"], acks="all")

    cluster.isolate(follower, False)
    cluster.wait_for_isr(topic_name, 0, replicas, timeout_s=10)
    assert cluster.status()["isr_expands"] > counters["isr_expands"]
    cluster.wait_for(
        lambda: set(describe(client, cluster.bootstrap, topic_name)[0].isr) == replicas,
        f"{client} sees the follower back in the ISR",
    )
    # Back in the ISR means caught up: led by the follower, nothing is missing.
    cluster.move_leader(topic_name, 0, follower)
    assert read_all(client, cluster.bootstrap, topic_name, [0], at_least=3) == [b"0", b"1", b"2"]


@pytest.mark.parametrize("client", CLUSTER_CLIENTS)
def test_slow_follower_leaves_the_isr_and_returns(cluster, client, topic_name):
    """A follower copying only every 3 s (> replica.lag.time.max.ms) while
    data keeps arriving falls out of the ISR; at full speed again it rejoins."""
    create_topic(client, cluster.bootstrap, topic_name)
    partition = cluster.wait_fully_replicated(topic_name)[0]
    replicas = set(partition["replicas"])
    follower = next(r for r in partition["replicas"] if r != partition["leader"])
    shrinks = cluster.status()["isr_shrinks"]

    cluster.slow(follower, 3000)
    sent = 0

    def out_of_sync():
        nonlocal sent
        produce_values(client, cluster.bootstrap, topic_name, [b"%d" % sent], acks=1, idempotent=False)
        sent += 1
        return follower not in cluster.partition(topic_name, 0)["isr"]

    cluster.wait_for(out_of_sync, "the slow follower out of the ISR", timeout_s=10)
    assert cluster.status()["isr_shrinks"] > shrinks

    cluster.slow(follower, 0)
    cluster.wait_for_isr(topic_name, 0, replicas, timeout_s=10)
    assert read_all(client, cluster.bootstrap, topic_name, [0], at_least=sent) == [b"%d" % n for n in range(sent)]
