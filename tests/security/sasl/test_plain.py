import pytest

from kwire.security.sasl import AuthenticationFailed, new_server
from tests.security.sasl.helpers import settings


def test_valid_user_password_authenticates():
    server = new_server("PLAIN", settings())
    assert server.respond(b"\0alice\0alice-secret") == b""
    assert server.complete
    assert server.principal == "User:alice"
    assert server.session_lifetime_ms is None


def test_authorization_id_equal_to_user_is_accepted():
    server = new_server("PLAIN", settings())
    server.respond("jörg\0jörg\0joerg-secret".encode())
    assert server.principal == "User:jörg"


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (b"\0alice\0wrong", "Authentication failed: Invalid username or password"),
        (b"\0mallory\0alice-secret", "Authentication failed: Invalid username or password"),
        (b"\0alice\0alice-secre", "Authentication failed: Invalid username or password"),
        (b"\0\0alice-secret", "Authentication failed: username not specified"),
        (b"\0alice\0", "Authentication failed: password not specified"),
        (b"alice\0alice-secret", "Invalid SASL/PLAIN response: expected 3 tokens, got 2"),
        (b"alice-secret", "Invalid SASL/PLAIN response: expected 3 tokens, got 1"),
        (b"\0alice\0alice-secret\0x\0y", "Invalid SASL/PLAIN response: expected 3 tokens, got 4"),
        (
            b"admin\0alice\0alice-secret",
            "Authentication failed: Client requested an authorization id that is different from username",
        ),
        (b"\0alice\0alice-secret\xff", "Authentication failed: Invalid username or password"),
    ],
)
def test_failures_carry_kafkas_messages(message, error):
    server = new_server("PLAIN", settings())
    with pytest.raises(AuthenticationFailed) as failure:
        server.respond(message)
    assert str(failure.value) == error
    assert not server.complete


def test_unknown_user_and_wrong_password_read_the_same():
    answers = []
    for message in (b"\0alice\0nope", b"\0nobody\0nope"):
        with pytest.raises(AuthenticationFailed) as failure:
            new_server("PLAIN", settings()).respond(message)
        answers.append(str(failure.value))
    assert answers[0] == answers[1]


def test_no_step_after_success_or_failure():
    done = new_server("PLAIN", settings())
    done.respond(b"\0alice\0alice-secret")
    with pytest.raises(AuthenticationFailed):
        done.respond(b"\0alice\0alice-secret")
    failed = new_server("PLAIN", settings())
    with pytest.raises(AuthenticationFailed):
        failed.respond(b"\0alice\0wrong")
    with pytest.raises(AuthenticationFailed):
        failed.respond(b"\0alice\0alice-secret")
    assert not failed.complete
