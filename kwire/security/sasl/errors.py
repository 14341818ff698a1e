"""The one exception a SASL mechanism raises."""

from __future__ import annotations


class AuthenticationFailed(Exception):
    """The exchange failed. str(error) is the message for the client (Kafka's
    wording, which never says whether a user exists); `detail` says why, for
    the broker's log only."""

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail if detail is not None else message


def invalid_credentials(mechanism: str, detail: str) -> AuthenticationFailed:
    """Kafka's answer when it must not say what was wrong (a SaslException in
    its SaslServerAuthenticator): the same text for an unknown user, a wrong
    password and a malformed message."""
    message = f"Authentication failed during authentication due to invalid credentials with SASL mechanism {mechanism}"
    return AuthenticationFailed(message, detail)
