#!/usr/bin/env python
"""The HTTP port's cost: confluent-kafka produce and consume against a broker
with --http-port off, and against one with it on while /metrics is scraped
every second, alternating in one run (the median of the rounds of each).

    python scripts/bench_http.py [--messages N] [--rounds R]

Also imported by scripts/bench.py. Only 127.0.0.1; ends only the brokers it started.
"""

from __future__ import annotations

import argparse
import re
import statistics
import threading
import time
import urllib.request

from bench import Broker, confluent_consume, confluent_produce, create_topic

HTTP = re.compile(r"HTTP on http://([^/\s]+)/")


class Scraper(threading.Thread):
    """GET /metrics every `interval_s` until stopped; counts scrapes and bytes."""

    def __init__(self, url: str, interval_s: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.url, self.interval_s = url, interval_s
        self.stopped = threading.Event()
        self.scrapes = self.bytes = 0
        self.seconds: list[float] = []

    def run(self) -> None:
        while not self.stopped.wait(self.interval_s):
            started = time.perf_counter()
            with urllib.request.urlopen(self.url, timeout=10) as answer:
                self.bytes += len(answer.read())
            self.seconds.append(time.perf_counter() - started)
            self.scrapes += 1

    def stop(self) -> None:
        self.stopped.set()
        self.join(15)


def one_round(http: bool, messages: int, size: int, partitions: int) -> dict:
    extra = ("--http-port", "0") if http else ()
    broker = Broker(None, extra_args=extra)
    scraper = None
    try:
        create_topic(broker.bootstrap, "bench", partitions)
        if http:
            line_match = HTTP.search(broker.ready_line)
            if line_match is None:
                raise SystemExit(f"no HTTP port in the ready line: {broker.ready_line!r}")
            scraper = Scraper(f"http://{line_match.group(1)}/metrics")
            scraper.start()
        produced = confluent_produce(broker, "bench", messages, size)
        consumed = confluent_consume(broker, "bench", partitions, messages + 1, size)
    finally:
        if scraper is not None:
            scraper.stop()
        broker.stop()
    figures = {
        "produce": produced["msgs"],
        "consume": consumed["msgs"],
        # The broker's CPU per message: steadier than throughput on a busy machine.
        "produce_cpu": produced["cpu_us_per_msg"],
        "consume_cpu": consumed["cpu_s"] / max(1, consumed["received"]) * 1e6,
    }
    if scraper is not None:
        figures["scrapes"] = scraper.scrapes
        figures["scrape_ms"] = statistics.median(scraper.seconds) * 1000 if scraper.seconds else 0.0
        figures["scrape_bytes"] = scraper.bytes / max(1, scraper.scrapes)
    return figures


def http_overhead(messages: int, size: int, partitions: int, rounds: int) -> dict:
    """Median produce and consume msgs/s with the HTTP port off and on (scraped every second)."""
    off: list[dict] = []
    on: list[dict] = []
    for _ in range(rounds):  # alternating, so drift in the machine's speed hits both alike
        off.append(one_round(False, messages, size, partitions))
        on.append(one_round(True, messages, size, partitions))

    def median(runs: list[dict], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    return {
        **{
            f"{key}_{mode}": median(runs, key)
            for key in ("produce", "consume", "produce_cpu", "consume_cpu")
            for mode, runs in (("off", off), ("on", on))
        },
        "scrapes": sum(run["scrapes"] for run in on),
        "scrape_ms": median(on, "scrape_ms"),
        "scrape_bytes": median(on, "scrape_bytes"),
        "rounds": rounds,
    }


def report(figures: dict) -> None:
    for what in ("produce", "consume"):
        off, on = figures[f"{what}_off"], figures[f"{what}_on"]
        print(
            f"{'confluent-kafka ' + what + ', HTTP off / on+scraped':44s} {off:12,.0f} / {on:,.0f} msgs/s "
            f"= {on / off:.1%} (median of {figures['rounds']})"
        )
        cpu_off, cpu_on = figures[f"{what}_cpu_off"], figures[f"{what}_cpu_on"]
        print(f"{'  broker CPU per message, off / on':44s} {cpu_off:8.2f} / {cpu_on:.2f} µs = {cpu_on / cpu_off:.1%}")
    print(
        f"{'  /metrics scrape, every second':44s} {figures['scrape_ms']:8.1f} ms median, "
        f"{figures['scrape_bytes'] / 1000:.0f} KB ({figures['scrapes']} scrapes)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=5_000_000)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    report(http_overhead(args.messages, args.size, args.partitions, args.rounds))


if __name__ == "__main__":
    main()
