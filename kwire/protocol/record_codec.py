"""Records inside a RecordBatch v2: build batches and iterate their records.

Only for the places that must look inside a batch (internal topics,
timestamp lookups, compaction, tests); produce and fetch never call this.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable, Iterator

import attrs

from kwire.protocol.records import (
    CONTROL_BIT,
    CURRENT_MAGIC,
    HEADER,
    HEADER_SIZE,
    INT32,
    LOG_OVERHEAD,
    TIMESTAMP_TYPE_BIT,
    TRANSACTIONAL_BIT,
    Buffer,
    parse_header,
    reseal,
)

NONE, GZIP, SNAPPY, LZ4, ZSTD = 0, 1, 2, 3, 4
_XERIAL_MAGIC = b"\x82SNAPPY\x00"

# No batch is decompressed to more than this: the most record bytes a client
# can make the broker hold by sending them uncompressed, in one request of
# socket.request.max.bytes (its default). A few hundred bytes of zstd or gzip
# can claim gigabytes; beyond this the batch is refused as corrupt (Kafka
# streams records and sets no such bound, but it does not hold them all at once).
MAX_DECOMPRESSED_BYTES = 100 * 1024 * 1024
# Output taken per step while decompressing, so no step can overshoot far.
_STEP = 1 << 20
# attributes, timestamp delta, offset delta, key and value lengths, header
# count and the record's own length: the fewest bytes a record can take.
MIN_RECORD_SIZE = 7


class RecordDecodeError(ValueError):
    """The bytes are not a well-formed record batch."""


@attrs.frozen
class Record:
    """A record as stored: offset and timestamp relative to its batch."""

    offset_delta: int
    timestamp_delta: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...] = ()


@attrs.frozen
class DecodedRecord:
    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]


# --- varints -----------------------------------------------------------------


def write_varint(out: bytearray, value: int) -> None:
    """Zig-zag signed varint, as the record format uses throughout."""
    zigzag = (value << 1) ^ (value >> 63)
    while zigzag & ~0x7F:
        out.append((zigzag & 0x7F) | 0x80)
        zigzag >>= 7
    out.append(zigzag)


def read_varint(buf: Buffer, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise RecordDecodeError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (result >> 1) ^ -(result & 1), pos
        shift += 7
        if shift > 63:
            raise RecordDecodeError("varint too long")


def _write_bytes(out: bytearray, data: bytes | None) -> None:
    if data is None:
        write_varint(out, -1)
    else:
        write_varint(out, len(data))
        out += data


def _read_bytes(buf: Buffer, pos: int) -> tuple[bytes | None, int]:
    length, pos = read_varint(buf, pos)
    if length < 0:
        if length != -1:
            raise RecordDecodeError(f"invalid record field length {length}")
        return None, pos
    end = pos + length
    if end > len(buf):
        raise RecordDecodeError("record field runs past the batch")
    return bytes(buf[pos:end]), end


# --- compression -------------------------------------------------------------


def compress(codec: int, data: bytes) -> bytes:
    if codec == NONE:
        return data
    if codec == GZIP:
        return gzip.compress(data)
    if codec == SNAPPY:
        import cramjam

        return bytes(cramjam.snappy.compress_raw(data))
    if codec == LZ4:
        import lz4.frame

        return bytes(lz4.frame.compress(data))
    if codec == ZSTD:
        import zstandard

        return zstandard.ZstdCompressor().compress(data)
    raise RecordDecodeError(f"unknown compression codec {codec}")


def decompress(codec: int, data: bytes, limit: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """The records of a batch payload, uncompressed; RecordDecodeError when
    the data is not valid for its codec or would decompress past `limit`."""
    try:
        if codec == NONE:
            return data
        if codec == GZIP:
            return _gunzip(data, limit)
        if codec == SNAPPY:
            return _snappy_decompress(data, limit)
        if codec == LZ4:
            return _lz4_decompress(data, limit)
        if codec == ZSTD:
            return _zstd_decompress(data, limit)
    except RecordDecodeError:
        raise
    except Exception as exc:
        raise RecordDecodeError(f"cannot decompress (codec {codec}): {exc}") from exc
    raise RecordDecodeError(f"unknown compression codec {codec}")


class _Output:
    """Decompressed pieces and their total, refused past the limit. Pieces
    are joined once at the end: growing one buffer would briefly hold it
    twice, which for a bomb means twice the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.pieces: list[bytes] = []
        self.size = 0

    def add(self, piece: bytes) -> None:
        self.size += len(piece)
        if self.size > self.limit:
            self.pieces.clear()
            raise RecordDecodeError(f"batch decompresses to more than {self.limit} bytes")
        self.pieces.append(piece)

    def joined(self) -> bytes:
        return b"".join(self.pieces)


def _gunzip(data: bytes, limit: int) -> bytes:
    """Every gzip member, as gzip.decompress reads them, in bounded steps."""
    out = _Output(limit)
    rest = bytes(data)
    while rest:
        member = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out.add(member.decompress(rest, _STEP))
        while not member.eof:
            tail = member.unconsumed_tail
            piece = member.decompress(tail, _STEP)
            if not piece and not tail:
                raise RecordDecodeError("truncated gzip data")
            out.add(piece)
        rest = member.unused_data.lstrip(b"\x00")  # gzip.decompress skips zero padding too
    return out.joined()


def _lz4_decompress(data: bytes, limit: int) -> bytes:
    """One LZ4 frame (what follows it is ignored, as before), in bounded steps."""
    import lz4.frame

    frame = lz4.frame.LZ4FrameDecompressor()
    out = _Output(limit)
    out.add(frame.decompress(data, max_length=_STEP))
    while not frame.eof:
        if frame.needs_input:
            raise RecordDecodeError("truncated lz4 frame")
        out.add(frame.decompress(b"", max_length=_STEP))
    return out.joined()


# One zstd block (4 bytes at least) can expand to 128 KiB: input is fed in
# pieces small enough that one piece cannot overshoot the limit by much.
_ZSTD_MAX_EXPANSION = (128 * 1024) // 4


def _zstd_decompress(data: bytes, limit: int) -> bytes:
    """One zstd frame (frames written without a content size too), fed in
    pieces so that no piece can expand far past the limit."""
    import zstandard

    frame = zstandard.ZstdDecompressor().decompressobj()
    out = _Output(limit)
    view = memoryview(data)
    pos = 0
    while pos < len(view) and not frame.eof:
        piece = max(64, (limit - out.size) // _ZSTD_MAX_EXPANSION)
        out.add(frame.decompress(view[pos : pos + piece]))
        pos += piece
    if not frame.eof:
        raise RecordDecodeError("truncated zstd frame")
    return out.joined()


def _snappy_decompress(data: bytes, limit: int) -> bytes:
    import cramjam

    if not data.startswith(_XERIAL_MAGIC):
        _check_snappy_length(data, limit)
        return bytes(cramjam.snappy.decompress_raw(data))
    # snappy-java's framing: 16-byte header, then (int32 length, block)*.
    pos, out = 16, _Output(limit)
    while pos < len(data):
        if pos + 4 > len(data):
            raise RecordDecodeError("truncated xerial snappy block")
        (length,) = INT32.unpack_from(data, pos)
        pos += 4
        if length < 0 or pos + length > len(data):
            raise RecordDecodeError("bad xerial snappy block length")
        block = data[pos : pos + length]
        _check_snappy_length(block, limit - out.size)
        out.add(bytes(cramjam.snappy.decompress_raw(block)))
        pos += length
    return out.joined()


def _check_snappy_length(block: bytes, limit: int) -> None:
    """A raw snappy block starts with its uncompressed length (a varint):
    refuse it before decompressing when it is over the limit."""
    length = shift = 0
    for byte in bytes(block[:5]):
        length |= (byte & 0x7F) << shift
        if byte < 0x80:
            if length > limit:
                raise RecordDecodeError(f"batch decompresses to more than {limit} bytes")
            return
        shift += 7
    raise RecordDecodeError("bad snappy length preamble")


# --- batches -----------------------------------------------------------------


def encode_records(records: Iterable[Record]) -> bytes:
    out = bytearray()
    body = bytearray()
    for record in records:
        body.clear()
        body.append(0)  # record attributes: unused
        write_varint(body, record.timestamp_delta)
        write_varint(body, record.offset_delta)
        _write_bytes(body, record.key)
        _write_bytes(body, record.value)
        write_varint(body, len(record.headers))
        for name, value in record.headers:
            _write_bytes(body, name.encode())
            _write_bytes(body, value)
        write_varint(out, len(body))
        out += body
    return bytes(out)


def build_batch(
    records: list[Record],
    *,
    base_offset: int = 0,
    base_timestamp: int = 0,
    compression: int = NONE,
    producer_id: int = -1,
    producer_epoch: int = -1,
    base_sequence: int = -1,
    is_transactional: bool = False,
    is_control: bool = False,
    timestamp_type: int = 0,
    partition_leader_epoch: int = 0,
) -> bytearray:
    payload = compress(compression, encode_records(records))
    attributes = compression
    if timestamp_type:
        attributes |= TIMESTAMP_TYPE_BIT
    if is_transactional:
        attributes |= TRANSACTIONAL_BIT
    if is_control:
        attributes |= CONTROL_BIT
    last_offset_delta = max((r.offset_delta for r in records), default=0)
    max_timestamp = base_timestamp + max((r.timestamp_delta for r in records), default=0)
    batch = bytearray(HEADER_SIZE) + payload
    HEADER.pack_into(
        batch,
        0,
        base_offset,
        len(batch) - LOG_OVERHEAD,
        partition_leader_epoch,
        CURRENT_MAGIC,
        0,
        attributes,
        last_offset_delta,
        base_timestamp,
        max_timestamp,
        producer_id,
        producer_epoch,
        base_sequence,
        len(records),
    )
    reseal(batch)
    return batch


def iter_records(batch: Buffer) -> Iterator[DecodedRecord]:
    """Every record of the first batch in `batch`, with absolute offsets and
    timestamps (decompressing it when needed)."""
    if len(batch) < HEADER_SIZE:
        raise RecordDecodeError("shorter than a batch header")
    header = parse_header(batch)
    end = header.size
    if end > len(batch) or end < HEADER_SIZE:
        raise RecordDecodeError("batch length does not match the data")
    data = decompress(header.compression, bytes(batch[HEADER_SIZE:end]))
    if not 0 <= header.records_count <= len(data) // MIN_RECORD_SIZE:
        raise RecordDecodeError(f"batch declares {header.records_count} records in {len(data)} bytes of records")
    log_append_time = header.max_timestamp if header.attributes & TIMESTAMP_TYPE_BIT else None
    pos = 0
    for _ in range(header.records_count):
        length, pos = read_varint(data, pos)
        record_end = pos + length
        if length < 0 or record_end > len(data):
            raise RecordDecodeError("record runs past the batch")
        pos += 1  # record attributes
        timestamp_delta, pos = read_varint(data, pos)
        offset_delta, pos = read_varint(data, pos)
        key, pos = _read_bytes(data, pos)
        value, pos = _read_bytes(data, pos)
        count, pos = read_varint(data, pos)
        if count < 0 or count > length:
            raise RecordDecodeError("bad header count")
        headers = []
        for _ in range(count):
            name, pos = _read_bytes(data, pos)
            header_value, pos = _read_bytes(data, pos)
            headers.append(((name or b"").decode("utf-8", "replace"), header_value))
        if pos != record_end:
            raise RecordDecodeError("record length does not match its fields")
        # LogAppendTime: every record carries the time the broker stored the batch.
        timestamp = log_append_time if log_append_time is not None else header.base_timestamp + timestamp_delta
        yield DecodedRecord(header.base_offset + offset_delta, timestamp, key, value, tuple(headers))


def iter_all_records(data: Buffer) -> Iterator[DecodedRecord]:
    """Records of every complete batch in `data` (a fetch response's record
    set may end in a partial batch, which is skipped as clients do)."""
    pos = 0
    while len(data) - pos >= HEADER_SIZE:
        size = parse_header(data, pos).size
        if size < HEADER_SIZE or pos + size > len(data):
            return
        yield from iter_records(memoryview(data)[pos : pos + size])
        pos += size
