"""SaslHandshake / SaslAuthenticate through the core, as a SASL listener's
connection drives them (kwire/handlers/sasl.py, the dispatcher's gate)."""

import struct

import pytest

from kwire.clock import ManualClock
from kwire.config import BrokerConfig
from kwire.core import BrokerCore, ProtocolViolation
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode
from kwire.security import ANONYMOUS, listener_security
from kwire.security.credentials import ScramCredential
from kwire.security.session import Session
from tests.wire import decode_response, request_frame

JAAS = (
    'org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret" user_bob="bob-secret";'
)


CAROL = ScramCredential.from_password("SCRAM-SHA-256", "carol-secret", b"salt", 4096)


def sasl_core(clock=None, **overrides) -> tuple[BrokerCore, dict]:
    config = BrokerConfig(port=0, data_dir=None, sasl_jaas_config=JAAS, **overrides)
    config.listener_specs = (("SASL_PLAINTEXT", "SASL_PLAINTEXT", "127.0.0.1", 0),)
    core = BrokerCore(config, clock or ManualClock())

    def scram_lookup(user, mechanism):
        return CAROL if (user, mechanism) == ("carol", "SCRAM-SHA-256") else None

    prepared = listener_security.prepare(config, scram_lookup, core.state.clock.wall_ms)
    return core, prepared


def new_session(prepared) -> Session:
    return prepared["SASL_PLAINTEXT"].new_session("127.0.0.1")


def call(core: BrokerCore, session: Session, api_key: int, version: int, values: dict):
    outcome = core.handle_frame(request_frame(api_key, version, values)[4:], "/127.0.0.1", session)
    payload = b"".join(bytes(part) for part in outcome)
    return decode_response(api_key, version, payload[4:])[1]


def handshake(core, session, mechanism="PLAIN", version=1):
    return call(core, session, ApiKey.SASL_HANDSHAKE, version, {"mechanism": mechanism})


def authenticate(core, session, token: bytes, version=2):
    return call(core, session, ApiKey.SASL_AUTHENTICATE, version, {"auth_bytes": token})


def metadata(core, session):
    return call(
        core,
        session,
        ApiKey.METADATA,
        12,
        {"topics": [], "allow_auto_topic_creation": False, "include_topic_authorized_operations": False},
    )


def test_nothing_but_api_versions_and_the_handshake_before_authentication():
    core, prepared = sasl_core()
    session = new_session(prepared)
    assert not session.authenticated and session.principal == ANONYMOUS
    versions = call(
        core, session, ApiKey.API_VERSIONS, 3, {"client_software_name": "t", "client_software_version": "1"}
    )
    assert versions.error_code == ErrorCode.none
    with pytest.raises(ProtocolViolation, match="METADATA request before SASL authentication"):
        metadata(core, session)
    with pytest.raises(ProtocolViolation, match="before SASL authentication"):
        authenticate(core, session, b"\0alice\0alice-secret")  # no handshake yet: not even this


def test_plain_authenticates_and_then_requests_are_served():
    core, prepared = sasl_core()
    session = new_session(prepared)
    answer = handshake(core, session)
    assert answer.error_code == ErrorCode.none and "PLAIN" in answer.mechanisms
    with pytest.raises(ProtocolViolation, match="during the SASL exchange"):
        metadata(core, session)  # after the handshake, only SaslAuthenticate
    done = authenticate(core, session, b"\0alice\0alice-secret")
    assert done.error_code == ErrorCode.none and done.session_lifetime.total_seconds() == 0
    assert session.authenticated and session.principal == "User:alice" and session.expires_at is None
    assert metadata(core, session).brokers


def test_a_wrong_password_is_answered_then_the_connection_closes():
    core, prepared = sasl_core()
    session = new_session(prepared)
    handshake(core, session)
    failed = authenticate(core, session, b"\0alice\0wrong")
    assert failed.error_code == ErrorCode.sasl_authentication_failed
    assert "Invalid username or password" in failed.error_message
    assert session.close_after_response and not session.authenticated


def test_an_unoffered_mechanism_is_answered_with_the_offered_ones_then_closed():
    core, prepared = sasl_core(sasl_enabled_mechanisms="PLAIN")
    session = new_session(prepared)
    answer = handshake(core, session, "SCRAM-SHA-256")
    assert answer.error_code == ErrorCode.unsupported_sasl_mechanism and answer.mechanisms == ("PLAIN",)
    assert session.close_after_response


def test_handshake_v0_takes_bare_tokens_and_answers_with_bare_tokens():
    core, prepared = sasl_core()
    session = new_session(prepared)
    assert handshake(core, session, version=0).error_code == ErrorCode.none
    assert session.raw_tokens
    reply = b"".join(bytes(part) for part in core.handle_raw_sasl_token(session, b"\0bob\0bob-secret"))
    assert reply == struct.pack(">i", 0)  # PLAIN's empty reply, size-prefixed
    assert session.authenticated and session.principal == "User:bob" and not session.raw_tokens
    assert metadata(core, session).brokers


def test_a_bare_token_that_fails_closes_the_connection():
    core, prepared = sasl_core()
    session = new_session(prepared)
    handshake(core, session, version=0)
    with pytest.raises(ProtocolViolation, match="SASL authentication failed"):
        core.handle_raw_sasl_token(session, b"\0bob\0nope")


def test_sessions_expire_after_connections_max_reauth_ms_and_reauthentication_renews_them():
    clock = ManualClock()
    core, prepared = sasl_core(clock, connections_max_reauth_ms=3000)
    session = new_session(prepared)
    handshake(core, session)
    done = authenticate(core, session, b"\0alice\0alice-secret")
    assert done.session_lifetime.total_seconds() == 3
    clock.advance(2.9)
    assert metadata(core, session).brokers
    clock.advance(0.2)
    with pytest.raises(ProtocolViolation, match="expired"):
        metadata(core, session)
    # KIP-368: a new exchange on the same connection, same mechanism and principal.
    assert handshake(core, session).error_code == ErrorCode.none
    assert authenticate(core, session, b"\0alice\0alice-secret").error_code == ErrorCode.none
    assert metadata(core, session).brokers


def test_reauthentication_may_change_neither_principal_nor_mechanism():
    core, prepared = sasl_core(connections_max_reauth_ms=3000)
    session = new_session(prepared)
    handshake(core, session)
    authenticate(core, session, b"\0alice\0alice-secret")
    handshake(core, session)
    changed = authenticate(core, session, b"\0bob\0bob-secret")
    assert changed.error_code == ErrorCode.sasl_authentication_failed
    assert "Cannot change principals" in changed.error_message and session.close_after_response

    core, prepared = sasl_core(connections_max_reauth_ms=3000)
    session = new_session(prepared)
    handshake(core, session)
    authenticate(core, session, b"\0alice\0alice-secret")
    # As Kafka: the handshake for another mechanism is answered, the exchange after it refused unanswered.
    assert handshake(core, session, "SCRAM-SHA-256").error_code == ErrorCode.none
    with pytest.raises(ProtocolViolation, match="not supported for re-authentication of mechanism 'PLAIN'"):
        authenticate(core, session, b"n,,n=alice,r=abc")


@pytest.mark.parametrize(
    "max_reauth_ms, credential_ms, lifetime_ms",
    [
        (0, None, None),  # nothing bounds the session
        (3000, None, 3000),
        (0, 5000, 5000),  # a token's expiry ends the session even without connections.max.reauth.ms
        (3000, 5000, 3000),
        (3000, 1000, 1000),
        (0, -5, 0),
    ],
)
def test_the_session_lifetime_is_the_least_bound_as_kafka_computes_it(max_reauth_ms, credential_ms, lifetime_ms):
    from kwire.handlers.sasl import _session_lifetime_ms

    assert _session_lifetime_ms(max_reauth_ms, credential_ms) == lifetime_ms


def test_on_a_plaintext_listener_both_apis_answer_illegal_sasl_state():
    core, _prepared = sasl_core()
    session = Session.for_listener("PLAINTEXT", "PLAINTEXT", "127.0.0.1")
    assert handshake(core, session).error_code == ErrorCode.illegal_sasl_state
    assert authenticate(core, session, b"\0a\0b").error_code == ErrorCode.illegal_sasl_state
    assert not session.close_after_response


# --- mutated SASL frames, in every state of the exchange ----------------------------------------------------------

SCRAM_FIRST = b"n,,n=alice,r=fyko+d2lbbFgONRv9qkxdawL"


def exchange_frames() -> list[bytes]:
    """Valid frames of every SASL message kind and version (without size prefix)."""
    frames = []
    for version in (0, 1):
        for mechanism in ("PLAIN", "SCRAM-SHA-256", "OAUTHBEARER", "GSSAPI"):
            frames.append(request_frame(ApiKey.SASL_HANDSHAKE, version, {"mechanism": mechanism})[4:])
    for version in (0, 1, 2):
        for token in (b"\0alice\0alice-secret", SCRAM_FIRST, b"n,,\x01auth=Bearer x.y.z\x01\x01", b""):
            frames.append(request_frame(ApiKey.SASL_AUTHENTICATE, version, {"auth_bytes": token})[4:])
    return frames


def drive(core: BrokerCore, session: Session, frame: bytes) -> None:
    """One frame as the connection would handle it: an answer, or ProtocolViolation (the connection closes)."""
    try:
        if session.raw_tokens:
            outcome = core.handle_raw_sasl_token(session, frame)
        else:
            outcome = core.handle_frame(frame, "/127.0.0.1", session)
    except ProtocolViolation:
        return
    payload = b"".join(bytes(part) for part in outcome)
    assert struct.unpack_from(">i", payload)[0] == len(payload) - 4


def test_mutated_sasl_frames_in_every_state_get_an_answer_or_a_closed_connection():
    import random

    from tests.frame_mutations import Mutator, frame_length_fields

    rng = random.Random(1404)
    mutator = Mutator(rng, {ApiKey.SASL_HANDSHAKE: [0, 1], ApiKey.SASL_AUTHENTICATE: [0, 1, 2]})
    frames = exchange_frames()
    core, prepared = sasl_core(connections_max_reauth_ms=1000)
    for _round in range(1500):
        session = new_session(prepared)
        # Bring the session to a random state: fresh, mid-exchange (v0 or v1), authenticated.
        state = rng.randrange(4)
        if state >= 1:
            handshake(core, session, "PLAIN", version=0 if state == 1 else 1)
        if state == 3:
            authenticate(core, session, b"\0alice\0alice-secret")
        valid = rng.choice(frames)
        mutated = mutator.mutate(valid, frame_length_fields(valid))
        drive(core, session, mutated)
    assert metadata(core, authenticated_session(prepared, core)).brokers  # the core still serves


def authenticated_session(prepared, core) -> Session:
    session = new_session(prepared)
    handshake(core, session)
    authenticate(core, session, b"\0alice\0alice-secret")
    return session


def scram_login(core, session, password: str):
    """kafka-python's SCRAM client through SaslHandshake / SaslAuthenticate; the last answer."""
    from kafka.net.sasl.scram import ScramClient

    client = ScramClient("carol", password, "SCRAM-SHA-256")
    assert handshake(core, session, "SCRAM-SHA-256").error_code == ErrorCode.none
    first = authenticate(core, session, client.first_message())
    client.process_server_first_message(first.auth_bytes)
    return authenticate(core, session, client.final_message())


def test_scram_logs_in_and_a_failed_reauthentication_says_so():
    core, prepared = sasl_core(connections_max_reauth_ms=3000)
    session = new_session(prepared)
    assert scram_login(core, session, "carol-secret").error_code == ErrorCode.none
    assert session.principal == "User:carol"
    failed = scram_login(core, session, "wrong")
    assert failed.error_code == ErrorCode.sasl_authentication_failed
    assert failed.error_message == (
        "Authentication failed during re-authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256"
    )
    assert session.close_after_response
