"""The one place every request passes: a frame in, a framed response out.

Peeks the API key and version, checks them against the registry, decodes
the body (bounded first, see protocol/registry.py), builds the
RequestContext and calls the handler (timed against the client's
`request_percentage` quota when one is set), then frames what it answered
with the throttle time of any quota it went over. Later
checks that concern every request (the principal, metrics) belong here.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import struct
from typing import TYPE_CHECKING, Any

from kwire.broker_state import BrokerState
from kwire.faults import rules as fault_rules
from kwire.faults.injector import RESUMED
from kwire.faults.requests import request_partitions
from kwire.faults.responses import error_response
from kwire.handlers import build_registry
from kwire.handlers.api_versions import unsupported_version_body
from kwire.handlers.base import (
    CLOSE_CONNECTION,
    DROP_CONNECTION,
    NO_RESPONSE,
    ClientConnection,
    Delayed,
    Encoded,
    Late,
    RequestContext,
)
from kwire.handlers.base import millis as _millis
from kwire.observability.response_errors import note_response_errors
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.framing import frame
from kwire.protocol.headers import HeaderError, encode_response_header, parse_request_header, peek_api
from kwire.protocol.kio_build import encode
from kwire.protocol.registry import ApiRegistry, request_is_flexible, response_is_flexible
from kwire.quotas.entities import REQUEST_PERCENTAGE
from kwire.security.session import Session

if TYPE_CHECKING:
    from kwire.observability.request_events import RequestEvent


class ProtocolViolation(Exception):
    """The request cannot be understood; close the connection it came on."""


def _must_propagate(exc: BaseException) -> bool:
    """Interrupts, exits and trio's cancellation are not decoding failures
    (matched by module so the sans-IO core does not import trio)."""
    return (
        isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit))
        or type(exc).__module__.partition(".")[0] == "trio"
    )


# What handle_frame returns: a list of buffers (the framed response),
# NO_RESPONSE, CLOSE_CONNECTION, DROP_CONNECTION, a (Delayed, finish) pair,
# or (fault injection) Late(outcome, delay_ms).
Outcome = Any


_THROTTLE = struct.Struct(">i")
_FAULT_LOG = logging.getLogger("kwire.faults")


class Throttled(list[Any]):
    """A framed response after which the connection must read nothing for
    `throttle_ms` (a client over its quota, KIP-219: answer at once, then mute)."""

    def __init__(self, parts: list[Any], throttle_ms: int) -> None:
        super().__init__(parts)
        self.throttle_ms = throttle_ms


class Dispatcher:
    def __init__(self, state: BrokerState, registry: ApiRegistry | None = None) -> None:
        self.state = state
        self.registry = registry if registry is not None else build_registry()

    def handle_frame(
        self,
        request_frame: bytes,
        client_host: str = "",
        session: Session | None = None,
        event: RequestEvent | None = None,
        connection: ClientConnection | None = None,
    ) -> Outcome:
        """Answer one request frame.

        Returns a list of buffers (the framed response), NO_RESPONSE,
        CLOSE_CONNECTION, or a (Delayed, finish) pair where finish(response)
        frames whatever the delayed completion returns. Raises
        ProtocolViolation when the connection must be closed. `event`, when
        someone watches requests, is told what the request was.
        """
        try:
            api_key, api_version, correlation_id = peek_api(request_frame)
        except HeaderError as exc:
            raise ProtocolViolation(str(exc)) from None
        if event is not None:
            event.api_key, event.api_version, event.correlation_id = api_key, api_version, correlation_id
            event.request_bytes = len(request_frame)
        spec = self.registry.get(api_key)
        if spec is None:
            raise ProtocolViolation(f"unknown API key {api_key}")
        if not spec.min_version <= api_version <= spec.max_version:
            if spec.api_key == ApiKey.API_VERSIONS:  # error 35 in a v0 body, so the client can retry
                return _frame(spec.api_key, 0, correlation_id, unsupported_version_body(self.registry))
            raise ProtocolViolation(f"unsupported version {api_version} of API {api_key}")
        if session is not None and session.uses_sasl:
            self._check_authentication(session, spec.api_key)
        try:
            header = parse_request_header(request_frame, request_is_flexible(api_key, api_version))
            request = spec.decoder(request_frame, header.body_offset, api_version)
        except BaseException as exc:
            # Any decoding failure means a malformed request, also one that is
            # not an Exception: a panic in kio's native reader surfaces as
            # pyo3's PanicException, a BaseException.
            if _must_propagate(exc):
                raise
            raise ProtocolViolation(f"malformed request (api {api_key} v{api_version}): {exc!r}") from None
        if event is not None:
            event.client_id = header.client_id
            if session is not None:
                event.principal = session.principal
        context = RequestContext(
            self.state,
            self.registry,
            spec.api_key,
            api_version,
            correlation_id,
            header.client_id,
            client_host,
            len(request_frame),
            session,
            event,
            connection,
        )
        rule = None
        faults = self.state.faults
        if faults.armed:  # fault injection (kwire/faults/): the no-fault path is this one check
            partitions = request_partitions(request, self._topic_name)
            rule = faults.match(spec.api_key, header.client_id, partitions)
            if rule is not None and rule.kind == fault_rules.DROP:
                return DROP_CONNECTION
            if rule is not None and rule.kind == fault_rules.ERROR:
                assert rule.error is not None
                return self._error_outcome(context, request, int(rule.error))
            if spec.api_key == ApiKey.PRODUCE and any(
                (topic, partition) in faults.paused for topic, partition in partitions if partition is not None
            ):
                return self._paused_produce(context, request, spec.handler, partitions)
        quotas = self.state.quotas
        timed = quotas.enforces(REQUEST_PERCENTAGE)
        started = self.state.clock.monotonic() if timed else 0.0
        response = spec.handler(context, request)
        # request_percentage: the time this request took to handle.
        throttle = quotas.record_request_time(header.client_id, self.state.clock.monotonic() - started) if timed else 0
        if event is not None and not event.errors:
            # A handler that noted its errors is trusted; others' answers are searched.
            note_response_errors(event, response)
        if isinstance(response, Delayed):

            def finish(final_response: Any) -> Outcome:
                if event is not None and not event.errors:
                    note_response_errors(event, final_response)
                return _frame(spec.api_key, api_version, correlation_id, final_response, throttle)

            result: Outcome = (response, finish)
        else:
            result = _frame(spec.api_key, api_version, correlation_id, response, throttle)
        return result if rule is None else self._after_handling(rule, result)

    def _check_authentication(self, session: Session, api_key: ApiKey) -> None:
        """On a SASL listener, nothing but ApiVersions and the SASL exchange
        before authentication (and only SaslAuthenticate once a handshake
        started it); after the session expired (KIP-368), nothing but a new
        SaslHandshake. Anything else closes the connection, as Kafka does."""
        if session.sasl_server is not None:
            if api_key != ApiKey.SASL_AUTHENTICATE and not session.raw_tokens:
                raise ProtocolViolation(f"unexpected {api_key.name} request during the SASL exchange")
        elif not session.authenticated:
            if api_key not in (ApiKey.API_VERSIONS, ApiKey.SASL_HANDSHAKE):
                raise ProtocolViolation(f"unexpected {api_key.name} request before SASL authentication")
        elif (
            session.expires_at is not None
            and self.state.clock.monotonic() > session.expires_at
            and api_key != ApiKey.SASL_HANDSHAKE
        ):
            raise ProtocolViolation(
                f"the SASL session of {session.principal} expired (connections.max.reauth.ms): re-authentication is due"
            )

    def handle_raw_sasl_token(self, session: Session, token: bytes) -> Outcome:
        """A bare SASL token after SaslHandshake v0: the bare reply, framed."""
        from kwire.handlers.sasl import raw_token

        context = RequestContext(self.state, self.registry, ApiKey.SASL_AUTHENTICATE, 0, -1, None, session=session)
        return raw_token(context, session, token)

    # --- fault injection -------------------------------------------------------

    def _topic_name(self, topic_id: Any) -> str | None:
        topic = self.state.cluster.topics_by_id.get(topic_id)
        return None if topic is None else str(topic.name)

    def _error_outcome(self, ctx: RequestContext, request: Any, error_code: int) -> Outcome:
        """The request answered with `error_code` instead of being handled;
        the connection closed when no error response can be built for it."""
        ctx.note_error(error_code, reason="injected fault")
        try:
            response = error_response(ctx.api_key, ctx.api_version, request, error_code)
            body = encode(response)
        except Exception as exc:
            _FAULT_LOG.info(
                "fault: no error response for %s v%d (%r): closing the connection instead",
                ctx.api_key.name,
                ctx.api_version,
                exc,
            )
            return DROP_CONNECTION
        if ctx.api_key == ApiKey.PRODUCE and getattr(request, "acks", 1) == 0:
            return DROP_CONNECTION  # acks=0: as Kafka on a failed produce, the client learns by the close
        return _frame(ctx.api_key, ctx.api_version, ctx.correlation_id, body)

    def _after_handling(self, rule: fault_rules.Rule, result: Outcome) -> Outcome:
        if rule.kind == fault_rules.LATENCY:
            return Late(result, rule.latency_ms)
        if rule.kind == fault_rules.LOSE_RESPONSE:
            if isinstance(result, tuple):
                return result[0], lambda _response: DROP_CONNECTION
            return DROP_CONNECTION
        if rule.kind == fault_rules.CRASH:
            if isinstance(result, tuple):
                delayed, finish = result

                def crash_then(response: Any) -> Outcome:
                    self.state.faults.crash(rule)
                    return finish(response)

                return delayed, crash_then
            self.state.faults.crash(rule)
        return result

    def _paused_produce(
        self, ctx: RequestContext, request: Any, handler: Any, partitions: list[tuple[str, int | None]]
    ) -> Outcome:
        """A produce to a paused partition: parked until the partition resumes
        (then handled) or its timeout_ms passes (then REQUEST_TIMED_OUT, not written)."""
        faults = self.state.faults
        timeout_ms = max(0, _millis(request.timeout))
        _FAULT_LOG.info("fault: produce to a paused partition parked for up to %d ms", timeout_ms)

        def complete(final: bool) -> Any:
            if any((topic, partition) in faults.paused for topic, partition in partitions if partition is not None):
                if not final:
                    return None
                if getattr(request, "acks", 1) == 0:
                    return NO_RESPONSE
                return encode(error_response(ctx.api_key, ctx.api_version, request, 7))  # REQUEST_TIMED_OUT
            return handler(ctx, request)

        def finish(response: Any) -> Outcome:
            return _frame(ctx.api_key, ctx.api_version, ctx.correlation_id, response)

        return Delayed([RESUMED], timeout_ms, complete), finish


def _frame(api_key: ApiKey, api_version: int, correlation_id: int, response: Any, throttle: int = 0) -> Outcome:
    """The framed response; Throttled when a quota asks the connection to
    be muted, with the longest throttle time of the quotas in the body."""
    if response is NO_RESPONSE or response is CLOSE_CONNECTION or response is DROP_CONNECTION:
        return response
    header = encode_response_header(correlation_id, response_is_flexible(api_key, api_version))
    if isinstance(response, Encoded):
        if response.throttle_time_ms < throttle and response.retime is not None:
            response = response.retime(throttle)
        throttle = max(throttle, response.throttle_time_ms)
        framed = frame([header, *response.parts])
    elif isinstance(response, (bytes, bytearray)):
        if throttle > 0 and api_key == ApiKey.METADATA and api_version >= 3:
            # A cached Metadata body: its throttle_time_ms is the first field.
            response = _THROTTLE.pack(throttle) + response[4:]
        framed = frame([header, response])
    else:
        if throttle > 0 and hasattr(response, "throttle_time") and dataclasses.is_dataclass(response):
            assert not isinstance(response, type)
            response = dataclasses.replace(response, throttle_time=datetime.timedelta(milliseconds=throttle))
        framed = frame([header, encode(response)])
    return Throttled(framed, throttle) if throttle > 0 else framed
