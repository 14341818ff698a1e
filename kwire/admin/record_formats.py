"""Records in and out of the command line: the records of one fetched batch,
walked with as little per-record work as Python allows, and the three
output formats of `kwire consume`.

Formats (one record per line):
  value      the value's bytes as stored; a null value prints `null`
             (as kafka-console-consumer prints it)
  key:value  key, the key separator, value (null key or value: `null`)
  json       one JSON object: partition, offset, timestamp, key, value,
             headers (a list of [name, value] pairs); keys and values are
             decoded as UTF-8 with invalid bytes replaced by U+FFFD, null
             stays null
Bytes in the value and key:value formats are written unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from kwire.protocol.record_codec import RecordDecodeError, decompress, read_varint
from kwire.protocol.records import HEADER_SIZE, TIMESTAMP_TYPE_BIT, BatchHeader

FORMATS = ("value", "key:value", "json")

# offset, timestamp, key, value, headers
Headers = tuple[tuple[bytes, bytes | None], ...]
FetchedRecord = tuple[int, int, bytes | None, bytes | None, Headers]
Renderer = Callable[[int, list[FetchedRecord]], list[bytes]]


def batch_records(batch: bytes | memoryview, header: BatchHeader, from_offset: int) -> list[FetchedRecord]:
    """The records of one batch (the bytes of exactly that batch) at or past
    `from_offset`, with absolute offsets and timestamps.

    The hot loop of `kwire consume`: varints of one and two bytes (nearly
    all of them) are read inline rather than through a call.
    """
    data = decompress(header.compression, bytes(batch[HEADER_SIZE:]))
    base_offset = header.base_offset
    base_timestamp = header.base_timestamp
    # LogAppendTime: every record carries the time the broker stored the batch.
    append_time = header.attributes & TIMESTAMP_TYPE_BIT
    records: list[FetchedRecord] = []
    append = records.append
    pos = 0
    size = len(data)
    try:
        for _ in range(header.records_count):
            # Record length: checked at the end, only skipped here.
            if data[pos] < 0x80:
                pos += 1
            elif data[pos + 1] < 0x80:
                pos += 2
            else:
                _, pos = read_varint(data, pos)
            pos += 1  # attributes
            raw = data[pos]
            if raw < 0x80:
                pos += 1
            else:
                raw, pos = _raw_varint(data, pos)
            timestamp_delta = (raw >> 1) ^ -(raw & 1)
            raw = data[pos]
            if raw < 0x80:
                pos += 1
            else:
                raw, pos = _raw_varint(data, pos)
            offset_delta = (raw >> 1) ^ -(raw & 1)
            key, pos = _bytes_at(data, pos)
            value, pos = _bytes_at(data, pos)
            if data[pos] == 0:  # no headers: the common case
                pos += 1
                headers: Headers = ()
            else:
                headers, pos = _headers_at(data, pos)
            offset = base_offset + offset_delta
            if offset >= from_offset:
                timestamp = header.max_timestamp if append_time else base_timestamp + timestamp_delta
                append((offset, timestamp, key, value, headers))
    except IndexError:
        raise RecordDecodeError("record runs past its batch") from None
    if pos > size:
        raise RecordDecodeError("record runs past its batch")
    return records


def _raw_varint(data: bytes, pos: int) -> tuple[int, int]:
    """An unsigned varint (zig-zag not undone) at pos, and the position after it."""
    first = data[pos]
    second = data[pos + 1]
    if second < 0x80:
        return (first & 0x7F) | second << 7, pos + 2
    value, end = read_varint(data, pos)
    return (value << 1) ^ (value >> 63), end  # redo the zig-zag read_varint undid


def _bytes_at(data: bytes, pos: int) -> tuple[bytes | None, int]:
    raw = data[pos]
    if raw < 0x80:
        pos += 1
    else:
        raw, pos = _raw_varint(data, pos)
    length = (raw >> 1) ^ -(raw & 1)
    if length < 0:
        if length != -1:
            raise RecordDecodeError(f"invalid record field length {length}")
        return None, pos
    end = pos + length
    if end > len(data):
        raise RecordDecodeError("record field runs past its batch")
    return data[pos:end], end


def _headers_at(data: bytes, pos: int) -> tuple[Headers, int]:
    count, pos = read_varint(data, pos)
    if count < 0 or count > len(data) - pos:
        raise RecordDecodeError("bad header count")
    headers = []
    for _ in range(count):
        name, pos = _bytes_at(data, pos)
        value, pos = _bytes_at(data, pos)
        headers.append((name or b"", value))
    return tuple(headers), pos


# --- output formats ----------------------------------------------------------

_NULL = b"null"


def renderer(format_name: str, key_separator: bytes) -> Renderer:
    """A function turning one partition's records into output lines (each ending in a newline)."""
    if format_name == "value":
        return _render_values
    if format_name == "key:value":
        return lambda partition, records: _render_keys_and_values(records, key_separator)
    if format_name == "json":
        return _render_json
    raise ValueError(f"unknown format {format_name!r}")


def _render_values(partition: int, records: list[FetchedRecord]) -> list[bytes]:
    out: list[bytes] = []
    append = out.append
    for record in records:
        value = record[3]
        append(_NULL if value is None else value)
        append(b"\n")
    return out


def _render_keys_and_values(records: list[FetchedRecord], separator: bytes) -> list[bytes]:
    out: list[bytes] = []
    append = out.append
    for _offset, _timestamp, key, value, _headers in records:
        append(_NULL if key is None else key)
        append(separator)
        append(_NULL if value is None else value)
        append(b"\n")
    return out


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", "replace")


def _render_json(partition: int, records: list[FetchedRecord]) -> list[bytes]:
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    return [
        dumps(
            {
                "partition": partition,
                "offset": offset,
                "timestamp": timestamp,
                "key": _text(key),
                "value": _text(value),
                "headers": [[name.decode("utf-8", "replace"), _text(hvalue)] for name, hvalue in headers],
            }
        ).encode()
        + b"\n"
        for offset, timestamp, key, value, headers in records
    ]
