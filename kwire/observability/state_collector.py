"""Gauges read from the node's state at scrape time (nothing on a hot path):
its partitions and logs, replication, the controller, the log cleaner, and
what kwire is.

Named as the JMX exporter's example Kafka configuration maps the MBeans:
kafka.server:type=ReplicaManager,name=PartitionCount ->
`kafka_server_replicamanager_partitioncount`;
kafka.log:type=Log,name=Size,topic=T,partition=P ->
`kafka_log_log_size{topic="T",partition="P"}`; meters (…PerSec) -> `…_total`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from kwire import __version__

if TYPE_CHECKING:
    from kwire.broker_state import BrokerState
    from kwire.log.partition_log import PartitionLog

# Kafka's BrokerState values (kafka_server_kafkaserver_brokerstate).
STARTING = 1
RUNNING = 3
SHUTTING_DOWN = 7


class CleanerStats:
    """What the log cleaner's last cleaning was like (Kafka's LogCleaner gauges
    are of each thread's last cleaning; kwire cleans on one task)."""

    def __init__(self) -> None:
        self.cleanings = 0
        self.bytes_read = 0  # all cleanings, the segments' bytes before
        self.bytes_written = 0  # and after
        self.last_read = 0
        self.last_written = 0
        self.last_elapsed_s = 0.0

    def cleaned(self, bytes_read: int, bytes_written: int, elapsed_s: float) -> None:
        self.cleanings += 1
        self.bytes_read += bytes_read
        self.bytes_written += bytes_written
        self.last_read, self.last_written, self.last_elapsed_s = bytes_read, bytes_written, elapsed_s


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


class StateCollector:
    def __init__(self, state: BrokerState, cleaner: CleanerStats, broker_state: Callable[[], int]) -> None:
        self._state = state
        self._cleaner = cleaner
        self._broker_state = broker_state  # the HTTP side knows whether the node is ready or stopping

    def collect(self) -> Iterator[Metric]:
        yield from self._node()
        yield from self._logs()
        yield from self._replication()
        yield from self._controller()
        yield from self._log_cleaner()

    def _node(self) -> Iterator[Metric]:
        info = GaugeMetricFamily("kwire_info", "kwire's version", labels=["version"])
        info.add_metric([__version__], 1)
        yield info
        yield _gauge(
            "kafka_server_kafkaserver_brokerstate",
            "Kafka's BrokerState: 1 starting, 3 running, 7 shutting down",
            self._broker_state(),
        )

    def _logs(self) -> Iterator[Metric]:
        state = self._state
        node_id = state.config.node_id
        labels = ["topic", "partition"]
        size = GaugeMetricFamily("kafka_log_log_size", "A partition's log size in bytes", labels=labels)
        start = GaugeMetricFamily("kafka_log_log_logstartoffset", "A partition's log start offset", labels=labels)
        end = GaugeMetricFamily("kafka_log_log_logendoffset", "A partition's log end offset", labels=labels)
        segments = GaugeMetricFamily("kafka_log_log_numlogsegments", "A partition's log segments", labels=labels)
        hosted = leaders = producers = offline = 0
        for topic, partition in state.cluster.hosted_partitions():
            log = partition.replica
            assert log is not None
            hosted += 1
            leaders += partition.leader == node_id
            producers += len(log.producer_state.entries)
            offline += log.offline_reason is not None
            values = [topic.name, str(partition.index)]
            size.add_metric(values, log.size_bytes())
            start.add_metric(values, log.log_start_offset)
            end.add_metric(values, log.log_end_offset)
            segments.add_metric(values, len(log.segments))
        yield from (size, start, end, segments)
        yield _gauge("kafka_server_replicamanager_partitioncount", "Partitions this node holds a replica of", hosted)
        yield _gauge("kafka_server_replicamanager_leadercount", "Partitions this node leads", leaders)
        yield _gauge(
            "kafka_server_replicamanager_produceridcount", "Producer ids tracked by this node's logs", producers
        )
        yield _gauge(
            "kafka_server_replicamanager_offlinereplicacount", "Replicas offline after a storage failure", offline
        )

    def _replication(self) -> Iterator[Metric]:
        replicas = self._state.replicas  # None on a lone node: nothing to replicate
        leaders = list(replicas.leaders.values()) if replicas is not None else []
        yield _gauge(
            "kafka_server_replicamanager_underreplicatedpartitions",
            "Partitions this node leads whose ISR is smaller than their replicas",
            sum(1 for leader in leaders if leader.is_under_replicated),
        )
        yield _gauge(
            "kafka_server_replicamanager_underminisrpartitioncount",
            "Partitions this node leads whose ISR is smaller than min.insync.replicas",
            sum(1 for leader in leaders if leader.is_under_min_isr),
        )
        counters = replicas.counters if replicas is not None else None
        yield _counter(
            "kafka_server_replicamanager_isrshrinks",
            "ISR shrinks of partitions this node leads (IsrShrinksPerSec)",
            counters.isr_shrinks if counters is not None else 0,
        )
        yield _counter(
            "kafka_server_replicamanager_isrexpands",
            "Replicas added to the ISR of partitions this node leads (IsrExpandsPerSec)",
            counters.isr_expands if counters is not None else 0,
        )

    def _controller(self) -> Iterator[Metric]:
        """As Kafka, the cluster-wide counts come from the active controller only."""
        cluster = self._state.cluster
        active = cluster.topology.controller_id == self._state.config.node_id
        topics = partitions = offline = 0
        if active:
            for topic in cluster.topics.values():
                topics += 1
                partitions += len(topic.partitions)
                offline += sum(1 for partition in topic.partitions if partition.leader == -1)
        yield _gauge("kafka_controller_kafkacontroller_activecontrollercount", "1 on the active controller", active)
        yield _gauge("kafka_controller_kafkacontroller_offlinepartitionscount", "Partitions without a leader", offline)
        yield _gauge("kafka_controller_kafkacontroller_globaltopiccount", "Topics in the cluster", topics)
        yield _gauge("kafka_controller_kafkacontroller_globalpartitioncount", "Partitions in the cluster", partitions)

    def _log_cleaner(self) -> Iterator[Metric]:
        cleaner = self._cleaner
        dirtiest = 0.0
        for topic, partition in self._state.cluster.hosted_partitions():
            if topic.log_config.compacted and partition.replica is not None:
                dirtiest = max(dirtiest, dirty_ratio(partition.replica))
        yield _gauge(
            "kafka_log_logcleanermanager_max_dirty_percent",
            "The dirtiest compacted log's dirty share of its closed segments, percent",
            int(100 * dirtiest),
        )
        yield _gauge(
            "kafka_log_logcleaner_cleaner_recopy_percent",
            "The last cleaning's bytes written as a share of bytes read, percent",
            int(100 * cleaner.last_written / max(cleaner.last_read, 1)),
        )
        yield _gauge(
            "kafka_log_logcleaner_max_clean_time_secs", "How long the last cleaning took, s", cleaner.last_elapsed_s
        )
        yield _counter("kwire_log_cleaner_cleanings", "Logs compacted", cleaner.cleanings)
        yield _counter("kwire_log_cleaner_read_bytes", "Bytes of segments compacted", cleaner.bytes_read)
        yield _counter("kwire_log_cleaner_written_bytes", "Bytes the compacted segments came to", cleaner.bytes_written)


def dirty_ratio(log: PartitionLog) -> float:
    """The share of a log's closed segments not yet cleaned (the ratio
    min.cleanable.dirty.ratio is compared with, before the cleaner's other
    conditions: compaction lag and open transactions)."""
    closed = log.segments[:-1]
    total = sum(segment.size for segment in closed)
    if total == 0:
        return 0.0
    first_dirty = max(log.first_dirty_offset, log.log_start_offset)
    return sum(segment.size for segment in closed if segment.next_offset > first_dirty) / total
