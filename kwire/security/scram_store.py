"""The SCRAM credentials of every user (salt, iterations, StoredKey and
ServerKey by user and mechanism, never a password), with the checks of
Kafka's ScramControlManager for AlterUserScramCredentials and of its
ScramImage for DescribeUserScramCredentials.

Changes are written to the metadata log through a callback (a node of a
cluster hands them to the controller, whose change comes back to every node
through `reload`); the SASL layer asks `lookup` on every SCRAM login.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import attrs

from kwire.protocol.errors import ErrorCode
from kwire.security.credentials import MAX_ITERATIONS, MECHANISM_CODES, MIN_ITERATIONS, ScramCredential

# (user name, mechanism name): how credentials are keyed.
CredentialKey = tuple[str, str]
MECHANISM_NAMES = {code: name for name, code in MECHANISM_CODES.items()}
_ALTERED_TWICE = "A user credential cannot be altered twice in the same request"
_DESCRIBED_TWICE = "Cannot describe SCRAM credentials for the same user twice in a single request: "
_NOT_FOUND = "Attempt to describe a user credential that does not exist: "


@attrs.frozen
class Deletion:
    user: str
    mechanism: int  # the wire code (1: SCRAM-SHA-256, 2: SCRAM-SHA-512, anything else unknown)


@attrs.frozen
class Upsertion:
    user: str
    mechanism: int
    iterations: int
    salt: bytes = attrs.field(repr=False)
    salted_password: bytes = attrs.field(repr=False)


@attrs.frozen
class UserResult:
    """One user's answer: its error (none: ok) and, for Describe, (mechanism code, iterations) pairs."""

    user: str
    error_code: ErrorCode = ErrorCode.none
    error_message: str | None = None
    credentials: tuple[tuple[int, int], ...] = ()


class ScramCredentials:
    def __init__(
        self,
        stored: Mapping[CredentialKey, ScramCredential],
        write: Callable[[dict[CredentialKey, ScramCredential | None]], None],
    ) -> None:
        self._write = write  # MetadataLog / Controller.write_scram_credentials
        self._credentials: dict[CredentialKey, ScramCredential] = dict(stored)

    def lookup(self, username: str, mechanism: str) -> ScramCredential | None:
        """The user's credential for "SCRAM-SHA-256" or "SCRAM-SHA-512" (None: no such user or mechanism)."""
        return self._credentials.get((username, mechanism))

    def users(self) -> list[str]:
        return sorted({user for user, _mechanism in self._credentials})

    def reload(self, stored: Mapping[CredentialKey, ScramCredential]) -> None:
        """Every credential as the controller's metadata now has them."""
        self._credentials = dict(stored)

    # --- DescribeUserScramCredentials -------------------------------------------

    def describe(self, users: Iterable[str] | None) -> list[UserResult]:
        """Each named user (None or none named: every user) once: its
        mechanisms and iteration counts, or why not."""
        wanted: dict[str, bool] = {}  # user -> named more than once
        for user in users or ():
            wanted[user] = user in wanted
        if not wanted:
            wanted = dict.fromkeys(self.users(), False)
        results = []
        for user, twice in wanted.items():
            if twice:
                results.append(UserResult(user, ErrorCode.duplicate_resource, _DESCRIBED_TWICE + user))
                continue
            found = tuple(
                (code, credential.iterations)
                for name, code in MECHANISM_CODES.items()
                if (credential := self._credentials.get((user, name))) is not None
            )
            if found:
                results.append(UserResult(user, credentials=found))
            else:
                results.append(UserResult(user, ErrorCode.resource_not_found, _NOT_FOUND + user))
        return results

    # --- AlterUserScramCredentials -------------------------------------------------

    def alter(self, deletions: Iterable[Deletion], upsertions: Iterable[Upsertion]) -> list[UserResult]:
        """Apply what passes, in one write, and answer each user once. As
        Kafka's controller does: a user may be named once per request
        (deletions and upsertions together, whatever the mechanism); the
        first error found for a user is its answer."""
        errors: dict[str, UserResult] = {}
        deleting: dict[str, Deletion] = {}
        upserting: dict[str, Upsertion] = {}
        for deletion in deletions:
            if deletion.user in errors:
                continue
            if deleting.pop(deletion.user, None) is not None:
                errors[deletion.user] = UserResult(deletion.user, ErrorCode.duplicate_resource, _ALTERED_TWICE)
                continue
            refusal = self._check_deletion(deletion)
            if refusal is None:
                deleting[deletion.user] = deletion
            else:
                errors[deletion.user] = refusal
        for upsertion in upsertions:
            if upsertion.user in errors:
                continue
            if deleting.pop(upsertion.user, None) is not None or upserting.pop(upsertion.user, None) is not None:
                errors[upsertion.user] = UserResult(upsertion.user, ErrorCode.duplicate_resource, _ALTERED_TWICE)
                continue
            refusal = _check_upsertion(upsertion)
            if refusal is None:
                upserting[upsertion.user] = upsertion
            else:
                errors[upsertion.user] = refusal
        changes: dict[CredentialKey, ScramCredential | None] = {
            (d.user, MECHANISM_NAMES[d.mechanism]): None for d in deleting.values()
        }
        for u in upserting.values():
            name = MECHANISM_NAMES[u.mechanism]
            changes[(u.user, name)] = ScramCredential.from_salted_password(
                name, u.salt, u.salted_password, u.iterations
            )
        if changes:
            self._write(changes)  # one batch: the request applies whole, as Kafka's atomic controller result
            for key, credential in changes.items():
                if credential is None:
                    self._credentials.pop(key, None)
                else:
                    self._credentials[key] = credential
        done = [UserResult(user) for user in [*deleting, *upserting]]
        return done + list(errors.values())

    def _check_deletion(self, deletion: Deletion) -> UserResult | None:
        refusal = _check_user_and_mechanism(deletion.user, deletion.mechanism)
        if refusal is None and (deletion.user, MECHANISM_NAMES[deletion.mechanism]) not in self._credentials:
            return UserResult(
                deletion.user, ErrorCode.resource_not_found, "Attempt to delete a user credential that does not exist"
            )
        return refusal


def _check_user_and_mechanism(user: str, mechanism: int) -> UserResult | None:
    if not user:
        return UserResult(user, ErrorCode.unacceptable_credential, "Username must not be empty")
    if mechanism not in MECHANISM_NAMES:
        return UserResult(user, ErrorCode.unsupported_sasl_mechanism, "Unknown SCRAM mechanism")
    return None


def _check_upsertion(upsertion: Upsertion) -> UserResult | None:
    refusal = _check_user_and_mechanism(upsertion.user, upsertion.mechanism)
    if refusal is not None:
        return refusal
    if upsertion.iterations < MIN_ITERATIONS:
        return UserResult(upsertion.user, ErrorCode.unacceptable_credential, "Too few iterations")
    if upsertion.iterations > MAX_ITERATIONS:
        return UserResult(upsertion.user, ErrorCode.unacceptable_credential, "Too many iterations")
    if not upsertion.salted_password:
        # Kafka's controller fails on an empty HMAC key (an unknown server
        # error); nobody could log in with it, so it is refused as unacceptable.
        return UserResult(upsertion.user, ErrorCode.unacceptable_credential, "The salted password must not be empty")
    return None
