"""`kwire users add|list|remove`: users' SCRAM credentials, over
AlterUserScramCredentials and DescribeUserScramCredentials (what
`kafka-configs.sh --entity-type users` does for SCRAM-SHA-256/512).

As Kafka's admin client does, the password never leaves this process: it is
salted here (PBKDF2 with a fresh random salt) and the salted password is
sent; the broker keeps only what a SCRAM server needs.
"""

from __future__ import annotations

import argparse
import secrets
from typing import Any

from kwire.admin import common
from kwire.admin.cluster_client import ClusterClient, ClusterError
from kwire.protocol.api_keys import ApiKey
from kwire.security.credentials import MAX_ITERATIONS, MECHANISM_CODES, MIN_ITERATIONS, salted_password

PROGRAM = "kwire users"
MECHANISMS = tuple(MECHANISM_CODES)  # ("SCRAM-SHA-256", "SCRAM-SHA-512")
DEFAULT_ITERATIONS = 4096  # kafka-configs.sh's default
_NAMES = {code: name for name, code in MECHANISM_CODES.items()}


def register(commands: Any) -> None:
    users = commands.add_parser(
        "users", help="add, list and remove users' SCRAM credentials (as kafka-configs.sh --entity-type users)"
    )
    actions = users.add_subparsers(dest="action", required=True)

    add = actions.add_parser("add", help="set a user's SCRAM credentials (replacing those of the same mechanism)")
    add.add_argument("name", help="the user name")
    add.add_argument("--password", required=True, help="the password (salted here; only the salted form is sent)")
    _mechanism_option(add, "(repeatable; default: both)")
    add.add_argument(
        "--iterations",
        type=int,
        default=DEFAULT_ITERATIONS,
        help=f"PBKDF2 iterations, {MIN_ITERATIONS}..{MAX_ITERATIONS} (default {DEFAULT_ITERATIONS})",
    )
    _bind(add, add_command)

    listing = actions.add_parser("list", help="users with SCRAM credentials: mechanisms and iteration counts")
    listing.add_argument("names", nargs="*", metavar="NAME", help="these users only (default: every user)")
    _bind(listing, list_command)

    remove = actions.add_parser("remove", help="remove a user's SCRAM credentials")
    remove.add_argument("name", help="the user name")
    _mechanism_option(remove, "(repeatable; default: every one the user has)")
    _bind(remove, remove_command)


def _mechanism_option(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--mechanism",
        action="append",
        choices=MECHANISMS,
        metavar="MECHANISM",
        help=f"{' or '.join(MECHANISMS)} {default}",
    )


def _bind(parser: argparse.ArgumentParser, command: common.Command) -> None:
    common.add_connection_options(parser)
    parser.set_defaults(admin=lambda args: common.run(PROGRAM, command, args))


# --- what other commands share (`kwire configs --entity-type users`) ---------------


def new_salt() -> bytes:
    """A random salt in the form Kafka's admin client makes one: 130 random
    bits written in base 36 (ASCII letters and digits)."""
    value, digits = secrets.randbits(130), ""
    while value:
        value, digit = divmod(value, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[digit] + digits
    return (digits or "0").encode()


def check_iterations(iterations: int) -> None:
    # Checked before salting: a huge count would keep PBKDF2 busy for ever, and the broker refuses it anyway.
    if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise ClusterError(f"--iterations {iterations}: SCRAM takes {MIN_ITERATIONS}..{MAX_ITERATIONS} iterations")


def set_credential(cluster: ClusterClient, user: str, mechanism: str, password: str, iterations: int) -> None:
    """Salt `password` here and store the result as the user's `mechanism` credential."""
    check_iterations(iterations)
    salt = new_salt()
    salted = salted_password(mechanism, password, salt, iterations)
    upsertion = dict(
        name=user, mechanism=MECHANISM_CODES[mechanism], iterations=iterations, salt=salt, salted_password=salted
    )
    _alter(cluster, f"cannot set {mechanism} credentials of user {user}", [], [upsertion])


def delete_credential(cluster: ClusterClient, user: str, mechanism: str) -> None:
    deletion = dict(name=user, mechanism=MECHANISM_CODES[mechanism])
    _alter(cluster, f"cannot remove {mechanism} credentials of user {user}", [deletion], [])


def _alter(
    cluster: ClusterClient, what: str, deletions: list[dict[str, Any]], upsertions: list[dict[str, Any]]
) -> None:
    # One user and mechanism a request: Kafka refuses a user named twice in one.
    _version, answer = cluster.any().call(
        ApiKey.ALTER_USER_SCRAM_CREDENTIALS, dict(deletions=deletions, upsertions=upsertions), 0
    )
    for result in answer.results:
        common.check(result.error_code, result.error_message, what)


def describe_credentials(cluster: ClusterClient, users: list[str] | None) -> dict[str, dict[str, int]]:
    """Each user's credentials, {mechanism name: iterations} (users None: every user);
    ClusterError if a user named has none."""
    wanted = None if not users else [dict(name=user) for user in users]
    _version, answer = cluster.any().call(ApiKey.DESCRIBE_USER_SCRAM_CREDENTIALS, dict(users=wanted), 0)
    common.check(answer.error_code, answer.error_message, "cannot describe SCRAM credentials")
    found: dict[str, dict[str, int]] = {}
    for result in answer.results:
        common.check(
            result.error_code, result.error_message, f"cannot describe SCRAM credentials of user {result.user}"
        )
        found[result.user] = {
            _NAMES.get(info.mechanism, str(info.mechanism)): info.iterations for info in result.credential_infos
        }
    return dict(sorted(found.items()))


# --- the commands --------------------------------------------------------------------


def add_command(cluster: ClusterClient, args: argparse.Namespace) -> None:
    mechanisms = list(dict.fromkeys(args.mechanism or MECHANISMS))
    check_iterations(args.iterations)
    for mechanism in mechanisms:
        set_credential(cluster, args.name, mechanism, args.password, args.iterations)
    done = f"Set {' and '.join(mechanisms)} credentials of user {args.name} ({args.iterations} iterations)."
    common.emit(args, lambda: done, dict(user=args.name, mechanisms=mechanisms, iterations=args.iterations))


def list_command(cluster: ClusterClient, args: argparse.Namespace) -> None:
    found = describe_credentials(cluster, args.names)
    rows = [[user, mechanism, iterations] for user, each in found.items() for mechanism, iterations in each.items()]

    def text() -> str:
        return common.table(["USER", "MECHANISM", "ITERATIONS"], rows) if rows else "No users have SCRAM credentials."

    data = [
        dict(user=user, credentials=[dict(mechanism=m, iterations=i) for m, i in each.items()])
        for user, each in found.items()
    ]
    common.emit(args, text, data)


def remove_command(cluster: ClusterClient, args: argparse.Namespace) -> None:
    mechanisms = list(dict.fromkeys(args.mechanism or describe_credentials(cluster, [args.name]).get(args.name, {})))
    for mechanism in mechanisms:
        delete_credential(cluster, args.name, mechanism)
    done = f"Removed {' and '.join(mechanisms)} credentials of user {args.name}."
    common.emit(args, lambda: done, dict(user=args.name, mechanisms=mechanisms))
