"""Walking a segment file batch by batch, checking each batch on the way.

The scan stops at the first batch that is not whole and in its place and
says why; everything before it is sound. With `verify_crc` (recovery,
`kwire check`) each batch's CRC-32C is checked too, which needs the whole
batch in memory; without it (the read path, index rebuilds after a clean
shutdown) only headers are read.
"""

from __future__ import annotations

from kwire.log.batch_checks import MIN_BATCH_LENGTH, header_problem
from kwire.protocol.records import CURRENT_MAGIC, HEADER_SIZE, crc_matches, parse_header

HEADER_BLOCK = 64 * 1024
CRC_BLOCK = 8 * 1024 * 1024


class SegmentScan:
    """Iterate for (position, header) of each sound batch from `start`.

    Afterwards: `end` is the byte after the last sound batch, `next_offset`
    one past its last offset (`min_offset` if none), `batches` how many were
    sound, and `problem` why the scan stopped before the end of the file
    (None when it reached it).
    """

    def __init__(self, store, min_offset: int, *, start: int = 0, end_offset: int | None = None,
                 verify_crc: bool = False) -> None:
        self.store = store
        self.end = start
        self.next_offset = min_offset
        self.end_offset = end_offset
        self.verify_crc = verify_crc
        self.batches = 0
        self.problem: str | None = None
        self.torn = False  # the problem is that the file ends inside a batch

    def __iter__(self):
        size = self.store.size
        block_size = CRC_BLOCK if self.verify_crc else HEADER_BLOCK
        position = self.end
        while position < size:
            if size - position < HEADER_SIZE:
                self.problem = f"the last {size - position} bytes are less than a batch header (a torn write)"
                self.torn = True
                return
            block = self.store.read_bytes(position, min(block_size, size - position))
            at = 0
            while len(block) - at >= HEADER_SIZE:
                header = parse_header(block, at)
                problem = header_problem(header, position + at, size, self.next_offset, self.end_offset)
                if problem is None and self.verify_crc:
                    if at + header.size > len(block):
                        if at:
                            break  # read again from this batch, so that it is whole
                        block = self.store.read_bytes(position, header.size)
                    if not crc_matches(block, at, header.size, header.crc):
                        problem = "CRC-32C mismatch"
                if problem is not None:
                    self.problem = problem
                    self.torn = header.magic == CURRENT_MAGIC and header.batch_length >= MIN_BATCH_LENGTH \
                        and position + at + header.size > size
                    return
                yield position + at, header
                at += header.size
                self.end = position + at
                self.next_offset = header.last_offset + 1
                self.batches += 1
            if at == 0:  # the file shrank under us: nothing more to read
                self.problem = "the file ended while it was being read"
                return
            position += at
