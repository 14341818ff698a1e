"""The console on a running node's HTTP port: its pages answer, its request
counter watches the node, and its lag sampler runs beside the server."""

import trio

from kwire.config import BrokerConfig
from kwire.console import lag_history
from kwire.console.lag_history import LagHistory
from kwire.console.request_rates import RequestRates
from kwire.coordinator.offsets import CommittedOffset
from kwire.server.node import open_node


async def _get(port: int, path: str) -> bytes:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        await stream.send_all(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := await stream.receive_some(65536):
            answer += chunk
    return answer


async def test_pages_and_the_lag_sampler(monkeypatch):
    monkeypatch.setattr(lag_history, "SAMPLE_INTERVAL_S", 0.05)
    with trio.fail_after(10):
        async with open_node(BrokerConfig(port=0, data_dir=None, http_port=0)) as node:
            assert node.view is not None and node.http_port is not None
            node.core.cluster.create_topic("t", 1)
            node.core.groups.commit("g", {("t", 0): CommittedOffset(0, -1, "", 0)})
            (sampler,) = node.view.background
            history = sampler.__self__  # type: ignore[attr-defined]
            assert isinstance(history, LagHistory)
            while not history.of("g"):  # the sampler's next round finds the group
                await trio.sleep(0.01)
            # The console's request rates, once (the failed-request log lines are an observer too).
            assert [type(o) for o in node.core.state.request_observers].count(RequestRates) == 1
            overview = await _get(node.http_port, "/")
            assert overview.startswith(b"HTTP/1.1 200") and b"Overview" in overview
            assert (await _get(node.http_port, "/healthz")).endswith(b"ok\n")  # the node's own routes come first
            groups = await _get(node.http_port, "/groups/g")
            assert groups.startswith(b"HTTP/1.1 200") and b"<svg" in groups
