import pytest

from kwire.clock import SYSTEM_CLOCK, Every, ManualClock


def test_manual_clock_moves_both_readings_together():
    clock = ManualClock(wall_ms=1_000_000, monotonic=5.0)
    clock.advance(1.5)
    clock.advance(ms=250)
    assert clock.wall_ms() == 1_001_750
    assert clock.monotonic() == pytest.approx(6.75)


def test_manual_clock_refuses_to_go_back():
    with pytest.raises(ValueError):
        ManualClock().advance(-1)


def test_system_clock_readings_are_sane():
    assert SYSTEM_CLOCK.wall_ms() > 1_600_000_000_000
    first = SYSTEM_CLOCK.monotonic()
    assert SYSTEM_CLOCK.monotonic() >= first


def test_every_is_due_once_per_interval():
    every = Every(1_000, now=10.0)
    assert every.due(10.0)
    assert not every.due(10.5)
    assert every.due(11.0)
    assert not every.due(11.9)
    every.run_soon()
    assert every.due(11.9)


def test_every_can_wait_a_whole_interval_first():
    every = Every(2_000, now=10.0, first_after_interval=True)
    assert not every.due(11.0)
    assert every.due(12.0)
