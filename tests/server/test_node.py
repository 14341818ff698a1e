"""A node embedded in a trio program (kwire/server/node.py): it serves real
traffic, and once stopped leaves nothing behind — no kwire thread, no file
descriptor, no cached log file, no listener, no data directory lock — also
after a failed start. It touches no process-wide signal handler."""

from __future__ import annotations

import signal

import pytest
import trio

from kwire.config import BrokerConfig
from kwire.errors import StartupError
from kwire.server import startup
from kwire.server.node import Node, open_node, run_node
from tests.server.node_checks import Resources, assert_port_free, exercise


def config(data_dir=None, port: int = 0) -> BrokerConfig:
    return BrokerConfig(port=port, data_dir=data_dir)


async def exercise_node(node: Node, topic: str = "t") -> None:
    await trio.to_thread.run_sync(exercise, node.bootstrap_servers, topic)


async def test_an_open_node_serves_and_says_where(tmp_path):
    async with open_node(config(tmp_path / "data")) as node:
        assert node.port > 0
        assert node.bootstrap_servers == f"127.0.0.1:{node.port}"
        await exercise_node(node)
        assert node.core.cluster.partition("t", 0).log.log_end_offset == 4


async def test_after_the_node_stops_nothing_it_opened_is_left(tmp_path):
    before = Resources.now()
    async with open_node(config(tmp_path / "data")) as node:
        await exercise_node(node)
        port = node.port
    assert Resources.now() == before
    assert_port_free(port)
    async with open_node(config(tmp_path / "data")) as node:  # the lock was freed
        assert node.core.cluster.partition("t", 0).log.log_end_offset == 4
    assert Resources.now() == before


async def test_a_node_starts_and_stops_twice_in_a_row_on_the_same_port_and_data(tmp_path):
    before = Resources.now()
    async with open_node(config(tmp_path / "data")) as node:
        await exercise_node(node, "first")
        port = node.port
    async with open_node(config(tmp_path / "data", port)) as node:
        await exercise_node(node, "second")
        assert sorted(name for name in node.core.cluster.topics if not name.startswith("__")) == ["first", "second"]
    assert Resources.now() == before


async def test_two_nodes_run_side_by_side_in_one_nursery(tmp_path):
    before = Resources.now()
    async with trio.open_nursery() as nursery:
        on_disk: Node = await nursery.start(run_node, config(tmp_path / "data"))
        in_memory: Node = await nursery.start(run_node, config())
        assert on_disk.port != in_memory.port
        async with trio.open_nursery() as clients:
            clients.start_soon(exercise_node, on_disk, "disk")
            clients.start_soon(exercise_node, in_memory, "memory")
        assert "memory" not in on_disk.core.cluster.topics and "disk" not in in_memory.core.cluster.topics
        on_disk.stop()
        in_memory.stop()
    assert Resources.now() == before


async def test_a_busy_port_is_a_startup_error_and_leaves_the_data_directory_untouched(tmp_path):
    async with open_node(config()) as running:
        before = Resources.now()
        with pytest.raises(StartupError, match="cannot listen on 127.0.0.1"):
            async with open_node(config(tmp_path / "data", running.port)):
                pass  # pragma: no cover
        assert not (tmp_path / "data").exists()
        assert Resources.now() == before


async def test_a_locked_data_directory_is_a_startup_error_and_closes_the_listener(tmp_path, monkeypatch):
    bound: list[int] = []
    real_bind = startup.open_listeners

    async def remember_the_port(settings):
        listeners = await real_bind(settings)
        bound.append(listeners[0].port)
        return listeners

    monkeypatch.setattr(startup, "open_listeners", remember_the_port)
    async with open_node(config(tmp_path / "data")):
        before = Resources.now()
        with pytest.raises(StartupError, match="in use"):
            async with open_node(config(tmp_path / "data")):
                pass  # pragma: no cover
        assert Resources.now() == before
    assert len(bound) == 2
    assert_port_free(bound[1])


async def test_an_exception_from_the_block_comes_out_as_itself(tmp_path):
    before = Resources.now()
    with pytest.raises(LookupError, match="from the block") as raised:
        async with open_node(config(tmp_path / "data")):
            raise LookupError("from the block")
    assert raised.value.__context__ is None
    assert Resources.now() == before
    async with open_node(config(tmp_path / "data")):  # and the data was closed
        pass


async def test_a_node_stopped_from_inside_its_nursery_closes_its_data(tmp_path):
    async with trio.open_nursery() as nursery:
        node: Node = await nursery.start(run_node, config(tmp_path / "data"))
        node.stop()
    async with open_node(config(tmp_path / "data")):
        pass


async def test_an_embedded_node_leaves_the_signal_handlers_alone():
    handled = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGXFSZ)}
    async with open_node(config()):
        assert {signum: signal.getsignal(signum) for signum in handled} == handled
    assert {signum: signal.getsignal(signum) for signum in handled} == handled


async def test_a_block_cancelled_from_outside_stops_the_node_and_closes_it(tmp_path):
    before = Resources.now()
    exercised = trio.Event()

    async def cancel_once_exercised(scope: trio.CancelScope) -> None:
        await exercised.wait()
        await trio.sleep(0.05)  # the block is parked in sleep_forever by now
        scope.cancel()

    with trio.fail_after(30), trio.CancelScope() as scope:  # cancelled by another task, not by a deadline
        async with trio.open_nursery() as nursery:
            nursery.start_soon(cancel_once_exercised, scope)
            async with open_node(config(tmp_path / "data")) as node:
                await exercise_node(node)
                exercised.set()
                await trio.sleep_forever()
    assert scope.cancelled_caught
    assert Resources.now() == before
    async with open_node(config(tmp_path / "data")) as node:
        assert node.core.cluster.partition("t", 0).log.log_end_offset == 4


async def test_a_nodes_timers_follow_the_clock_it_was_given():
    from kwire.clock import ManualClock
    from tests.core_client import CoreClient
    from tests.handlers import requests as rq

    clock = ManualClock(wall_ms=5_000)  # the test batches carry timestamp 1,000
    async with open_node(config(), clock) as node:
        client = CoreClient(node.core)
        client.call(19, 7, rq.create("aging", configs={"segment.bytes": "100", "retention.ms": "3600000"}))
        for value in (b"a", b"b", b"c"):  # a segment per batch
            client.call(0, 9, rq.produce("aging", 0, rq.batch(value)))
        log = node.core.cluster.partition("aging", 0).log
        await trio.sleep(0.3)  # several timer ticks: nothing is old yet on the node's clock
        assert log.log_start_offset == 0
        clock.advance(ms=2 * 3_600_000)  # past retention.ms, and past log.retention.check.interval.ms
        with trio.fail_after(10):
            while log.log_start_offset == 0:
                await trio.sleep(0.02)
        assert log.log_start_offset == 2  # the closed segments went; the active one stays
