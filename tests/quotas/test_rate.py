import pytest

from kwire.quotas.rate import WindowedRate, throttle_time_ms


def test_a_first_burst_is_measured_over_all_windows_but_one():
    rate = WindowedRate(samples=11, window_ms=1000)
    rate.record(1000, now_ms=0)
    assert rate.window_size_ms(0) == 10_000
    assert rate.measure(0) == pytest.approx(100.0)


def test_steady_traffic_is_measured_over_the_time_it_spans():
    rate = WindowedRate(samples=11, window_ms=1000)
    for second in range(30):
        rate.record(500, now_ms=second * 1000)
    # 11 samples of 500 over the 10 s since the oldest one began.
    assert rate.total(29_000) == 5_500
    assert rate.window_size_ms(29_000) == 10_000
    assert rate.measure(29_500) == pytest.approx(5_500 / 10.5)


def test_old_samples_expire_and_negative_values_take_back():
    rate = WindowedRate(samples=3, window_ms=100)
    rate.record(60, now_ms=0)
    rate.record(-60, now_ms=10)
    assert rate.total(10) == 0
    rate.record(30, now_ms=150)
    assert rate.total(150) == 30
    assert rate.total(1_000) == 0
    assert rate.idle(1_000)
    assert not rate.idle(200)


def test_window_size_is_at_least_one_millisecond():
    rate = WindowedRate(samples=1, window_ms=1000)
    assert rate.window_size_ms(5) == 1


def test_throttle_time_brings_the_rate_back_to_the_bound():
    assert throttle_time_ms(observed=100, bound=50, window_ms=10_000) == 10_000
    assert throttle_time_ms(observed=150, bound=100, window_ms=10_000) == 5_000
    assert throttle_time_ms(observed=50, bound=50, window_ms=10_000) == 0


def test_invalid_rates_are_refused():
    with pytest.raises(ValueError):
        WindowedRate(samples=0, window_ms=1000)
