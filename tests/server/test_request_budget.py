"""The queued.max.request.bytes accounting, without sockets."""

import pytest

from kwire.server.request_budget import RequestBudget


def waiting_for(budget: RequestBudget, size: int, woken: list):
    reservation = budget.reserve(size)
    reservation.wake = lambda: woken.append(size)
    return reservation


def test_reservations_are_granted_while_they_fit():
    budget = RequestBudget(100)
    first, second = budget.reserve(60), budget.reserve(40)
    assert first.granted and second.granted and budget.reserved == 100
    third = budget.reserve(1)
    assert not third.granted and budget.waiting == 1


def test_released_bytes_go_to_the_waiting_in_arrival_order():
    budget = RequestBudget(100)
    holder = budget.reserve(100)
    woken: list = []
    first, second, third = (waiting_for(budget, size, woken) for size in (30, 50, 40))
    budget.release(holder)
    assert woken == [30, 50] and first.granted and second.granted and not third.granted
    budget.release(first)
    assert woken == [30, 50, 40] and budget.reserved == 90 and budget.waiting == 0


def test_a_large_request_in_line_is_not_overtaken_by_small_ones():
    budget = RequestBudget(100)
    holder = budget.reserve(60)
    woken: list = []
    large = waiting_for(budget, 80, woken)
    small = budget.reserve(10)  # would fit, but the large one came first
    assert not small.granted
    budget.release(holder)
    assert large.granted and woken == [80]
    assert small.granted  # 80 + 10 fit together


def test_a_frame_larger_than_the_budget_goes_alone_once_nothing_is_reserved():
    budget = RequestBudget(100)
    holder = budget.reserve(10)
    woken: list = []
    huge = waiting_for(budget, 250, woken)
    assert not huge.granted
    budget.release(holder)
    assert huge.granted and budget.reserved == 250
    after = budget.reserve(1)
    assert not after.granted  # everyone else waits until the huge one is done
    budget.release(huge)
    assert after.granted and budget.reserved == 1


def test_a_frame_larger_than_the_budget_is_granted_at_once_on_an_idle_budget():
    budget = RequestBudget(100)
    assert budget.reserve(1000).granted


def test_withdrawing_a_waiting_reservation_lets_the_next_one_in():
    budget = RequestBudget(100)
    holder = budget.reserve(50)
    woken: list = []
    too_big = waiting_for(budget, 80, woken)
    fits = waiting_for(budget, 50, woken)
    budget.release(too_big)  # its connection went away while waiting
    assert fits.granted and woken == [50] and budget.reserved == 100
    budget.release(holder)
    budget.release(fits)
    assert budget.reserved == 0 and budget.waiting == 0


def test_releasing_twice_gives_back_nothing_more():
    budget = RequestBudget(100)
    reservation = budget.reserve(40)
    budget.release(reservation)
    budget.release(reservation)
    assert budget.reserved == 0


def test_many_rounds_leave_the_budget_empty():
    budget = RequestBudget(1000)
    held = []
    woken: list = []
    for size in range(1, 200):
        held.append(waiting_for(budget, size * 7 % 300, woken))
    while held:
        granted = [r for r in held if r.granted]
        assert granted, "nothing granted: the budget is stuck"
        assert budget.reserved <= 1000 or len(granted) == 1
        budget.release(granted[0])
        held.remove(granted[0])
    assert budget.reserved == 0 and budget.waiting == 0


def test_a_budget_needs_a_positive_capacity():
    with pytest.raises(ValueError):
        RequestBudget(0)
