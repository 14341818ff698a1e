"""The one walk over stored batches: batch by batch, checking each on the
way. Segment recovery, index rebuilds, the log end after a clean shutdown,
interrupted swaps, the cleaner, `kwire check`, replays of internal topics
and ListOffsets' record lookup all walk with it.

The scan stops at the first batch that is not whole and in its place and
says why; everything before it is sound. With `verify_crc` (recovery,
`kwire check`, anything that decodes the records) each batch's CRC-32C is
checked too, which needs the whole batch in memory; without it (the read
path, index rebuilds after a clean shutdown) only headers are read.
Fetch's own check of the bytes it sends is `Segment.read`'s inlined loop.
"""

from __future__ import annotations

from collections.abc import Iterator

from kwire.log.batch_checks import header_problem
from kwire.log.stores import ReadableStore
from kwire.protocol.records import (
    CURRENT_MAGIC,
    HEADER_SIZE,
    MIN_BATCH_LENGTH,
    BatchHeader,
    Buffer,
    crc_matches,
    parse_header,
)

HEADER_BLOCK = 64 * 1024
CRC_BLOCK = 8 * 1024 * 1024


class SegmentScan:
    """Iterate for (position, header) of each sound batch from `start`, or
    with `batches()` for (position, header, the batch's bytes).

    Afterwards: `end` is the byte after the last sound batch, `next_offset`
    one past its last offset (`min_offset` if none), `batches_seen` how many
    were sound, and `problem` why the scan stopped before the end of the
    store (None when it reached it).
    """

    def __init__(
        self,
        store: ReadableStore,
        min_offset: int,
        *,
        start: int = 0,
        end_offset: int | None = None,
        verify_crc: bool = False,
    ) -> None:
        self.store = store
        self.end = start
        self.next_offset = min_offset
        self.end_offset = end_offset
        self.verify_crc = verify_crc
        self.batches_seen = 0
        self.problem: str | None = None
        self.torn = False  # the problem is that the store ends inside a batch
        self._block, self._block_start = b"", start  # the bytes read last, and from where

    def __iter__(self) -> Iterator[tuple[int, BatchHeader]]:
        return self._walk(whole_batches=self.verify_crc)

    def batches(self) -> Iterator[tuple[int, BatchHeader, bytes]]:
        """The sound batches with their bytes (each read once, in blocks)."""
        for position, header in self._walk(whole_batches=True):
            at = position - self._block_start
            yield position, header, self._block[at : at + header.size]

    def _walk(self, whole_batches: bool) -> Iterator[tuple[int, BatchHeader]]:
        # With `whole_batches` every batch yielded lies whole in `_block`
        # (read from `_block_start`), for the CRC check and for `batches`.
        size = self.store.size
        block_size = CRC_BLOCK if whole_batches else HEADER_BLOCK
        position = self.end
        while position < size:
            if size - position < HEADER_SIZE:
                self.problem = f"the last {size - position} bytes are less than a batch header (a torn write)"
                self.torn = True
                return
            block = self.store.read_bytes(position, min(block_size, size - position))
            self._block, self._block_start = block, position
            at = 0
            while len(block) - at >= HEADER_SIZE:
                header = parse_header(block, at)
                problem = header_problem(header, position + at, size, self.next_offset, self.end_offset)
                if problem is None and whole_batches:
                    if at + header.size > len(block):
                        if at:
                            break  # read again from this batch, so that it is whole
                        block = self._block = self.store.read_bytes(position, header.size)
                    if self.verify_crc and not crc_matches(block, at, header.size, header.crc):
                        problem = "CRC-32C mismatch"
                if problem is not None:
                    self.problem = problem
                    self.torn = (
                        header.magic == CURRENT_MAGIC
                        and header.batch_length >= MIN_BATCH_LENGTH
                        and position + at + header.size > size
                    )
                    return
                yield position + at, header
                at += header.size
                self.end = position + at
                self.next_offset = header.last_offset + 1
                self.batches_seen += 1
            if at == 0:  # the file shrank under us: nothing more to read
                self.problem = "the file ended while it was being read"
                return
            position += at


def scan_to_end(scan: SegmentScan) -> SegmentScan:
    """Run a scan for its results (end, next offset, problem) alone."""
    for _batch in scan:
        pass
    return scan


def batches_in(data: Buffer) -> Iterator[tuple[int, BatchHeader, bytes]]:
    """(position, header, bytes) of the sound batches (CRC-32C checked) of
    bytes already read, up to the first torn or broken one."""
    return SegmentScan(BufferStore(data), 0, verify_crc=True).batches()


class BufferStore:
    """Bytes already in memory (a read's result) seen as a store, to scan."""

    def __init__(self, data: Buffer) -> None:
        self._data = bytes(data)
        self.size = len(self._data)

    def read_bytes(self, position: int, length: int) -> bytes:
        return self._data[position : position + length]
