"""A whole 3-broker kwire stopped (SIGTERM) and started again on the same
data directory and --port: the data, the leaders and their leader epochs are
as they were, and clients carry on with the same bootstrap servers."""

from __future__ import annotations

import pytest

from compat_tests.cluster import free_port_range
from compat_tests.cluster_clients import CLUSTER_CLIENTS, create_topic, describe, produce_values, read_all

pytestmark = pytest.mark.timeout(60)


def leadership(partitions: list[dict]) -> dict[int, tuple]:
    return {p["partition"]: (p["leader"], p["leader_epoch"], p["replicas"], sorted(p["isr"])) for p in partitions}


@pytest.mark.parametrize("client", CLUSTER_CLIENTS)
def test_whole_cluster_restart_keeps_data_leaders_and_epochs(start_cluster, client, topic_name):
    cluster = start_cluster("-o", "default.replication.factor=3", port=free_port_range(3))
    bootstrap = cluster.bootstrap
    create_topic(client, bootstrap, topic_name, partitions=3)
    first = cluster.wait_fully_replicated(topic_name)
    values = [b"%d" % n for n in range(30)]
    produce_values(client, bootstrap, topic_name, values)
    # A leader that is not the preferred one, in a later epoch: a restart must keep both.
    target = first[0]["replicas"][1]
    cluster.move_leader(topic_name, 0, target)
    before = leadership(cluster.wait_fully_replicated(topic_name))
    assert before[0][:2] == (target, first[0]["leader_epoch"] + 1)

    assert cluster.stop() == 0
    cluster.start()

    assert cluster.bootstrap == bootstrap  # the same --port: the same addresses
    assert leadership(cluster.wait_fully_replicated(topic_name)) == before
    seen = describe(client, bootstrap, topic_name)
    assert {p: view.leader for p, view in seen.items()} == {p: state[0] for p, state in before.items()}
    for reader in (client, "aiokafka"):  # aiokafka too: reading is cheap
        read = read_all(reader, bootstrap, topic_name, [0, 1, 2], at_least=30)
        assert sorted(read, key=int) == values, reader
    produce_values(client, bootstrap, topic_name, [b"after"])
    assert len(read_all(client, bootstrap, topic_name, [0, 1, 2], at_least=31)) == 31
