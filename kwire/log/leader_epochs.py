"""A partition's leader-epoch cache, as Kafka's LeaderEpochFileCache: for
each leader epoch the first offset written in it, in the partition
directory's `leader-epoch-checkpoint` file (Kafka's format: a version line
`0`, a count line, then `epoch startOffset` per line).

OffsetForLeaderEpoch answers from it (where an epoch ended), so clients can
check their position after a leader change. The file is rewritten whole
(atomically) when an entry changes: a new epoch starts (fsynced at once),
the first batch of an epoch is appended (fsynced by the log's next flush,
as Kafka since KAFKA-15046), recovery cut the log end, or retention /
DeleteRecords moved the log start. The log rebuilds what a crash lost from
its batch headers (PartitionLog._load_leader_epochs).
"""

from __future__ import annotations

import bisect
import logging
from pathlib import Path

import attrs

from kwire.log.durable_files import fsync_if_exists, write_atomically

logger = logging.getLogger("kwire.log")

CHECKPOINT_FILE = "leader-epoch-checkpoint"
_VERSION = 0
UNDEFINED_EPOCH = -1
UNDEFINED_OFFSET = -1


class DamagedEpochCheckpoint(ValueError):
    """A leader-epoch-checkpoint that is not in Kafka's format; str() says why."""


@attrs.frozen
class EpochEntry:
    epoch: int
    start_offset: int


def parse_epoch_checkpoint(data: bytes) -> list[EpochEntry]:
    """The file's entries, in order; raises DamagedEpochCheckpoint."""
    try:
        lines = data.decode("ascii").splitlines()
    except UnicodeDecodeError as exc:
        raise DamagedEpochCheckpoint(f"not text (byte {exc.start})") from None
    if len(lines) < 2:
        raise DamagedEpochCheckpoint("no version and entry count lines")
    if lines[0].strip() != str(_VERSION):
        raise DamagedEpochCheckpoint(f"unknown version {lines[0]!r}")
    try:
        count = int(lines[1])
    except ValueError:
        raise DamagedEpochCheckpoint(f"bad entry count {lines[1]!r}") from None
    if count != len(lines) - 2:
        raise DamagedEpochCheckpoint(f"says {count} entries but has {len(lines) - 2}")
    entries: list[EpochEntry] = []
    for line in lines[2:]:
        fields = line.split()
        try:
            epoch, start = (int(field) for field in fields)
        except ValueError:
            raise DamagedEpochCheckpoint(f"bad entry {line!r}") from None
        if epoch < 0 or start < 0 or (entries and (epoch <= entries[-1].epoch or start < entries[-1].start_offset)):
            raise DamagedEpochCheckpoint(f"entry {line!r} is out of order")
        entries.append(EpochEntry(epoch, start))
    return entries


def format_epoch_checkpoint(entries: list[EpochEntry]) -> bytes:
    lines = [str(_VERSION), str(len(entries))] + [f"{e.epoch} {e.start_offset}" for e in entries]
    return ("\n".join(lines) + "\n").encode("ascii")


class LeaderEpochCache:
    """Epochs in increasing order, each with its start offset (also increasing).

    `directory` None: kept in memory only (an in-memory log)."""

    def __init__(self, directory: Path | None, entries: list[EpochEntry] | None = None) -> None:
        self.directory = directory
        self.entries: list[EpochEntry] = list(entries or [])
        # The file lags the entries (its last write failed), or was not fsynced.
        self.unsaved = False
        self.unsynced = False
        self._write_failed = False  # warned once until a write succeeds

    @property
    def path(self) -> Path | None:
        return None if self.directory is None else self.directory / CHECKPOINT_FILE

    @property
    def latest_epoch(self) -> int:
        """The newest epoch, or -1 when there is none."""
        return self.entries[-1].epoch if self.entries else UNDEFINED_EPOCH

    @classmethod
    def load(cls, directory: Path) -> LeaderEpochCache | None:
        """The cache the directory's file holds; None if there is no file or
        it is damaged (with a warning): the caller rebuilds it from the log."""
        path = directory / CHECKPOINT_FILE
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return cls(directory, parse_epoch_checkpoint(data))
        except DamagedEpochCheckpoint as exc:
            logger.warning("Ignoring the damaged %s (%s): rebuilding it from the batch headers", path, exc)
            return None

    # --- changes ---------------------------------------------------------

    def assign(self, epoch: int, start_offset: int, durable: bool = True, write: bool = True) -> bool:
        """Record that `epoch` starts at `start_offset` (a new leader epoch, or
        the first batch stamped with it); whether anything changed. As
        Kafka, entries that would no longer be monotonic are dropped.
        `durable=False` (an append): the file is written but not fsynced, as
        Kafka since KAFKA-15046; start-up re-reads the unflushed batches.
        `write=False`: kept in memory until the next write or close (an
        entry start-up would rebuild anyway)."""
        if epoch < 0:
            return False
        if self.entries and self.entries[-1].epoch == epoch and start_offset >= self.entries[-1].start_offset:
            return False
        self.entries = [e for e in self.entries if e.epoch < epoch and e.start_offset < start_offset]
        self.entries.append(EpochEntry(epoch, start_offset))
        if write:
            self.save(durable)
        else:
            self.unsaved = True
        return True

    def truncate_from_end(self, end_offset: int) -> None:
        """The log now ends at `end_offset`: epochs starting past it go (one
        starting right at the end stays: its leader re-assigns it anyway)."""
        kept = [e for e in self.entries if e.start_offset <= end_offset]
        if len(kept) != len(self.entries):
            self.entries = kept
            self.save()

    def remove_from(self, end_offset: int) -> None:
        """A follower truncated its log to `end_offset`: epochs starting at or
        past it go, as Kafka's truncateFromEnd. Unlike `truncate_from_end`
        (start-up recovery), an epoch starting right at the end goes too: it
        holds nothing the follower kept, and keeping it would make the
        follower ask the leader about it again (follower_truncation)."""
        if end_offset < 0:
            return
        kept = [e for e in self.entries if e.start_offset < end_offset]
        if len(kept) != len(self.entries):
            self.entries = kept
            self.save()

    def clear(self) -> None:
        """A follower starts over at its leader's log start (Kafka's
        clearAndFlush): no epoch is known until its batches come."""
        if self.entries:
            self.entries = []
            self.save()

    def truncate_from_start(self, start_offset: int) -> None:
        """The log now starts at `start_offset`: the epoch holding it starts
        there, earlier ones go (as Kafka's truncateFromStart)."""
        below = [e for e in self.entries if e.start_offset <= start_offset]
        if not below or (len(below) == 1 and below[0].start_offset == start_offset):
            return
        rest = self.entries[len(below) :]
        self.entries = [EpochEntry(below[-1].epoch, start_offset), *rest]
        self.save()

    def save(self, durable: bool = True) -> None:
        """Rewrite the file; a failure is logged and retried at the next change."""
        path = self.path
        if path is None:
            return
        try:
            write_atomically(path, format_epoch_checkpoint(self.entries), durable)
        except OSError as exc:
            if not self._write_failed:
                logger.warning("Could not write %s (%s); the previous one stays until the next change", path, exc)
            self.unsaved = self._write_failed = True
            return
        self.unsaved, self.unsynced, self._write_failed = False, not durable, False

    def sync(self) -> None:
        """fsync a file written with `durable=False` (the log's flush does);
        raises OSError."""
        if self.unsynced and self.path is not None:
            fsync_if_exists(self.path)
        self.unsynced = False

    # --- queries ---------------------------------------------------------

    def end_offset_for(self, requested_epoch: int, log_end_offset: int) -> tuple[int, int]:
        """(epoch, end offset) for OffsetForLeaderEpoch, as Kafka's endOffsetFor:
        the latest epoch ends at the log end; an older one where the next
        known epoch starts, reported as the largest known epoch at or below
        the requested one; unknown (-1, -1) past the latest epoch."""
        if requested_epoch == UNDEFINED_EPOCH or not self.entries:
            return UNDEFINED_EPOCH, UNDEFINED_OFFSET
        if requested_epoch == self.latest_epoch:
            return requested_epoch, log_end_offset
        epochs = [e.epoch for e in self.entries]
        higher = bisect.bisect_right(epochs, requested_epoch)
        if higher == len(self.entries):
            return UNDEFINED_EPOCH, UNDEFINED_OFFSET
        end = self.entries[higher].start_offset
        if higher == 0:  # older than every known epoch
            return requested_epoch, end
        return self.entries[higher - 1].epoch, end
