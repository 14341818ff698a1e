"""One client connection: read frames, answer them in order.

Like Kafka, a connection handles one request at a time (the next is read
only after the previous answer is sent), so answers are always in request
order; many connections run concurrently.

A frame's declared size is reserved from the shared request budget
(`queued.max.request.bytes`) before its body is buffered and given back once
it is answered; while the reservation waits the connection reads nothing.
A connection on which nothing arrives for `connections.max.idle.ms` while
it waits for bytes is closed; one parked in a long poll is not idle.

After an answer that carries a quota's throttle time the connection reads
nothing for that long (muted, as Kafka does it since KIP-219).
"""

from __future__ import annotations

import logging
import math
import ssl
from typing import Any

import trio

from kwire.core import BrokerCore, ProtocolViolation
from kwire.handlers.base import CLOSE_CONNECTION, DROP_CONNECTION, NO_RESPONSE, ClientConnection, Delayed, Late
from kwire.observability.request_events import RequestEvent, RequestObserver
from kwire.protocol.framing import FrameError, FrameReader
from kwire.security.listener_security import ListenerSecurity
from kwire.security.session import Session
from kwire.server.request_budget import RequestBudget, Reservation
from kwire.server.sending import send_buffers
from kwire.server.tls_records import buffered_plaintext

log = logging.getLogger(__name__)

RECEIVE_BYTES = 256 * 1024


class _EventWaiter:
    __slots__ = ("event",)

    def __init__(self) -> None:
        self.event = trio.Event()

    def wake(self) -> None:
        self.event.set()


class _PeerClosed(Exception):
    """The peer closed its side (or went idle): stop serving it."""


async def serve_connection(
    core: BrokerCore,
    stream: trio.abc.Stream,
    budget: RequestBudget | None = None,
    security: ListenerSecurity | None = None,
) -> None:
    peer = _peer_name(stream)
    client_ip = peer.rsplit(":", 1)[0]
    client_host = "/" + client_ip
    connection = ClientConnection(client_ip, _peer_port(peer))
    reader = FrameReader(core.config.socket_request_max_bytes)
    idle_ms = core.config.connections_max_idle_ms
    idle_s = idle_ms / 1000 if idle_ms >= 0 else math.inf
    session = None if security is None else security.new_session(client_ip)
    listener = "PLAINTEXT" if session is None else session.listener
    observers = core.state.request_observers  # a list that may gain members while connections run
    clock = core.clock
    received = 0.0
    event: RequestEvent | None = None
    try:
        if security is not None and security.ssl_context is not None:
            assert session is not None
            stream = await _tls_handshake(stream, security, session, idle_s, peer)
        while True:
            request_frame = reader.next_frame()
            reservation = None
            try:
                if request_frame is None:
                    size = reader.next_frame_size()
                    while size is None:
                        await _receive(stream, reader, idle_s, peer)
                        size = reader.next_frame_size()
                    _check_unauthenticated_size(session, size)
                    if budget is not None:
                        reservation = await _reserve(budget, size)
                    request_frame = reader.next_frame()
                    while request_frame is None:
                        await _receive(stream, reader, idle_s, peer)
                        request_frame = reader.next_frame()
                    if observers:
                        received = clock.monotonic()
                else:
                    if observers:
                        received = clock.monotonic()
                    _check_unauthenticated_size(session, len(request_frame))
                    if budget is not None:
                        # Arrived whole in one read: count it while it is handled.
                        reservation = await _reserve(budget, len(request_frame))
                event = None
                if observers:
                    event = RequestEvent(listener, peer, received=received, dispatched=clock.monotonic())
                if session is not None and session.raw_tokens:
                    # SASL after SaslHandshake v0: bare tokens, answered with bare tokens.
                    outcome = core.handle_raw_sasl_token(session, request_frame)
                else:
                    outcome = core.handle_frame(request_frame, client_host, session, event, connection)
                del request_frame  # a delayed answer must not keep the frame alive
                if event is not None:
                    event.handled = event.completed = clock.monotonic()
                late_ms = 0
                if isinstance(outcome, Late):  # fault injection: answer this much later
                    outcome, late_ms = outcome.outcome, outcome.delay_ms
                if isinstance(outcome, tuple):
                    delayed, finish = outcome
                    outcome = finish(await wait_for_delayed(core, delayed))
                    if event is not None:
                        event.completed = clock.monotonic()
                if outcome is NO_RESPONSE:
                    if event is not None:
                        _tell(observers, event, clock.monotonic(), answered=False)
                    continue
                if outcome is CLOSE_CONNECTION:
                    log.info("closing connection from %s after a failed acks=0 produce", peer)
                    if event is not None:
                        _tell(observers, event, clock.monotonic(), closed="failed acks=0 produce")
                    return
                if outcome is DROP_CONNECTION:
                    logging.getLogger("kwire.faults").info("fault: closing connection from %s unanswered", peer)
                    if event is not None:
                        _tell(observers, event, clock.monotonic(), closed="injected fault")
                    return
                if late_ms > 0:
                    await trio.sleep(late_ms / 1000)
                await send_buffers(stream, outcome)
                if event is not None:
                    event.response_bytes = sum(map(len, outcome))
                    event.throttle_ms = getattr(outcome, "throttle_ms", 0)
                    _tell(observers, event, clock.monotonic())
                if session is not None and session.close_after_response:
                    # As Kafka: the answer first, the close a little later (a client that reads
                    # both in one go may otherwise lose the answer).
                    log.info("closing connection from %s after a failed authentication", peer)
                    await trio.sleep(core.config.connection_failed_authentication_delay_ms / 1000)
                    return
            finally:
                if reservation is not None and budget is not None:
                    budget.release(reservation)
            mute_ms = getattr(outcome, "throttle_ms", 0)
            if mute_ms > 0:
                # Over a client quota: the answer went out at once and says
                # how long; read nothing from this client until then (KIP-219).
                await trio.sleep(mute_ms / 1000)
    except _PeerClosed:
        pass
    except (FrameError, ProtocolViolation) as exc:
        log.warning("closing connection from %s: %s", peer, exc)
        if event is not None and not event.sent:  # the request that broke the rules
            _tell(observers, event, clock.monotonic(), closed=str(exc))
    except (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionError):
        pass  # the client went away, possibly mid-request: nothing to do
    except _TlsFailed:
        pass
    except Exception:
        log.exception("closing connection from %s after an internal error", peer)
    finally:
        await _close(stream)


class _TlsFailed(Exception):
    """The TLS handshake failed or timed out (logged): close the connection."""


async def _tls_handshake(
    stream: trio.abc.Stream, security: ListenerSecurity, session: Session, idle_s: float, peer: str
) -> trio.SSLStream[trio.abc.Stream]:
    """The connection wrapped in TLS; on an SSL listener the client
    certificate (if any) names the principal."""
    assert security.ssl_context is not None
    tls = trio.SSLStream(stream, security.ssl_context, server_side=True)
    try:
        with trio.fail_after(idle_s if math.isfinite(idle_s) else 600):
            await tls.do_handshake()
    except trio.TooSlowError:
        log.warning("closing connection from %s: no TLS handshake within connections.max.idle.ms", peer)
        await trio.aclose_forcefully(stream)
        raise _TlsFailed from None
    except (trio.BrokenResourceError, ssl.SSLError) as exc:
        reason = exc.__cause__ if exc.__cause__ is not None else exc
        # A peer that hangs up before saying anything (a port probe, a health check) is no news.
        level = logging.DEBUG if isinstance(reason, ssl.SSLEOFError) else logging.WARNING
        log.log(
            level, "closing connection from %s: TLS handshake failed on listener %s: %s", peer, session.listener, reason
        )
        await trio.aclose_forcefully(stream)
        raise _TlsFailed from None
    if not session.uses_sasl:
        from kwire.security.ssl_principal import PrincipalMappingError

        try:
            session.principal = security.principal_of_certificate(tls.getpeercert(binary_form=True))
        except PrincipalMappingError as exc:
            log.warning("closing connection from %s: %s", peer, exc)
            await trio.aclose_forcefully(tls)
            raise _TlsFailed from None
    return tls


def _check_unauthenticated_size(session: Session | None, size: int) -> None:
    """Before authentication a frame may not exceed sasl.server.max.receive.size (as Kafka)."""
    if session is not None and not session.authenticated and session.security is not None:
        limit = session.security.max_receive_size
        if size > limit:
            raise ProtocolViolation(
                f"a {size}-byte frame before authentication (sasl.server.max.receive.size is {limit})"
            )


async def _close(stream: trio.abc.Stream) -> None:
    """Close the connection, never waiting long on a peer that reads nothing (TLS says goodbye first)."""
    with trio.CancelScope(shield=True):
        with trio.move_on_after(1):
            await stream.aclose()
            return
        await trio.aclose_forcefully(stream)


async def _receive(stream: trio.abc.Stream, reader: FrameReader, idle_s: float, peer: str) -> None:
    with trio.move_on_after(idle_s):
        data = await stream.receive_some(RECEIVE_BYTES)
        if not data:
            if reader.pending_bytes:
                log.warning("connection from %s closed mid-request (%d bytes unread)", peer, reader.pending_bytes)
            raise _PeerClosed
        reader.feed(data)
        for more in buffered_plaintext(stream, RECEIVE_BYTES):  # TLS: the records already read
            reader.feed(more)
        return
    log.info("closing connection from %s: idle for %d ms (connections.max.idle.ms)", peer, idle_s * 1000)
    raise _PeerClosed


async def _reserve(budget: RequestBudget, size: int) -> Reservation:
    reservation = budget.reserve(size)
    if not reservation.granted:
        granted = trio.Event()
        reservation.wake = granted.set
        try:
            await granted.wait()
        except BaseException:
            budget.release(reservation)  # cancelled while waiting (or just granted): give it back
            raise
    return reservation


def _tell(
    observers: list[RequestObserver], event: RequestEvent, now: float, *, answered: bool = True, closed: str = ""
) -> None:
    """Hand a finished request to every observer; one that fails is logged, never the connection's problem."""
    event.sent = now
    event.answered = answered and not closed
    event.closed = closed
    for observer in observers:
        try:
            observer(event)
        except Exception:
            log.exception("a request observer failed")


async def wait_for_delayed(core: BrokerCore, delayed: Delayed) -> Any:
    """Park a long-poll until new data arrives for one of its partitions or
    its wait runs out; appends wake it at once."""
    deadline = trio.current_time() + delayed.max_wait_ms / 1000
    waiter = _EventWaiter()
    core.add_waiter(delayed.wait_keys, waiter)
    try:
        while True:
            with trio.move_on_at(deadline):
                await waiter.event.wait()
            if trio.current_time() >= deadline:
                return delayed.complete(True)
            waiter.event = trio.Event()
            response = delayed.complete(False)
            if response is not None:
                return response
    finally:
        core.remove_waiter(delayed.wait_keys, waiter)


def _peer_port(peer: str) -> int | None:
    _host, _sep, port = peer.rpartition(":")
    return int(port) if port.isdigit() else None


def _peer_name(stream: trio.abc.Stream) -> str:
    try:
        assert isinstance(stream, trio.SocketStream)
        host, port, *_ = stream.socket.getpeername()
        return f"{host}:{port}"
    except (OSError, ValueError, AssertionError):
        return "unknown peer"
