"""Start a multi-broker kwire exactly as a user does: `python -m kwire serve
--brokers N --control-port 0` in a subprocess, then drive it through its
cluster control endpoint (HTTP + JSON, see kwire/server/cluster_control.py)."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from compat_tests.broker import START_TIMEOUT_S, OwnProcess, _environment, _read_line_with_timeout
from compat_tests.broker import wait_for as _wait_for

READY = re.compile(r"ready on (\S+) \((\d+) brokers, .*cluster control on 127\.0\.0\.1:(\d+)\)")
HTTP = re.compile(r"HTTP on ([^\s)]+)")  # with --http-port: each node's, in node order
CONTROL_TIMEOUT_S = 10  # one control call (a node start waits for the node to serve)
WAIT_S = 15  # the default bound of wait_for: a cluster test should take seconds, not minutes

T = TypeVar("T")


class ControlError(Exception):
    """The control endpoint answered with an error status."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


class KwireCluster(OwnProcess):
    def __init__(
        self, data_dir: Path, log_path: Path, extra_args: list[str] = (), brokers: int = 3, port: int = 0
    ) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.extra_args = list(extra_args)
        self.brokers = brokers
        self.port = port  # 0: every node a free port; P: nodes on P..P+N-1
        self.addresses: dict[int, str] = {}  # node id -> host:port, from the ready line
        self.control_port = 0
        self.http_addresses: dict[int, str] = {}  # node id -> host:port of its HTTP port (--http-port)
        self.process: subprocess.Popen | None = None

    # --- the process -------------------------------------------------------------

    def start(self) -> KwireCluster:
        command = [
            sys.executable,
            "-m",
            "kwire",
            "serve",
            "--brokers",
            str(self.brokers),
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--control-port",
            "0",
            *self.extra_args,
        ]
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, env=_environment({}))
        log.close()
        line = _read_line_with_timeout(self.process, START_TIMEOUT_S)
        match = READY.search(line or "")
        if not match:
            self.kill()
            raise RuntimeError(f"kwire cluster did not start: {line!r}\n{self.log_path.read_text()[-5000:]}")
        servers = match.group(1).split(",")
        assert len(servers) == int(match.group(2)) == self.brokers, line
        # Nodes are 1..N in the order of the ready line.
        self.addresses = {node_id: address for node_id, address in enumerate(servers, start=1)}
        self.control_port = int(match.group(3))
        http = HTTP.search(line or "")
        if http:
            self.http_addresses = dict(enumerate(http.group(1).rstrip(",").split(","), start=1))
        return self

    @property
    def bootstrap(self) -> str:
        """Every node: what a client is given as bootstrap.servers."""
        return ",".join(self.addresses.values())

    def log_tail(self, chars: int = 5000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:]

    # --- the control endpoint ------------------------------------------------------

    def control(self, method: str, path: str, body: dict | None = None) -> Any:
        """One call to the cluster control endpoint; its JSON answer (ControlError on 4xx/5xx)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.control_port, timeout=CONTROL_TIMEOUT_S)
        try:
            payload = None if body is None and method == "GET" else json.dumps(body or {}).encode()
            headers = {} if payload is None else {"Content-Type": "application/json"}
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            text = response.read().decode()
        except ConnectionRefusedError:
            if not self.alive():  # say so, rather than leave a bare "connection refused"
                code = self.process.returncode if self.process else None
                raise RuntimeError(f"the kwire cluster exited (status {code}):\n{self.log_tail(1500)}") from None
            raise
        finally:
            connection.close()
        value = json.loads(text) if text.strip() else None
        if response.status >= 400:
            raise ControlError(response.status, value)
        return value

    def status(self) -> dict[str, Any]:
        return self.control("GET", "/cluster")

    def stop_node(self, node_id: int) -> None:
        self.control("POST", f"/cluster/nodes/{node_id}/stop")

    def start_node(self, node_id: int) -> None:
        self.control("POST", f"/cluster/nodes/{node_id}/start")

    def isolate(self, node_id: int, isolated: bool = True) -> None:
        self.control("POST", f"/cluster/nodes/{node_id}/isolate", {"isolated": isolated})

    def slow(self, node_id: int, delay_ms: int) -> None:
        self.control("POST", f"/cluster/nodes/{node_id}/slow", {"delay_ms": delay_ms})

    def move_leader(self, topic: str, partition: int, node_id: int) -> None:
        self.control("POST", f"/cluster/partitions/{topic}/{partition}/leader", {"node": node_id})

    def faults(self, node_id: int, method: str, path: str, body: dict | None = None) -> Any:
        """That node's fault injection API (kwire/faults/control.py), e.g. ("POST", "/faults", {...})."""
        return self.control(method, f"/nodes/{node_id}{path}", body)

    # --- reading the status ----------------------------------------------------------

    def partitions(self, topic: str) -> list[dict[str, Any]]:
        """The topic's partitions as /cluster shows them, by partition index."""
        found = [p for p in self.status()["partitions"] if p["topic"] == topic]
        return sorted(found, key=lambda p: p["partition"])

    def partition(self, topic: str, partition: int) -> dict[str, Any]:
        for p in self.status()["partitions"]:
            if p["topic"] == topic and p["partition"] == partition:
                return p
        raise KeyError(f"no partition {topic}-{partition} in /cluster")

    def leader_of(self, topic: str, partition: int) -> int:
        """The leader's node id (-1: offline)."""
        return self.partition(topic, partition)["leader"]

    def running(self) -> list[int]:
        return [node["id"] for node in self.status()["nodes"] if node["running"]]

    # --- waiting -------------------------------------------------------------------

    def wait_for(self, condition: Callable[[], T], what: str, timeout_s: float = WAIT_S) -> T:
        """Poll `condition` until it returns something true (and return it);
        on timeout an AssertionError naming `what`, with the cluster's status."""
        try:
            return _wait_for(condition, what, timeout_s, interval_s=0.05)
        except AssertionError as error:
            raise AssertionError(f"{error}; cluster: {json.dumps(self.status())}") from None

    def wait_for_isr(self, topic: str, partition: int, isr: set[int], timeout_s: float = WAIT_S) -> dict[str, Any]:
        """Until the partition's ISR is exactly `isr`; the partition."""

        def reached():
            found = self.partition(topic, partition)
            return found if set(found["isr"]) == isr else None

        return self.wait_for(reached, f"{topic}-{partition} ISR == {sorted(isr)}", timeout_s)

    def wait_replicated(self, topic: str, partition: int, timeout_s: float = WAIT_S) -> dict[str, Any]:
        """Until every in-sync replica's log ends where the leader's does
        (`log_end_offsets` in /cluster): all written so far is on each."""

        def caught_up():
            found = self.partition(topic, partition)
            ends = found.get("log_end_offsets", {})
            leader_end = ends.get(str(found["leader"]))
            return (
                found if leader_end is not None and all(ends.get(str(r)) == leader_end for r in found["isr"]) else None
            )

        return self.wait_for(caught_up, f"{topic}-{partition} replicated to its whole ISR", timeout_s)

    def wait_fully_replicated(self, topic: str, timeout_s: float = WAIT_S) -> list[dict[str, Any]]:
        """Until every partition of the topic exists, has a leader and all its replicas in the ISR."""

        def done():
            found = self.partitions(topic)
            complete = found and all(p["leader"] != -1 and set(p["isr"]) == set(p["replicas"]) for p in found)
            return found if complete else None

        return self.wait_for(done, f"{topic} fully replicated", timeout_s)

    def heal(self, timeout_s: float = WAIT_S) -> None:
        """Undo what a test did to the nodes: start stopped ones, end isolation
        and slowness, wait until every partition has a leader and its whole
        ISR, then give each its preferred leader (so the next test on a shared
        cluster starts as on a new one)."""
        for node in self.status()["nodes"]:
            if not node["running"]:
                self.start_node(node["id"])
            elif node["isolated"] or node["replication_delay_ms"]:
                self.isolate(node["id"], False)
                self.slow(node["id"], 0)

        def healthy():
            partitions = self.status()["partitions"]
            return all(p["leader"] != -1 and set(p["isr"]) == set(p["replicas"]) for p in partitions)

        self.wait_for(healthy, "every partition led and fully in sync", timeout_s)
        # Leadership back on the preferred replicas, as on a new cluster.
        for p in self.status()["partitions"]:
            if p["leader"] != p["replicas"][0]:
                self.move_leader(p["topic"], p["partition"], p["replicas"][0])


@contextlib.contextmanager
def running_cluster(directory: Path, *extra_args: str, brokers: int = 3) -> Iterator[KwireCluster]:
    """A cluster for a whole test module (fixtures of module scope); killed at the end."""
    cluster = KwireCluster(directory / "data", directory / "kwire.log", list(extra_args), brokers).start()
    try:
        yield cluster
    finally:
        cluster.kill()


def free_port_range(count: int, attempts: int = 50) -> int:
    """A port P with P..P+count-1 all free just now (for a cluster restarted on the same --port)."""
    for _ in range(attempts):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count > 65535:
            continue
        sockets = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError(f"no {count} consecutive free ports found")


def heal_after(cluster: KwireCluster, request: Any) -> Iterator[None]:
    """An autouse fixture's body for modules sharing one cluster: after each
    test, its log if the test failed, then every node back and in sync."""
    yield
    if getattr(request.node, "rep_call_failed", False):
        print(f"--- {cluster.log_path}\n{cluster.log_tail()}")
    cluster.heal()
