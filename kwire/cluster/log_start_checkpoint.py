"""Kafka's `log-start-offset-checkpoint` file: where each partition's log
starts when DeleteRecords moved it into the middle of a segment."""

from __future__ import annotations

import os
from pathlib import Path

FILE_NAME = "log-start-offset-checkpoint"
_VERSION = 0


def read_checkpoint(data_dir: Path) -> dict[tuple[str, int], int]:
    path = Path(data_dir) / FILE_NAME
    if not path.exists():
        return {}
    lines = path.read_text().splitlines()
    if len(lines) < 2 or lines[0].strip() != str(_VERSION):
        return {}
    entries = {}
    for line in lines[2 : 2 + int(lines[1])]:
        topic, partition, offset = line.rsplit(" ", 2)
        entries[(topic, int(partition))] = int(offset)
    return entries


def write_checkpoint(data_dir: Path, entries: dict[tuple[str, int], int]) -> None:
    """Written whole to a temporary file, then renamed over the old one."""
    path = Path(data_dir) / FILE_NAME
    body = [str(_VERSION), str(len(entries))] + [f"{t} {p} {o}" for (t, p), o in sorted(entries.items())]
    temporary = path.with_suffix(".tmp")
    temporary.write_text("\n".join(body) + "\n")
    os.replace(temporary, path)
