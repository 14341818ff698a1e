"""Settings and credentials for the SASL mechanism tests."""

from __future__ import annotations

from kwire.security.credentials import ScramCredential
from kwire.security.sasl import SaslSettings
from kwire.security.sasl.oauthbearer import OAuthSettings

NOW_MS = 1_800_000_000_000
SALT = b"salt-for-tests-16"
PASSWORDS = {"alice": "alice-secret", "b,o=b": "bob-secret", "jörg": "joerg-secret"}


def credentials(iterations: int = 4096) -> dict[tuple[str, str], ScramCredential]:
    return {
        (user, mechanism): ScramCredential.from_password(mechanism, password, SALT, iterations)
        for user, password in PASSWORDS.items()
        for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512")
    }


def settings(
    oauth: OAuthSettings | None = None,
    store: dict[tuple[str, str], ScramCredential] | None = None,
    now_ms: int = NOW_MS,
) -> SaslSettings:
    found = credentials() if store is None else store
    return SaslSettings(
        plain_users=dict(PASSWORDS),
        scram_lookup=lambda user, mechanism: found.get((user, mechanism)),
        wall_clock_ms=lambda: now_ms,
        oauth=oauth or OAuthSettings(),
    )
