"""The transaction coordinator's rules, sans-IO with time passed in.

Each transactional id has a producer id and epoch and a state: Empty →
Ongoing (partitions added) → PrepareCommit/PrepareAbort → CompleteCommit/
CompleteAbort → Ongoing again. On this single broker the markers are
written while the request is handled, so a Prepare state lasts only
between its record and the Complete record (and is finished at start-up
if the broker died in between). Side effects go through two callbacks:
`persist(meta)` (a record in `__transaction_state`) and
`write_markers(meta, commit)` (a control batch in every partition).
"""

from __future__ import annotations

from typing import Callable

import attrs

from kwire.coordinator.transaction_log import TxnMetadata, TxnState
from kwire.protocol.errors import ErrorCode

E = ErrorCode
S = TxnState
MAX_EPOCH = 32767


@attrs.define
class TransactionSettings:
    max_timeout_ms: int = 900_000  # transaction.max.timeout.ms


class TransactionCoordinator:
    def __init__(self, settings: TransactionSettings, allocate_producer_id: Callable[[], int],
                 persist: Callable[[TxnMetadata], None], write_markers: Callable[[TxnMetadata, bool], None]) -> None:
        self.settings = settings
        self.transactions: dict[str, TxnMetadata] = {}
        self._allocate = allocate_producer_id
        self._persist = persist
        self._write_markers = write_markers

    # --- InitProducerId ------------------------------------------------------

    def init_producer_id(self, transactional_id: str, timeout_ms: int, producer_id: int, producer_epoch: int,
                         now_ms: int) -> tuple[int, int, int]:
        """(error, producer id, epoch) for a transactional producer starting up."""
        if not transactional_id:
            return E.invalid_request, -1, -1
        if not 0 < timeout_ms <= self.settings.max_timeout_ms:
            return E.invalid_transaction_timeout, -1, -1
        meta = self.transactions.get(transactional_id)
        if meta is None:
            meta = TxnMetadata(transactional_id, self._allocate(), 0, timeout_ms, S.EMPTY, last_update_ms=now_ms)
            self.transactions[transactional_id] = meta
            self._persist(meta)
            return E.none, meta.producer_id, meta.producer_epoch
        bumping_itself = producer_id != -1
        if bumping_itself and (producer_id, producer_epoch) != (meta.producer_id, meta.producer_epoch):
            if (producer_id == meta.producer_id and producer_epoch == meta.last_producer_epoch
                    and meta.state != S.ONGOING):
                return E.none, meta.producer_id, meta.producer_epoch  # a retry of a bump that went through
            # KIP-360: only the current producer may bump its own epoch.
            return E.producer_fenced, -1, -1
        if meta.state == S.ONGOING:
            # A new instance fences the old one: its transaction is aborted
            # under a bumped epoch before the new producer gets its own.
            self._bump_epoch(meta)
            self._complete(meta, commit=False, now_ms=now_ms)
            bumping_itself = False
        meta.timeout_ms = timeout_ms
        previous_epoch = meta.producer_epoch
        self._bump_epoch(meta)
        meta.last_producer_epoch = previous_epoch if bumping_itself and meta.producer_epoch > 0 else -1
        meta.state, meta.partitions, meta.start_ms, meta.last_update_ms = S.EMPTY, set(), -1, now_ms
        self._persist(meta)
        return E.none, meta.producer_id, meta.producer_epoch

    def _bump_epoch(self, meta: TxnMetadata) -> None:
        if meta.producer_epoch + 1 >= MAX_EPOCH:
            meta.producer_id, meta.producer_epoch = self._allocate(), 0
        else:
            meta.producer_epoch += 1

    # --- checks shared by the transactional requests --------------------------

    def _check(self, transactional_id: str, producer_id: int, producer_epoch: int) -> tuple[TxnMetadata | None, int]:
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

    def check_producer(self, transactional_id: str, producer_id: int, producer_epoch: int) -> int:
        return self._check(transactional_id, producer_id, producer_epoch)[1]

    # --- AddPartitionsToTxn / AddOffsetsToTxn ----------------------------------

    def add_partitions(self, transactional_id: str, producer_id: int, producer_epoch: int,
                       partitions: list[tuple[str, int]], now_ms: int, verify_only: bool = False) -> int:
        meta, error = self._check(transactional_id, producer_id, producer_epoch)
        if error != E.none:
            return error
        if verify_only:  # KIP-890: is this partition already in the transaction?
            return E.none if set(partitions) <= meta.partitions and meta.state == S.ONGOING else E.invalid_txn_state
        if meta.state != S.ONGOING:
            meta.state, meta.partitions, meta.start_ms = S.ONGOING, set(), now_ms
        before = len(meta.partitions)
        meta.partitions.update(partitions)
        meta.last_update_ms = now_ms
        if len(meta.partitions) != before or before == 0:
            self._persist(meta)
        return E.none

    # --- EndTxn ----------------------------------------------------------------

    def end_transaction(self, transactional_id: str, producer_id: int, producer_epoch: int, commit: bool,
                        now_ms: int) -> int:
        meta, error = self._check(transactional_id, producer_id, producer_epoch)
        if error != E.none:
            return error
        if meta.state == S.ONGOING:
            self._complete(meta, commit, now_ms)
            return E.none
        if (meta.state == S.COMPLETE_COMMIT and commit) or (meta.state == S.COMPLETE_ABORT and not commit):
            return E.none  # a retry of what already happened
        return E.invalid_txn_state

    def _complete(self, meta: TxnMetadata, commit: bool, now_ms: int) -> None:
        """Prepare (persisted), markers in every partition, Complete (persisted)."""
        meta.state = S.PREPARE_COMMIT if commit else S.PREPARE_ABORT
        meta.last_update_ms = now_ms
        self._persist(meta)
        self._write_markers(meta, commit)
        meta.state = S.COMPLETE_COMMIT if commit else S.COMPLETE_ABORT
        meta.partitions = set()
        self._persist(meta)

    # --- time and recovery ----------------------------------------------------------

    def expire(self, now_ms: int) -> list[str]:
        """transaction.timeout.ms: abort (and fence, by bumping the epoch)
        every transaction open longer than its timeout."""
        expired = []
        for meta in self.transactions.values():
            if meta.state == S.ONGOING and now_ms - meta.start_ms > meta.timeout_ms:
                self._bump_epoch(meta)
                meta.last_producer_epoch = -1
                self._complete(meta, commit=False, now_ms=now_ms)
                expired.append(meta.transactional_id)
        return expired

    def remove_expired_ids(self, now_ms: int, expiration_ms: int) -> list[str]:
        """transactional.id.expiration.ms: forget transactional ids idle that
        long with no transaction open; the caller writes their tombstones."""
        idle = (S.EMPTY, S.COMPLETE_COMMIT, S.COMPLETE_ABORT)
        expired = [tid for tid, meta in self.transactions.items()
                   if meta.state in idle and now_ms - meta.last_update_ms >= expiration_ms]
        for tid in expired:
            del self.transactions[tid]
        return expired

    def recover(self, loaded: dict[str, TxnMetadata], now_ms: int) -> None:
        """After replaying `__transaction_state`: finish what a crash left in
        a Prepare state (its markers may be missing)."""
        self.transactions = loaded
        for meta in loaded.values():
            if meta.state in (S.PREPARE_COMMIT, S.PREPARE_ABORT):
                self._complete(meta, meta.state == S.PREPARE_COMMIT, now_ms)
            elif meta.state == S.PREPARE_EPOCH_FENCE:
                self._complete(meta, False, now_ms)
