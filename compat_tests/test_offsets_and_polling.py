"""Start positions, ListOffsets, long polls and out-of-range fetches."""

import threading
import time

import pytest

from compat_tests.clients import CLIENTS, Outgoing, Reader, consume, create_topic, produce, watermarks


def values(prefix, count):
    return [Outgoing(key=None, value=b"%s-%d" % (prefix, i), partition=0) for i in range(count)]


@pytest.mark.parametrize("client", CLIENTS)
def test_earliest_latest_and_explicit_offset(shared_kwire, topic_name, client):
    bootstrap = shared_kwire.bootstrap
    create_topic(client, bootstrap, topic_name, 1)
    produce(client, bootstrap, topic_name, values(b"old", 10))
    assert watermarks(client, bootstrap, topic_name, 0) == (0, 10)

    with Reader(client, bootstrap).assign(topic_name, [0], "latest") as latest:
        produce(client, bootstrap, topic_name, values(b"new", 3))
        got = latest.poll(3)
    assert [(m.offset, m.value) for m in got] == [(10, b"new-0"), (11, b"new-1"), (12, b"new-2")]

    from_seven = consume(client, bootstrap, topic_name, [0], 6, start=7)
    assert [m.offset for m in from_seven] == [7, 8, 9, 10, 11, 12]
    assert consume(client, bootstrap, topic_name, [0], 13, start="earliest")[0].value == b"old-0"
    assert watermarks(client, bootstrap, topic_name, 0) == (0, 13)


@pytest.mark.parametrize("client", CLIENTS)
def test_long_poll_wakes_on_produce(shared_kwire, topic_name, client):
    bootstrap = shared_kwire.bootstrap
    create_topic("confluent-kafka", bootstrap, topic_name, 1)
    wait_options = {
        "kafka-python": {"fetch_max_wait_ms": 5000},
        "confluent-kafka": {"fetch.wait.max.ms": 5000},
        "aiokafka": {"fetch_max_wait_ms": 5000},
    }[client]
    with Reader(client, bootstrap, **wait_options).assign(topic_name, [0], "earliest") as reader:
        assert reader.poll(1, timeout=1.0) == []  # the consumer is now parked in a long poll
        sent_at = {}

        def send_later():
            time.sleep(0.3)
            sent_at["t"] = time.monotonic()
            produce("confluent-kafka", bootstrap, topic_name, values(b"wake", 1), **{"linger.ms": 0})

        sender = threading.Thread(target=send_later)
        sender.start()
        got = reader.poll(1, timeout=10)
        received_at = time.monotonic()
        sender.join(10)
    assert [m.value for m in got] == [b"wake-0"]
    # Woken by the append, not by the 5 s wait running out (generous bound).
    assert received_at - sent_at["t"] < 2.5


def test_offset_out_of_range_surfaces_in_clients(shared_kwire, topic_name):
    bootstrap = shared_kwire.bootstrap
    create_topic("kafka-python", bootstrap, topic_name, 1)
    produce("kafka-python", bootstrap, topic_name, values(b"x", 3))

    from kafka.errors import OffsetOutOfRangeError

    with Reader("kafka-python", bootstrap, auto_offset_reset="none").assign(topic_name, [0], 50) as reader:
        with pytest.raises(OffsetOutOfRangeError):
            reader.poll(1, timeout=10)

    from confluent_kafka import KafkaError

    with Reader("confluent-kafka", bootstrap, **{"auto.offset.reset": "error"}).assign(topic_name, [0], 50) as reader:
        with pytest.raises(RuntimeError) as info:
            reader.poll(1, timeout=10)
        assert info.value.args[0].code() in (KafkaError.OFFSET_OUT_OF_RANGE, KafkaError._AUTO_OFFSET_RESET)

    # With a reset policy the client recovers to the log end and keeps going.
    with Reader("aiokafka", bootstrap, auto_offset_reset="latest").assign(topic_name, [0], 50) as reader:
        reader.poll(1, timeout=1)
        produce("aiokafka", bootstrap, topic_name, values(b"after", 1))
        assert [m.offset for m in reader.poll(1, timeout=10)] == [3]
