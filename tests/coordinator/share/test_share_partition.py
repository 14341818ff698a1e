"""A share-partition's delivery state: acquisition, locks, acknowledgements, limits."""

from kwire.coordinator.share.share_partition import (
    AcknowledgeType,
    Acquired,
    RecordState,
    SharePartition,
    ShareSettings,
    split_ranges,
)
from kwire.protocol.errors import ErrorCode as E

ACCEPT, RELEASE, REJECT, GAP = (
    AcknowledgeType.ACCEPT,
    AcknowledgeType.RELEASE,
    AcknowledgeType.REJECT,
    AcknowledgeType.GAP,
)
BATCH = [(0, 4, False), (5, 9, False)]  # two batches of five records


def share(start=0, **settings):
    return SharePartition(start, ShareSettings(**{"lock_duration_ms": 1000, "delivery_count_limit": 3, **settings}))


def test_members_get_different_records_and_the_end_offset_moves():
    p = share()
    assert p.acquire("a", BATCH, 3, now=0) == [Acquired(0, 2, 1)]
    assert p.acquire("b", BATCH, 100, now=0) == [Acquired(3, 9, 1)]
    assert p.acquire("c", BATCH, 100, now=0) == []
    assert (p.start_offset, p.end_offset, p.next_fetch_offset()) == (0, 10, 10)


def test_accepting_advances_the_start_offset_over_done_records():
    p = share()
    p.acquire("a", BATCH, 100, now=0)
    assert p.acknowledge("a", 1, 2, [ACCEPT]) == E.none
    assert p.start_offset == 0  # offset 0 is still in flight
    assert p.acknowledge("a", 0, 0, [REJECT]) == E.none
    assert p.start_offset == 3
    assert p.acknowledge("a", 3, 9, [ACCEPT, ACCEPT, GAP, ACCEPT, ACCEPT, ACCEPT, ACCEPT]) == E.none
    assert (p.start_offset, p.records) == (10, {})


def test_only_the_holder_may_acknowledge_and_only_once():
    p = share()
    p.acquire("a", BATCH, 5, now=0)
    assert p.acknowledge("b", 0, 0, [ACCEPT]) == E.invalid_record_state
    assert p.acknowledge("a", 4, 5, [ACCEPT]) == E.invalid_record_state  # 5 was never acquired: nothing changes
    assert p.records[4].state == RecordState.ACQUIRED
    assert p.acknowledge("a", 0, 0, [ACCEPT]) == E.none
    assert p.acknowledge("a", 0, 0, [ACCEPT]) == E.invalid_record_state
    assert p.acknowledge("a", 1, 2, [ACCEPT, ACCEPT, ACCEPT]) == E.invalid_request  # types do not match the range
    assert p.acknowledge("a", 1, 1, [9]) == E.invalid_request


def test_release_redelivers_with_a_higher_count_until_the_limit_archives():
    p = share()
    for count in (1, 2, 3):
        assert p.acquire("a", BATCH, 1, now=0) == [Acquired(0, 0, count)]
        assert p.acknowledge("a", 0, 0, [RELEASE]) == E.none
    assert p.start_offset == 1  # archived after its third delivery
    assert p.acquire("a", BATCH, 1, now=0) == [Acquired(1, 1, 1)]


def test_a_lock_ends_after_the_lock_duration():
    p = share()
    p.acquire("a", BATCH, 2, now=10.0)
    assert not p.expire_locks(10.9)
    assert p.expire_locks(11.0)
    assert p.next_fetch_offset() == 0
    assert p.acquire("b", BATCH, 5, now=11.0) == [Acquired(0, 1, 2), Acquired(2, 4, 1)]


def test_a_member_leaving_releases_its_records():
    p = share()
    p.acquire("a", BATCH, 2, now=0)
    p.acquire("b", BATCH, 2, now=0)
    assert p.release_member("a")
    assert [p.records[o].state for o in range(4)] == [RecordState.AVAILABLE] * 2 + [RecordState.ACQUIRED] * 2


def test_control_batches_are_never_delivered():
    p = share()
    assert p.acquire("a", [(0, 1, False), (2, 2, True), (3, 4, False)], 100, now=0) == [
        Acquired(0, 1, 1),
        Acquired(3, 4, 1),
    ]
    assert p.acknowledge("a", 0, 4, [ACCEPT, ACCEPT, GAP, ACCEPT, ACCEPT]) == E.none
    assert p.start_offset == 5


def test_in_flight_records_are_bounded():
    p = share(max_record_locks=3)
    assert p.acquire("a", BATCH, 100, now=0) == [Acquired(0, 2, 1)]
    p.acknowledge("a", 0, 0, [ACCEPT])
    assert p.acquire("a", BATCH, 100, now=0) == [Acquired(3, 3, 1)]


def test_the_log_start_moving_drops_what_it_passed():
    p = share()
    p.acquire("a", BATCH, 4, now=0)
    p.move_start(2)
    assert (p.start_offset, sorted(p.records)) == (2, [2, 3])
    p.move_start(20)
    assert (p.start_offset, p.end_offset, p.records) == (20, 20, {})


def test_state_batches_round_trip_with_acquired_records_as_available():
    p = share(start=5)
    p.acquire("a", [(5, 14, False)], 100, now=0)
    p.acknowledge("a", 6, 6, [ACCEPT])
    p.acknowledge("a", 7, 7, [REJECT])
    batches = p.state_batches()
    assert batches == [(5, 5, 0, 1), (6, 6, 2, 1), (7, 7, 4, 1), (8, 14, 0, 1)]
    q = share()
    q.restore(5, batches)
    assert (q.start_offset, q.end_offset, q.state_batches()) == (5, 15, batches)
    assert q.acquire("b", [(5, 14, False)], 100, now=0) == [Acquired(5, 5, 2), Acquired(8, 14, 2)]


def test_renew_extends_the_lock_only_when_the_request_allows_renewals():
    p = share()
    p.acquire("a", BATCH, 2, now=0)
    renew = AcknowledgeType.RENEW
    assert p.acknowledge("a", 0, 1, [renew]) == E.invalid_request  # no IsRenewAck
    assert p.acknowledge("b", 0, 1, [renew], renew_allowed=True, now=0.8) == E.invalid_record_state
    assert p.acknowledge("a", 0, 0, [renew], renew_allowed=True, now=0.8) == E.none
    assert p.expire_locks(1.5)  # offset 1's lock ended at 1.0, offset 0's now ends at 1.8
    assert (p.records[0].state, p.records[1].state) == (RecordState.ACQUIRED, RecordState.AVAILABLE)
    assert p.records[0].delivery_count == 1  # a renewal is no new delivery
    assert p.acknowledge("a", 0, 0, [ACCEPT]) == E.none  # still held by its member
    assert p.start_offset == 1


def test_batch_size_cuts_acquired_ranges():
    assert split_ranges([Acquired(0, 9, 1), Acquired(12, 12, 2)], 4) == [
        Acquired(0, 3, 1),
        Acquired(4, 7, 1),
        Acquired(8, 9, 1),
        Acquired(12, 12, 2),
    ]
    assert split_ranges([Acquired(0, 9, 1)], 0) == [Acquired(0, 9, 1)]
