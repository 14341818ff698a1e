"""What one client writes, every other client reads byte for byte."""

import itertools

import pytest

from compat_tests.clients import CLIENTS, Outgoing, consume, produce

PAIRS = [(a, b) for a, b in itertools.product(CLIENTS, CLIENTS) if a != b]


@pytest.mark.parametrize("producer, consumer", PAIRS)
def test_cross_client(shared_kwire, topic_name, producer, consumer):
    sent = [
        # (never both key and value null: aiokafka refuses that)
        Outgoing(
            key=b"k%d" % i if i % 5 else None,
            value=bytes([i % 256]) * (i % 300) if i % 11 or not i % 5 else None,
            headers=(("from", producer.encode()), ("i", b"%d" % i)),
            timestamp=1_650_000_000_000 + i,
            partition=0,
        )
        for i in range(400)
    ]
    produce(producer, shared_kwire.bootstrap, topic_name, sent)
    got = consume(consumer, shared_kwire.bootstrap, topic_name, [0], len(sent))
    assert [(m.offset, m.key, m.value, m.headers, m.timestamp) for m in got] == [
        (i, s.key, s.value, s.headers, s.timestamp) for i, s in enumerate(sent)
    ]
