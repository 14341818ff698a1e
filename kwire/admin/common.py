"""What every admin command shares: the connection options spelled as
Kafka's tools spell them, one aligned-table formatter, `--output json`,
progress on a terminal, and failures reported as one line with exit 1."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from kwire.admin.cluster_client import ClusterClient, ClusterError, read_command_config
from kwire.protocol.errors import ErrorCode

BOOTSTRAP_ENV = "KWIRE_BOOTSTRAP_SERVER"
COMMAND_CONFIG_ENV = "KWIRE_COMMAND_CONFIG"  # a secured cluster's client settings, without repeating them
Command = Callable[[ClusterClient, argparse.Namespace], int | None]


def add_connection_options(parser: argparse.ArgumentParser, output: bool = True) -> None:
    """--bootstrap-server (required unless $KWIRE_BOOTSTRAP_SERVER is set), --command-config
    (default $KWIRE_COMMAND_CONFIG), and --output unless the command prints records (produce, consume)."""
    from_env = os.environ.get(BOOTSTRAP_ENV)
    parser.add_argument(
        "--bootstrap-server",
        required=from_env is None,
        default=from_env,
        metavar="HOST:PORT[,HOST:PORT...]",
        help=f"the brokers to connect to (default: ${BOOTSTRAP_ENV})",
    )
    parser.add_argument(
        "--command-config",
        metavar="FILE",
        default=os.environ.get(COMMAND_CONFIG_ENV) or None,
        help="a properties file of client settings: security.protocol, ssl.*, sasl.mechanism, sasl.jaas.config "
        f"as Kafka's tools take them (default: ${COMMAND_CONFIG_ENV})",
    )
    if not output:
        return
    parser.add_argument(
        "--output", choices=["table", "json"], default="table", help="aligned tables (default) or JSON for scripts"
    )


def run(program: str, command: Command, args: argparse.Namespace) -> int:
    """Open the cluster, run `command`; a ClusterError becomes one line on stderr and exit status 1."""
    try:
        settings = read_command_config(args.command_config) if args.command_config else {}
        with ClusterClient(args.bootstrap_server, settings) as cluster:
            return command(cluster, args) or 0
    except ClusterError as error:
        print(f"{program}: {error}", file=sys.stderr, flush=True)
        return 1
    except BrokenPipeError:  # the reader went away (`| head`): nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush is quiet too
        return 1


def failure(error_code: int, message: str | None, what: str) -> ClusterError:
    """Kafka's error as one line: what failed, the error's name and the broker's message if any."""
    name = ErrorCode(error_code).name.upper()
    return ClusterError(f"{what}: {name}" + (f": {message}" if message else ""))


def check(error_code: int, message: str | None, what: str) -> None:
    if error_code != ErrorCode.none:
        raise failure(error_code, message, what)


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Columns padded to their widest cell, two spaces apart; None shows as '-'."""
    cells = [list(header), *[[_cell(cell) for cell in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in cells)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"  # as Kafka's tools print them
    return str(value)


def emit(args: argparse.Namespace, text: Callable[[], str], data: Any) -> None:
    """Print `data` as JSON with --output json, else the text `text()` makes of it."""
    if args.output == "json":
        print(json.dumps(data, indent=2, default=str))
    else:
        output = text()
        if output:
            print(output)


class Progress:
    """`what n/total` on stderr while a long operation runs — only on a terminal, so
    scripts and pipes see clean output."""

    def __init__(self, what: str, total: int, minimum: int = 20) -> None:
        self.what, self.total = what, total
        self.shown = total >= minimum and sys.stderr.isatty()
        self.done = 0

    def step(self) -> None:
        self.done += 1
        if self.shown:
            end = "\n" if self.done >= self.total else ""
            print(f"\r{self.what} {self.done}/{self.total}", end=end, file=sys.stderr, flush=True)
