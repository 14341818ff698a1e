"""What a failed disk write means for a partition.

A write that fails is undone (the partial bytes truncated away), so the log
is exactly as it was and the request is answered KAFKA_STORAGE_ERROR.
Running out of space (ENOSPC, EDQUOT, EFBIG) or of file descriptors is
transient: the next write tries again. Any other I/O error, a failed fsync
(the kernel may have dropped the unwritten pages), or a write that could not
be undone takes the partition offline until restart; the next start-up's
recovery repairs its tail. Kafka takes the whole log directory offline in
that case; kwire narrows it to the partition that failed.
"""

from __future__ import annotations

import errno

from kwire.protocol.errors import ErrorCode, KafkaError

_OUT_OF_DESCRIPTORS = frozenset({errno.EMFILE, errno.ENFILE})
_TRANSIENT = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG}) | _OUT_OF_DESCRIPTORS


def is_transient(exc: OSError) -> bool:
    """A write that failed this way was undone and the next may succeed."""
    return exc.errno in _TRANSIENT and not isinstance(exc, WriteNotUndone)


def is_out_of_descriptors(exc: OSError) -> bool:
    """The file could not even be opened: nothing was written or lost."""
    return exc.errno in _OUT_OF_DESCRIPTORS


class WriteNotUndone(OSError):
    """A write failed part-way and truncating its partial bytes failed too:
    the file holds bytes the broker does not account for."""


class StorageError(KafkaError):
    """A partition's log could not be written or read (KAFKA_STORAGE_ERROR)."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.kafka_storage_error, message)
