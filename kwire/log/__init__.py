"""Partition logs: segments of RecordBatch v2 bytes with Kafka's indexes."""

from kwire.log.partition_log import OffsetOutOfRange, PartitionLog
from kwire.log.segment import CorruptSegment

__all__ = ["CorruptSegment", "OffsetOutOfRange", "PartitionLog"]
