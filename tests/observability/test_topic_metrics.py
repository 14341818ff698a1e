"""BrokerTopicMetrics after a known workload through the produce and fetch handlers."""

import pytest

from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode
from tests.handlers import requests as rq
from tests.observability.watched import WatchedClient, metered_core, sample, scrape

BYTES_IN = "kafka_server_brokertopicmetrics_bytesin_total"
MESSAGES_IN = "kafka_server_brokertopicmetrics_messagesin_total"
BYTES_OUT = "kafka_server_brokertopicmetrics_bytesout_total"
PRODUCES = "kafka_server_brokertopicmetrics_totalproducerequests_total"
FETCHES = "kafka_server_brokertopicmetrics_totalfetchrequests_total"
FAILED_PRODUCES = "kafka_server_brokertopicmetrics_failedproducerequests_total"
FAILED_FETCHES = "kafka_server_brokertopicmetrics_failedfetchrequests_total"


@pytest.fixture
def client():
    core = metered_core(num_partitions=2)
    yield WatchedClient(core)
    core.close()


def test_messages_and_bytes_in_per_topic_and_for_all_topics(client):
    batches = [rq.batch(b"a", b"b", b"c"), rq.batch(b"d", b"e"), rq.batch(b"f")]
    for position, batch in enumerate(batches):
        response = client.call(ApiKey.PRODUCE, 9, rq.produce("orders", position % 2, batch))
        assert response.responses[0].partition_responses[0].error_code == ErrorCode.none
    client.call(ApiKey.PRODUCE, 9, rq.produce("other", 0, rq.batch(b"g")))
    families = scrape(client.core)
    assert sample(families, MESSAGES_IN, topic="orders") == 6
    assert sample(families, BYTES_IN, topic="orders") == sum(map(len, batches))
    assert sample(families, PRODUCES, topic="orders") == 3
    assert sample(families, MESSAGES_IN) == 7  # all topics: the sample without labels
    assert sample(families, FAILED_PRODUCES, topic="orders") == 0


def test_a_refused_batch_counts_as_failed_for_its_topic_and_its_error(client):
    client.call(ApiKey.CREATE_TOPICS, 7, rq.create("small", configs={"max.message.bytes": "100"}))
    response = client.call(ApiKey.PRODUCE, 9, rq.produce("small", 0, rq.batch(b"x" * 200)))
    assert response.responses[0].partition_responses[0].error_code == ErrorCode.message_too_large
    assert client.events[-1].errors == {ErrorCode.message_too_large: 1}
    families = scrape(client.core)
    assert sample(families, FAILED_PRODUCES, topic="small") == 1
    assert sample(families, FAILED_PRODUCES, error="MESSAGE_TOO_LARGE") == 1
    assert sample(families, MESSAGES_IN, topic="small") == 0
    assert (
        sample(families, "kafka_network_requestmetrics_errors_total", request="Produce", error="MESSAGE_TOO_LARGE") == 1
    )


def test_bytes_out_counts_the_record_bytes_fetched(client):
    batch = rq.batch(b"a", b"b")
    client.call(ApiKey.PRODUCE, 9, rq.produce("orders", 0, batch))
    client.call(ApiKey.FETCH, 12, rq.fetch("orders", 0, 0))
    client.call(ApiKey.FETCH, 12, rq.fetch("orders", 0, 2))  # at the end: no records
    families = scrape(client.core)
    assert sample(families, BYTES_OUT, topic="orders") == len(batch)
    assert sample(families, FETCHES, topic="orders") == 2


def test_fetch_errors_are_noted_and_count_for_the_error_not_for_a_name_that_is_no_topic(client):
    client.call(ApiKey.PRODUCE, 9, rq.produce("orders", 0, rq.batch(b"a")))
    client.call(ApiKey.FETCH, 12, rq.fetch("orders", 0, 99))
    assert client.events[-1].errors == {ErrorCode.offset_out_of_range: 1}
    client.call(ApiKey.FETCH, 12, rq.fetch("missing", 0, 0))
    assert client.events[-1].errors == {ErrorCode.unknown_topic_or_partition: 1}
    families = scrape(client.core)
    assert sample(families, FAILED_FETCHES, topic="orders") == 1
    assert sample(families, FAILED_FETCHES, topic="missing") is None
    assert sample(families, FAILED_FETCHES, error="OFFSET_OUT_OF_RANGE") == 1
    assert sample(families, FAILED_FETCHES, error="UNKNOWN_TOPIC_OR_PARTITION") == 1


def test_a_deleted_topic_leaves_its_counts_in_the_all_topics_totals(client):
    client.call(ApiKey.PRODUCE, 9, rq.produce("doomed", 0, rq.batch(b"a", b"b")))
    client.call(ApiKey.DELETE_TOPICS, 4, dict(topic_names=["doomed"], timeout=1000))
    families = scrape(client.core)
    assert sample(families, MESSAGES_IN, topic="doomed") is None
    assert sample(families, MESSAGES_IN) == 2


def test_a_session_fetch_notes_its_error(client):
    client.call(ApiKey.FETCH, 12, rq.fetch("orders", 0, 0, session_id=5, session_epoch=1))
    assert client.events[-1].errors == {ErrorCode.fetch_session_id_not_found: 1}
