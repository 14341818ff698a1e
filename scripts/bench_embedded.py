#!/usr/bin/env python
"""kwire inside a test suite: what the in-process broker and the pytest
plugin cost.

1. `kwire.Broker()` (thread mode, in memory) started `--starts` times in
   one process: seconds from entering the `with` block to the first
   answered Metadata request, for the first start (imports included) and
   the median and maximum of the later ones.
2. The session-scoped fixture's cost per test: a generated file of
   `--tests` trivial tests run by pytest twice in a subprocess, once
   without fixtures and once with each test asking for
   `kafka_bootstrap_servers` (one broker for the session); prints the
   difference per test, and the session's one-off broker start.

Only 127.0.0.1; ends only what it started.

    python scripts/bench_embedded.py
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# Metadata v1 with no topics: api key 3, version 1, correlation id 1, client id "bench".
_BODY = struct.pack(">hhih", 3, 1, 1, 5) + b"bench" + struct.pack(">i", 0)
METADATA_REQUEST = struct.pack(">i", len(_BODY)) + _BODY


def first_metadata_answer(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(METADATA_REQUEST)
        header = b""
        while len(header) < 8:
            chunk = sock.recv(8 - len(header))
            if not chunk:
                raise SystemExit("the broker closed the connection")
            header += chunk
        if struct.unpack(">ii", header)[1] != 1:
            raise SystemExit("unexpected answer")


def in_process_starts(starts: int) -> list[float]:
    started = time.perf_counter()
    import kwire  # imports are part of the first start, as in a test suite

    seconds = []
    for _ in range(starts):
        with kwire.Broker() as broker:
            first_metadata_answer(broker.port)
            seconds.append(time.perf_counter() - started)
        started = time.perf_counter()
    return seconds


_TESTS = """
import pytest


@pytest.mark.parametrize("i", range({count}))
def test_plain(i):
    assert i >= 0


@pytest.mark.parametrize("i", range({count}))
def test_with_broker(i, kafka_bootstrap_servers):
    assert kafka_bootstrap_servers.startswith("127.0.0.1:")
"""


def pytest_seconds(directory: Path, selection: str) -> float:
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "kwire.pytest_plugin", "-p", "no:cacheprovider"]
    command += ["-k", selection, str(directory / "test_overhead.py")]
    started = time.perf_counter()
    subprocess.run(command, cwd=directory, env=env, check=True, capture_output=True, timeout=600)
    return time.perf_counter() - started


def fixture_overhead(tests: int, rounds: int) -> tuple[float, float]:
    """(seconds per test the fixture adds, the session's one-off broker start):
    runs of 1 and of `tests` tests, with and without the fixture, so that
    pytest's own start and the broker's start cancel out of the per-test figure."""
    timings: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory() as root:
        for count in (1, tests):
            directory = Path(root) / str(count)
            directory.mkdir()
            (directory / "test_overhead.py").write_text(_TESTS.format(count=count))
            (directory / "pytest.ini").write_text("[pytest]\n")
            for _ in range(rounds):
                for kind in ("test_plain", "test_with_broker"):
                    timings.setdefault((kind, count), []).append(pytest_seconds(directory, kind))
    median = {key: statistics.median(values) for key, values in timings.items()}
    session_start = median[("test_with_broker", 1)] - median[("test_plain", 1)]
    with_fixture = median[("test_with_broker", tests)] - median[("test_with_broker", 1)]
    plain = median[("test_plain", tests)] - median[("test_plain", 1)]
    return (with_fixture - plain) / (tests - 1), session_start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=20)
    parser.add_argument("--tests", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    seconds = in_process_starts(args.starts)
    later = seconds[1:]
    print(f"kwire.Broker() to first answered Metadata: first {seconds[0] * 1000:.0f} ms (imports included);")
    print(
        f"  later starts in the same process: median {statistics.median(later) * 1000:.1f} ms, max {max(later) * 1000:.1f} ms"
    )
    per_test, session_start = fixture_overhead(args.tests, args.rounds)
    print(
        f"pytest session fixture: the broker's start, once per session (and xdist worker): {session_start * 1000:.0f} ms;"
    )
    print(
        f"  per test using kafka_bootstrap_servers: {per_test * 1e6:.0f} µs ({args.tests} tests, median of {args.rounds})"
    )


if __name__ == "__main__":
    main()
