"""The transaction coordinator's rules, sans-IO with time passed in.

Each transactional id has a producer id and epoch and a state: Empty →
Ongoing (partitions added) → PrepareCommit/PrepareAbort → CompleteCommit/
CompleteAbort → Ongoing again. Every change goes through `_transition`,
which checks it against Kafka's table (transaction_state.py) and raises
IllegalStateTransition for one the table forbids; the states replayed from
`__transaction_state` (at start-up, or when this node becomes the leader
of one of its partitions) are loaded as they are (`recover`). The markers
are written while the request is handled, so a Prepare state lasts only
between its record and the Complete record (and is finished on loading if
the coordinator died or moved in between). A fenced
producer's transaction is aborted under a bumped epoch straight from
Ongoing; PrepareEpochFence is only ever met in a replayed log. Side effects go through two callbacks:
`persist(meta)` (a record in `__transaction_state`) and
`write_markers(meta, commit)` (a control batch in every partition).

Either may raise StorageError (the disk refused). As in Kafka's
TransactionStateManager, a state change is applied in memory only once its
record is written; a failed one answers NOT_COORDINATOR, so the client
finds the coordinator again and retries. Once a Prepare record is written
the outcome is decided: markers that cannot be written are retried (from
the timer tick, `retry_pending`) until they are, as Kafka's marker channel
retries KAFKA_STORAGE_ERROR, and meanwhile the producer's requests get
CONCURRENT_TRANSACTIONS.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import attrs

from kwire.coordinator.state_machine import check_transition
from kwire.coordinator.transaction_state import VALID_PREVIOUS_STATES, TxnMetadata, TxnState
from kwire.log.storage_errors import StorageError
from kwire.protocol.errors import ErrorCode

log = logging.getLogger("kwire.transactions")

E = ErrorCode
S = TxnState
MAX_EPOCH = 32767


@attrs.define
class TransactionSettings:
    max_timeout_ms: int = 900_000  # transaction.max.timeout.ms


class TransactionCoordinator:
    def __init__(
        self,
        settings: TransactionSettings,
        allocate_producer_id: Callable[[], int],
        persist: Callable[[TxnMetadata], None],
        write_markers: Callable[[TxnMetadata, bool], None],
    ) -> None:
        self.settings = settings
        self.transactions: dict[str, TxnMetadata] = {}
        self._allocate = allocate_producer_id
        self._persist = persist
        self._write_markers = write_markers
        self._pending: set[str] = set()  # prepared transactions whose markers wait for a retry

    # --- InitProducerId ------------------------------------------------------

    def init_producer_id(
        self, transactional_id: str, timeout_ms: int, producer_id: int, producer_epoch: int, now_ms: int
    ) -> tuple[ErrorCode, int, int]:
        """(error, producer id, epoch) for a transactional producer starting up."""
        error = self.init_arguments_error(transactional_id, timeout_ms)
        if error != E.none:
            return error, -1, -1
        try:
            return self._init_producer_id(transactional_id, timeout_ms, producer_id, producer_epoch, now_ms)
        except StorageError:
            return E.not_coordinator, -1, -1

    def init_arguments_error(self, transactional_id: str, timeout_ms: int) -> ErrorCode:
        """What Kafka answers an InitProducerId's arguments with, before anything else."""
        if not transactional_id:
            return E.invalid_request
        if not 0 < timeout_ms <= self.settings.max_timeout_ms:
            return E.invalid_transaction_timeout
        return E.none

    def _init_producer_id(
        self, transactional_id: str, timeout_ms: int, producer_id: int, producer_epoch: int, now_ms: int
    ) -> tuple[ErrorCode, int, int]:
        meta = self.transactions.get(transactional_id)
        if meta is None:
            meta = TxnMetadata(transactional_id, self._allocate(), 0, timeout_ms, S.EMPTY, last_update_ms=now_ms)
            self._persist(meta)
            self.transactions[transactional_id] = meta
            return E.none, meta.producer_id, meta.producer_epoch
        if meta.state in _PREPARED:
            return E.concurrent_transactions, -1, -1  # its markers are still being written
        bumping_itself = producer_id != -1
        if bumping_itself and (producer_id, producer_epoch) != (meta.producer_id, meta.producer_epoch):
            if (
                producer_id == meta.producer_id
                and producer_epoch == meta.last_producer_epoch
                and meta.state != S.ONGOING
            ):
                return E.none, meta.producer_id, meta.producer_epoch  # a retry of a bump that went through
            # KIP-360: only the current producer may bump its own epoch.
            return E.producer_fenced, -1, -1
        if meta.state == S.ONGOING:
            # A new instance fences the old one: its transaction is aborted
            # under a bumped epoch before the new producer gets its own.
            if not self._complete(meta, commit=False, now_ms=now_ms, bump=True):
                return E.concurrent_transactions, -1, -1
            bumping_itself = False
        previous_epoch = meta.producer_epoch
        new_id, new_epoch = self._bumped(meta)
        self._transition(
            meta,
            S.EMPTY,
            producer_id=new_id,
            producer_epoch=new_epoch,
            timeout_ms=timeout_ms,
            partitions=set(),
            start_ms=-1,
            last_update_ms=now_ms,
        )
        meta.last_producer_epoch = previous_epoch if bumping_itself and meta.producer_epoch > 0 else -1
        return E.none, meta.producer_id, meta.producer_epoch

    def _bumped(self, meta: TxnMetadata) -> tuple[int, int]:
        """(producer id, epoch) after an epoch bump: a new id once the epoch runs out."""
        if meta.producer_epoch + 1 >= MAX_EPOCH:
            return self._allocate(), 0
        return meta.producer_id, meta.producer_epoch + 1

    def _transition(self, meta: TxnMetadata, state: TxnState, **changes: Any) -> None:
        """The one way a transaction changes state: `meta` moves to `state`
        with `changes` if Kafka's table allows it (IllegalStateTransition if
        not), persisted first, then applied; on StorageError nothing changes."""
        check_transition(f"transactional id {meta.transactional_id!r}", meta.state, state, VALID_PREVIOUS_STATES)
        self._persist(attrs.evolve(meta, state=state, **changes))
        meta.state = state
        for name, value in changes.items():
            setattr(meta, name, value)

    # --- checks shared by the transactional requests --------------------------

    def _check(
        self, transactional_id: str, producer_id: int, producer_epoch: int
    ) -> tuple[TxnMetadata | None, ErrorCode]:
        """(meta, ErrorCode.none) if this producer may act now, else (None, the error)."""
        meta = self.transactions.get(transactional_id)
        if meta is None or meta.producer_id != producer_id:
            return None, E.invalid_producer_id_mapping
        if producer_epoch != meta.producer_epoch:
            return None, E.producer_fenced
        if meta.state in (S.PREPARE_COMMIT, S.PREPARE_ABORT):
            return None, E.concurrent_transactions
        if meta.state == S.PREPARE_EPOCH_FENCE:
            return None, E.producer_fenced
        return meta, E.none

    def check_producer(self, transactional_id: str, producer_id: int, producer_epoch: int) -> ErrorCode:
        return self._check(transactional_id, producer_id, producer_epoch)[1]

    # --- AddPartitionsToTxn / AddOffsetsToTxn ----------------------------------

    def add_partitions(
        self,
        transactional_id: str,
        producer_id: int,
        producer_epoch: int,
        partitions: list[tuple[str, int]],
        now_ms: int,
        verify_only: bool = False,
    ) -> ErrorCode:
        meta, error = self._check(transactional_id, producer_id, producer_epoch)
        if meta is None:
            return error
        if verify_only:  # KIP-890: is this partition already in the transaction?
            return E.none if set(partitions) <= meta.partitions and meta.state == S.ONGOING else E.invalid_txn_state
        if meta.state != S.ONGOING:
            try:
                self._transition(meta, S.ONGOING, partitions=set(partitions), start_ms=now_ms, last_update_ms=now_ms)
            except StorageError:
                return E.not_coordinator
            return E.none
        wanted = meta.partitions | set(partitions)
        if wanted != meta.partitions:
            try:
                self._transition(meta, S.ONGOING, partitions=wanted, last_update_ms=now_ms)
            except StorageError:
                return E.not_coordinator
        meta.last_update_ms = now_ms
        return E.none

    # --- EndTxn ----------------------------------------------------------------

    def end_transaction(
        self, transactional_id: str, producer_id: int, producer_epoch: int, commit: bool, now_ms: int
    ) -> ErrorCode:
        meta, error = self._check(transactional_id, producer_id, producer_epoch)
        if meta is None:
            return error
        if meta.state == S.ONGOING:
            try:
                self._complete(meta, commit, now_ms)
            except StorageError:
                return E.not_coordinator  # not even Prepare was written: nothing decided
            return E.none  # decided; markers not written yet are retried
        if (meta.state == S.COMPLETE_COMMIT and commit) or (meta.state == S.COMPLETE_ABORT and not commit):
            return E.none  # a retry of what already happened
        return E.invalid_txn_state

    def _complete(self, meta: TxnMetadata, commit: bool, now_ms: int, bump: bool = False) -> bool:
        """Prepare (persisted, raises StorageError if not), markers in every
        partition, Complete (persisted). False when the markers or the
        Complete record must wait for `retry_pending`."""
        changes = dict(last_update_ms=now_ms)
        if bump:
            changes["producer_id"], changes["producer_epoch"] = self._bumped(meta)
        self._transition(meta, S.PREPARE_COMMIT if commit else S.PREPARE_ABORT, **changes)
        return self._finish(meta)

    def _finish(self, meta: TxnMetadata) -> bool:
        """Markers, then the Complete record, for a prepared transaction."""
        commit = meta.state == S.PREPARE_COMMIT
        try:
            self._write_markers(meta, commit)
            self._transition(meta, S.COMPLETE_COMMIT if commit else S.COMPLETE_ABORT, partitions=set())
        except StorageError as exc:
            if meta.transactional_id not in self._pending:
                log.warning(
                    "The %s of %s waits for its markers (retried until written): %s",
                    "commit" if commit else "abort",
                    meta.transactional_id,
                    exc.message,
                )
            self._pending.add(meta.transactional_id)
            return False
        self._pending.discard(meta.transactional_id)
        return True

    def retry_pending(self, now_ms: int) -> int:
        """Finish prepared transactions whose markers (or whose Prepare, after
        a fence at start-up) could not be written; returns how many still wait."""
        for transactional_id in list(self._pending):
            meta = self.transactions.get(transactional_id)
            if meta is None or meta.state not in _PREPARED:
                self._pending.discard(transactional_id)
            elif meta.state == S.PREPARE_EPOCH_FENCE:
                self._abort_fenced(meta, now_ms)
            elif self._finish(meta):
                log.info("Finished the %s of %s", meta.state.kafka_name, transactional_id)
        return len(self._pending)

    def _abort_fenced(self, meta: TxnMetadata, now_ms: int) -> None:
        try:
            self._complete(meta, False, now_ms)
        except StorageError as exc:
            if meta.transactional_id not in self._pending:
                log.warning(
                    "Could not abort the fenced transaction of %s yet (retried): %s", meta.transactional_id, exc.message
                )
            self._pending.add(meta.transactional_id)

    # --- time and recovery ----------------------------------------------------------

    def expire(self, now_ms: int) -> list[str]:
        """transaction.timeout.ms: abort (and fence, by bumping the epoch)
        every transaction open longer than its timeout."""
        expired = []
        for meta in list(self.transactions.values()):
            if meta.state == S.ONGOING and now_ms - meta.start_ms > meta.timeout_ms:
                try:
                    self._complete(meta, commit=False, now_ms=now_ms, bump=True)
                except StorageError:
                    continue  # still Ongoing: the next check tries again
                meta.last_producer_epoch = -1
                expired.append(meta.transactional_id)
        return expired

    def remove_expired_ids(
        self, now_ms: int, expiration_ms: int, write_tombstone: Callable[[str], None] = lambda transactional_id: None
    ) -> list[str]:
        """transactional.id.expiration.ms: forget transactional ids idle that
        long with no transaction open, each once `write_tombstone` wrote its
        tombstone (one that raises StorageError is kept for the next check)."""
        may_die = VALID_PREVIOUS_STATES[S.DEAD]  # no transaction open
        expired = []
        for tid, meta in list(self.transactions.items()):
            if meta.state in may_die and now_ms - meta.last_update_ms >= expiration_ms:
                try:
                    write_tombstone(tid)
                except StorageError:
                    continue
                del self.transactions[tid]
                expired.append(tid)
        return expired

    def forget_partitions(self, topics: set[str]) -> None:
        """Deleted topics' partitions leave every transaction (in memory, as
        Kafka's marker channel drops partitions that no longer exist)."""
        for meta in self.transactions.values():
            if any(topic in topics for topic, _index in meta.partitions):
                meta.partitions = {partition for partition in meta.partitions if partition[0] not in topics}

    def recover(self, loaded: dict[str, TxnMetadata], now_ms: int) -> None:
        """After replaying (a partition of) `__transaction_state`: take the
        states as loaded, then finish what a crash or a move of the
        coordinator left in a Prepare state (its markers may be missing), as
        Kafka's coordinator does after loading. Ongoing ones keep their
        timeout."""
        # A load, not a transition: each state was checked when its record was written.
        self.transactions.update(loaded)
        for meta in loaded.values():
            if meta.state in (S.PREPARE_COMMIT, S.PREPARE_ABORT):
                self._finish(meta)
            elif meta.state == S.PREPARE_EPOCH_FENCE:
                self._abort_fenced(meta, now_ms)

    def unload(self, transactional_ids: set[str]) -> None:
        """Another node coordinates these ids now: forget them here (a
        prepared one is finished by the new coordinator on loading)."""
        for transactional_id in transactional_ids:
            self.transactions.pop(transactional_id, None)
            self._pending.discard(transactional_id)


_PREPARED = (S.PREPARE_COMMIT, S.PREPARE_ABORT, S.PREPARE_EPOCH_FENCE)
