"""`kwire serve` and friends."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from kwire import __version__
from kwire.config import BrokerConfig
from kwire.errors import StartupError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kwire", description="A Kafka wire-protocol-compatible broker.")
    parser.add_argument("--version", action="version", version=f"kwire {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the broker")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=9092, help="port to listen on; 0 picks a free one (default 9092)")
    storage = serve.add_mutually_exclusive_group()
    storage.add_argument("--data-dir", type=Path, default=Path("kwire-data"), help="where logs live (default ./kwire-data)")
    storage.add_argument("--memory", action="store_true", help="keep everything in memory; nothing survives a restart")
    serve.add_argument("--advertised-host", help="host clients are told to connect to (default: the listen host)")
    serve.add_argument("--advertised-port", type=int, help="port clients are told to connect to (default: the bound port)")
    serve.add_argument("--node-id", type=int, default=1, help="this broker's node.id (default 1)")
    serve.add_argument(
        "-o", "--override", action="append", default=[], metavar="NAME=VALUE",
        help="a Kafka broker setting, e.g. -o num.partitions=3 (repeatable)",
    )
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    serve.add_argument(
        "--drop-produce-responses", type=int, default=0, metavar="N",
        help="fault injection: write every Nth produce request but close the connection instead of answering, "
             "so clients retry (0: off)",
    )
    serve.add_argument(
        "--exit-after-produce", type=int, default=0, metavar="N",
        help="fault injection: exit at once (as if killed) right after writing the Nth produce request (0: off)",
    )

    check = commands.add_parser(
        "check", help="verify a data directory (segments, indexes, checkpoints, metadata); changes nothing",
        description="Verify every segment, index, checkpoint and metadata file of a data directory and print one "
                    "line per problem, then a summary. Exit status 1 if a problem was found. Changes nothing on "
                    "disk, and may run while a broker is using the directory.",
    )
    check.add_argument("--data-dir", type=Path, default=Path("kwire-data"), help="the data directory (default ./kwire-data)")

    groups = commands.add_parser("groups", help="list consumer groups, or describe one with its lag")
    groups.add_argument("action", choices=["list", "describe"])
    groups.add_argument("group", nargs="?", help="the group to describe")
    groups.add_argument("--bootstrap-server", default="127.0.0.1:9092", help="HOST:PORT of the broker (default 127.0.0.1:9092)")
    return parser


def config_from_args(args: argparse.Namespace) -> BrokerConfig:
    config = BrokerConfig(
        host=args.host,
        port=args.port,
        advertised_host=args.advertised_host,
        advertised_port=args.advertised_port,
        data_dir=None if args.memory else args.data_dir,
        node_id=args.node_id,
        drop_produce_responses_every=args.drop_produce_responses,
        exit_after_produce=args.exit_after_produce,
    )
    for override in args.override:
        name, separator, value = override.partition("=")
        if not separator:
            raise ValueError(f"-o expects NAME=VALUE, got {override!r}")
        config.apply_override(name, value)
    return config


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "groups":
        return run_groups_command(parser, args)
    if args.command == "check":
        from kwire.admin import check

        return check.run(args.data_dir)
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        return serve_until_signal(config)
    except StartupError as exc:  # one line, no traceback
        print(f"kwire: {exc}", file=sys.stderr)
        return 1


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


def serve_until_signal(config: BrokerConfig) -> int:
    import trio

    from kwire.core import BrokerCore
    from kwire.server.listener import serve

    async def run() -> None:
        core = BrokerCore(config)
        try:
            with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async with trio.open_nursery() as nursery:
                    port = await nursery.start(serve, core)
                    where = "in memory" if config.data_dir is None else f"data in {config.data_dir}"
                    print(f"kwire {__version__} ready on {config.host}:{port} (node {config.node_id}, {where})", flush=True)
                    async for signum in signals:
                        logging.getLogger("kwire").info("received %s, shutting down", signal.Signals(signum).name)
                        nursery.cancel_scope.cancel()
                        break
        finally:
            core.close()

    trio.run(run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
