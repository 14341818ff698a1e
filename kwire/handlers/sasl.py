"""SaslHandshake and SaslAuthenticate: a SASL listener's client says which
mechanism it will use, then exchanges that mechanism's messages until the
broker knows its principal (kwire/security/sasl/ holds the mechanisms).

The exchange lives in the connection's Session. A failed authentication is
answered with SASL_AUTHENTICATION_FAILED and its reason, then the connection
closes, as Kafka does. Re-authentication (KIP-368) is the same exchange on an
authenticated connection; it must keep the principal, and a handshake for
another mechanism is answered but the SaslAuthenticate after it closes the
connection unanswered (Kafka's REAUTH_BAD_MECHANISM). The answer's
session_lifetime_ms is the least of connections.max.reauth.ms (when
positive) and the credential's own lifetime (an OAUTHBEARER token's
expiry), the session ending then; 0 when neither applies (it never
expires). On a PLAINTEXT or SSL listener both APIs answer
ILLEGAL_SASL_STATE, as Kafka's do.
"""

from __future__ import annotations

import logging
from typing import Any

from kwire.handlers.base import RequestContext, respond
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode
from kwire.protocol.framing import frame
from kwire.protocol.registry import api
from kwire.security.session import Session

log = logging.getLogger("kwire.authentication")


@api(ApiKey.SASL_HANDSHAKE, 0, 1)
def handle_sasl_handshake(ctx: RequestContext, request: Any) -> Any:
    session = ctx.session
    if session is None or not session.uses_sasl or session.security is None:
        return respond(ctx, dict(error_code=ErrorCode.illegal_sasl_state, mechanisms=[]))
    mechanisms = list(session.security.mechanisms)
    mechanism = request.mechanism
    if session.sasl_server is not None:  # a second handshake before the exchange ended
        session.close_after_response = True
        return respond(ctx, dict(error_code=ErrorCode.illegal_sasl_state, mechanisms=mechanisms))
    if mechanism not in mechanisms:
        log.info(
            "Client %s asked for SASL mechanism %r on listener %s, which offers %s: closing the connection",
            session.client_ip,
            mechanism,
            session.listener,
            ",".join(mechanisms),
        )
        session.close_after_response = True
        ctx.note_error(ErrorCode.unsupported_sasl_mechanism, reason=f"mechanism {mechanism!r} is not enabled")
        return respond(ctx, dict(error_code=ErrorCode.unsupported_sasl_mechanism, mechanisms=mechanisms))
    if session.authenticated and mechanism != session.mechanism:
        # As Kafka: the handshake is answered, the exchange that follows is refused.
        session.sasl_server = _ChangedMechanism(mechanism, session.mechanism or "")
        return respond(ctx, dict(error_code=ErrorCode.none, mechanisms=mechanisms))
    from kwire.security.sasl import new_server

    session.sasl_server = new_server(mechanism, session.security.sasl_settings)
    session.mechanism = mechanism
    session.raw_tokens = ctx.api_version == 0  # v0: the tokens follow as bare frames
    return respond(ctx, dict(error_code=ErrorCode.none, mechanisms=mechanisms))


@api(ApiKey.SASL_AUTHENTICATE, 0, 2)
def handle_sasl_authenticate(ctx: RequestContext, request: Any) -> Any:
    session = ctx.session
    if session is None or not session.uses_sasl or session.sasl_server is None:
        if session is not None and session.uses_sasl:
            session.close_after_response = True
        return _answer(ctx, ErrorCode.illegal_sasl_state, "SaslAuthenticate without a SaslHandshake before it")
    if isinstance(session.sasl_server, _ChangedMechanism):
        from kwire.core import ProtocolViolation

        log.info("Re-authentication of %s refused: %s", session.principal, session.sasl_server.reason)
        raise ProtocolViolation(session.sasl_server.reason)
    from kwire.security.sasl import AuthenticationFailed

    try:
        reply, lifetime_ms = _step(ctx, session, bytes(request.auth_bytes))
    except AuthenticationFailed as failure:
        session.close_after_response = True
        return _answer(ctx, ErrorCode.sasl_authentication_failed, str(failure))
    return _answer(ctx, ErrorCode.none, None, reply, lifetime_ms)


class _ChangedMechanism:
    """A re-authentication's handshake named another mechanism than the
    session's: its SaslAuthenticate closes the connection unanswered."""

    def __init__(self, asked: str, previous: str) -> None:
        self.reason = (
            f"SASL mechanism '{asked}' requested by client is not supported for re-authentication "
            f"of mechanism '{previous}'"
        )


def raw_token(ctx: RequestContext, session: Session, token: bytes) -> list[Any]:
    """One bare token after SaslHandshake v0, answered with a bare token
    (size-prefixed); a failure closes the connection (v0 has no error field)."""
    from kwire.security.sasl import AuthenticationFailed

    try:
        reply, _lifetime_ms = _step(ctx, session, token)
    except AuthenticationFailed as failure:
        from kwire.core import ProtocolViolation

        raise ProtocolViolation(f"SASL authentication failed: {failure}") from None
    if session.sasl_server is None:
        session.raw_tokens = False  # authenticated: Kafka requests from here on
    return frame([reply])


def _step(ctx: RequestContext, session: Session, token: bytes) -> tuple[bytes, int]:
    """Feed one client message to the mechanism; on completion the session
    takes the principal (and its lifetime). Raises AuthenticationFailed."""
    from kwire.security.sasl import AuthenticationFailed

    server = session.sasl_server
    try:
        reply = server.respond(token)
    except AuthenticationFailed as failure:
        session.sasl_server = None
        message = str(failure)
        if session.authenticated:  # Kafka's words for a failed re-authentication
            message = message.replace("during authentication", "during re-authentication")
        log.info(
            "Failed authentication with %s (%s) on listener %s using %s",
            session.client_ip,
            failure.detail,
            session.listener,
            session.mechanism,
        )
        raise AuthenticationFailed(message, failure.detail) from None
    if not server.complete:
        return reply, 0
    session.sasl_server = None
    principal = server.principal
    if session.authenticated and principal != session.principal:
        log.info(
            "Re-authentication on listener %s tried to change %s into %s",
            session.listener,
            session.principal,
            principal,
        )
        raise AuthenticationFailed(
            f"Cannot change principals during re-authentication from {session.principal}: {principal}"
        )
    session.principal = principal
    session.authenticated = True
    lifetime_ms = _session_lifetime_ms(ctx.state.config.connections_max_reauth_ms, server.session_lifetime_ms)
    session.expires_at = None if lifetime_ms is None else ctx.state.clock.monotonic() + lifetime_ms / 1000
    log.debug("%s authenticated with %s on listener %s", principal, session.mechanism, session.listener)
    return reply, lifetime_ms or 0  # 0 on the wire: no lifetime


def _session_lifetime_ms(max_reauth_ms: int, credential_ms: int | None) -> int | None:
    """As Kafka: the least of connections.max.reauth.ms (when positive) and
    the credential's remaining lifetime (an OAUTHBEARER token's); None when
    neither bounds the session."""
    bounds = [bound for bound in (max_reauth_ms if max_reauth_ms > 0 else None, credential_ms) if bound is not None]
    return max(0, min(bounds)) if bounds else None


def _answer(
    ctx: RequestContext, error: ErrorCode, message: str | None, reply: bytes = b"", lifetime_ms: int = 0
) -> Any:
    ctx.note_error(error, reason=message or "")
    return respond(ctx, dict(error_code=error, error_message=message, auth_bytes=reply, session_lifetime=lifetime_ms))
