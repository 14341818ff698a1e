"""A follower's truncation by leader epoch (AbstractFetcherThread's
getOffsetTruncationState) and the leader's diverging epoch in Fetch v12+
(Partition.readRecords), with diverged logs driven to convergence."""

import pytest

from kwire.log.leader_epochs import EpochEntry, LeaderEpochCache
from kwire.replication.follower_truncation import (
    DivergingEpoch,
    FetchOffsetOutOfRange,
    InitialFetchState,
    TruncationState,
    diverging_epoch,
    follower_end_offset_for_epoch,
    initial_fetch_state,
    truncation_offset,
)


def cache(*pairs):
    return LeaderEpochCache(None, [EpochEntry(epoch, start) for epoch, start in pairs])


# --- truncation_offset: each of Kafka's cases --------------------------------


def test_leader_end_offset_unknown_truncates_to_the_fetch_offset():
    assert truncation_offset(cache((0, 0), (1, 5)), 10, fetch_offset=4, leader_epoch=-1, leader_end_offset=-1) == (
        TruncationState(4)
    )
    # Even with an epoch: only the offset decides.
    assert truncation_offset(cache((0, 0)), 10, 4, leader_epoch=3, leader_end_offset=-1) == TruncationState(4)


def test_leader_epoch_unknown_but_an_offset_truncates_to_it_within_the_log():
    follower = cache((0, 0), (1, 5))
    assert truncation_offset(follower, 10, 0, leader_epoch=-1, leader_end_offset=7) == TruncationState(7)
    assert truncation_offset(follower, 6, 0, leader_epoch=-1, leader_end_offset=7) == TruncationState(6)


def test_same_epoch_takes_the_least_of_both_ends_and_the_log_end():
    follower = cache((0, 0), (1, 5))
    # Epoch 1 is the follower's latest: its end there is its log end, 10.
    assert truncation_offset(follower, 10, 0, 1, 7) == TruncationState(7)
    assert truncation_offset(follower, 10, 0, 1, 12) == TruncationState(10)
    # An older epoch of the follower's: it ended here at 8 (epoch 2 starts there).
    follower = cache((0, 0), (1, 5), (2, 8))
    assert truncation_offset(follower, 10, 0, 1, 9) == TruncationState(8)
    assert truncation_offset(follower, 10, 0, 1, 6) == TruncationState(6)


def test_an_epoch_the_follower_does_not_know_truncates_to_its_previous_epoch_and_asks_again():
    # The follower has epochs 0 and 2; the leader answers epoch 1 (ending at 8).
    follower = cache((0, 0), (2, 5))
    assert truncation_offset(follower, 10, 0, 1, 8) == TruncationState(5, complete=False)
    assert truncation_offset(follower, 3, 0, 1, 8) == TruncationState(3, complete=False)


def test_an_epoch_older_than_all_the_follower_knows():
    # LeaderEpochFileCache.endOffsetFor answers the requested epoch with the
    # start of the first known one, so the epochs "match".
    follower = cache((3, 10))
    assert follower_end_offset_for_epoch(follower, 1, 15) == (1, 10)
    assert truncation_offset(follower, 15, 0, 1, 12) == TruncationState(10)
    assert truncation_offset(follower, 15, 0, 1, 8) == TruncationState(8)


def test_a_follower_without_epochs_takes_the_leaders_offset():
    assert follower_end_offset_for_epoch(cache(), 1, 15) is None
    assert truncation_offset(cache(), 15, 0, 1, 12) == TruncationState(12)
    assert truncation_offset(cache(), 9, 0, 1, 12) == TruncationState(9)


def test_initial_fetch_state():
    assert initial_fetch_state(cache((0, 0), (4, 7)), 12, 9) == InitialFetchState(12, 4)
    assert initial_fetch_state(cache(), 12, 9) == InitialFetchState(9, None)


# --- diverging_epoch: the leader's side ------------------------------------


def test_no_divergence_when_the_epoch_reaches_the_fetch_offset():
    leader = cache((0, 0), (2, 5))
    assert diverging_epoch(leader, 10, 0, last_fetched_epoch=2, fetch_offset=10) is None
    assert diverging_epoch(leader, 10, 0, last_fetched_epoch=0, fetch_offset=5) is None


def test_divergence_when_the_epoch_ended_before_the_fetch_offset():
    leader = cache((0, 0), (2, 5))
    assert diverging_epoch(leader, 10, 0, last_fetched_epoch=0, fetch_offset=7) == DivergingEpoch(0, 5)


def test_divergence_when_the_leader_does_not_have_the_epoch():
    leader = cache((0, 0), (1, 3), (3, 8))
    assert diverging_epoch(leader, 10, 0, last_fetched_epoch=2, fetch_offset=5) == DivergingEpoch(1, 8)


def test_offset_out_of_range_for_an_unknown_epoch_or_below_the_log_start():
    leader = cache((2, 5))
    with pytest.raises(FetchOffsetOutOfRange):
        diverging_epoch(leader, 10, 5, last_fetched_epoch=4, fetch_offset=10)  # past the latest epoch
    with pytest.raises(FetchOffsetOutOfRange):
        diverging_epoch(cache(), 10, 0, last_fetched_epoch=1, fetch_offset=10)
    with pytest.raises(FetchOffsetOutOfRange):
        diverging_epoch(leader, 10, 5, last_fetched_epoch=2, fetch_offset=3)


# --- diverged logs converge -------------------------------------------------


class Log:
    """A log as the epoch of each offset, with its epoch cache."""

    def __init__(self, epochs, current_epoch=None):
        self.epochs = []
        self.cache = LeaderEpochCache(None)
        self.append(epochs)
        if current_epoch is not None:  # a leader's epoch starts at its log end
            self.cache.assign(current_epoch, len(self.epochs))

    @property
    def end(self):
        return len(self.epochs)

    def append(self, epochs):
        for epoch in epochs:
            self.cache.assign(epoch, len(self.epochs))
            self.epochs.append(epoch)

    def truncate(self, offset):
        del self.epochs[offset:]
        self.cache.remove_from(offset)


def replicate_by_fetch(leader, follower, high_watermark=0, rounds=10):
    """The Fetch v12+ path: fetch with the last fetched epoch; on a diverging
    epoch truncate, else append what the leader has."""
    start = initial_fetch_state(follower.cache, follower.end, high_watermark)
    if start.last_fetched_epoch is None:
        follower.truncate(start.fetch_offset)
    truncations = []
    for _ in range(rounds):
        last = follower.cache.latest_epoch
        diverging = None
        if last >= 0:
            diverging = diverging_epoch(leader.cache, leader.end, 0, last, follower.end)
        if diverging is not None:
            state = truncation_offset(follower.cache, follower.end, follower.end, diverging.epoch, diverging.end_offset)
            truncations.append(state)
            follower.truncate(state.offset)
            continue
        follower.append(leader.epochs[follower.end :])
        return truncations
    raise AssertionError("did not converge")


def replicate_by_offset_for_leader_epoch(leader, follower, rounds=10):
    """The OffsetForLeaderEpoch path: ask for the latest epoch until the
    truncation is complete, then copy."""
    truncations = []
    for _ in range(rounds):
        epoch, end = leader.cache.end_offset_for(follower.cache.latest_epoch, leader.end)
        state = truncation_offset(follower.cache, follower.end, follower.end, epoch, end)
        truncations.append(state)
        follower.truncate(state.offset)
        if state.complete:
            follower.append(leader.epochs[follower.end :])
            return truncations
    raise AssertionError("did not converge")


SCENARIOS = {
    # KIP-101 scenario: the old leader (epoch 1) wrote 2-4 that never
    # replicated; the new leader (epoch 2) wrote 2-3.
    "old-leader-unreplicated-tail": ([0, 0, 1, 1, 1], [0, 0, 2, 2], 2, [2]),
    # Successive elections: the follower led epoch 2 alone; the leader has
    # epoch 1 and leads epoch 3. The follower learns of epoch 1 first.
    "epoch-unknown-to-leader": ([0, 0, 2, 2, 2], [0, 0, 1, 1, 3, 3], 3, [2]),
    # The follower is only behind: nothing to truncate.
    "prefix": ([0, 0, 1], [0, 0, 1, 1, 2], 2, []),
    # The follower is ahead in the leader's own epoch (the leader lost the
    # tail in an unclean election and went on in a new epoch).
    "ahead-in-same-epoch": ([0, 1, 1, 1, 1], [0, 1, 1, 4], 4, [3]),
    # Identical logs.
    "equal": ([0, 0, 1], [0, 0, 1], 2, []),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_diverged_logs_converge_by_fetch(name):
    follower_epochs, leader_epochs, leader_epoch, expected_offsets = SCENARIOS[name]
    leader = Log(leader_epochs, current_epoch=leader_epoch)
    follower = Log(follower_epochs)
    truncations = replicate_by_fetch(leader, follower)
    assert [t.offset for t in truncations] == expected_offsets
    assert follower.epochs == leader.epochs
    assert [e for e in follower.cache.entries if e.start_offset < follower.end] == [
        e for e in leader.cache.entries if e.start_offset < leader.end
    ]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_diverged_logs_converge_by_offset_for_leader_epoch(name):
    follower_epochs, leader_epochs, leader_epoch, _ = SCENARIOS[name]
    leader = Log(leader_epochs, current_epoch=leader_epoch)
    follower = Log(follower_epochs)
    replicate_by_offset_for_leader_epoch(leader, follower)
    assert follower.epochs == leader.epochs


def test_the_unknown_epoch_takes_two_requests():
    leader = Log([0, 0, 1, 1, 3, 3], current_epoch=3)
    follower = Log([0, 0, 2, 2, 2])
    truncations = replicate_by_offset_for_leader_epoch(leader, follower)
    assert truncations == [TruncationState(2, complete=False), TruncationState(2)]


def test_a_follower_without_epochs_truncates_to_its_high_watermark_then_fetches():
    leader = Log([0, 0, 1, 1], current_epoch=1)
    follower = Log([])
    follower.epochs = [0, 9, 9]  # records without known epochs (no cache); offset 0 committed
    replicate_by_fetch(leader, follower, high_watermark=1)
    assert follower.epochs == leader.epochs


def test_remove_from_drops_an_epoch_starting_at_the_cut_unlike_recovery():
    follower = cache((0, 0), (2, 5))
    follower.remove_from(5)
    assert follower.entries == [EpochEntry(0, 0)]
    recovered = cache((0, 0), (2, 5))
    recovered.truncate_from_end(5)
    assert recovered.entries == [EpochEntry(0, 0), EpochEntry(2, 5)]
    follower.remove_from(-1)
    assert follower.entries == [EpochEntry(0, 0)]
