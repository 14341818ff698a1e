"""What the node tests share: a little real traffic (a topic whose segments
roll on every batch, so the background flusher has work), and a snapshot of
what a node could leak — threads, file descriptors, cached log files."""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass

from kwire.admin.wire_client import WireClient
from kwire.log.open_files import OPEN_FILES
from kwire.protocol.errors import ErrorCode
from tests.handlers import requests as rq

ROLL_EVERY_BATCH = {"segment.bytes": "100"}


def exercise(bootstrap_servers: str, topic: str = "t", batches: int = 4) -> None:
    """Create `topic`, write `batches` batches (a segment each), read them back (blocking)."""
    host, port = bootstrap_servers.rsplit(":", 1)
    with WireClient(host, int(port)) as client:
        created = client.call(19, 7, rq.create(topic, configs=ROLL_EVERY_BATCH))
        assert created.topics[0].error_code == ErrorCode.none
        for number in range(batches):
            written = client.call(0, 9, rq.produce(topic, 0, rq.batch(b"v%d" % number)))
            assert written.responses[0].partition_responses[0].error_code == ErrorCode.none
        fetched = client.call(1, 12, rq.fetch(topic, 0, 0))
        assert fetched.responses[0].partitions[0].high_watermark == batches


def kwire_threads() -> list[str]:
    return sorted(thread.name for thread in threading.enumerate() if thread.name.startswith("kwire"))


@dataclass(frozen=True)
class Resources:
    threads: list[str]
    descriptors: list[str]
    cached_files: int

    @classmethod
    def now(cls) -> Resources:
        return cls(kwire_threads(), sorted(os.listdir("/proc/self/fd")), len(OPEN_FILES))


def assert_port_free(port: int) -> None:
    """Nothing listens on the port any more (SO_REUSEADDR as a server sets
    it: a connection in TIME_WAIT does not count, a listener does)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()
