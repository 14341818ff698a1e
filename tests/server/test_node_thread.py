"""A node in a thread of its own (kwire/server/node_thread.py), for programs
that do not run trio: it starts before `start_node_in_thread` returns, a
failed start is raised in the caller, several run at once, and once stopped
nothing is left: no kwire thread, no file descriptor, no cached log file, no
listener, no data directory lock."""

from __future__ import annotations

import signal
import threading

import pytest
import trio

from kwire.config import BrokerConfig
from kwire.errors import StartupError
from kwire.server import listener, startup
from kwire.server.node_thread import start_node_in_thread
from tests.server.node_checks import Resources, assert_port_free, exercise


def config(data_dir=None, port: int = 0) -> BrokerConfig:
    return BrokerConfig(port=port, data_dir=data_dir)


def test_a_node_in_a_thread_serves_and_leaves_nothing_behind(tmp_path):
    before = Resources.now()
    with start_node_in_thread(config(tmp_path / "data")) as node:
        assert node.bootstrap_servers == f"127.0.0.1:{node.port}"
        exercise(node.bootstrap_servers)
        assert "kwire-node-1" in Resources.now().threads
    assert Resources.now() == before
    assert_port_free(node.port)
    with start_node_in_thread(config(tmp_path / "data")):  # the lock was freed
        pass
    assert Resources.now() == before


def test_start_and_stop_twice_in_a_row_on_the_same_port_and_data(tmp_path):
    before = Resources.now()
    first = start_node_in_thread(config(tmp_path / "data"))
    exercise(first.bootstrap_servers, "first")
    first.stop()
    second = start_node_in_thread(config(tmp_path / "data", first.port))
    exercise(second.bootstrap_servers, "second")
    second.stop()
    second.stop()  # stopping a stopped node does nothing
    assert Resources.now() == before


def test_two_nodes_at_once_in_one_process(tmp_path):
    before = Resources.now()
    with start_node_in_thread(config(tmp_path / "a")) as a, start_node_in_thread(config()) as b:
        assert a.port != b.port
        exercise(a.bootstrap_servers, "on-a")
        exercise(b.bootstrap_servers, "on-b")
        exercise(a.bootstrap_servers, "on-a-again")
    assert Resources.now() == before


@pytest.mark.parametrize("problem", ["busy port", "locked data directory"])
def test_a_failed_start_is_raised_in_the_caller_and_leaves_nothing(tmp_path, problem):
    with start_node_in_thread(config(tmp_path / "data")) as running:
        before = Resources.now()
        clash = config(tmp_path / "other", running.port) if problem == "busy port" else config(tmp_path / "data")
        with pytest.raises(StartupError):
            start_node_in_thread(clash)
        assert Resources.now() == before
    assert not (tmp_path / "other").exists()


def test_a_node_that_fails_while_serving_closes_its_data_and_stop_raises_why(tmp_path, monkeypatch):
    async def fails_soon(core) -> None:
        await trio.sleep(0.05)
        raise RuntimeError("the cleaner broke")

    monkeypatch.setattr(listener, "clean_forever", fails_soon)
    before = Resources.now()
    node = start_node_in_thread(config(tmp_path / "data"))
    node._thread.join(10)  # it fails by itself
    with pytest.raises(RuntimeError, match="the cleaner broke"):
        node.stop()
    assert Resources.now() == before
    monkeypatch.undo()
    with start_node_in_thread(config(tmp_path / "data")):  # the lock was freed
        pass


def test_a_node_in_a_thread_leaves_the_signal_handlers_alone():
    handled = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGXFSZ)}
    with start_node_in_thread(config()):
        assert {signum: signal.getsignal(signum) for signum in handled} == handled
    assert {signum: signal.getsignal(signum) for signum in handled} == handled


def test_a_start_that_takes_too_long_gives_up_and_the_node_stops_once_up(monkeypatch):
    real_bind = startup.open_listeners
    release = threading.Event()

    async def slow_bind(settings):
        await trio.to_thread.run_sync(release.wait, 10)
        return await real_bind(settings)

    monkeypatch.setattr(startup, "open_listeners", slow_bind)
    before = Resources.now()
    with pytest.raises(TimeoutError):
        start_node_in_thread(config(), timeout_s=0.05)
    release.set()
    for thread in [thread for thread in threading.enumerate() if thread.name == "kwire-node-1"]:
        thread.join(10)
    assert Resources.now() == before
