"""Kafka's offset checkpoint files in the data directory: a version line,
a count line, then `topic partition offset` per line.

- `log-start-offset-checkpoint`: where each partition's log starts when
  DeleteRecords moved it into the middle of a segment;
- `cleaner-offset-checkpoint`: how far the cleaner has compacted each
  partition, so a restart does not compact it all over again;
- `recovery-point-offset-checkpoint`: below which offset each partition's
  log is known flushed, so recovery after a crash starts there;
- `replication-offset-checkpoint`: each partition's high watermark, where a
  replicated log's consumers start reading up to after a restart.

A damaged file is ignored with a warning: that loses no record (the cleaner
and recovery redo work; records below a DeleteRecords start show again).
"""

from __future__ import annotations

import logging
from pathlib import Path

from kwire.log.durable_files import write_atomically

log = logging.getLogger("kwire.log")

LOG_START = "log-start-offset-checkpoint"
CLEANER = "cleaner-offset-checkpoint"
RECOVERY_POINT = "recovery-point-offset-checkpoint"
REPLICATION = "replication-offset-checkpoint"
_VERSION = 0


class DamagedCheckpoint(ValueError):
    """A checkpoint file that is not in Kafka's format; str() says why."""


def read_checkpoint(data_dir: Path, file_name: str) -> dict[tuple[str, int], int]:
    """The file's entries; {} when it is missing, or damaged (with a warning)."""
    try:
        return load_checkpoint(data_dir, file_name) or {}
    except DamagedCheckpoint as exc:
        log.warning("Ignoring the damaged checkpoint file %s: %s", Path(data_dir) / file_name, exc)
        return {}


def load_checkpoint(data_dir: Path, file_name: str) -> dict[tuple[str, int], int] | None:
    """The file's entries, None if there is no such file; raises
    DamagedCheckpoint if it is not a well-formed checkpoint."""
    path = Path(data_dir) / file_name
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return parse_checkpoint(data)


def parse_checkpoint(data: bytes) -> dict[tuple[str, int], int]:
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise DamagedCheckpoint(f"not text (byte {exc.start})") from None
    if len(lines) < 2:
        raise DamagedCheckpoint("no version and entry count lines")
    if lines[0].strip() != str(_VERSION):
        raise DamagedCheckpoint(f"unknown version {lines[0].strip()[:20]!r}")
    try:
        count = int(lines[1])
    except ValueError:
        raise DamagedCheckpoint(f"entry count {lines[1][:20]!r} is not a number") from None
    body = [line for line in lines[2:] if line.strip()]
    if count != len(body):
        raise DamagedCheckpoint(f"{count} entries announced, {len(body)} found")
    entries = {}
    for number, line in enumerate(body, start=3):
        topic, _, rest = line.rpartition(" ")
        topic, _, partition = topic.rpartition(" ")
        try:
            key, offset = (topic, int(partition)), int(rest)
        except ValueError:
            raise DamagedCheckpoint(f"line {number} is not `topic partition offset`") from None
        if not topic or key[1] < 0 or offset < 0:
            raise DamagedCheckpoint(f"line {number} has an empty topic or a negative number")
        entries[key] = offset
    return entries


def write_checkpoint(data_dir: Path, file_name: str, entries: dict[tuple[str, int], int]) -> None:
    """Written whole to a temporary file, fsynced, then renamed over the old
    one; raises OSError with the old file intact."""
    body = [str(_VERSION), str(len(entries))] + [f"{t} {p} {o}" for (t, p), o in sorted(entries.items())]
    write_atomically(Path(data_dir) / file_name, ("\n".join(body) + "\n").encode())
