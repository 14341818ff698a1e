"""The legal state changes of groups and transactions: the tables are
Kafka's, every change they allow goes through and every other one raises
IllegalStateTransition, changing nothing."""

import itertools

import pytest

from kwire.coordinator.group import VALID_PREVIOUS_STATES as GROUP_TABLE
from kwire.coordinator.group import Group, GroupState
from kwire.coordinator.state_machine import IllegalStateTransition
from kwire.coordinator.transaction_coordinator import TransactionCoordinator, TransactionSettings
from kwire.coordinator.transaction_state import VALID_PREVIOUS_STATES as TXN_TABLE
from kwire.coordinator.transaction_state import TxnMetadata, TxnState

G = GroupState
T = TxnState

# Kafka's ClassicGroupState, written out as (from, to) pairs.
KAFKA_GROUP_TRANSITIONS = {
    (G.PREPARING_REBALANCE, G.EMPTY),
    (G.STABLE, G.PREPARING_REBALANCE),
    (G.COMPLETING_REBALANCE, G.PREPARING_REBALANCE),
    (G.EMPTY, G.PREPARING_REBALANCE),
    (G.PREPARING_REBALANCE, G.COMPLETING_REBALANCE),
    (G.COMPLETING_REBALANCE, G.STABLE),
    *((state, G.DEAD) for state in G),
}

# Kafka's TransactionState (4.x, with transaction v2's extra ways into PrepareAbort).
KAFKA_TXN_TRANSITIONS = {
    (T.EMPTY, T.EMPTY),
    (T.COMPLETE_COMMIT, T.EMPTY),
    (T.COMPLETE_ABORT, T.EMPTY),
    (T.ONGOING, T.ONGOING),
    (T.EMPTY, T.ONGOING),
    (T.COMPLETE_COMMIT, T.ONGOING),
    (T.COMPLETE_ABORT, T.ONGOING),
    (T.ONGOING, T.PREPARE_COMMIT),
    (T.ONGOING, T.PREPARE_ABORT),
    (T.PREPARE_EPOCH_FENCE, T.PREPARE_ABORT),
    (T.EMPTY, T.PREPARE_ABORT),
    (T.COMPLETE_COMMIT, T.PREPARE_ABORT),
    (T.COMPLETE_ABORT, T.PREPARE_ABORT),
    (T.PREPARE_COMMIT, T.COMPLETE_COMMIT),
    (T.PREPARE_ABORT, T.COMPLETE_ABORT),
    (T.EMPTY, T.DEAD),
    (T.COMPLETE_COMMIT, T.DEAD),
    (T.COMPLETE_ABORT, T.DEAD),
    (T.ONGOING, T.PREPARE_EPOCH_FENCE),
}


def pairs(table):
    return {(before, after) for after, befores in table.items() for before in befores}


def test_the_tables_are_kafkas():
    assert set(GROUP_TABLE) == set(G) and pairs(GROUP_TABLE) == KAFKA_GROUP_TRANSITIONS
    assert set(TXN_TABLE) == set(T) and pairs(TXN_TABLE) == KAFKA_TXN_TRANSITIONS


@pytest.mark.parametrize("before,after", list(itertools.product(G, G)))
def test_group_transitions(before, after):
    group = Group("g", state=before)
    if (before, after) in KAFKA_GROUP_TRANSITIONS:
        group.transition_to(after)
        assert group.state == after
    else:
        with pytest.raises(IllegalStateTransition, match=f"group 'g': cannot go from {before.name} to {after.name}"):
            group.transition_to(after)
        assert group.state == before


def test_a_groups_state_is_not_assigned_from_outside():
    group = Group("g")
    with pytest.raises(AttributeError):
        group.state = G.STABLE  # type: ignore[misc]
    assert group.state == G.EMPTY


@pytest.mark.parametrize("before,after", list(itertools.product(T, T)))
def test_transaction_transitions(before, after):
    persisted = []
    coordinator = TransactionCoordinator(TransactionSettings(), lambda: 1, persisted.append, lambda meta, commit: None)
    meta = TxnMetadata("tx", 1, 0, 1000, before, {("t", 0)})
    coordinator.transactions["tx"] = meta  # any state, as a replayed log may hold
    if (before, after) in KAFKA_TXN_TRANSITIONS:
        coordinator._transition(meta, after, last_update_ms=5)
        assert (meta.state, meta.last_update_ms) == (after, 5)
        assert [(m.state, m.last_update_ms) for m in persisted] == [(after, 5)]
    else:
        with pytest.raises(
            IllegalStateTransition, match=f"transactional id 'tx': cannot go from {before.name} to {after.name}"
        ):
            coordinator._transition(meta, after, last_update_ms=5)
        assert (meta.state, meta.last_update_ms) == (before, -1) and persisted == []
