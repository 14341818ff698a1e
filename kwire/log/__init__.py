"""Partition logs: segments of RecordBatch v2 bytes with Kafka's indexes."""

from kwire.log.partition_log import OffsetOutOfRange, PartitionLog

__all__ = ["OffsetOutOfRange", "PartitionLog"]
