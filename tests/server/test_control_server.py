"""The fault control endpoint over real sockets (including malformed HTTP at
the byte level), and the faults that need a server: latency that does not
hold up other connections, dropped and closed connections, paused produces
woken on resume."""

from __future__ import annotations

import json
import struct

import pytest
import trio

from kwire.config import BrokerConfig
from kwire.protocol.errors import ErrorCode
from kwire.server.node import Node, open_node
from tests.handlers import requests as rq
from tests.wire import decode_response, request_frame

PRODUCE, CREATE_TOPICS = 0, 19


def config() -> BrokerConfig:
    return BrokerConfig(port=0, data_dir=None, control_port=0)


async def http(node: Node, raw: bytes) -> tuple[int, object]:
    assert node.control_port is not None
    with trio.fail_after(5):
        stream = await trio.open_tcp_stream("127.0.0.1", node.control_port)
        async with stream:
            if raw:
                await stream.send_all(raw)
            try:
                await stream.send_eof()
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass
            answer = b""
            while True:
                try:
                    data = await stream.receive_some(65536)
                except (trio.BrokenResourceError, OSError):
                    break
                if not data:
                    break
                answer += data
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    assert head.startswith(b"HTTP/1.1 ") and b"Connection: close" in head
    return status, json.loads(body)


def request(method: str, path: str, body: object = None) -> bytes:
    payload = b"" if body is None else json.dumps(body).encode()
    return f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(payload)}\r\n\r\n".encode() + payload


async def test_add_list_clear_over_http():
    async with open_node(config()) as node:
        status, answer = await http(
            node, request("POST", "/faults", {"kind": "error", "api": "Produce", "error": "NOT_LEADER_OR_FOLLOWER"})
        )
        assert (status, answer) == (201, {"id": 1})
        status, rules = await http(node, request("GET", "/faults"))
        assert status == 200 and [rule["error"] for rule in rules] == ["NOT_LEADER_OR_FOLLOWER"]
        assert await http(node, request("POST", "/faults", {"kind": "pause", "topic": "t", "partition": 0})) == (
            200,
            {"kind": "pause", "topic": "t", "partition": 0},
        )
        assert await http(node, request("DELETE", "/faults/1")) == (200, {"removed": 1})
        assert (await http(node, request("DELETE", "/faults/1")))[0] == 404
        assert await http(node, request("DELETE", "/faults")) == (200, {"removed": 1})
        assert await http(node, request("POST", "/connections/close")) == (200, {"closed": 0})
        # An embedded node is not the process's: it refuses to kill it.
        assert (await http(node, request("POST", "/kill")))[0] == 409
        assert node.core.state.faults.list() == []


@pytest.mark.parametrize(
    "raw, status",
    [
        (b"", 400),  # nothing, then EOF
        (b"GET /faults HTTP/1.1\r\nHost: x\r\n", 400),  # truncated head
        (b"POST /faults HTTP/1.1\r\nContent-Length: 50\r\n\r\n{}", 400),  # truncated body
        (b"\x00\xff\x13garbage\r\n\r\n", 400),
        (b"GET /faults\r\n\r\n", 400),
        (b"GET /faults HTTP/1.1\r\nno colon here\r\n\r\n", 400),
        (b"POST /faults HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST /faults HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", 413),
        (b"POST /faults HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411),
        (b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\n\r\n", 431),
        (b"GET /x HTTP/1.1\r\nX: " + b"b" * 9000 + b"\r\n\r\n", 431),
        (request("POST", "/faults"), 400),  # empty body: not JSON
        (request("POST", "/faults", [1, 2]), 400),
        (request("POST", "/faults", {"kind": "error", "api": "Produce"}), 400),
        (request("POST", "/faults", {"kind": "error", "api": "Nope", "error": 6}), 400),
        (request("POST", "/faults", {"kind": "error", "api": "Produce", "error": 6, "count": "x"}), 400),
        (request("POST", "/faults", {"kind": "error", "api": "Produce", "error": 6, "bogus": 1}), 400),
        (request("POST", "/faults", {"kind": "pause", "topic": 5, "partition": 0}), 400),
        (request("POST", "/faults", {"kind": "resume", "topic": "t", "partition": 0}), 400),  # not paused
        (request("POST", "/faults", {"kind": "crash", "api": "Produce"}), 400),  # embedded: refused
        (request("PUT", "/faults"), 405),
        (request("GET", "/nowhere"), 404),
        (request("GET", "/faults/1"), 405),
        (request("DELETE", "/faults/abc"), 404),
        (b"POST /faults HTTP/1.1\r\nContent-Length: 4\r\n\r\n\xff\xfe\x00\x01", 400),
    ],
)
async def test_malformed_requests_get_an_error_and_the_broker_carries_on(raw, status):
    async with open_node(config()) as node:
        code, answer = await http(node, raw)
        assert code == status and isinstance(answer["error"], str) and "\n" not in answer["error"]
        assert not node.core.state.faults.armed
        assert (await http(node, request("GET", "/faults"))) == (200, [])


async def test_huge_body_is_refused_without_reading_it_all():
    async with open_node(config()) as node:
        head = b"POST /faults HTTP/1.1\r\nContent-Length: 70000\r\n\r\n"
        assert (await http(node, head + b"x" * 70_000))[0] == 413


async def test_a_stalled_client_does_not_block_others():
    async with open_node(config()) as node:
        assert node.control_port is not None
        stalled = await trio.open_tcp_stream("127.0.0.1", node.control_port)
        async with stalled:
            await stalled.send_all(b"POST /faults HTTP/1.1\r\n")
            assert (await http(node, request("GET", "/faults"))) == (200, [])


# --- faults that need a server ------------------------------------------------------


class KafkaConnection:
    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buffer = b""

    @classmethod
    async def open(cls, node: Node) -> KafkaConnection:
        return cls(await trio.open_tcp_stream("127.0.0.1", node.port))

    async def send(self, api: int, version: int, values: dict) -> None:
        await self.stream.send_all(request_frame(api, version, values))

    async def receive(self, api: int, version: int):
        """The response, or None when the connection was closed."""
        while True:
            if len(self.buffer) >= 4:
                (size,) = struct.unpack_from(">i", self.buffer)
                if len(self.buffer) >= 4 + size:
                    payload, self.buffer = self.buffer[4 : 4 + size], self.buffer[4 + size :]
                    return decode_response(api, version, payload)[1]
            data = await self.stream.receive_some(65536)
            if not data:
                return None
            self.buffer += data

    async def call(self, api: int, version: int, values: dict):
        await self.send(api, version, values)
        return await self.receive(api, version)


def produce_values(value: bytes = b"v", partition: int = 0) -> dict:
    return rq.produce("t", partition, rq.batch(value))


async def test_latency_delays_one_connection_not_the_others():
    async with open_node(config()) as node:
        faults = node.core.state.faults
        slow, fast = await KafkaConnection.open(node), await KafkaConnection.open(node)
        await fast.call(CREATE_TOPICS, 4, rq.create("t", 1))
        faults.add_latency("Produce", ms=500, client_id="slow-one")
        with trio.fail_after(10):
            started = trio.current_time()
            async with trio.open_nursery() as nursery:
                done: dict[str, float] = {}

                async def run(name, connection, client_id):
                    frame = request_frame(PRODUCE, 9, produce_values(), client_id=client_id)
                    await connection.stream.send_all(frame)
                    assert (await connection.receive(PRODUCE, 9)) is not None
                    done[name] = trio.current_time() - started

                nursery.start_soon(run, "slow", slow, "slow-one")
                await trio.sleep(0.05)
                nursery.start_soon(run, "fast", fast, "fast-one")
        assert done["slow"] >= 0.5
        assert done["fast"] < done["slow"]


async def test_drop_and_close_connections():
    async with open_node(config()) as node:
        faults = node.core.state.faults
        connection = await KafkaConnection.open(node)
        await connection.call(CREATE_TOPICS, 4, rq.create("t", 1))
        faults.drop_connection("Produce", count=1)
        with trio.fail_after(5):
            assert await connection.call(PRODUCE, 9, produce_values()) is None
        assert node.core.cluster.partition("t", 0).log.log_end_offset == 0
        faults.lose_response("Produce", count=1)
        connection = await KafkaConnection.open(node)
        with trio.fail_after(5):
            assert await connection.call(PRODUCE, 9, produce_values()) is None
        assert node.core.cluster.partition("t", 0).log.log_end_offset == 1
        idle = [await KafkaConnection.open(node) for _ in range(3)]
        with trio.fail_after(5):
            for each in idle:
                await each.call(CREATE_TOPICS, 4, rq.create("u", 1))
            status, answer = await http(node, request("POST", "/connections/close"))
            assert status == 200 and answer["closed"] >= 3
            for each in idle:
                assert await each.receive(PRODUCE, 9) is None


async def test_paused_produce_waits_for_resume_over_http():
    async with open_node(config()) as node:
        connection = await KafkaConnection.open(node)
        await connection.call(CREATE_TOPICS, 4, rq.create("t", 1))
        await http(node, request("POST", "/faults", {"kind": "pause", "topic": "t", "partition": 0}))
        with trio.fail_after(5):
            await connection.send(PRODUCE, 9, produce_values())
            await trio.sleep(0.3)
            assert node.core.cluster.partition("t", 0).log.log_end_offset == 0
            await trio.to_thread.run_sync(node.core.state.faults.resume_partition, "t", 0)  # from another thread
            response = await connection.receive(PRODUCE, 9)
        assert response.responses[0].partition_responses[0].error_code == ErrorCode.none
        assert node.core.cluster.partition("t", 0).log.log_end_offset == 1
