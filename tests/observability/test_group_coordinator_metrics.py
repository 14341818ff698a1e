"""Kafka 4's group-coordinator-metrics gauges: groups per protocol, consumer
(KIP-848) and share (KIP-932) groups per state."""

import pytest

from tests.observability.watched import WatchedClient, metered_core, sample, scrape

PREFIX = "kafka_server_group_coordinator_metrics_"
CONSUMER_GROUP_HEARTBEAT, SHARE_GROUP_HEARTBEAT = 68, 76


@pytest.fixture
def client():
    core = metered_core(num_partitions=1)
    yield WatchedClient(core)
    core.close()


def test_groups_per_protocol_and_state(client):
    share = dict(group_id="s", member_id="m", member_epoch=0, rack_id=None, subscribed_topic_names=["t"])
    assert client.call(SHARE_GROUP_HEARTBEAT, 1, share).error_code == 0
    assert client.call(SHARE_GROUP_HEARTBEAT, 1, dict(share, group_id="idle")).error_code == 0
    assert client.call(SHARE_GROUP_HEARTBEAT, 1, dict(share, group_id="idle", member_epoch=-1)).error_code == 0
    consumer = dict(
        group_id="c",
        member_id="m",
        member_epoch=0,
        instance_id=None,
        rack_id=None,
        rebalance_timeout=30_000,
        subscribed_topic_names=["t"],
        server_assignor=None,
        topic_partitions=[],
    )
    assert client.call(CONSUMER_GROUP_HEARTBEAT, 0, consumer).error_code == 0
    families = scrape(client.core)
    assert sample(families, PREFIX + "group_count", protocol="share") == 2
    assert sample(families, PREFIX + "group_count", protocol="consumer") == 1
    assert sample(families, PREFIX + "group_count", protocol="classic") == 0
    assert sample(families, PREFIX + "share_group_count", state="Stable") == 1
    assert sample(families, PREFIX + "share_group_count", state="Empty") == 1
    assert sample(families, PREFIX + "share_group_count", state="Dead") == 0
    states = ("Empty", "Assigning", "Reconciling", "Stable", "Dead")
    assert sum(sample(families, PREFIX + "consumer_group_count", state=s) for s in states) == 1
