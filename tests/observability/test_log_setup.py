"""configure_logging: the `kwire serve` process's one handler and its levels."""

import contextlib
import io
import json
import logging

from kwire.observability import log_setup
from kwire.observability.log_setup import REQUEST_LOGGER, configure_logging, flush_suppressed, level_was_named
from kwire.observability.logs import log_event
from kwire.observability.repeat_limiter import RepeatLimiter

NAMES = ("kwire.test.setup", REQUEST_LOGGER)


@contextlib.contextmanager
def bare_root():
    """The root logger without the test runner's handlers (pytest adds them
    when the test body starts), all put back afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, {name: logging.getLogger(name).level for name in NAMES})
    for handler in saved[0]:
        root.removeHandler(handler)
    try:
        yield root
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        for name, level in saved[2].items():
            logging.getLogger(name).setLevel(level)
        log_setup._NAMED.clear()
        log_setup._LIMITERS.clear()
        logging.captureWarnings(False)


def test_json_lines_at_the_levels_asked_for():
    with bare_root():
        out = io.StringIO()
        assert configure_logging("WARNING", [("kwire.test.setup", "DEBUG")], "json", out)
        logger = logging.getLogger("kwire.test.setup")
        log_event(logger, logging.DEBUG, "shown", topic="t")
        logging.getLogger("kwire.test.other").info("hidden: the root level is WARNING")
        (line,) = out.getvalue().splitlines()
        assert json.loads(line)["message"] == "shown" and json.loads(line)["topic"] == "t"
        assert level_was_named("kwire.test.setup") and not level_was_named(REQUEST_LOGGER)


def test_the_request_log_is_quiet_unless_named_and_a_second_call_replaces_the_handler():
    with bare_root() as root:
        out = io.StringIO()
        configure_logging("DEBUG", [], "text", out)
        assert not logging.getLogger(REQUEST_LOGGER).isEnabledFor(logging.INFO)
        configure_logging("INFO", [(REQUEST_LOGGER, "DEBUG")], "text", out)
        assert len(root.handlers) == 1
        assert logging.getLogger(REQUEST_LOGGER).isEnabledFor(logging.DEBUG)
        logging.getLogger(REQUEST_LOGGER).debug("Fetch v12: ok")
        assert out.getvalue().rstrip().endswith(" DEBUG kafka.request.logger: Fetch v12: ok")


def test_someone_elses_handlers_are_left_alone():
    with bare_root() as root:
        other = logging.NullHandler()
        root.addHandler(other)
        assert not configure_logging("DEBUG", [], "json", io.StringIO())
        assert root.handlers == [other]


def test_repeated_lines_are_limited_and_the_rest_told_when_the_process_stops():
    with bare_root():
        out = io.StringIO()
        configure_logging("INFO", [], "text", out, RepeatLimiter(burst=2, window_s=60))
        for port in range(5):
            logging.getLogger("kwire.test.setup").warning("closing connection from 127.0.0.1:%d: bad", port)
        assert len(out.getvalue().splitlines()) == 2
        flush_suppressed()
        last = out.getvalue().splitlines()[-1]
        assert "WARNING kwire.test.setup: suppressed 3 identical messages in the last 0 s: closing connection" in last
