"""Time the web console's topic page for a topic of 1,000 partitions.

Starts `kwire serve --memory --http-port 0` as a subprocess, creates the
topic with confluent-kafka's AdminClient, writes one record to each
partition, then fetches /topics/<name> (and the topics list) over HTTP a
few times and prints the median (the server renders; the time includes
the HTTP round trip on 127.0.0.1).

    python scripts/bench_console.py [--partitions 1000] [--trials 7]
"""

from __future__ import annotations

import argparse
import http.client
import re
import statistics
import subprocess
import sys
import time

READY = re.compile(r"ready on (\S+):(\d+).*HTTP on http://[^:]+:(\d+)/")


def fetch(port: int, path: str) -> tuple[float, int]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        started = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        assert response.status == 200, (response.status, body[:200])
        return elapsed, len(body)
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partitions", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=7)
    args = parser.parse_args()
    command = [sys.executable, "-m", "kwire", "serve", "--memory", "--port", "0", "--http-port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = process.stdout.readline() if process.stdout else ""
        match = READY.search(line)
        if not match:
            raise SystemExit(f"kwire did not start: {line!r}")
        bootstrap, http_port = f"127.0.0.1:{match.group(2)}", int(match.group(3))
        from confluent_kafka import Producer
        from confluent_kafka.admin import AdminClient, NewTopic

        name = f"bench-{args.partitions}"
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic(name, args.partitions, 1)])[name].result(60)
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20})
        for partition in range(args.partitions):
            producer.produce(name, value=b"x" * 100, partition=partition)
        producer.flush(60)
        del producer, admin  # closed before the broker stops
        for path in (f"/topics/{name}", "/topics"):
            fetch(http_port, path)  # warm up
            trials = [fetch(http_port, path) for _ in range(args.trials)]
            median = statistics.median(seconds for seconds, _size in trials)
            print(f"GET {path}: median {median * 1000:.1f} ms over {args.trials} ({trials[0][1]:,} bytes of HTML)")
    finally:
        process.terminate()
        process.wait(10)


if __name__ == "__main__":
    main()
