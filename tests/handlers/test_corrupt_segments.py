"""Fetch and ListOffsets over a segment with a broken batch: the records
before it are served, the broken part is answered with CORRUPT_MESSAGE,
never with its bytes."""

import struct

from kwire.protocol.errors import ErrorCode
from tests.core_client import CoreClient, make_core
from tests.handlers import requests as rq
from tests.handlers.test_produce_fetch import fetched_values
from tests.log.segment_files import batches_in, patch, segment_paths


def test_fetch_and_list_offsets_answer_corrupt_message_for_a_broken_batch(tmp_path):
    core = make_core(tmp_path)
    client = CoreClient(core)
    client.call(19, 4, rq.create("t", 1, configs={"segment.bytes": "1000"}))
    for i in range(20):
        values = rq.batch(b"value-%02d" % i, b"more-%02d" % i, timestamp=1_000 + 10 * i)
        client.call(0, 9, rq.produce("t", 0, values))
    core.close()
    first = segment_paths(tmp_path / "t-0")[0]
    position, header = batches_in(first)[3]
    patch(first, position + 8, struct.pack(">i", -12))  # a batch length that makes its size 0

    client = CoreClient(make_core(tmp_path))  # a clean start: nothing re-validated
    try:
        part = client.call(1, 12, rq.fetch("t", 0, 0)).responses[0].partitions[0]
        assert part.error_code == ErrorCode.none
        assert [offset for offset, _value in fetched_values(part)] == list(range(header.base_offset))
        part = client.call(1, 12, rq.fetch("t", 0, header.base_offset)).responses[0].partitions[0]
        assert part.error_code == ErrorCode.corrupt_message
        assert not part.records
        assert part.high_watermark == 40
        listed = client.call(2, 7, rq.list_offsets("t", 0, 1_010)).topics[0].partitions[0]
        assert (listed.error_code, listed.offset) == (ErrorCode.none, 2)
        listed = client.call(2, 7, rq.list_offsets("t", 0, 1_030)).topics[0].partitions[0]
        assert listed.error_code == ErrorCode.corrupt_message
        assert client.call(2, 7, rq.list_offsets("t", 0, -1)).topics[0].partitions[0].offset == 40
    finally:
        client.core.close()


def test_list_offsets_by_time_over_a_batch_that_cannot_be_decoded_answers_corrupt_message(tmp_path):
    """A batch is stored without decoding its records; a timestamp lookup
    that must decode it and cannot gets CORRUPT_MESSAGE, not a closed connection."""
    from crc32c import crc32c

    from kwire.protocol.record_codec import GZIP, Record, build_batch

    core = make_core(tmp_path)
    client = CoreClient(core)
    try:
        client.call(19, 4, rq.create("t", 1))
        batch = build_batch([Record(0, 0, b"k", b"v" * 100)], base_timestamp=5_000, compression=GZIP)
        batch[70:80] = b"\xff" * 10  # the gzip stream is garbage now, the CRC made right again
        struct.pack_into(">I", batch, 17, crc32c(bytes(batch[21:])))
        assert client.call(0, 9, rq.produce("t", 0, bytes(batch))).responses[0].partition_responses[0].error_code == 0
        listed = client.call(2, 7, rq.list_offsets("t", 0, 4_000)).topics[0].partitions[0]
        assert listed.error_code == ErrorCode.corrupt_message
        assert client.call(2, 7, rq.list_offsets("t", 0, -1)).topics[0].partitions[0].offset == 1
    finally:
        core.close()
