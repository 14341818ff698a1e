"""Test-side handle on group_worker processes: start, watch, command, kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from compat_tests.broker import WAIT_S, wait_for
from compat_tests.clients import Outgoing, produce
from kwire.admin.cluster_client import ClusterClient
from kwire.admin.groups import GroupCommandError, describe_group

REPO_ROOT = Path(__file__).resolve().parent.parent
STDERR_LINES = int(os.environ.get("KWIRE_WORKER_STDERR_LINES", "20"))


class GroupConsumer:
    """A consumer in a group, running in its own process (which we started)."""

    def __init__(self, client: str, bootstrap: str, group: str, topic: str, **options) -> None:
        self.client = client
        self.bootstrap, self.group = bootstrap, group
        settings = dict(client=client, bootstrap=bootstrap, group=group, topic=topic, **options)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "compat_tests.group_worker", json.dumps(settings)],
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lock = threading.Lock()
        self.assignment: list[int] | None = None  # None until the first assignment
        self.assignments: list[list[int]] = []
        self.revocations: list[list[int]] = []
        self.messages: list[tuple[int, int, str]] = []
        self.committed: dict[int, int] | None = None
        self.closed = False
        self.stderr_tail: list[str] = []
        threading.Thread(target=self._read_events, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_events(self) -> None:
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                kind = event["e"]
                if kind == "assignment":
                    self.assignment = event["partitions"]
                    self.assignments.append(event["partitions"])
                elif kind == "revoked":
                    self.revocations.append(event["partitions"])
                elif kind == "messages":
                    self.messages.extend(tuple(item) for item in event["items"])
                elif kind == "committed":
                    self.committed = {int(p): o for p, o in event["offsets"].items()}
                elif kind == "closed":
                    self.closed = True

    def _read_stderr(self) -> None:
        for line in self.process.stderr:
            self.stderr_tail = (self.stderr_tail + [line])[-STDERR_LINES:]

    def _send(self, command: str) -> None:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def commit(self) -> dict[int, int]:
        with self._lock:
            self.committed = None
        self._send("commit")
        wait_for(lambda: self.committed is not None, f"{self.client} commit")
        return self.committed

    def close(self) -> None:
        """Leave the group the way an application does."""
        self._send("close")
        wait_for(lambda: self.closed, f"{self.client} close")
        self.process.wait(WAIT_S)

    def kill(self) -> None:
        """Die without a word: the broker finds out by session timeout."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(WAIT_S)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(WAIT_S)

    def offsets_seen(self) -> set[tuple[int, int]]:
        with self._lock:
            return {(p, o) for p, o, _ in self.messages}

    def __repr__(self) -> str:
        return (
            f"<{self.client} assignment={self.assignment} messages={len(self.messages)} stderr={self.stderr_tail[-3:]}>"
        )


def describe(bootstrap: str, group: str):
    """The broker's view of the group (None while it does not exist)."""
    with ClusterClient(bootstrap) as cluster:
        try:
            return describe_group(cluster, group)
        except GroupCommandError:
            return None


def settled(consumers: list[GroupConsumer], partitions: int) -> bool:
    """The broker has the group Stable with exactly these members, their
    assignments cover every partition once, and each client holds what the
    broker says it was given."""
    description = describe(consumers[0].bootstrap, consumers[0].group)
    if description is None or description.state != "Stable" or len(description.members) != len(consumers):
        return False
    given = sorted(sorted(p for _t, p in m.partitions) for m in description.members)
    if sorted(p for each in given for p in each) != list(range(partitions)):
        return False
    held = [consumer.assignment for consumer in consumers]
    return None not in held and sorted(held) == given


def wait_settled(consumers: list[GroupConsumer], partitions: int, timeout_s: float = WAIT_S) -> None:
    try:
        wait_for(lambda: settled(consumers, partitions), "the group to settle", timeout_s)
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}: {consumers}; broker: {describe(consumers[0].bootstrap, consumers[0].group)}"
        ) from None


def all_offsets(consumers: list[GroupConsumer]) -> set[tuple[int, int]]:
    seen: set[tuple[int, int]] = set()
    for consumer in consumers:
        seen |= consumer.offsets_seen()
    return seen


def produce_round_robin(
    bootstrap: str, topic: str, count: int, partitions: int, first: int = 0
) -> set[tuple[int, int]]:
    """`count` records k<i>/m<i> spread over the partitions in turn; their (partition, offset)s."""
    messages = [Outgoing(b"k%d" % i, b"m%d" % i, partition=i % partitions) for i in range(first, first + count)]
    return set(produce("confluent-kafka", bootstrap, topic, messages))


def holds_every_partition_once(group: list[GroupConsumer], partitions: int) -> bool:
    """Every partition held by exactly one member, every member holding some."""
    held = [consumer.assignment for consumer in group]
    if any(not owned for owned in held):
        return False
    return sorted(p for owned in held for p in owned) == list(range(partitions))


def deliveries(group: list[GroupConsumer]) -> Counter[tuple[int, int]]:
    """How often each (partition, offset) reached the group's members."""
    counts: Counter[tuple[int, int]] = Counter()
    for consumer in group:
        counts.update((p, o) for p, o, _ in list(consumer.messages))
    return counts
