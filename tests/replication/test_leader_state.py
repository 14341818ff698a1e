"""The leader's view of a partition (Kafka's Partition / Replica): caught-up
times, ISR shrink and expand, the high watermark, min.insync.replicas and
acks=all completion."""

import random

import pytest

from kwire.clock import ManualClock
from kwire.protocol.errors import ErrorCode
from kwire.replication.counters import ReplicationCounters, under_min_isr_partitions, under_replicated_partitions
from kwire.replication.leader_state import NEVER_MS, FollowerState, LeaderState, PendingProduces, now_ms

LAG_MS = 10_000


def leader(
    clock,
    replicas=(1, 2, 3),
    isr=(1, 2, 3),
    log_end=0,
    hw=0,
    min_isr=1,
    counters=None,
):
    return LeaderState(
        leader_id=1,
        replicas=replicas,
        isr=isr,
        leader_epoch=5,
        log_end_offset=log_end,
        high_watermark=hw,
        min_insync_replicas=min_isr,
        replica_lag_time_max_ms=LAG_MS,
        clock=clock,
        counters=counters,
    )


@pytest.fixture
def clock():
    return ManualClock(wall_ms=1_000_000, monotonic=0.0)


# --- FollowerState: Replica.updateFetchStateOrThrow -----------------------


def test_a_fetch_up_to_the_leader_end_is_caught_up_at_fetch_time():
    follower = FollowerState(2)
    follower.record_fetch(fetch_offset=10, log_start_offset=0, fetch_time_ms=500, leader_end_offset=10)
    assert follower.last_caught_up_time_ms == 500
    assert follower.log_end_offset == 10
    assert follower.last_fetch_leader_log_end_offset == 10


def test_a_fetch_up_to_the_previous_leader_end_is_caught_up_as_of_the_previous_fetch():
    follower = FollowerState(2)
    follower.record_fetch(10, 0, 500, leader_end_offset=12)  # behind: not caught up
    assert follower.last_caught_up_time_ms == NEVER_MS
    follower.record_fetch(12, 0, 800, leader_end_offset=15)  # reached where the leader was at 500
    assert follower.last_caught_up_time_ms == 500
    follower.record_fetch(13, 0, 900, leader_end_offset=16)  # not where the leader was at 800 (15)
    assert follower.last_caught_up_time_ms == 500


def test_caught_up_by_equal_end_or_recent_enough():
    follower = FollowerState(2, log_end_offset=7, last_caught_up_time_ms=1_000)
    assert follower.is_caught_up(7, now=10**9, max_lag_ms=LAG_MS)
    assert follower.is_caught_up(8, now=1_000 + LAG_MS, max_lag_ms=LAG_MS)
    assert not follower.is_caught_up(8, now=1_001 + LAG_MS, max_lag_ms=LAG_MS)


# --- becoming leader, high watermark --------------------------------------


def test_a_new_leader_waits_for_the_isr_to_fetch_before_moving_the_high_watermark(clock):
    state = leader(clock, log_end=10, hw=4)
    assert state.high_watermark == 4
    assert state.leader_epoch_start_offset == 10
    assert state.follower(2).last_caught_up_time_ms == now_ms(clock)
    state.on_follower_fetch(2, 10, 0)
    assert state.high_watermark == 4  # replica 3's end still unknown
    update = state.on_follower_fetch(3, 8, 0)
    assert update.high_watermark_moved and state.high_watermark == 8
    state.on_follower_fetch(3, 10, 0)
    assert state.high_watermark == 10


def test_the_high_watermark_is_the_least_log_end_of_the_isr_and_never_goes_back(clock):
    state = leader(clock, isr=(1, 2))
    assert state.on_append(10) is False  # follower 2 at an unknown end
    state.on_follower_fetch(2, 6, 0)
    assert state.high_watermark == 6
    state.on_follower_fetch(2, 4, 0)  # a follower that truncated: the HW stays
    assert state.high_watermark == 6


def test_the_leader_alone_moves_the_high_watermark_on_append(clock):
    state = leader(clock, replicas=(1,), isr=(1,))
    assert state.on_append(3) is True
    assert state.high_watermark == 3


def test_a_caught_up_follower_outside_the_isr_holds_the_high_watermark(clock):
    # Partition.maybeIncrementLeaderHW: a follower that is caught up and
    # eligible but not yet in the ISR is waited for, so it can reach the HW.
    state = leader(clock, replicas=(1, 2), isr=(1,), log_end=0)
    state.on_append(5)
    assert state.high_watermark == 5
    state.on_follower_fetch(2, 5, 0)  # joins (reached HW 5 and epoch start 0)
    assert state.isr == {1, 2}
    state.on_append(9)
    state.on_follower_fetch(2, 7, 0)
    assert state.high_watermark == 7


def test_an_out_of_isr_follower_caught_up_within_the_lag_holds_the_high_watermark(clock):
    state = leader(clock, replicas=(1, 2), isr=(1,), log_end=10, hw=10)
    state.on_follower_fetch(2, 0, 0)  # far behind: never caught up
    state.on_append(20)
    assert state.high_watermark == 20  # not waited for
    # It reached where the leader ended at its previous fetch: caught up (as
    # of then), yet below the HW, so not in sync and not added ...
    update = state.on_follower_fetch(2, 10, 0)
    assert update.isr_change is None and state.isr == {1}
    assert state.follower(2).is_caught_up(20, now_ms(clock), LAG_MS)
    # ... but the HW now waits for it instead of running away with the leader.
    assert state.on_append(30) is False and state.high_watermark == 20
    # Once it is no longer caught up (the lag passed) it is not waited for.
    clock.advance(ms=LAG_MS + 1)
    assert state.on_append(40) is True and state.high_watermark == 40


def test_a_fenced_follower_is_not_waited_for_nor_added(clock):
    state = leader(clock, replicas=(1, 2), isr=(1,))
    state.set_eligible(2, False)
    state.on_append(5)
    update = state.on_follower_fetch(2, 5, 0)
    assert update.isr_change is None and state.isr == {1}
    state.set_eligible(2, True)
    assert state.on_follower_fetch(2, 5, 0).isr_change is not None


def test_the_high_watermark_does_not_move_under_min_isr(clock):
    # Kafka since 3.7 (KAFKA-15583, KIP-966): maybeIncrementLeaderHW returns at once
    # while the partition is under min ISR.
    state = leader(clock, replicas=(1, 2, 3), isr=(1,), min_isr=2)
    assert state.is_under_min_isr
    assert state.on_append(5) is False
    assert state.high_watermark == 0


# --- ISR expand ------------------------------------------------------------


def test_a_follower_joins_the_isr_at_the_high_watermark_and_epoch_start(clock):
    counters = ReplicationCounters()
    state = leader(clock, replicas=(1, 2), isr=(1,), log_end=10, hw=10, counters=counters)
    assert state.on_follower_fetch(2, 9, 0).isr_change is None  # below the HW
    update = state.on_follower_fetch(2, 10, 0)
    assert update.isr_change is not None
    assert update.isr_change.added == {2} and update.isr_change.isr == {1, 2}
    assert counters.isr_expands == 1


def test_a_follower_below_the_epoch_start_does_not_join_even_at_the_high_watermark(clock):
    # Under min ISR the HW (4) stays below the epoch start (10).
    state = leader(clock, replicas=(1, 2), isr=(1,), log_end=10, hw=4, min_isr=2)
    assert state.high_watermark == 4
    assert state.on_follower_fetch(2, 8, 0).isr_change is None  # 8 >= HW 4 but < epoch start 10
    update = state.on_follower_fetch(2, 10, 0)
    assert update.isr_change is not None and update.high_watermark_moved
    assert state.high_watermark == 10


# --- ISR shrink ------------------------------------------------------------


def test_a_stuck_follower_leaves_the_isr_after_the_lag(clock):
    counters = ReplicationCounters()
    state = leader(clock, counters=counters)
    state.on_follower_fetch(2, 0, 0)
    state.on_follower_fetch(3, 0, 0)
    state.on_append(5)
    clock.advance(ms=LAG_MS)
    assert state.maybe_shrink_isr() is None  # exactly the lag: still caught up
    state.on_follower_fetch(2, 5, 0)  # 2 keeps up, 3 is stuck
    clock.advance(ms=1)
    change = state.maybe_shrink_isr()
    assert change is not None and change.removed == {3} and state.isr == {1, 2}
    assert counters.isr_shrinks == 1
    assert state.high_watermark == 5  # 3 no longer holds it
    assert state.is_under_replicated


def test_a_follower_at_the_leader_end_never_leaves_however_long_ago(clock):
    state = leader(clock, replicas=(1, 2), isr=(1, 2))
    state.on_follower_fetch(2, 0, 0)
    clock.advance(ms=10 * LAG_MS)
    assert state.maybe_shrink_isr() is None  # nothing was appended: equal ends


def test_a_slow_follower_that_always_trails_by_a_little_stays(clock):
    # It always reaches where the leader was at its previous fetch.
    state = leader(clock, replicas=(1, 2), isr=(1, 2))
    end = 0
    for _ in range(10):
        state.on_follower_fetch(2, end, 0)
        end += 1
        state.on_append(end)  # one record lands between fetches
        clock.advance(ms=LAG_MS // 2)
        assert state.maybe_shrink_isr() is None


def test_a_slow_follower_that_falls_further_behind_leaves(clock):
    state = leader(clock, replicas=(1, 2), isr=(1, 2))
    state.on_follower_fetch(2, 0, 0)
    for step in range(1, 5):
        state.on_append(step * 10)
        clock.advance(ms=LAG_MS // 2)
        state.on_follower_fetch(2, step * 3, 0)  # after the first, never reaches the previous end
    assert state.maybe_shrink_isr() is not None
    assert state.isr == {1}


def test_the_check_interval_is_half_the_lag(clock):
    assert leader(clock).isr_check_interval_ms == LAG_MS // 2


def test_a_shrunk_follower_rejoins_when_it_catches_up(clock):
    counters = ReplicationCounters()
    state = leader(clock, replicas=(1, 2), isr=(1, 2), counters=counters)
    state.on_append(5)
    clock.advance(ms=LAG_MS + 1)
    assert state.maybe_shrink_isr() is not None
    state.on_append(8)
    assert state.high_watermark == 8
    state.on_follower_fetch(2, 8, 0)
    assert state.isr == {1, 2}
    assert (counters.isr_shrinks, counters.isr_expands) == (1, 1)


# --- min.insync.replicas, acks=all ---------------------------------------


def test_not_enough_replicas_before_append_only_for_acks_all(clock):
    state = leader(clock, isr=(1, 2), min_isr=3)
    assert state.check_append(-1) == ErrorCode.not_enough_replicas
    assert state.check_append(1) == ErrorCode.none
    assert state.check_append(0) == ErrorCode.none
    state.min_insync_replicas = 2
    assert state.check_append(-1) == ErrorCode.none


def test_min_isr_is_capped_at_the_replication_factor(clock):
    state = leader(clock, replicas=(1,), isr=(1,), min_isr=2)
    assert state.effective_min_isr == 1
    assert state.check_append(-1) == ErrorCode.none


def test_acks_all_completes_when_the_isr_has_the_offset(clock):
    state = leader(clock, isr=(1, 2, 3))
    pending = PendingProduces(state)
    state.on_append(3)
    wait = pending.add(required_offset=3, timeout_ms=30_000)
    assert wait.error is None and pending.poll() == []
    state.on_follower_fetch(2, 3, 0)
    assert pending.poll() == []  # 3 has not
    state.on_follower_fetch(3, 3, 0)
    assert pending.poll() == [wait] and wait.error == ErrorCode.none
    assert pending.waits == []


def test_acks_all_is_done_at_once_when_the_high_watermark_is_there(clock):
    state = leader(clock, replicas=(1,), isr=(1,))
    state.on_append(1)
    wait = PendingProduces(state).add(1, 1_000)
    assert wait.error == ErrorCode.none


def test_acks_all_times_out(clock):
    state = leader(clock)
    pending = PendingProduces(state)
    state.on_append(1)
    wait = pending.add(1, timeout_ms=1_000)
    assert pending.next_deadline() == clock.monotonic() + 1
    clock.advance(ms=999)
    assert pending.poll() == []
    clock.advance(ms=1)
    assert pending.poll() == [wait] and wait.error == ErrorCode.request_timed_out
    assert pending.next_deadline() is None


def test_acks_all_waits_end_with_not_leader_when_leadership_goes(clock):
    state = leader(clock)
    pending = PendingProduces(state)
    state.on_append(1)
    wait = pending.add(1, 30_000)
    state.resign()
    assert pending.poll() == [wait] and wait.error == ErrorCode.not_leader_or_follower
    assert state.check_append(1) == ErrorCode.not_leader_or_follower
    assert not state.is_under_replicated


def test_a_shrink_completes_waits_that_only_the_dropped_follower_held(clock):
    state = leader(clock, isr=(1, 2, 3), min_isr=2)
    pending = PendingProduces(state)
    state.on_follower_fetch(2, 0, 0)
    state.on_follower_fetch(3, 0, 0)
    state.on_append(4)
    wait = pending.add(4, 60_000)
    state.on_follower_fetch(2, 4, 0)
    clock.advance(ms=LAG_MS + 1)
    state.on_follower_fetch(2, 4, 0)
    assert state.maybe_shrink_isr() is not None  # 3 goes; ISR {1,2} still meets min 2
    assert pending.poll() == [wait] and wait.error == ErrorCode.none


def test_not_enough_replicas_after_append_when_the_isr_shrank_below_min_isr(clock):
    # Partition.checkEnoughReplicasReachOffset: the HW reached the offset
    # but by the time the wait is checked the ISR is below min.insync.
    state = leader(clock, isr=(1, 2, 3), min_isr=3)
    pending = PendingProduces(state)
    state.on_follower_fetch(2, 0, 0)
    state.on_follower_fetch(3, 0, 0)
    state.on_append(2)
    wait = pending.add(2, 60_000)
    state.on_follower_fetch(2, 2, 0)
    state.on_follower_fetch(3, 2, 0)  # HW 2: the wait could complete ...
    clock.advance(ms=LAG_MS)
    state.on_append(3)  # ... but 3 stops fetching and is dropped first
    state.on_follower_fetch(2, 3, 0)
    clock.advance(ms=1)
    assert state.maybe_shrink_isr() is not None and state.isr == {1, 2}
    assert pending.poll() == [wait] and wait.error == ErrorCode.not_enough_replicas_after_append
    assert state.check_append(-1) == ErrorCode.not_enough_replicas


def test_under_min_isr_waits_time_out_rather_than_complete(clock):
    # With the HW frozen under min ISR (KIP-966), a wait whose offset the HW
    # had not reached ends at its deadline.
    state = leader(clock, isr=(1, 2), replicas=(1, 2), min_isr=2)
    pending = PendingProduces(state)
    state.on_follower_fetch(2, 0, 0)
    state.on_append(1)
    wait = pending.add(1, 2 * LAG_MS)
    clock.advance(ms=LAG_MS + 1)
    assert state.maybe_shrink_isr() is not None
    assert pending.poll() == []
    clock.advance(ms=LAG_MS)
    assert pending.poll() == [wait] and wait.error == ErrorCode.request_timed_out


# --- re-election, validation, gauges --------------------------------------


def test_reelection_starts_the_epoch_at_the_log_end_and_keeps_follower_ends(clock):
    state = leader(clock, replicas=(1, 2), isr=(1, 2))
    state.on_append(5)
    state.on_follower_fetch(2, 5, 0)
    state.on_append(7)
    clock.advance(ms=100)
    state.reelect(6)
    assert (state.leader_epoch, state.leader_epoch_start_offset) == (6, 7)
    follower = state.follower(2)
    assert follower.log_end_offset == 5
    assert follower.last_caught_up_time_ms == now_ms(clock) == follower.last_fetch_time_ms
    assert follower.last_fetch_leader_log_end_offset == 7


def test_the_leader_must_be_in_the_isr(clock):
    with pytest.raises(ValueError):
        leader(clock, isr=(2, 3))
    with pytest.raises(ValueError):
        leader(clock, replicas=(1, 2), isr=(1, 3))


def test_a_fetch_from_outside_the_replica_set_is_refused(clock):
    with pytest.raises(KeyError):
        leader(clock).on_follower_fetch(9, 0, 0)


def test_gauges_count_the_partitions_led(clock):
    full = leader(clock)
    short = leader(clock, isr=(1, 2), min_isr=3)
    assert under_replicated_partitions([full, short]) == 1
    assert under_min_isr_partitions([full, short]) == 1
    short.resign()
    assert under_replicated_partitions([full, short]) == 0


# --- invariants under random histories ------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_invariants_hold_over_random_histories(seed):
    rng = random.Random(seed)
    clock = ManualClock(wall_ms=0, monotonic=0.0)
    counters = ReplicationCounters()
    state = leader(clock, replicas=(1, 2, 3), isr=(1, 2, 3), min_isr=rng.choice((1, 2, 3)), counters=counters)
    ends = {2: 0, 3: 0}
    pending = PendingProduces(state)
    waits = []
    previous_hw = state.high_watermark
    for _ in range(300):
        action = rng.random()
        if action < 0.3:
            if state.check_append(-1) == ErrorCode.none:
                state.on_append(state.log_end_offset + rng.randint(1, 3))
                waits.append(pending.add(state.log_end_offset, 5_000))
        elif action < 0.7:
            replica = rng.choice((2, 3))
            ends[replica] = rng.randint(ends[replica], state.log_end_offset)
            state.on_follower_fetch(replica, ends[replica], 0)
        elif action < 0.9:
            clock.advance(ms=rng.randint(0, LAG_MS // 2))
            state.maybe_shrink_isr()
        else:
            for wait in pending.poll():
                assert wait.error in (
                    ErrorCode.none,
                    ErrorCode.request_timed_out,
                    ErrorCode.not_enough_replicas_after_append,
                )
                if wait.error == ErrorCode.none:
                    assert state.high_watermark >= wait.required_offset
        hw = state.high_watermark
        assert previous_hw <= hw <= state.log_end_offset
        if hw > previous_hw:
            # It moved: every ISR follower had it, and the ISR met min.insync.
            assert all(ends[r] >= hw for r in state.isr - {1})
            assert len(state.isr) >= state.effective_min_isr
        previous_hw = hw
        assert 1 in state.isr
    assert counters.isr_shrinks > 0 and counters.isr_expands > 0  # the history exercised both
