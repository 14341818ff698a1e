"""Transaction markers: the control batches a transaction's end writes into
each of its partitions. One record; key = version int16 0, type int16
(0 abort, 1 commit); value = version int16 0, coordinator epoch int32.
Built and read only here."""

from __future__ import annotations

import struct

from kwire.protocol.record_codec import Record, build_batch, iter_records
from kwire.protocol.records import Buffer

ABORT, COMMIT = 0, 1
_KEY = struct.Struct(">hh")  # version, type
_VALUE = struct.Struct(">hi")  # version, coordinator epoch


def build_marker(
    producer_id: int, producer_epoch: int, commit: bool, timestamp_ms: int, coordinator_epoch: int = 0
) -> bytearray:
    record = Record(
        offset_delta=0,
        timestamp_delta=0,
        key=_KEY.pack(0, COMMIT if commit else ABORT),
        value=_VALUE.pack(0, coordinator_epoch),
    )
    return build_batch(
        [record],
        base_timestamp=timestamp_ms,
        producer_id=producer_id,
        producer_epoch=producer_epoch,
        is_transactional=True,
        is_control=True,
    )


def marker_type_of_key(key: bytes) -> int:
    """ABORT or COMMIT, from a control record's key."""
    return int(_KEY.unpack_from(key, 0)[1])


def marker_type(batch: Buffer) -> int:
    """ABORT or COMMIT, from a control batch's one record; a marker with no
    record counts as an abort."""
    for record in iter_records(batch):
        return marker_type_of_key(record.key) if record.key is not None else ABORT
    return ABORT
