"""Producer ids for idempotent producers, unique across restarts.

Like Kafka's producer-id blocks: ids are handed out from a block whose end
is written to the metadata log before any id in it is used, so a restarted
broker starts after the last block and never reuses an id.
"""

from __future__ import annotations

from kwire.cluster.metadata_log import MetadataLog

BLOCK_SIZE = 1000


class ProducerIdAllocator:
    def __init__(self, metadata: MetadataLog, first_free: int) -> None:
        self._metadata = metadata
        self._next = first_free
        self._block_end = first_free

    def allocate(self) -> int:
        if self._next >= self._block_end:
            # Recorded before any id of the block is handed out (StorageError
            # if it cannot be), so no id is ever given twice across restarts.
            self._metadata.write_producer_id_block(self._next + BLOCK_SIZE)
            self._block_end = self._next + BLOCK_SIZE
        producer_id = self._next
        self._next += 1
        return producer_id
