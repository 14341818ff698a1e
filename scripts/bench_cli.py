#!/usr/bin/env python
"""`kwire produce` / `kwire consume` against kcat, on one kwire in one run.

Starts `python -m kwire serve --memory` as a subprocess, produces N x SIZE B
lines with `kwire produce` (timed), then times `kwire consume --from-beginning
--max-messages N > /dev/null` and `kcat -C -e -o beginning > /dev/null` on the
same topic, and prints messages/s of each. Only 127.0.0.1; ends only the
broker it started.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
READY = re.compile(r"ready on (\S+):(\d+)")


def start_broker(partitions: int) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "kwire", "serve", "--port", "0", "--memory", "--log-level", "WARNING"]
    broker = subprocess.Popen(
        [*command, "-o", f"num.partitions={partitions}"], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    assert broker.stdout is not None
    line = broker.stdout.readline()  # the ready line comes first (or the output ends)
    match = READY.search(line)
    if not match:
        broker.kill()
        raise SystemExit(f"kwire did not start: {line!r}")
    return broker, f"127.0.0.1:{match.group(2)}"


def timed(command: list[str], stdin_path: str | None = None) -> float:
    start = time.perf_counter()
    with open(stdin_path or os.devnull, "rb") as stdin, open(os.devnull, "wb") as devnull:
        subprocess.run(command, stdin=stdin, stdout=devnull, stderr=subprocess.DEVNULL, check=True, timeout=600)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--size", type=int, default=100, help="bytes per message (default 100)")
    parser.add_argument("--partitions", type=int, default=1)
    args = parser.parse_args()
    kcat = shutil.which("kcat")
    if kcat is None:
        raise SystemExit("kcat is not installed (apt-get install kcat)")
    kwire = [sys.executable, "-m", "kwire"]
    broker, bootstrap = start_broker(args.partitions)
    try:
        with tempfile.NamedTemporaryFile(suffix=".lines") as lines:
            line = b"x" * (args.size - 1) + b"\n"
            lines.write(line * args.messages)
            lines.flush()
            seconds = timed([*kwire, "produce", "bench", "--bootstrap-server", bootstrap], lines.name)
        report("kwire produce", args.messages, seconds)
        seconds = timed(
            [*kwire, "consume", "bench", "--bootstrap-server", bootstrap, "--from-beginning"]
            + ["--max-messages", str(args.messages)]
        )
        report("kwire consume", args.messages, seconds)
        seconds = timed([kcat, "-C", "-b", bootstrap, "-t", "bench", "-e", "-o", "beginning", "-q"])
        report("kcat -C", args.messages, seconds)
    finally:
        broker.kill()  # only the broker this script started
        broker.wait(10)


def report(what: str, messages: int, seconds: float) -> None:
    print(f"{what:14} {messages:>9,} msgs in {seconds:6.2f} s = {messages / seconds:>10,.0f} msgs/s", flush=True)


if __name__ == "__main__":
    main()
