"""A node's HTTP port (--http-port): health and readiness, request events
told to observers with what the request was and how it ended, a busy port
refused at start-up in one line, and the port per node of a cluster."""

from __future__ import annotations

import pytest
import trio

from kwire.config import BrokerConfig
from kwire.errors import StartupError
from kwire.observability.request_events import RequestEvent
from kwire.protocol.errors import ErrorCode
from kwire.server.cluster_runtime import node_config
from kwire.server.node import open_node
from tests.handlers import requests as rq
from tests.server.test_control_server import KafkaConnection

PRODUCE, CREATE_TOPICS, METADATA = 0, 19, 3


async def _get(port: int, path: str) -> tuple[int, bytes]:
    with trio.fail_after(5):
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        async with stream:
            await stream.send_all(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            answer = b""
            while chunk := await stream.receive_some(65536):
                answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


async def test_health_and_readiness_once_the_node_serves() -> None:
    async with open_node(BrokerConfig(port=0, data_dir=None, http_port=0)) as node:
        assert node.http_port is not None and node.view is not None
        assert await _get(node.http_port, "/healthz") == (200, b"ok\n")
        assert await _get(node.http_port, "/readyz") == (200, b"ready\n")
        node.view.stopping = True
        assert await _get(node.http_port, "/readyz") == (503, b"stopping\n")


async def test_no_http_port_unless_asked() -> None:
    async with open_node(BrokerConfig(port=0, data_dir=None)) as node:
        assert node.http_port is None and node.view is None


async def test_observers_are_told_each_request_with_its_errors_and_sizes() -> None:
    events: list[RequestEvent] = []
    async with open_node(BrokerConfig(port=0, data_dir=None, auto_create_topics_enable=False)) as node:
        node.core.state.request_observers.append(events.append)
        kafka = await KafkaConnection.open(node)
        async with kafka.stream:
            await kafka.call(CREATE_TOPICS, 4, rq.create("t", 1))
            node.core.state.faults.inject_error("CreateTopics", ErrorCode.policy_violation, count=1)
            await kafka.call(CREATE_TOPICS, 4, rq.create("u", 1))
            await kafka.call(METADATA, 9, rq.metadata("t"))
    created, again, metadata = events
    assert (created.api_key, created.api_version, created.listener) == (CREATE_TOPICS, 4, "PLAINTEXT")
    assert created.answered and not created.failed and created.request_bytes > 0 and created.response_bytes > 0
    assert created.received <= created.dispatched <= created.handled <= created.completed <= created.sent
    assert created.client_address.startswith("127.0.0.1:")
    assert again.errors == {ErrorCode.policy_violation: 1} and again.reasons == ["injected fault"] and again.failed
    assert metadata.api_key == METADATA and not metadata.failed


async def test_a_request_that_closes_its_connection_is_told_as_closed() -> None:
    events: list[RequestEvent] = []
    async with open_node(BrokerConfig(port=0, data_dir=None)) as node:
        node.core.state.request_observers.append(events.append)
        kafka = await KafkaConnection.open(node)
        async with kafka.stream:
            await kafka.stream.send_all(b"\x00\x00\x00\x0a\x00\x00\x7f\x00\x00\x00\x00\x01\x00\x00")
            with trio.fail_after(5):
                assert await kafka.stream.receive_some(100) == b""
    assert len(events) == 1 and events[0].closed and not events[0].answered


async def test_a_busy_http_port_stops_start_up_in_one_line() -> None:
    holder = trio.socket.socket()
    await holder.bind(("127.0.0.1", 0))
    holder.listen()
    busy = holder.getsockname()[1]
    try:
        with pytest.raises(StartupError) as refused:
            async with open_node(BrokerConfig(port=0, data_dir=None, http_port=busy)):
                pass
        assert str(refused.value).startswith(f"cannot listen on 127.0.0.1:{busy} (--http-port): ")
        assert "\n" not in str(refused.value)
    finally:
        holder.close()


def test_each_node_of_a_cluster_takes_its_own_http_port() -> None:
    base = BrokerConfig(port=9092, data_dir=None, http_port=8080)
    assert [node_config(base, node_id).http_port for node_id in (1, 2, 3)] == [8080, 8081, 8082]
    assert node_config(BrokerConfig(port=0, data_dir=None, http_port=0), 2).http_port == 0
    assert node_config(BrokerConfig(port=0, data_dir=None), 2).http_port is None
