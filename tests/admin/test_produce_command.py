"""`kwire produce` against an in-process node: batches as Kafka lays them
out, lines to records, linger while the input waits, refusals."""

import io
import os
import threading
import time

import pytest

from kwire.admin.cluster_client import ClusterClient, ClusterError
from kwire.admin.consume_command import EARLIEST, Consumer, StartAt
from kwire.admin.produce_command import KeySeparatorMissing, PartitionBatch, Producer, encode_headers, produce_lines
from kwire.admin.record_formats import renderer
from kwire.config import BrokerConfig
from kwire.protocol.record_codec import GZIP, NONE, ZSTD, iter_records
from kwire.protocol.records import parse_header, validate_produced_batch
from kwire.server.node_thread import start_node_in_thread


@pytest.fixture(scope="module")
def node():
    config = BrokerConfig(port=0, data_dir=None)
    config.apply_override("num.partitions", "3")
    with start_node_in_thread(config) as running:
        yield running


@pytest.fixture
def cluster(node):
    with ClusterClient(node.bootstrap_servers) as client:
        yield client


def read_all(cluster, topic, format_name="key:value", **options):
    out = io.BytesIO()
    consumer = Consumer(cluster, topic, out, renderer(format_name, b"="), start=StartAt(EARLIEST), **options)
    consumer.run()
    return out.getvalue()


@pytest.mark.parametrize("codec", [NONE, GZIP, ZSTD])
def test_a_sealed_batch_is_a_valid_v2_batch_with_every_record(codec):
    batch = PartitionBatch(1_000, encode_headers([(b"h", b"v")]))
    batch.add(b"k", b"one", 1_000)
    batch.add(None, b"", 1_004)
    batch.add(b"k" * 300, b"x" * 20_000, 1_009)
    sealed = batch.seal(codec)
    header = validate_produced_batch(sealed, 10 << 20)  # the broker's own checks, CRC included
    assert (header.records_count, header.last_offset_delta, header.compression) == (3, 2, codec)
    assert (header.base_timestamp, header.max_timestamp, header.producer_id) == (1_000, 1_009, -1)
    records = list(iter_records(sealed))
    assert [(r.offset, r.timestamp, r.key, r.value) for r in records] == [
        (0, 1_000, b"k", b"one"),
        (1, 1_004, None, b""),
        (2, 1_009, b"k" * 300, b"x" * 20_000),
    ]
    assert all(r.headers == (("h", b"v"),) for r in records)
    assert parse_header(sealed).partition_leader_epoch == -1


def test_lines_become_records_and_read_back(cluster, tmp_path):
    source = tmp_path / "lines"
    source.write_bytes(b"a=1\r\nb=2\n=empty key\nc=\nd=4")  # CRLF, an empty key and value, no final newline
    producer = Producer(cluster, "lines", partition=1)
    with open(source, "rb") as lines:
        assert produce_lines(producer, lines, b"=") == 5
    assert read_all(cluster, "lines", timeout_ms=300) == b"a=1\nb=2\n=empty key\nc=\nd=4\n"


def test_batches_fill_to_the_batch_size_and_spread_keyless_records(cluster, tmp_path):
    source = tmp_path / "many"
    source.write_bytes(b"".join(b"line-%04d\n" % i for i in range(1000)))
    producer = Producer(cluster, "many", batch_size=2_000)
    with open(source, "rb") as lines:
        assert produce_lines(producer, lines, None) == 1000
    out = io.BytesIO()
    Consumer(cluster, "many", out, renderer("json", b""), start=StartAt(EARLIEST), timeout_ms=300).run()
    import json

    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert sorted(r["value"] for r in rows) == [f"line-{i:04d}" for i in range(1000)]
    counts = [sum(1 for r in rows if r["partition"] == p) for p in range(3)]
    assert all(count > 200 for count in counts), counts


def test_a_batch_lingers_only_while_the_input_waits(node, cluster):
    read_end, write_end = os.pipe()
    producer = Producer(cluster, "linger", partition=0)
    # The sending thread has `cluster` to itself: one connection answers one caller.
    with open(read_end, "rb", buffering=0) as source, ClusterClient(node.bootstrap_servers) as reader:
        sender = threading.Thread(target=produce_lines, args=(producer, source, None, 50), daemon=True)
        sender.start()
        os.write(write_end, b"first\n")
        deadline = time.monotonic() + 10
        while read_all(reader, "linger", timeout_ms=0) == b"" and time.monotonic() < deadline:
            time.sleep(0.05)
        # Sent while the input is still open: the batch did not wait for the end.
        assert read_all(reader, "linger", timeout_ms=0) == b"null=first\n"
        os.close(write_end)
        sender.join(10)
    assert not sender.is_alive()


def test_a_line_without_the_key_separator_is_refused_with_its_number(cluster, tmp_path):
    source = tmp_path / "bad"
    source.write_bytes(b"k:v\nno separator here\n")
    with open(source, "rb") as lines, pytest.raises(KeySeparatorMissing, match="line number 2: 'no separator"):
        produce_lines(Producer(cluster, "bad"), lines, b":")


def test_a_missing_partition_is_refused(cluster):
    with pytest.raises(ClusterError, match="no partition 9"):
        Producer(cluster, "lines", partition=9)
