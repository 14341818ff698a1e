"""The transaction state machine without sockets: epochs, fencing,
adding partitions, commit/abort, retries, timeouts and recovery."""

import pytest

from kwire.coordinator.transaction_coordinator import TransactionCoordinator, TransactionSettings
from kwire.coordinator.transaction_log import TxnMetadata, TxnState, parse_txn_value, txn_value
from kwire.log.storage_errors import StorageError
from kwire.protocol.errors import ErrorCode as E

S = TxnState
TID = "tx-1"


class Harness:
    def __init__(self):
        self.next_id = 100
        self.persisted: list[tuple[str, TxnState]] = []
        self.markers: list[tuple[int, int, bool, frozenset]] = []
        self.coordinator = TransactionCoordinator(
            TransactionSettings(max_timeout_ms=60_000), self._allocate, self._persist, self._write_markers
        )

    def _allocate(self):
        self.next_id += 1
        return self.next_id

    def _persist(self, meta):
        self.persisted.append((meta.transactional_id, meta.state))
        assert parse_txn_value(meta.transactional_id, txn_value(meta)) == meta  # the record round-trips

    def _write_markers(self, meta, commit):
        self.markers.append((meta.producer_id, meta.producer_epoch, commit, frozenset(meta.partitions)))

    def init(self, timeout=10_000, pid=-1, epoch=-1, now=0):
        return self.coordinator.init_producer_id(TID, timeout, pid, epoch, now)

    def meta(self) -> TxnMetadata:
        return self.coordinator.transactions[TID]


def test_init_creates_then_bumps_the_epoch():
    h = Harness()
    assert h.init() == (E.none, 101, 0)
    assert h.init() == (E.none, 101, 1)
    assert h.persisted[-1] == (TID, S.EMPTY)


def test_init_argument_errors():
    h = Harness()
    assert h.init(timeout=0)[0] == E.invalid_transaction_timeout
    assert h.init(timeout=60_001)[0] == E.invalid_transaction_timeout
    assert h.coordinator.init_producer_id("", 1000, -1, -1, 0)[0] == E.invalid_request


def test_kip_360_only_the_current_producer_may_bump():
    h = Harness()
    _, pid, epoch = h.init()
    assert h.init(pid=pid, epoch=epoch) == (E.none, pid, epoch + 1)
    # The same call again (its answer was lost): the current epoch, no second bump.
    assert h.init(pid=pid, epoch=epoch) == (E.none, pid, epoch + 1)
    assert h.init(pid=pid, epoch=epoch - 1)[0] == E.producer_fenced  # older still
    assert h.init(pid=pid + 7, epoch=epoch + 1)[0] == E.producer_fenced  # not its producer id


def test_a_fenced_instance_cannot_pass_for_a_retry():
    h = Harness()
    _, pid, epoch = h.init()
    assert h.init(pid=pid, epoch=epoch) == (E.none, pid, epoch + 1)
    assert h.init() == (E.none, pid, epoch + 2)  # a new instance fences every older one
    assert h.init(pid=pid, epoch=epoch)[0] == E.producer_fenced
    assert h.init(pid=pid, epoch=epoch + 1)[0] == E.producer_fenced


def test_a_producer_whose_transaction_timed_out_is_fenced():
    h = Harness()
    _, pid, epoch = h.init(timeout=1000)
    assert h.init(pid=pid, epoch=epoch) == (E.none, pid, epoch + 1)
    h.coordinator.add_partitions(TID, pid, epoch + 1, [("a", 0)], 0)
    assert h.coordinator.expire(20_000) == [TID]
    assert h.init(pid=pid, epoch=epoch)[0] == E.producer_fenced
    assert h.init(pid=pid, epoch=epoch + 1)[0] == E.producer_fenced


def test_commit_writes_markers_to_every_partition():
    h = Harness()
    _, pid, epoch = h.init()
    assert h.coordinator.add_partitions(TID, pid, epoch, [("a", 0), ("b", 1)], 5) == E.none
    assert h.meta().state == S.ONGOING and h.meta().start_ms == 5
    assert h.coordinator.add_partitions(TID, pid, epoch, [("a", 0)], 6, verify_only=True) == E.none
    assert h.coordinator.add_partitions(TID, pid, epoch, [("c", 0)], 6, verify_only=True) == E.invalid_txn_state
    assert h.coordinator.end_transaction(TID, pid, epoch, True, 10) == E.none
    assert h.markers == [(pid, epoch, True, frozenset({("a", 0), ("b", 1)}))]
    assert [state for _t, state in h.persisted[-2:]] == [S.PREPARE_COMMIT, S.COMPLETE_COMMIT]
    # A retried EndTxn(commit) is fine; abort now is not.
    assert h.coordinator.end_transaction(TID, pid, epoch, True, 11) == E.none
    assert h.coordinator.end_transaction(TID, pid, epoch, False, 11) == E.invalid_txn_state
    assert len(h.markers) == 1


def test_end_without_partitions_is_an_invalid_state():
    h = Harness()
    _, pid, epoch = h.init()
    assert h.coordinator.end_transaction(TID, pid, epoch, True, 1) == E.invalid_txn_state


def test_mapping_and_fencing_errors():
    h = Harness()
    _, pid, epoch = h.init()
    assert h.coordinator.add_partitions("other", pid, epoch, [("a", 0)], 1) == E.invalid_producer_id_mapping
    assert h.coordinator.add_partitions(TID, pid + 1, epoch, [("a", 0)], 1) == E.invalid_producer_id_mapping
    assert h.coordinator.add_partitions(TID, pid, epoch + 1, [("a", 0)], 1) == E.producer_fenced
    assert h.coordinator.end_transaction(TID, pid, epoch - 1, True, 1) == E.producer_fenced


def test_a_new_instance_aborts_the_open_transaction_and_fences_the_old():
    h = Harness()
    _, pid, old_epoch = h.init()
    h.coordinator.add_partitions(TID, pid, old_epoch, [("a", 0)], 1)
    err, pid2, new_epoch = h.init()
    assert (err, pid2) == (E.none, pid) and new_epoch == old_epoch + 2
    assert h.markers == [(pid, old_epoch + 1, False, frozenset({("a", 0)}))]  # aborted under a bumped epoch
    assert h.coordinator.end_transaction(TID, pid, old_epoch, True, 2) == E.producer_fenced


def test_timeout_aborts_and_fences():
    h = Harness()
    _, pid, epoch = h.init(timeout=1000)
    h.coordinator.add_partitions(TID, pid, epoch, [("a", 0)], 0)
    assert h.coordinator.expire(1000) == []
    assert h.coordinator.expire(1001) == [TID]
    assert h.markers == [(pid, epoch + 1, False, frozenset({("a", 0)}))]
    assert h.meta().state == S.COMPLETE_ABORT
    assert h.coordinator.add_partitions(TID, pid, epoch, [("a", 0)], 2000) == E.producer_fenced


def test_idle_transactional_ids_expire_but_not_open_transactions():
    h = Harness()
    _, pid, epoch = h.init(now=0)
    other = h.coordinator.init_producer_id("busy", 10_000, -1, -1, 0)
    h.coordinator.add_partitions("busy", other[1], other[2], [("a", 0)], 0)
    assert h.coordinator.remove_expired_ids(now_ms=999, expiration_ms=1000) == []
    assert h.coordinator.remove_expired_ids(now_ms=1000, expiration_ms=1000) == [TID]
    assert list(h.coordinator.transactions) == ["busy"]  # Ongoing: only transaction.timeout.ms ends it
    assert h.init(now=2000)[0] == E.none  # a forgotten id starts afresh


def test_epoch_exhaustion_moves_to_a_new_producer_id():
    h = Harness()
    _, pid, _ = h.init()
    h.meta().producer_epoch = 32766
    _, new_pid, new_epoch = h.init()
    assert (new_pid, new_epoch) == (pid + 1, 0)


@pytest.mark.parametrize("state,commit", [(S.PREPARE_COMMIT, True), (S.PREPARE_ABORT, False)])
def test_recovery_finishes_a_prepared_transaction(state, commit):
    h = Harness()
    meta = TxnMetadata(TID, 7, 3, 10_000, state, {("a", 0)}, 0, 0)
    h.coordinator.recover({TID: meta}, 100)
    assert h.markers == [(7, 3, commit, frozenset({("a", 0)}))]
    assert h.meta().state == (S.COMPLETE_COMMIT if commit else S.COMPLETE_ABORT)


# --- the disk refuses a write -----------------------------------------------------------


class FailingHarness(Harness):
    """persist and write_markers raise StorageError while told to."""

    def __init__(self):
        self.persist_fails = False
        self.markers_fail = False
        super().__init__()

    def _persist(self, meta):
        if self.persist_fails:
            raise StorageError("No space left on device")
        super()._persist(meta)

    def _write_markers(self, meta, commit):
        if self.markers_fail:
            raise StorageError("No space left on device")
        super()._write_markers(meta, commit)


def test_a_state_change_that_cannot_be_written_changes_nothing():
    h = FailingHarness()
    h.persist_fails = True
    assert h.init() == (E.not_coordinator, -1, -1)
    assert TID not in h.coordinator.transactions
    h.persist_fails = False
    _, pid, epoch = h.init()
    h.persist_fails = True
    assert h.coordinator.add_partitions(TID, pid, epoch, [("a", 0)], 5) == E.not_coordinator
    assert (h.meta().state, h.meta().partitions) == (S.EMPTY, set())
    h.persist_fails = False
    h.coordinator.add_partitions(TID, pid, epoch, [("a", 0)], 5)
    h.persist_fails = True
    assert h.coordinator.add_partitions(TID, pid, epoch, [("b", 0)], 6) == E.not_coordinator
    assert h.meta().partitions == {("a", 0)}
    assert h.coordinator.end_transaction(TID, pid, epoch, True, 7) == E.not_coordinator
    assert h.meta().state == S.ONGOING and h.markers == []
    assert h.init()[0] == E.not_coordinator  # fencing needs a write too
    assert (h.meta().producer_epoch, h.meta().state) == (epoch, S.ONGOING)
    h.persist_fails = False
    assert h.coordinator.end_transaction(TID, pid, epoch, True, 8) == E.none
    assert h.meta().state == S.COMPLETE_COMMIT


def test_markers_that_cannot_be_written_are_retried_until_they_are():
    h = FailingHarness()
    _, pid, epoch = h.init()
    h.coordinator.add_partitions(TID, pid, epoch, [("a", 0)], 5)
    h.markers_fail = True
    assert h.coordinator.end_transaction(TID, pid, epoch, True, 7) == E.none  # PrepareCommit is written: decided
    assert h.meta().state == S.PREPARE_COMMIT
    assert h.coordinator.add_partitions(TID, pid, epoch, [("a", 0)], 8) == E.concurrent_transactions
    assert h.coordinator.end_transaction(TID, pid, epoch, True, 8) == E.concurrent_transactions
    assert h.init()[0] == E.concurrent_transactions
    assert h.coordinator.retry_pending(9) == 1 and h.markers == []
    h.markers_fail = False
    assert h.coordinator.retry_pending(10) == 0
    assert h.markers == [(pid, epoch, True, frozenset({("a", 0)}))]
    assert h.meta().state == S.COMPLETE_COMMIT
    assert h.coordinator.end_transaction(TID, pid, epoch, True, 11) == E.none  # a retry of what happened


def test_a_timeout_abort_that_cannot_be_written_is_tried_again():
    h = FailingHarness()
    _, pid, epoch = h.init(timeout=1000)
    h.coordinator.add_partitions(TID, pid, epoch, [("a", 0)], 0)
    h.persist_fails = True
    assert h.coordinator.expire(2000) == []
    assert (h.meta().state, h.meta().producer_epoch) == (S.ONGOING, epoch)
    h.persist_fails = False
    assert h.coordinator.expire(3000) == [TID]
    assert h.meta().state == S.COMPLETE_ABORT


def test_an_expired_id_whose_tombstone_cannot_be_written_stays():
    h = FailingHarness()
    h.init(now=0)

    def refuse(transactional_id):
        raise StorageError("No space left on device")

    assert h.coordinator.remove_expired_ids(1000, 1000, refuse) == []
    assert TID in h.coordinator.transactions
    assert h.coordinator.remove_expired_ids(1000, 1000) == [TID]
