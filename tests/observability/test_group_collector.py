"""Group counts, consumer lag and transactions, read at scrape time."""

import pytest

from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode
from tests.handlers import requests as rq
from tests.handlers.test_groups_and_offsets import join_and_sync
from tests.observability.watched import WatchedClient, metered_core, sample, scrape

GROUPS = "kafka_coordinator_group_groupmetadatamanager_"


@pytest.fixture
def client():
    core = metered_core(num_partitions=2, group_initial_rebalance_delay_ms=0)
    yield WatchedClient(core)
    core.close()


def test_a_group_k_behind_has_lag_k_per_partition(client):
    client.call(ApiKey.PRODUCE, 9, rq.produce("orders", 0, rq.batch(*[b"%d" % i for i in range(10)])))
    client.call(ApiKey.PRODUCE, 9, rq.produce("orders", 1, rq.batch(b"a", b"b", b"c", b"d")))
    for partition, offset in ((0, 3), (1, 4)):
        answer = client.call(ApiKey.OFFSET_COMMIT, 8, rq.offset_commit("readers", "orders", partition, offset))
        assert answer.topics[0].partitions[0].error_code == ErrorCode.none
    families = scrape(client.core)
    assert sample(families, "kwire_consumer_group_lag", group="readers", topic="orders", partition="0") == 7
    assert sample(families, "kwire_consumer_group_lag", group="readers", topic="orders", partition="1") == 0
    assert sample(families, "kafka_consumergroup_lag", consumergroup="readers", topic="orders", partition="0") == 7
    assert (
        sample(families, "kafka_consumergroup_current_offset", consumergroup="readers", topic="orders", partition="0")
        == 3
    )
    assert sample(families, "kafka_consumergroup_lag_sum", consumergroup="readers", topic="orders") == 7
    assert sample(families, GROUPS + "numoffsets") == 2
    assert sample(families, GROUPS + "numgroups") == 1
    assert sample(families, GROUPS + "numgroupsempty") == 1


def test_group_counts_per_state(client):
    join_and_sync(client)  # group "g": one member, Stable
    families = scrape(client.core)
    assert sample(families, GROUPS + "numgroups") == 1
    assert sample(families, GROUPS + "numgroupsstable") == 1
    assert sample(families, GROUPS + "numgroupspreparingrebalance") == 0
    assert sample(families, "kafka_consumergroup_members", consumergroup="g") == 1


def test_transactional_ids_per_state(client):
    values = dict(transactional_id="tx", transaction_timeout=60_000, producer_id=-1, producer_epoch=-1)
    assert client.call(ApiKey.INIT_PRODUCER_ID, 4, values).error_code == ErrorCode.none
    families = scrape(client.core)
    assert sample(families, "kwire_transactions", state="Empty") == 1
    assert sample(families, "kwire_transactions", state="Ongoing") == 0
    assert sample(families, "kwire_transactional_ids") == 1
