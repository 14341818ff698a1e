"""The request log and the failed-request lines, as request observers
(kwire/observability/request_events.py).

- The request log: one line per request on `kafka.request.logger` (Kafka's
  log4j name) with everything RequestEvent knows. Watched only when asked
  for (`kafka.request.logging=true`, or --log-level naming the logger), so a
  node that nobody asked pays nothing for it. Levels: a failed request at
  INFO; a successful one at INFO with kafka.request.logging=true, except the
  APIs clients repeat all the time (POLLING below: they stay at DEBUG, so
  INFO is not drowned), and at DEBUG otherwise.
- Failed requests: always watched; one line on `kwire.requests` for each
  request whose answer carries an error code, at the level
  kwire/observability/error_levels.py gives it (WARNING unless the error is
  routine or an answer rather than a fault), with the handler's reasons.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from kwire.observability.error_levels import error_name, level_of_errors
from kwire.observability.log_setup import REQUEST_LOGGER, level_was_named
from kwire.observability.logs import emit_event, log_event
from kwire.observability.request_events import RequestEvent
from kwire.protocol.api_keys import ApiKey, api_name

if TYPE_CHECKING:
    from kwire.broker_state import BrokerState

REQUEST_LOG = logging.getLogger(REQUEST_LOGGER)
FAILED_LOG = logging.getLogger("kwire.requests")

# What clients send over and over while all is well: polls, keep-alives, discovery.
POLLING = frozenset(
    {
        ApiKey.API_VERSIONS,
        ApiKey.METADATA,
        ApiKey.FETCH,
        ApiKey.LIST_OFFSETS,
        ApiKey.OFFSET_COMMIT,
        ApiKey.OFFSET_FETCH,
        ApiKey.FIND_COORDINATOR,
        ApiKey.HEARTBEAT,
        ApiKey.OFFSET_FOR_LEADER_EPOCH,
        ApiKey.DESCRIBE_CLUSTER,
        ApiKey.CONSUMER_GROUP_HEARTBEAT,
        ApiKey.GET_TELEMETRY_SUBSCRIPTIONS,
        ApiKey.PUSH_TELEMETRY,
    }
)


def watch_requests(state: BrokerState) -> None:
    """Install the observers a node's requests are told to: the failed-request
    lines always, the request log when asked for."""
    state.request_observers.append(log_failed_request)
    if state.config.kafka_request_logging:
        # The setting's INFO lines go out whatever the logger's level, unless --log-level named the logger.
        state.request_observers.append(RequestLog(verbose=True, forced=not level_was_named(REQUEST_LOGGER)))
    elif REQUEST_LOG.isEnabledFor(logging.INFO):
        state.request_observers.append(RequestLog(verbose=False))


def api_of(api_key: int) -> str:
    try:
        return api_name(ApiKey(api_key))
    except ValueError:
        return f"api {api_key}" if api_key >= 0 else "unreadable request"


def errors_text(errors: dict[int, int]) -> str:
    """MESSAGE_TOO_LARGE, or NOT_LEADER_OR_FOLLOWER:3 when several partitions had it."""
    return ",".join(error_name(code) if count == 1 else f"{error_name(code)}:{count}" for code, count in errors.items())


def _who(event: RequestEvent) -> dict[str, Any]:
    return {
        "api": api_of(event.api_key),
        "version": event.api_version,
        "correlation_id": event.correlation_id,
        "client_id": event.client_id,
        "client_address": event.client_address,
        "listener": event.listener,
        "principal": event.principal or None,
    }


class RequestLog:
    """One line per request on kafka.request.logger; `verbose`: successful
    requests at INFO (but POLLING ones), as kafka.request.logging=true asks;
    `forced`: INFO lines are written even when the logger's level is higher
    (the setting asked for them; the logger's level is left as it is, since
    several brokers may share a process)."""

    def __init__(self, verbose: bool, forced: bool = False) -> None:
        self.verbose = verbose
        self.forced = forced

    def level(self, event: RequestEvent) -> int:
        if event.failed:
            return logging.INFO
        if self.verbose and event.api_key not in POLLING:
            return logging.INFO
        return logging.DEBUG

    def __call__(self, event: RequestEvent) -> None:
        level = self.level(event)
        enabled = REQUEST_LOG.isEnabledFor(level)
        if not enabled and not (self.forced and level >= logging.INFO):
            return
        fields = _who(event)
        fields.update(
            request_bytes=event.request_bytes,
            response_bytes=event.response_bytes,
            total_ms=round(event.total_ms, 3),
            local_ms=round(event.local_ms, 3),
            remote_ms=round(event.remote_ms, 3),
            throttle_ms=event.throttle_ms,
        )
        if event.errors:
            fields["errors"] = errors_text(event.errors)
        if event.reasons:
            fields["reasons"] = "; ".join(event.reasons)
        if event.closed:
            fields["closed"] = event.closed
        elif not event.answered:
            fields["answered"] = False
        emit = log_event if enabled else emit_event
        emit(REQUEST_LOG, level, f"{fields['api']} v{event.api_version}: {_outcome(event)}", **fields)


def _outcome(event: RequestEvent) -> str:
    if event.errors:
        return errors_text(event.errors)
    if event.closed:
        return "connection closed"
    return "ok" if event.answered else "ok (no response)"


def log_failed_request(event: RequestEvent) -> None:
    """A line on kwire.requests for a request answered with an error code (or
    that closed its connection after a failure): API, client, error names and reasons."""
    if not event.errors:
        # Closed without an error code (a request that broke the protocol, an
        # injected fault): the connection logged why already.
        if event.closed and FAILED_LOG.isEnabledFor(logging.DEBUG):
            log_event(FAILED_LOG, logging.DEBUG, f"{api_of(event.api_key)} closed its connection", **_who(event))
        return
    level = level_of_errors(event.api_key, event.errors)
    if not FAILED_LOG.isEnabledFor(level):
        return
    fields = _who(event)
    errors = errors_text(event.errors)
    fields["errors"] = errors
    reason = "; ".join(event.reasons)
    if reason:
        fields["reason"] = reason
    if event.closed:
        fields["closed"] = event.closed
    message = f"{fields['api']} request failed: {errors}" + (f" ({reason})" if reason else "")
    log_event(FAILED_LOG, level, message, **fields)
