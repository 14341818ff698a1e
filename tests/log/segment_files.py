"""Helpers for tests that damage segment files on purpose."""

from __future__ import annotations

from pathlib import Path

from kwire.log import PartitionLog
from kwire.log.config import LogConfig
from kwire.protocol.record_codec import Record, build_batch
from kwire.protocol.records import HEADER_SIZE, parse_header


def make_batch(count=1, value=b"v", timestamp=1_000):
    records = [Record(offset_delta=i, timestamp_delta=i, key=None, value=value, headers=()) for i in range(count)]
    return build_batch(records, base_timestamp=timestamp)


def append(log, count=1, value=b"v", timestamp=1_000):
    batch = make_batch(count, value, timestamp)
    return log.append(batch, parse_header(batch))


def write_log(
    directory: Path, batches: int, config: LogConfig, count: int = 3, value: bytes = b"x" * 60, timestamp_step: int = 10
) -> PartitionLog:
    """A closed log of `batches` batches of `count` records, timestamps rising."""
    log = PartitionLog.open(directory, config)
    for i in range(batches):
        append(log, count, value, timestamp=1_000 + i * timestamp_step)
    log.close()
    return log


def segment_paths(directory: Path) -> list[Path]:
    return sorted(Path(directory).glob("*.log"))


def batches_in(path: Path) -> list[tuple[int, object]]:
    """(position, header) of every batch in a sound segment file."""
    data = Path(path).read_bytes()
    out, position = [], 0
    while len(data) - position >= HEADER_SIZE:
        header = parse_header(data, position)
        out.append((position, header))
        position += header.size
    return out


def patch(path: Path, position: int, new: bytes) -> None:
    data = bytearray(Path(path).read_bytes())
    data[position : position + len(new)] = new
    Path(path).write_bytes(bytes(data))


def flip_byte(path: Path, position: int) -> None:
    data = bytearray(Path(path).read_bytes())
    data[position] ^= 0x5A
    Path(path).write_bytes(bytes(data))
