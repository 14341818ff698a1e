"""Transaction markers: the control batches a transaction's end writes into
each of its partitions. One record; key = version int16 0, type int16
(0 abort, 1 commit); value = version int16 0, coordinator epoch int32."""

from __future__ import annotations

import struct

from kwire.protocol.record_codec import Record, build_batch

ABORT, COMMIT = 0, 1


def build_marker(producer_id: int, producer_epoch: int, commit: bool, timestamp_ms: int,
                 coordinator_epoch: int = 0) -> bytearray:
    record = Record(offset_delta=0, timestamp_delta=0, key=struct.pack(">hh", 0, COMMIT if commit else ABORT),
                    value=struct.pack(">hi", 0, coordinator_epoch))
    return build_batch([record], base_timestamp=timestamp_ms, producer_id=producer_id,
                       producer_epoch=producer_epoch, is_transactional=True, is_control=True)
