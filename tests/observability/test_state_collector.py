"""The gauges read from a node's state at scrape time."""

import pytest

from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode
from tests.cluster_cores import ClusterCores
from tests.core_client import CoreClient
from tests.handlers import requests as rq
from tests.observability.watched import WatchedClient, metered_core, sample, scrape


@pytest.fixture
def client():
    core = metered_core(num_partitions=2)
    yield WatchedClient(core)
    core.close()


def test_partitions_and_each_logs_size_and_offsets(client):
    first, second = rq.batch(b"a", b"b", b"c"), rq.batch(b"d")
    client.call(ApiKey.PRODUCE, 9, rq.produce("orders", 1, first))
    client.call(ApiKey.PRODUCE, 9, rq.produce("orders", 1, second))
    families = scrape(client.core)
    assert sample(families, "kafka_log_log_size", topic="orders", partition="1") == len(first) + len(second)
    assert sample(families, "kafka_log_log_logendoffset", topic="orders", partition="1") == 4
    assert sample(families, "kafka_log_log_logstartoffset", topic="orders", partition="1") == 0
    assert sample(families, "kafka_log_log_numlogsegments", topic="orders", partition="1") == 1
    assert sample(families, "kafka_log_log_logendoffset", topic="orders", partition="0") == 0
    assert sample(families, "kafka_server_replicamanager_partitioncount") == 2
    assert sample(families, "kafka_server_replicamanager_leadercount") == 2
    # A lone node is its own active controller.
    assert sample(families, "kafka_controller_kafkacontroller_activecontrollercount") == 1
    assert sample(families, "kafka_controller_kafkacontroller_globalpartitioncount") == 2
    assert sample(families, "kafka_controller_kafkacontroller_offlinepartitionscount") == 0
    assert sample(families, "kafka_server_replicamanager_underreplicatedpartitions") == 0
    assert sample(families, "kafka_server_kafkaserver_brokerstate") == 3
    assert sample(families, "kwire_info", version=__import__("kwire").__version__) == 1
    assert "process_cpu_seconds" in families


def test_producer_ids_of_idempotent_batches(client):
    init = client.call(
        ApiKey.INIT_PRODUCER_ID,
        4,
        dict(transactional_id=None, transaction_timeout=60_000, producer_id=-1, producer_epoch=-1),
    )
    from kwire.protocol.record_codec import Record, build_batch

    record = Record(offset_delta=0, timestamp_delta=0, key=None, value=b"v", headers=())
    batch = bytes(
        build_batch([record], base_timestamp=1, producer_id=init.producer_id, producer_epoch=0, base_sequence=0)
    )
    client.call(ApiKey.PRODUCE, 9, rq.produce("orders", 0, batch))
    assert sample(scrape(client.core), "kafka_server_replicamanager_produceridcount") == 1


def test_the_log_cleaners_last_cleaning_and_the_dirtiest_log(client):
    client.call(
        ApiKey.CREATE_TOPICS, 7, rq.create("compacted", configs={"cleanup.policy": "compact", "segment.bytes": "100"})
    )
    for value in (b"a" * 80, b"b" * 80, b"c" * 80):
        client.call(ApiKey.PRODUCE, 9, rq.produce("compacted", 0, rq.batch(value)))
    client.core.state.metrics.log_cleaned(1000, 250, 0.5)
    families = scrape(client.core)
    assert sample(families, "kafka_log_logcleanermanager_max_dirty_percent") == 100  # nothing cleaned yet
    assert sample(families, "kafka_log_logcleaner_cleaner_recopy_percent") == 25
    assert sample(families, "kafka_log_logcleaner_max_clean_time_secs") == 0.5
    assert sample(families, "kwire_log_cleaner_cleanings_total") == 1
    log = client.core.state.cluster.partition("compacted", 0).log
    log.cleaned_up_to(log.segments[-1].base_offset)
    assert sample(scrape(client.core), "kafka_log_logcleanermanager_max_dirty_percent") == 0


def test_a_cluster_nodes_replication_gauges_and_the_controllers_offline_partitions(tmp_path):
    cores = ClusterCores(3, tmp_path, http_port=0)
    try:
        admin = CoreClient(cores.cores[1])
        # "t" led by node 1 (the preferred leader comes first), "solo" only on node 3.
        for name, replicas in (("t", [1, 2, 3]), ("solo", [3])):
            assignment = [dict(partition_index=0, broker_ids=replicas)]
            created = admin.call(19, 7, rq.create(name, -1, -1, assignments=assignment)).topics[0]
            assert created.error_code == ErrorCode.none
        before = scrape(cores.cores[1])
        assert sample(before, "kafka_server_replicamanager_underreplicatedpartitions") == 0
        assert sample(before, "kafka_controller_kafkacontroller_offlinepartitionscount") == 0
        cores.stop(3)
        cores.replicate()
        after = scrape(cores.cores[1])  # the leader of "t", and the controller (the lowest live node)
        assert sample(after, "kafka_server_replicamanager_underreplicatedpartitions") == 1
        assert sample(after, "kafka_controller_kafkacontroller_activecontrollercount") == 1
        assert sample(after, "kafka_controller_kafkacontroller_offlinepartitionscount") == 1
        assert sample(after, "kafka_controller_kafkacontroller_globaltopiccount") == 2
        counters = cores.cores[1].state.replicas.counters
        counters.isr_shrinks, counters.isr_expands = 2, 5
        counted = scrape(cores.cores[1])
        assert sample(counted, "kafka_server_replicamanager_isrshrinks_total") == 2
        assert sample(counted, "kafka_server_replicamanager_isrexpands_total") == 5
        other = scrape(cores.cores[2])
        assert sample(other, "kafka_controller_kafkacontroller_activecontrollercount") == 0
        assert sample(other, "kafka_controller_kafkacontroller_offlinepartitionscount") == 0
        assert sample(other, "kafka_server_replicamanager_partitioncount") == 1  # its replica of "t"
        assert sample(other, "kafka_server_replicamanager_leadercount") == 0
    finally:
        cores.close()
