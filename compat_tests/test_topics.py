"""Topic creation: explicit, automatic, and Kafka's errors."""

import pytest

from compat_tests.clients import CLIENTS, Outgoing, consume, create_topic, produce


def partitions_of(bootstrap, topic):
    from confluent_kafka.admin import AdminClient

    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=10)
    entry = metadata.topics[topic]
    return len(entry.partitions), entry.error


@pytest.mark.parametrize("client", CLIENTS)
def test_producing_to_an_unknown_topic_creates_it(start_kwire, client):
    broker = start_kwire("-o", "num.partitions=4", memory=True)
    produce(client, broker.bootstrap, "born-on-produce", [Outgoing(key=b"k", value=b"v")])
    assert partitions_of(broker.bootstrap, "born-on-produce") == (4, None)
    assert len(consume(client, broker.bootstrap, "born-on-produce", [0, 1, 2, 3], 1)) == 1


def test_auto_creation_off(start_kwire):
    broker = start_kwire("-o", "auto.create.topics.enable=false", memory=True)
    count, error = partitions_of(broker.bootstrap, "never")
    assert count == 0 and error is not None and error.code() == 3  # UNKNOWN_TOPIC_OR_PARTITION

    from kafka import KafkaProducer
    from kafka.errors import KafkaTimeoutError

    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, max_block_ms=2000)
    try:
        with pytest.raises(KafkaTimeoutError):  # the topic never appears in metadata
            producer.send("never", b"v").get(5)
    finally:
        producer.close(5)


def test_create_existing_and_invalid_topics(shared_kwire, topic_name):
    bootstrap = shared_kwire.bootstrap
    create_topic("kafka-python", bootstrap, topic_name, 2)

    from kafka.errors import InvalidTopicError, TopicAlreadyExistsError

    with pytest.raises(TopicAlreadyExistsError):
        create_topic("kafka-python", bootstrap, topic_name, 2)

    from confluent_kafka import KafkaError, KafkaException

    with pytest.raises(KafkaException) as info:
        create_topic("confluent-kafka", bootstrap, topic_name, 2)
    assert info.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS

    for bad in ["bad name!", "..", "x" * 250]:
        with pytest.raises(InvalidTopicError):
            create_topic("kafka-python", bootstrap, bad, 1)
        with pytest.raises(KafkaException) as info:
            create_topic("confluent-kafka", bootstrap, bad, 1)
        assert info.value.args[0].code() == KafkaError.TOPIC_EXCEPTION

    from aiokafka.errors import TopicAlreadyExistsError as AioExists

    with pytest.raises(AioExists):
        create_topic("aiokafka", bootstrap, topic_name, 2)


def test_topic_configs_are_validated(shared_kwire, topic_name):
    from confluent_kafka import KafkaError, KafkaException

    create_topic("confluent-kafka", shared_kwire.bootstrap, topic_name, 1, configs={"retention.ms": "60000"})
    with pytest.raises(KafkaException) as info:
        create_topic("confluent-kafka", shared_kwire.bootstrap, topic_name + "-bad", 1, configs={"no.such": "1"})
    assert info.value.args[0].code() == KafkaError.INVALID_CONFIG
