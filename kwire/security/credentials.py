"""SCRAM credentials as a server keeps them (RFC 5802 section 3): the salt,
the iteration count, StoredKey and ServerKey; never the password."""

from __future__ import annotations

import hashlib
import hmac

import attrs

# Kafka's SCRAM mechanisms: their hash and the least iteration count Kafka accepts.
SCRAM_HASHES = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}
MIN_ITERATIONS = 4096
MAX_ITERATIONS = 16384  # Kafka refuses more (AlterUserScramCredentials)
# The wire codes of AlterUserScramCredentials / DescribeUserScramCredentials.
MECHANISM_CODES = {"SCRAM-SHA-256": 1, "SCRAM-SHA-512": 2}


@attrs.frozen
class ScramCredential:
    mechanism: str  # "SCRAM-SHA-256" or "SCRAM-SHA-512"
    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes

    @classmethod
    def from_salted_password(
        cls, mechanism: str, salt: bytes, salted_password: bytes, iterations: int
    ) -> ScramCredential:
        """What AlterUserScramCredentials carries (the client salts the password) made into the stored form."""
        name = SCRAM_HASHES[mechanism]
        client_key = hmac.digest(salted_password, b"Client Key", name)
        stored_key = hashlib.new(name, client_key).digest()
        server_key = hmac.digest(salted_password, b"Server Key", name)
        return cls(mechanism, salt, iterations, stored_key, server_key)

    @classmethod
    def from_password(cls, mechanism: str, password: str, salt: bytes, iterations: int) -> ScramCredential:
        return cls.from_salted_password(
            mechanism, salt, salted_password(mechanism, password, salt, iterations), iterations
        )


def salted_password(mechanism: str, password: str, salt: bytes, iterations: int) -> bytes:
    """RFC 5802's SaltedPassword: what clients compute and AlterUserScramCredentials carries."""
    return hashlib.pbkdf2_hmac(SCRAM_HASHES[mechanism], password.encode(), salt, iterations)
