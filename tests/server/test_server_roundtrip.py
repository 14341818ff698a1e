"""The trio server in-process, driven with raw protocol frames."""

from __future__ import annotations

import struct

import trio

from kwire.config import BrokerConfig
from kwire.core import BrokerCore
from kwire.protocol.errors import ErrorCode
from kwire.protocol.record_codec import Record, build_batch, iter_all_records
from kwire.server.listener import serve
from tests.wire import decode_response, request_frame


class RawClient:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    async def call(self, api_key: int, version: int, values: dict, correlation_id: int = 1):
        await self.stream.send_all(request_frame(api_key, version, values, correlation_id))
        payload = await self.read_frame()
        got_correlation, response = decode_response(api_key, version, payload)
        assert got_correlation == correlation_id
        return response

    async def read_frame(self) -> bytes:
        while True:
            if len(self.buffer) >= 4:
                (size,) = struct.unpack_from(">i", self.buffer)
                if len(self.buffer) >= 4 + size:
                    payload, self.buffer = self.buffer[4 : 4 + size], self.buffer[4 + size :]
                    return payload
            data = await self.stream.receive_some(65536)
            assert data, "connection closed"
            self.buffer += data


async def start_broker(nursery, **overrides) -> tuple[BrokerCore, int]:
    config = BrokerConfig(port=0, data_dir=None, **overrides)
    core = BrokerCore(config)
    port = await nursery.start(serve, core)
    return core, port


def produce_values(topic: str, partition: int, batch: bytes, acks: int = -1) -> dict:
    return dict(
        transactional_id=None,
        acks=acks,
        timeout=5000,
        topic_data=[dict(name=topic, partition_data=[dict(index=partition, records=bytes(batch))])],
    )


def fetch_values(topic: str, partition: int, offset: int, max_wait_ms: int = 0, min_bytes: int = 1) -> dict:
    return dict(
        replica_id=-1,
        max_wait=max_wait_ms,
        min_bytes=min_bytes,
        max_bytes=50 << 20,
        isolation_level=0,
        session_id=0,
        session_epoch=-1,
        rack_id="",
        forgotten_topics_data=[],
        topics=[
            dict(
                topic=topic,
                partitions=[
                    dict(
                        partition=partition,
                        current_leader_epoch=-1,
                        fetch_offset=offset,
                        last_fetched_epoch=-1,
                        log_start_offset=-1,
                        partition_max_bytes=1 << 20,
                    )
                ],
            )
        ],
    )


def records(*values: bytes) -> list[Record]:
    return [
        Record(offset_delta=i, timestamp_delta=i, key=b"k%d" % i, value=v, headers=(("h", b"1"),))
        for i, v in enumerate(values)
    ]


async def test_produce_then_fetch_returns_the_same_records():
    async with trio.open_nursery() as nursery:
        _core, port = await start_broker(nursery)
        client = RawClient(await trio.open_tcp_stream("127.0.0.1", port))
        created = await client.call(
            19,
            7,
            dict(
                topics=[dict(name="t", num_partitions=2, replication_factor=1, assignments=[], configs=[])],
                timeout=1000,
                validate_only=False,
            ),
        )
        assert created.topics[0].error_code == ErrorCode.none
        batch = build_batch(records(b"a", b"", None), base_timestamp=1_000)
        produced = await client.call(0, 9, produce_values("t", 1, batch))
        partition = produced.responses[0].partition_responses[0]
        assert (partition.error_code, partition.base_offset) == (ErrorCode.none, 0)
        produced = await client.call(0, 9, produce_values("t", 1, batch), correlation_id=2)
        assert produced.responses[0].partition_responses[0].base_offset == 3

        fetched = await client.call(1, 12, fetch_values("t", 1, 4), correlation_id=3)
        part = fetched.responses[0].partitions[0]
        assert part.high_watermark == 6
        got = [(r.offset, r.key, r.value) for r in iter_all_records(part.records)]
        assert got == [(3, b"k0", b"a"), (4, b"k1", b""), (5, b"k2", None)]
        nursery.cancel_scope.cancel()


async def test_long_poll_is_woken_by_a_produce():
    async with trio.open_nursery() as nursery:
        _core, port = await start_broker(nursery)
        consumer = RawClient(await trio.open_tcp_stream("127.0.0.1", port))
        producer = RawClient(await trio.open_tcp_stream("127.0.0.1", port))
        await producer.call(
            3,
            12,
            dict(
                topics=[dict(name="waits", topic_id=None)],
                allow_auto_topic_creation=True,
                include_topic_authorized_operations=False,
            ),
        )
        result = {}

        async def poll():
            start = trio.current_time()
            response = await consumer.call(1, 12, fetch_values("waits", 0, 0, max_wait_ms=10_000))
            result["elapsed"] = trio.current_time() - start
            result["response"] = response

        nursery.start_soon(poll)
        await trio.sleep(0.2)
        assert "response" not in result  # still parked
        await producer.call(0, 9, produce_values("waits", 0, build_batch(records(b"wake"))))
        with trio.fail_after(5):
            while "response" not in result:
                await trio.sleep(0.01)
        # Woken by the append, far before the 10 s wait ran out.
        assert result["elapsed"] < 5
        assert [r.value for r in iter_all_records(result["response"].responses[0].partitions[0].records)] == [b"wake"]
        nursery.cancel_scope.cancel()


async def test_unparseable_frame_closes_only_that_connection():
    async with trio.open_nursery() as nursery:
        _core, port = await start_broker(nursery)
        good = RawClient(await trio.open_tcp_stream("127.0.0.1", port))
        bad = await trio.open_tcp_stream("127.0.0.1", port)
        # Metadata v12 header followed by a body that is not a Metadata request.
        body = struct.pack(">hhih", 3, 12, 9, 1) + b"x" + b"\x00" + b"\xff\xff\xff\xff\xff"
        await bad.send_all(struct.pack(">i", len(body)) + body)
        with trio.fail_after(5):
            assert await bad.receive_some(100) == b""
        response = await good.call(18, 3, dict(client_software_name="t", client_software_version="1"))
        assert response.error_code == ErrorCode.none
        nursery.cancel_scope.cancel()


async def test_api_versions_unknown_version_gets_error_35_in_v0_format():
    async with trio.open_nursery() as nursery:
        _core, port = await start_broker(nursery)
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        body = struct.pack(">hhih", 18, 99, 5, 0) + b"\x00"
        await stream.send_all(struct.pack(">i", len(body)) + body)
        client = RawClient(stream)
        payload = await client.read_frame()
        correlation_id, error_code, count = struct.unpack_from(">ihi", payload)
        assert (correlation_id, error_code, count) == (5, 35, 1)
        assert struct.unpack_from(">hhh", payload, 10) == (18, 0, 4)
        nursery.cancel_scope.cancel()
