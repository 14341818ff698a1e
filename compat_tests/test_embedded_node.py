"""Real clients against a node embedded in the test process (started in a
thread of its own with `start_node_in_thread`, not as a subprocess): each
client produces what the other consumes, the data survives the node's stop
and a new start on the same directory, two nodes serve at once, and no
kwire thread outlives them."""

from __future__ import annotations

import threading

import pytest

from compat_tests.clients import Outgoing, consume, create_topic, produce
from kwire.config import BrokerConfig
from kwire.server.node_thread import start_node_in_thread

N_MESSAGES = 200
PAIRS = [("confluent-kafka", "kafka-python"), ("kafka-python", "confluent-kafka")]


def messages(tag: str) -> list[Outgoing]:
    return [
        Outgoing(key=b"k%d" % (i % 7), value=f"{tag}-{i}".encode(), headers=(("n", b"%d" % i),))
        for i in range(N_MESSAGES)
    ]


def values(topic: str, bootstrap: str, client: str, partitions: list[int]) -> list[bytes]:
    received = consume(client, bootstrap, topic, partitions, N_MESSAGES)
    return sorted(message.value for message in received)


def kwire_threads() -> list[str]:
    return [thread.name for thread in threading.enumerate() if thread.name.startswith("kwire")]


@pytest.mark.parametrize(("producer", "consumer"), PAIRS)
def test_clients_produce_and_consume_through_an_embedded_node(tmp_path, topic_name, producer, consumer):
    config = BrokerConfig(port=0, data_dir=tmp_path / "data")
    expected = sorted(message.value for message in messages(producer))
    with start_node_in_thread(config) as node:
        create_topic(producer, node.bootstrap_servers, topic_name, partitions=2)
        assert len(produce(producer, node.bootstrap_servers, topic_name, messages(producer))) == N_MESSAGES
        assert values(topic_name, node.bootstrap_servers, consumer, [0, 1]) == expected
    assert kwire_threads() == []
    with start_node_in_thread(BrokerConfig(port=node.port, data_dir=tmp_path / "data")) as again:
        assert values(topic_name, again.bootstrap_servers, producer, [0, 1]) == expected
    assert kwire_threads() == []


def test_two_embedded_nodes_serve_at_once(tmp_path, topic_name):
    with (
        start_node_in_thread(BrokerConfig(port=0, data_dir=tmp_path / "a")) as a,
        start_node_in_thread(BrokerConfig(port=0, data_dir=None)) as b,
    ):
        for node, client in ((a, "confluent-kafka"), (b, "kafka-python")):
            produce(client, node.bootstrap_servers, topic_name, messages(client))
        assert values(topic_name, a.bootstrap_servers, "kafka-python", [0]) == sorted(
            message.value for message in messages("confluent-kafka")
        )
        assert values(topic_name, b.bootstrap_servers, "confluent-kafka", [0]) == sorted(
            message.value for message in messages("kafka-python")
        )
    assert kwire_threads() == []
