"""`kwire serve` and friends: the command line parsed into settings, and
errors reported one line each. Serving itself is kwire/server/process.py."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from kwire import __version__
from kwire.config import BrokerConfig, ConfigError, parse_option
from kwire.errors import StartupError

log = logging.getLogger("kwire")

E = TypeVar("E", bound=BaseException)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kwire", description="A Kafka wire-protocol-compatible broker.")
    parser.add_argument("--version", action="version", version=f"kwire {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the broker")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    # Numbers are taken as text and checked with the settings, so a bad one is one line naming the option.
    serve.add_argument("--port", default="9092", help="port to listen on; 0 picks a free one (default 9092)")
    storage = serve.add_mutually_exclusive_group()
    storage.add_argument(
        "--data-dir", type=Path, default=Path("kwire-data"), help="where logs live (default ./kwire-data)"
    )
    storage.add_argument("--memory", action="store_true", help="keep everything in memory; nothing survives a restart")
    serve.add_argument("--advertised-host", help="host clients are told to connect to (default: the listen host)")
    serve.add_argument("--advertised-port", help="port clients are told to connect to (default: the bound port)")
    serve.add_argument("--node-id", default="1", help="this broker's node.id (default 1)")
    serve.add_argument(
        "-o",
        "--override",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Kafka broker setting, e.g. -o num.partitions=3 (repeatable)",
    )
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    serve.add_argument(
        "--drop-produce-responses",
        default="0",
        metavar="N",
        help="fault injection: write every Nth produce request but close the connection instead of answering, "
        "so clients retry (0: off)",
    )
    serve.add_argument(
        "--exit-after-produce",
        default="0",
        metavar="N",
        help="fault injection: exit at once (as if killed) right after writing the Nth produce request (0: off)",
    )

    check = commands.add_parser(
        "check",
        help="verify a data directory (segments, indexes, checkpoints, metadata); changes nothing",
        description="Verify every segment, index, checkpoint and metadata file of a data directory and print one "
        "line per problem, then a summary. Exit status 1 if a problem was found. Changes nothing on "
        "disk, and may run while a broker is using the directory.",
    )
    check.add_argument(
        "--data-dir", type=Path, default=Path("kwire-data"), help="the data directory (default ./kwire-data)"
    )

    groups = commands.add_parser("groups", help="list consumer groups, or describe one with its lag")
    groups.add_argument("action", choices=["list", "describe"])
    groups.add_argument("group", nargs="?", help="the group to describe")
    groups.add_argument(
        "--bootstrap-server", default="127.0.0.1:9092", help="HOST:PORT of the broker (default 127.0.0.1:9092)"
    )

    from kwire.admin import consume_command, produce_command

    produce_command.add_parser(commands)
    consume_command.add_parser(commands)
    return parser


def config_from_args(args: argparse.Namespace) -> BrokerConfig:
    """The broker's configuration from the command line; raises ConfigError
    listing every problem, one line each, before anything is touched."""
    problems: list[str] = []
    options: dict[str, Any] = {}
    for attribute in ("port", "advertised_port", "node_id", "drop_produce_responses", "exit_after_produce"):
        raw = getattr(args, attribute)
        if raw is None:
            continue
        name = {"drop_produce_responses": "drop_produce_responses_every"}.get(attribute, attribute)
        try:
            options[name] = parse_option(name, raw)
        except ConfigError as problem:
            problems.append(str(problem))
    config = BrokerConfig(
        host=args.host,
        advertised_host=args.advertised_host,
        data_dir=None if args.memory else args.data_dir,
        **options,
    )
    for override in args.override:
        name, separator, value = override.partition("=")
        try:
            if not separator:
                raise ConfigError(f"Invalid value {override} for option -o: expected NAME=VALUE")
            config.apply_override(name, value)
        except ConfigError as problem:
            problems.append(str(problem))
    problems.extend(problem for problem in config.problems() if problem not in problems)
    if problems:
        raise ConfigError("\n".join(problems))
    return config


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "groups":
        return run_groups_command(parser, args)
    if args.command in ("produce", "consume"):
        from kwire.admin import consume_command, produce_command

        if args.command == "produce":
            return produce_command.run(parser, args)
        return consume_command.run(parser, args)
    if args.command == "check":
        from kwire.admin import check

        return check.run(args.data_dir)
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from kwire.server.process import serve_until_signal

    try:
        return serve_until_signal(config_from_args(args))
    except StartupError as error:
        return _report_startup_errors([error])
    except BaseExceptionGroup as group:  # raised by a task: report it the same way
        startup_errors, others = group.split(StartupError)
        if others is not None or startup_errors is None:
            raise
        return _report_startup_errors(list(_leaves(startup_errors)))


def _report_startup_errors(errors: list[StartupError]) -> int:
    """One line per problem on stderr and exit status 1; tracebacks only at DEBUG."""
    for error in errors:
        log.debug("start-up failed", exc_info=error)
        for line in str(error).splitlines():
            print(f"kwire serve: {line}", file=sys.stderr, flush=True)
    return 1


def _leaves(group: BaseExceptionGroup[E]) -> Iterator[E]:
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            yield from _leaves(error)
        else:
            yield error


def run_groups_command(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from kwire.admin.groups import GroupCommandError, run
    from kwire.admin.wire_client import WireError

    if args.action == "describe" and not args.group:
        parser.error("groups describe needs a GROUP")
    try:
        print(run(args.bootstrap_server, args.action, args.group))
    except (GroupCommandError, WireError, OSError) as exc:
        print(f"kwire groups: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
