"""Kafka's offset checkpoint files in the data directory: a version line,
a count line, then `topic partition offset` per line.

- `log-start-offset-checkpoint`: where each partition's log starts when
  DeleteRecords moved it into the middle of a segment;
- `cleaner-offset-checkpoint`: how far the cleaner has compacted each
  partition, so a restart does not compact it all over again.
"""

from __future__ import annotations

import logging
from pathlib import Path

from kwire.log.durable_files import write_atomically

log = logging.getLogger("kwire.log")

LOG_START = "log-start-offset-checkpoint"
CLEANER = "cleaner-offset-checkpoint"
_VERSION = 0


def read_checkpoint(data_dir: Path, file_name: str) -> dict[tuple[str, int], int]:
    path = Path(data_dir) / file_name
    if not path.exists():
        return {}
    lines = path.read_text().splitlines()
    if len(lines) < 2 or lines[0].strip() != str(_VERSION):
        return {}
    entries = {}
    try:
        for line in lines[2 : 2 + int(lines[1])]:
            topic, partition, offset = line.rsplit(" ", 2)
            entries[(topic, int(partition))] = int(offset)
    except ValueError:
        log.warning("Ignoring the damaged checkpoint file %s", path)
        return {}
    return entries


def write_checkpoint(data_dir: Path, file_name: str, entries: dict[tuple[str, int], int]) -> None:
    """Written whole to a temporary file, fsynced, then renamed over the old
    one; raises OSError with the old file intact."""
    body = [str(_VERSION), str(len(entries))] + [f"{t} {p} {o}" for (t, p), o in sorted(entries.items())]
    write_atomically(Path(data_dir) / file_name, ("\n".join(body) + "\n").encode())
