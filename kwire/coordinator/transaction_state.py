"""A transactional id's state, and which state may follow which.

The states and their ids are Kafka's (the id is what `__transaction_state`
stores). `VALID_PREVIOUS_STATES` is Kafka's table; the transaction
coordinator checks every change against it in its one `_transition` path.
States read back from the log at start-up are loaded as they are, not
transitioned: they were checked when they were written.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs


class TxnState(enum.IntEnum):
    EMPTY = 0
    ONGOING = 1
    PREPARE_COMMIT = 2
    PREPARE_ABORT = 3
    COMPLETE_COMMIT = 4
    COMPLETE_ABORT = 5
    DEAD = 6
    PREPARE_EPOCH_FENCE = 7

    @property
    def kafka_name(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("_"))


_S = TxnState
# For each state, the states a transactional id may enter it from (Kafka's
# TransactionState). Kafka 4's transaction v2 also lets a client that is
# unsure of the server's state abort from Empty or a Complete state; kwire
# does not send such aborts, but the table stays Kafka's.
VALID_PREVIOUS_STATES: Mapping[TxnState, frozenset[TxnState]] = {
    _S.EMPTY: frozenset({_S.EMPTY, _S.COMPLETE_COMMIT, _S.COMPLETE_ABORT}),
    _S.ONGOING: frozenset({_S.ONGOING, _S.EMPTY, _S.COMPLETE_COMMIT, _S.COMPLETE_ABORT}),
    _S.PREPARE_COMMIT: frozenset({_S.ONGOING}),
    _S.PREPARE_ABORT: frozenset({_S.ONGOING, _S.PREPARE_EPOCH_FENCE, _S.EMPTY, _S.COMPLETE_COMMIT, _S.COMPLETE_ABORT}),
    _S.COMPLETE_COMMIT: frozenset({_S.PREPARE_COMMIT}),
    _S.COMPLETE_ABORT: frozenset({_S.PREPARE_ABORT}),
    _S.DEAD: frozenset({_S.EMPTY, _S.COMPLETE_COMMIT, _S.COMPLETE_ABORT}),  # no transaction open
    _S.PREPARE_EPOCH_FENCE: frozenset({_S.ONGOING}),
}


@attrs.define
class TxnMetadata:
    """What the coordinator knows of one transactional id. Its one writer is
    the TransactionCoordinator; everyone else only reads it."""

    transactional_id: str
    producer_id: int
    producer_epoch: int
    timeout_ms: int
    state: TxnState = TxnState.EMPTY
    partitions: set[tuple[str, int]] = attrs.field(factory=set)
    start_ms: int = -1
    last_update_ms: int = -1
    # In memory only, as in Kafka: the epoch before the producer's own last
    # bump, so a retried InitProducerId whose answer was lost gets the
    # current epoch instead of being fenced (-1 after any fencing).
    last_producer_epoch: int = attrs.field(default=-1, eq=False)
