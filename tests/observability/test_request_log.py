"""The request log and the failed-request lines, fed RequestEvents built here."""

import logging

import pytest

from kwire.config import BrokerConfig
from kwire.core import BrokerCore
from kwire.observability.error_levels import error_name, level_of_error, level_of_errors
from kwire.observability.logs import FIELDS
from kwire.observability.request_events import RequestEvent
from kwire.observability.request_log import RequestLog, log_failed_request, watch_requests
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode

E = ErrorCode


def event(api=ApiKey.PRODUCE, version=9, errors=None, reasons=(), closed="", answered=True):
    made = RequestEvent("PLAINTEXT", "127.0.0.1:50123", int(api), version, 42, "my-app", "User:ANONYMOUS", 5111, 123)
    for code, count in (errors or {}).items():
        made.note_error(code, count)
    made.reasons.extend(reasons)
    made.received, made.dispatched, made.handled, made.completed, made.sent = 1.0, 1.001, 1.004, 1.010, 1.011
    made.closed, made.answered = closed, answered and not closed
    return made


def lines(caplog, logger):
    return [(r.levelname, r.getMessage(), getattr(r, FIELDS, {})) for r in caplog.records if r.name == logger]


def test_a_failed_produce_is_a_warning_naming_the_error_and_the_reason(caplog):
    reason = "orders-0: The record batch is 5070 bytes, larger than max.message.bytes=2000"
    with caplog.at_level(logging.DEBUG):
        log_failed_request(event(errors={E.message_too_large: 1}, reasons=[reason]))
    ((level, message, fields),) = lines(caplog, "kwire.requests")
    assert level == "WARNING"
    assert message == f"Produce request failed: MESSAGE_TOO_LARGE ({reason})"
    assert fields["errors"] == "MESSAGE_TOO_LARGE" and fields["reason"] == reason
    assert (fields["client_id"], fields["client_address"], fields["correlation_id"]) == (
        "my-app",
        "127.0.0.1:50123",
        42,
    )


@pytest.mark.parametrize(
    ("api", "code", "level"),
    [
        (ApiKey.JOIN_GROUP, E.member_id_required, "DEBUG"),
        (ApiKey.JOIN_GROUP, E.rebalance_in_progress, "DEBUG"),
        (ApiKey.FIND_COORDINATOR, E.coordinator_not_available, "DEBUG"),
        (ApiKey.METADATA, E.unknown_topic_or_partition, "DEBUG"),
        (ApiKey.FETCH, E.offset_out_of_range, "INFO"),
        (ApiKey.LIST_OFFSETS, E.unknown_topic_or_partition, "INFO"),
        (ApiKey.CREATE_TOPICS, E.topic_already_exists, "INFO"),
        (ApiKey.CREATE_TOPICS, E.invalid_replication_factor, "WARNING"),
        (ApiKey.SASL_AUTHENTICATE, E.sasl_authentication_failed, "WARNING"),
    ],
)
def test_routine_errors_are_not_warnings(caplog, api, code, level):
    with caplog.at_level(logging.DEBUG, logger="kwire.requests"):
        log_failed_request(event(api, errors={code: 1}))
    assert [line[0] for line in lines(caplog, "kwire.requests")] == [level]


def test_the_loudest_code_decides_and_names_are_kafkas():
    assert level_of_errors(ApiKey.PRODUCE, [E.not_leader_or_follower, E.corrupt_message]) == logging.WARNING
    assert level_of_errors(ApiKey.PRODUCE, []) == logging.DEBUG
    assert level_of_error(ApiKey.METADATA, E.unknown_topic_id) == logging.DEBUG
    assert error_name(10) == "MESSAGE_TOO_LARGE" and error_name(9999) == "9999"


def test_success_and_closed_without_an_error_code_are_not_failed_lines(caplog):
    with caplog.at_level(logging.DEBUG, logger="kwire.requests"):
        log_failed_request(event())
        log_failed_request(event(closed="malformed request"))
    assert [line[0] for line in lines(caplog, "kwire.requests")] == ["DEBUG"]  # the connection logged the close


def test_request_log_levels_verbose_and_not(caplog):
    verbose, quiet = RequestLog(verbose=True), RequestLog(verbose=False)
    assert verbose.level(event()) == logging.INFO
    assert verbose.level(event(ApiKey.FETCH, 12)) == logging.DEBUG  # polling stays at DEBUG
    assert verbose.level(event(ApiKey.FETCH, 12, errors={E.offset_out_of_range: 2})) == logging.INFO
    assert quiet.level(event()) == logging.DEBUG
    assert quiet.level(event(closed="failed acks=0 produce")) == logging.INFO


def test_a_request_log_line_has_every_field(caplog):
    with caplog.at_level(logging.DEBUG, logger="kafka.request.logger"):
        RequestLog(verbose=True)(event(errors={E.not_leader_or_follower: 3}, reasons=["a", "b"]))
        RequestLog(verbose=True)(event(answered=False))
    (failed, unanswered) = lines(caplog, "kafka.request.logger")
    level, message, fields = failed
    assert (level, message) == ("INFO", "Produce v9: NOT_LEADER_OR_FOLLOWER:3")
    assert fields["errors"] == "NOT_LEADER_OR_FOLLOWER:3" and fields["reasons"] == "a; b"
    assert fields["total_ms"] == pytest.approx(11.0) and fields["local_ms"] == pytest.approx(3.0)
    assert fields["remote_ms"] == pytest.approx(6.0)
    assert {"api", "version", "listener", "principal", "request_bytes", "response_bytes", "throttle_ms"} <= set(fields)
    assert unanswered[1] == "Produce v9: ok (no response)" and unanswered[2]["answered"] is False


def test_watch_requests_adds_the_request_log_only_when_asked(caplog):
    request_logger = logging.getLogger("kafka.request.logger")
    saved = request_logger.level
    try:
        request_logger.setLevel(logging.WARNING)
        quiet = BrokerCore(BrokerConfig(port=0, data_dir=None))
        watch_requests(quiet.state)
        assert quiet.state.request_observers == [log_failed_request]
        asked = BrokerCore(BrokerConfig(port=0, data_dir=None, kafka_request_logging=True))
        watch_requests(asked.state)
        assert len(asked.state.request_observers) == 2
        assert request_logger.level == logging.WARNING  # not changed for the whole process
        with caplog.at_level(logging.DEBUG, logger="kwire.requests"):  # the root handler lets everything through
            for observer in asked.state.request_observers:
                observer(event(ApiKey.CREATE_TOPICS, 7))
                observer(event(ApiKey.METADATA, 12))  # polling: DEBUG, below the logger's level
        assert [line[1] for line in lines(caplog, "kafka.request.logger")] == ["CreateTopics v7: ok"]
        quiet.close()
        asked.close()
    finally:
        request_logger.setLevel(saved)
