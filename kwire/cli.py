"""`kwire serve` and friends: the command line parsed into settings, and
errors reported one line each. Serving itself is kwire/server/process.py."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TypeVar

from kwire import __version__
from kwire.config import BrokerConfig, ConfigError
from kwire.config_sources import Loaded, load
from kwire.errors import StartupError

log = logging.getLogger("kwire")

E = TypeVar("E", bound=BaseException)


# Commands that talk to no broker: their command lines leave the admin
# commands out, so `kwire serve` starts without importing the wire client.
_LOCAL_COMMANDS = frozenset({"serve", "check", "config", "certs"})


def build_parser(with_admin_commands: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kwire", description="A Kafka wire-protocol-compatible broker.")
    parser.add_argument("--version", action="version", version=f"kwire {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the broker",
        description="Run the broker. Settings come from, highest first: these flags, -o NAME=VALUE, the "
        "environment (KWIRE_HOST, KWIRE_PORT, KWIRE_DATA_DIR, KWIRE_MEMORY, KWIRE_ADVERTISED_HOST, "
        "KWIRE_ADVERTISED_PORT, KWIRE_NODE_ID, KWIRE_LOG_LEVEL, KWIRE_LOG_FORMAT, KWIRE_CONFIG, KWIRE_CONTROL_PORT; and Kafka settings as "
        "KAFKA_NUM_PARTITIONS=3), the --config file, then the defaults. `kwire config list` shows every "
        "Kafka setting kwire takes.",
    )
    serve.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="a Kafka server.properties file; settings kwire does not support are ignored with a warning",
    )
    # Flags default to None so a flag not given leaves the environment's or the file's value in place.
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    # Numbers are taken as text and checked with the settings, so a bad one is one line naming the option.
    serve.add_argument("--port", help="port to listen on; 0 picks a free one (default 9092)")
    storage = serve.add_mutually_exclusive_group()
    storage.add_argument("--data-dir", type=Path, help="where logs live (default ./kwire-data)")
    storage.add_argument(
        "--memory", action="store_true", default=None, help="keep everything in memory; nothing survives a restart"
    )
    serve.add_argument("--advertised-host", help="host clients are told to connect to (default: the listen host)")
    serve.add_argument("--advertised-port", help="port clients are told to connect to (default: the bound port)")
    serve.add_argument("--node-id", help="this broker's node.id (default 1)")
    serve.add_argument(
        "--brokers",
        type=int,
        metavar="N",
        help="run a cluster of N brokers in this process (node ids 1..N, ports PORT..PORT+N-1, data in "
        "DATA_DIR/node-<id>/); default: one broker",
    )
    serve.add_argument(
        "-o",
        "--override",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Kafka broker setting, e.g. -o num.partitions=3 (repeatable)",
    )
    serve.add_argument(
        "--log-level",
        action="append",
        metavar="LEVEL[,LOGGER=LEVEL...]",
        help="DEBUG, INFO, WARNING or ERROR (default INFO), and levels of single loggers, e.g. "
        "INFO,kafka.request.logger=DEBUG (the request log); repeatable",
    )
    serve.add_argument(
        "--log-format",
        choices=["text", "json"],
        help="text lines with key=value fields, or one JSON object per line (default text)",
    )
    serve.add_argument(
        "--drop-produce-responses",
        metavar="N",
        help="fault injection: write every Nth produce request but close the connection instead of answering, "
        "so clients retry (0: off)",
    )
    serve.add_argument(
        "--exit-after-produce",
        metavar="N",
        help="fault injection: exit at once (as if killed) right after writing the Nth produce request (0: off)",
    )
    serve.add_argument(
        "--control-port",
        metavar="PORT",
        help="serve the fault-injection HTTP endpoint on 127.0.0.1:PORT (0: a free port, shown in the ready line; "
        "default: off); see `kwire fault`",
    )

    serve.add_argument(
        "--http-port",
        metavar="PORT",
        help="serve /metrics (Prometheus), /healthz, /readyz and the web console on HTTP (0: a free port, shown in "
        "the ready line; default: off); with --brokers N, node i on PORT+i-1",
    )
    serve.add_argument(
        "--http-host", metavar="HOST", help="the address the HTTP port listens on (default 127.0.0.1: loopback only)"
    )

    config = commands.add_parser("config", help="list the Kafka settings kwire supports")
    config.add_argument("action", choices=["list"])
    config.add_argument("--output", choices=["table", "json"], default="table", help="(default table)")

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
    check.add_argument(
        "--log-dirs",
        metavar="DIR,DIR...",
        help="a broker's several log directories (its log.dirs), checked together instead of --data-dir; "
        "the first holds the metadata log",
    )

    certs = commands.add_parser(
        "certs",
        help="make a throwaway CA, broker and client certificates for trying TLS",
        description="Write a new test CA (ca.pem), a broker certificate for localhost, 127.0.0.1, ::1 and the --host "
        "names (broker.pem: chain and key, as Kafka's PEM keystore; broker-key.pem; broker.p12 with a printed "
        "password) and client certificates (<name>.pem, <name>-key.pem, subject CN=<name>) into DIR, then print "
        "the ssl.* settings that use them. Keys are unencrypted: for tests, not production.",
    )
    certs.add_argument("directory", type=Path, metavar="DIR")
    certs.add_argument("--host", action="append", default=[], metavar="NAME", help="another broker host name or IP")
    certs.add_argument(
        "--client", action="append", default=[], metavar="NAME", help="a client certificate to make (default: client)"
    )
    certs.add_argument("--days", type=int, default=365, metavar="N", help="validity in days (default 365)")

    if with_admin_commands:
        from kwire.admin import (
            acls,
            cluster_info,
            configs,
            consume_command,
            faults_command,
            groups,
            produce_command,
            share_groups,
            topics,
            users,
        )

        for admin_command in (topics, groups, share_groups, configs, users, acls, cluster_info, faults_command):
            admin_command.register(commands)  # each sets args.admin, the function that runs it
        produce_command.add_parser(commands)
        consume_command.add_parser(commands)
    return parser


def load_from_args(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Loaded:
    """Every source of settings merged as `kwire serve` does (see kwire/config_sources.py);
    raises ConfigError listing every problem, one line each, before anything is touched."""
    flags = {
        "config": args.config,
        "host": args.host,
        "port": args.port,
        "data_dir": args.data_dir,
        "memory": args.memory,
        "advertised_host": args.advertised_host,
        "advertised_port": args.advertised_port,
        "node_id": args.node_id,
        "log_level": args.log_level,
        "log_format": args.log_format,
        "drop_produce_responses_every": args.drop_produce_responses,
        "exit_after_produce": args.exit_after_produce,
        "control_port": args.control_port,
        "http_port": args.http_port,
        "http_host": args.http_host,
    }
    return load(flags=flags, overrides=args.override, environ=os.environ if environ is None else environ)


def config_from_args(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> BrokerConfig:
    """The broker's configuration from the command line and the environment."""
    return load_from_args(args, environ).config


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(with_admin_commands=not argv or argv[0] not in _LOCAL_COMMANDS)
    args = parser.parse_args(argv)
    if hasattr(args, "admin"):
        return int(args.admin(args))
    if args.command == "check":
        from kwire.admin import check

        if args.log_dirs:
            log_dirs = [Path(item.strip()) for item in args.log_dirs.split(",") if item.strip()]
            if not log_dirs:
                parser.error("--log-dirs: give at least one directory")
            return check.run(log_dirs[0], log_dirs[1:])
        return check.run(args.data_dir)
    if args.command == "config":
        return run_config_command(args)
    if args.command == "certs":
        return run_certs_command(args)
    try:
        loaded = load_from_args(args)
    except ConfigError as error:
        # The level asked for, if it can be told, so DEBUG shows the traceback.
        log_format = (args.log_format or os.environ.get("KWIRE_LOG_FORMAT", "")).strip().lower()
        log_format = log_format if log_format in ("text", "json") else "text"
        _configure_logging(Loaded(BrokerConfig(), _level_if_valid(args.log_level), log_format=log_format))
        return _report_startup_errors([error])
    _configure_logging(loaded)
    if loaded.ignored:
        log.warning("ignoring settings kwire does not support: %s", ", ".join(loaded.ignored))
    try:
        return _serve(loaded, args.brokers)
    finally:
        from kwire.observability.log_setup import flush_suppressed

        flush_suppressed()  # what the repeat limiter held back is still told


def _serve(loaded: Loaded, brokers: int | None) -> int:
    from kwire.server.process import serve_until_signal

    try:
        return serve_until_signal(loaded.config, brokers)
    except StartupError as error:
        return _report_startup_errors([error])
    except BaseExceptionGroup as group:  # raised by a task: report it the same way
        startup_errors, others = group.split(StartupError)
        if others is not None or startup_errors is None:
            raise
        return _report_startup_errors(list(_leaves(startup_errors)))


def _configure_logging(loaded: Loaded) -> None:
    from kwire.observability.log_setup import configure_logging

    configure_logging(loaded.log_level, loaded.logger_levels, loaded.log_format, sys.stderr)


def _level_if_valid(flag: list[str] | None) -> str:
    """The root level of --log-level (or KWIRE_LOG_LEVEL) when it can be read, else INFO."""
    from kwire.observability.log_levels import parse_log_levels

    try:
        return parse_log_levels(flag or [os.environ.get("KWIRE_LOG_LEVEL", "")]).root_or_default
    except ConfigError:
        return "INFO"


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


def run_certs_command(args: argparse.Namespace) -> int:
    from kwire.security.cert_maker import make_test_certificates, settings_text

    if args.days < 1:
        print("kwire certs: --days must be at least 1", file=sys.stderr)
        return 2
    try:
        made = make_test_certificates(
            args.directory, hosts=args.host, clients=args.client or ["client"], days=args.days
        )
    except (OSError, ValueError) as error:
        print(f"kwire certs: {error}", file=sys.stderr)
        return 1
    sys.stdout.write(settings_text(made))
    return 0


def run_config_command(args: argparse.Namespace) -> int:
    from kwire.config_docs import setting_rows, table

    rows = setting_rows()
    print(json.dumps(rows, indent=2) if args.output == "json" else table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
