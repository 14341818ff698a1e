"""Pushed metrics decoded: every codec, bounds, and bad bytes refused cleanly."""

import random

import pytest

from kwire.protocol.record_codec import GZIP, LZ4, NONE, SNAPPY, ZSTD, compress
from kwire.telemetry.otlp import MAX_POINTS, TelemetryDecodeError, decode_push
from tests.telemetry.otlp_samples import any_value_kinds, metrics_data

LIMIT = 16 * 1024 * 1024


@pytest.mark.parametrize("codec", [NONE, GZIP, SNAPPY, LZ4, ZSTD])
def test_a_push_in_every_codec(codec):
    decoded = decode_push(compress(codec, metrics_data()), codec, LIMIT)
    assert dict(decoded.resource) == {"client_rack": "rack-a", "transactional_id": "tx-1"}
    by_name = {point.name: point for point in decoded.points}
    queue = by_name["org.apache.kafka.producer.record.queue.time.avg"]
    assert (queue.kind, queue.value, queue.attributes, queue.unit) == ("gauge", 12.5, (("topic", "orders"),), "ms")
    retries = by_name["org.apache.kafka.producer.record.retry.total"]
    assert (retries.kind, retries.value, retries.delta, retries.monotonic) == ("sum", 3.0, True, True)
    latency = by_name["org.apache.kafka.producer.node.request.latency"]
    assert (latency.kind, latency.count, latency.value, latency.minimum, latency.maximum) == (
        "histogram",
        4,
        40.0,
        2.0,
        20.0,
    )


def test_attribute_values_of_every_kind_become_text():
    (kinds, summary) = decode_push(any_value_kinds(), NONE, LIMIT).points
    attributes = dict(kinds.attributes)
    assert (attributes["b"], attributes["d"], attributes["y"]) == ("True", "1.5", "0102")
    assert "int_value: 1" in attributes["a"]
    assert (summary.kind, summary.count, summary.value) == ("summary", 2, 3.0)


@pytest.mark.parametrize("codec", [GZIP, LZ4, ZSTD, SNAPPY])
def test_a_compression_bomb_stops_at_the_limit(codec):
    bomb = compress(codec, bytes(4 * 1024 * 1024))
    assert len(bomb) < 300 * 1024
    with pytest.raises(TelemetryDecodeError, match="decompress"):
        decode_push(bomb, codec, 1024 * 1024)


def test_an_unknown_codec_and_bad_compressed_bytes_are_refused():
    with pytest.raises(TelemetryDecodeError):
        decode_push(metrics_data(), 9, LIMIT)
    with pytest.raises(TelemetryDecodeError):
        decode_push(b"not zstd at all", ZSTD, LIMIT)


def test_bytes_that_are_not_otlp_are_refused():
    with pytest.raises(TelemetryDecodeError):
        decode_push(b"\xff\xff\xff\xff\xff", NONE, LIMIT)


def test_mutated_pushes_decode_or_are_refused_never_anything_else():
    rng = random.Random(714)
    good = metrics_data()
    compressed = compress(ZSTD, good)
    refused = 0
    for _ in range(2000):
        codec, base = rng.choice([(NONE, good), (ZSTD, compressed)])
        mutated = bytearray(base)
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(mutated))
            if rng.random() < 0.8:
                mutated[position] = rng.randrange(256)
            else:
                del mutated[position:]
                break
        try:
            decode_push(bytes(mutated), codec, LIMIT)
        except TelemetryDecodeError:
            refused += 1
    assert refused > 0


def test_at_most_max_points_from_one_push():
    from opentelemetry.proto.metrics.v1 import metrics_pb2

    data = metrics_pb2.MetricsData()
    metric = data.resource_metrics.add().scope_metrics.add().metrics.add(name="many")
    for index in range(MAX_POINTS + 5):
        metric.gauge.data_points.add(as_int=index)
    assert len(decode_push(data.SerializeToString(), NONE, LIMIT).points) == MAX_POINTS
