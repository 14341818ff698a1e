"""`kwire consume` against an in-process node: start positions, limits,
group commits, out-of-range positions, and the read_committed walk over
hand-built transactional batches."""

import io

import attrs
import pytest

from kwire.admin.cluster_client import ClusterClient, ClusterError
from kwire.admin.consume_command import EARLIEST, LATEST, READ_COMMITTED, Consumer, StartAt
from kwire.admin.produce_command import Producer
from kwire.admin.record_formats import renderer
from kwire.protocol.control_batches import build_marker
from kwire.protocol.record_codec import Record, build_batch
from kwire.protocol.records import patch_offsets


@pytest.fixture
def cluster(node):
    with ClusterClient(node.bootstrap_servers) as client:
        yield client


def fill(cluster, topic, count, batch_size=1_000_000):
    producer = Producer(cluster, topic, partition=0, batch_size=batch_size)
    for i in range(count):
        producer.add(None, b"m%d" % i, 1_000 + i)
    producer.flush()


def consume(cluster, topic, start=None, **options):
    out = io.BytesIO()
    consumer = Consumer(cluster, topic, out, renderer("value", b""), start=start, **options)
    consumer.run()
    consumer.commit()
    return out.getvalue(), consumer


def test_start_positions(cluster):
    fill(cluster, "starts", 5)
    assert consume(cluster, "starts", timeout_ms=0)[0] == b""  # latest by default
    assert consume(cluster, "starts", StartAt(EARLIEST), timeout_ms=0)[0] == b"m0\nm1\nm2\nm3\nm4\n"
    assert consume(cluster, "starts", StartAt(3), timeout_ms=0)[0] == b"m3\nm4\n"
    assert consume(cluster, "starts", StartAt(LATEST, timestamp=1_002), timeout_ms=0)[0] == b"m2\nm3\nm4\n"
    assert consume(cluster, "starts", StartAt(EARLIEST, timestamp=99_999), timeout_ms=0)[0] == b""


def test_max_messages_stops_inside_a_batch_and_the_group_resumes_there(cluster):
    fill(cluster, "limits", 10)  # one batch
    out, consumer = consume(cluster, "limits", StartAt(EARLIEST), group="g", max_messages=4)
    assert out == b"m0\nm1\nm2\nm3\n"
    assert consumer.positions[0].committed == 4
    assert consume(cluster, "limits", group="g", timeout_ms=0)[0] == b"m4\nm5\nm6\nm7\nm8\nm9\n"
    assert consume(cluster, "limits", group="g", timeout_ms=0)[0] == b""


def test_an_offset_past_the_end_moves_to_the_end(cluster, capsys):
    fill(cluster, "range", 3)
    out, consumer = consume(cluster, "range", StartAt(50), timeout_ms=0)
    assert out == b"" and consumer.positions[0].offset == 3
    assert "offset out of range, now at 3" in capsys.readouterr().err


def test_an_unknown_topic_is_one_error(cluster):
    with pytest.raises(ClusterError, match="UNKNOWN_TOPIC_OR_PARTITION"):
        Consumer(cluster, "no-such-topic", io.BytesIO(), renderer("value", b""))


def _at(batch, offset):
    patch_offsets(batch, offset)  # base offset is outside the CRC
    return bytes(batch)


def _transactional(producer_id, values, offset):
    records = [Record(offset_delta=i, timestamp_delta=0, key=None, value=v) for i, v in enumerate(values)]
    return _at(build_batch(records, producer_id=producer_id, producer_epoch=0, is_transactional=True), offset)


@attrs.frozen
class Aborted:
    producer_id: int
    first_offset: int


@attrs.frozen
class FetchedPartition:
    partition_index: int
    records: bytes
    aborted_transactions: tuple


def test_read_committed_skips_aborted_batches_and_every_marker(cluster):
    fill(cluster, "txn", 1)
    consumer = Consumer(cluster, "txn", io.BytesIO(), renderer("value", b""), isolation_level=READ_COMMITTED)
    consumer.positions[0].offset = 0
    log = b"".join(
        [
            _transactional(7, [b"a1", b"a2"], 0),  # producer 7: aborted
            _transactional(8, [b"c1"], 2),  # producer 8: committed
            _at(build_marker(7, 0, commit=False, timestamp_ms=0), 3),
            _transactional(7, [b"c2"], 4),  # producer 7 again, after its abort: committed
            _at(build_marker(8, 0, commit=True, timestamp_ms=0), 5),
            _at(build_marker(7, 0, commit=True, timestamp_ms=0), 6),
        ]
    )
    fetched = FetchedPartition(0, log, (Aborted(producer_id=7, first_offset=0),))
    assert b"".join(consumer._records(fetched)) == b"c1\nc2\n"
    assert consumer.positions[0].offset == 7
    # read_uncommitted: everything but the markers.
    consumer.isolation_level = 0
    consumer.positions[0].offset = 0
    assert b"".join(consumer._records(fetched)) == b"a1\na2\nc1\nc2\n"
    # A partial batch at the end of a fetch is left for the next one.
    consumer.positions[0].offset = 0
    assert b"".join(consumer._records(FetchedPartition(0, log[:-5], ()))) == b"a1\na2\nc1\nc2\n"
    assert consumer.positions[0].offset == 6
