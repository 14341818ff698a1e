"""Repeated identical lines: the first few per window, then one summary."""

import logging

import pytest

from kwire.observability.logs import FIELDS
from kwire.observability.repeat_limiter import RepeatLimiter


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append((record.levelname, record.getMessage(), dict(getattr(record, FIELDS, {}))))


@pytest.fixture
def setup():
    """A logger whose one handler has the limiter (burst 3 per 10 s window)."""
    clock = Clock()
    limiter = RepeatLimiter(burst=3, window_s=10, max_keys=4, exempt=("kwire.test.requests",), clock=clock)
    collect = Collect()
    collect.addFilter(limiter)
    logger = logging.getLogger("kwire.test.limited")
    logger.addHandler(collect)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    exempt = logging.getLogger("kwire.test.requests.detail")
    exempt.addHandler(collect)
    exempt.setLevel(logging.DEBUG)
    exempt.propagate = False
    yield clock, limiter, collect, logger, exempt
    for each in (logger, exempt):
        each.removeHandler(collect)
        each.setLevel(logging.NOTSET)
        each.propagate = True


def warn(logger, client="127.0.0.1:50001", correlation_id=1, message="Produce request failed: MESSAGE_TOO_LARGE"):
    fields = {"client_address": client, "correlation_id": correlation_id, "total_ms": correlation_id * 0.5}
    logger.warning(message, extra={FIELDS: fields})


def test_identical_lines_pass_up_to_the_burst_then_one_summary_after_the_window(setup):
    clock, _limiter, collect, logger, _ = setup
    for number in range(10):  # other ports, correlation ids and times: still the same line
        warn(logger, client=f"127.0.0.1:{50000 + number}", correlation_id=number)
        clock.now += 0.5
    assert len(collect.lines) == 3
    clock.now += 10
    logger.info("something else")
    summary = collect.lines[3]
    assert summary[0] == "WARNING"
    assert summary[1].startswith("suppressed 7 identical messages in the last 10 s: Produce request failed")
    assert summary[2]["suppressed"] == 7
    assert collect.lines[4][1] == "something else"
    warn(logger)  # a new window
    assert len(collect.lines) == 6


def test_different_lines_are_counted_apart(setup):
    _clock, _limiter, collect, logger, _ = setup
    for _ in range(5):
        warn(logger, client="127.0.0.1:1")
        warn(logger, client="10.0.0.2:1")  # another host: another line
        warn(logger, message="other")
        logger.error("Produce request failed: MESSAGE_TOO_LARGE")  # another level
    assert len(collect.lines) == 12


def test_a_port_in_the_message_does_not_make_lines_different(setup):
    _clock, _limiter, collect, logger, _ = setup
    for port in range(6):
        logger.warning("closing connection from 127.0.0.1:%d: bad frame", 40000 + port)
        logger.warning("closing connection from [::1]:%d: bad frame", 40000 + port)
    assert len(collect.lines) == 6


def test_exempt_loggers_and_lines_below_the_burst_are_never_held(setup):
    _clock, _limiter, collect, _logger, exempt = setup
    for _ in range(20):
        exempt.info("Fetch v12: ok")
    assert len(collect.lines) == 20


def test_memory_is_bounded_and_an_evicted_line_reports_what_it_held(setup):
    _clock, limiter, collect, logger, _ = setup
    for _ in range(5):
        warn(logger, message="first")
    for number in range(4):  # four more distinct lines: max_keys is 4
        warn(logger, message=f"line {number}")
    assert len(limiter._windows) <= 4
    assert any(line[1].startswith("suppressed 2 identical messages") for line in collect.lines)


def test_flush_reports_what_is_held(setup):
    _clock, limiter, collect, logger, _ = setup
    for _ in range(4):
        warn(logger)
    limiter.flush()
    assert collect.lines[-1][1].startswith("suppressed 1 identical messages")
    assert limiter._windows == {}
