"""Kafka's BrokerTopicMetrics (kafka.server:type=BrokerTopicMetrics), per
topic and for all topics, counted on the produce and fetch paths.

The hot paths add to plain integers (no lock, no label lookup: every call
comes from the node's trio thread); the registry reads them at scrape time.
Named as the JMX exporter maps the MBeans: BytesInPerSec{topic} ->
`kafka_server_brokertopicmetrics_bytesin_total{topic="…"}`, and the
all-topics MBean (no topic key) -> the same name without labels.

As Kafka counts them: a produce or fetch counts once per partition in
TotalProduceRequestsPerSec / TotalFetchRequestsPerSec and, when the
partition failed, in FailedProduceRequestsPerSec / FailedFetchRequestsPerSec.
The all-topics failures are split by the error the answers carried
(`{error="MESSAGE_TOO_LARGE"}`), from the request events, so they also count
partitions of topics that do not exist.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from kwire.observability.request_events import RequestEvent
from kwire.observability.request_metrics import error_name
from kwire.protocol.api_keys import ApiKey

# A v2 batch header's record count (offset 57; never decode the records).
_RECORDS_COUNT = struct.Struct(">i")
_RECORDS_COUNT_OFFSET = 57


class TopicCounts:
    __slots__ = (
        "bytes_in",
        "bytes_out",
        "messages_in",
        "produce_requests",
        "fetch_requests",
        "failed_produce",
        "failed_fetch",
    )

    def __init__(self) -> None:
        self.bytes_in = 0
        self.bytes_out = 0
        self.messages_in = 0
        self.produce_requests = 0
        self.fetch_requests = 0
        self.failed_produce = 0
        self.failed_fetch = 0

    def add(self, other: TopicCounts) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


# (Kafka's meter, this family's name suffix, the TopicCounts field)
_COUNTERS = (
    ("BytesInPerSec", "bytesin", "bytes_in"),
    ("BytesOutPerSec", "bytesout", "bytes_out"),
    ("MessagesInPerSec", "messagesin", "messages_in"),
    ("TotalProduceRequestsPerSec", "totalproducerequests", "produce_requests"),
    ("TotalFetchRequestsPerSec", "totalfetchrequests", "fetch_requests"),
)
_FAILED = (
    ("FailedProduceRequestsPerSec", "failedproducerequests", "failed_produce", ApiKey.PRODUCE),
    ("FailedFetchRequestsPerSec", "failedfetchrequests", "failed_fetch", ApiKey.FETCH),
)
PREFIX = "kafka_server_brokertopicmetrics_"


class TopicMetrics:
    def __init__(self, topic_exists: Callable[[str], bool]) -> None:
        self._topic_exists = topic_exists
        self.topics: dict[str, TopicCounts] = {}
        # Topics deleted since they were counted: still in the all-topics totals.
        self._retired = TopicCounts()
        # (api key, error code) -> partitions answered with it
        self.failed_by_error: dict[tuple[int, int], int] = {}

    def _counts(self, topic: str) -> TopicCounts:
        counts = self.topics.get(topic)
        if counts is None:
            counts = self.topics[topic] = TopicCounts()
        return counts

    def produced(self, topic: str, error_code: int, records: Any) -> None:
        counts = self._counts(topic)
        counts.produce_requests += 1
        if error_code:
            counts.failed_produce += 1
        else:
            counts.bytes_in += len(records)
            counts.messages_in += _RECORDS_COUNT.unpack_from(records, _RECORDS_COUNT_OFFSET)[0]

    def fetched(self, topic: str, error_code: int, size: int) -> None:
        counts = self._counts(topic)
        counts.fetch_requests += 1
        if error_code:
            counts.failed_fetch += 1
        else:
            counts.bytes_out += size

    def observe(self, event: RequestEvent) -> None:
        """The error codes of a produce or fetch answer, for the all-topics failure counts."""
        if event.errors and (event.api_key == ApiKey.PRODUCE or event.api_key == ApiKey.FETCH):
            for code, count in event.errors.items():
                key = (event.api_key, code)
                self.failed_by_error[key] = self.failed_by_error.get(key, 0) + count

    def collect(self) -> Iterator[Metric]:
        for name in [name for name in self.topics if not self._topic_exists(name)]:
            self._retired.add(self.topics.pop(name))
        total = TopicCounts()
        total.add(self._retired)
        for counts in self.topics.values():
            total.add(counts)
        for meter, suffix, field in _COUNTERS:
            family = CounterMetricFamily(PREFIX + suffix, f"{meter}: per topic, and for all topics without a label")
            for topic, counts in sorted(self.topics.items()):
                family.add_sample(PREFIX + suffix + "_total", {"topic": topic}, getattr(counts, field))
            family.add_sample(PREFIX + suffix + "_total", {}, getattr(total, field))
            yield family
        for meter, suffix, field, api_key in _FAILED:
            family = CounterMetricFamily(
                PREFIX + suffix, f"{meter}: per topic, and for all topics per error name (partitions)"
            )
            for topic, counts in sorted(self.topics.items()):
                family.add_sample(PREFIX + suffix + "_total", {"topic": topic}, getattr(counts, field))
            for (api, code), count in sorted(self.failed_by_error.items()):
                if api == api_key:
                    family.add_sample(PREFIX + suffix + "_total", {"error": error_name(code)}, count)
            yield family


class ConnectionMetrics:
    """Kafka's socket-server-metrics connection-count per listener, and the
    connections accepted (connection-creation-total)."""

    def __init__(self) -> None:
        self.open: dict[str, int] = {}
        self.created: dict[str, int] = {}

    def opened(self, listener: str) -> None:
        self.open[listener] = self.open.get(listener, 0) + 1
        self.created[listener] = self.created.get(listener, 0) + 1

    def closed(self, listener: str) -> None:
        self.open[listener] = self.open.get(listener, 0) - 1

    def collect(self) -> Iterator[Metric]:
        name = "kafka_server_socket_server_metrics_connection_count"
        count = GaugeMetricFamily(name, "Open client connections per listener", labels=["listener"])
        for listener, value in sorted(self.open.items()):
            count.add_metric([listener], value)
        yield count
        created = CounterMetricFamily(
            "kafka_server_socket_server_metrics_connection_creation",
            "Client connections accepted per listener",
            labels=["listener"],
        )
        for listener, value in sorted(self.created.items()):
            created.add_metric([listener], value)
        yield created
