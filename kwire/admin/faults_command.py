"""`kwire fault add|list|clear|pause|resume|close-connections|kill`: the
fault-injection HTTP endpoint of a running `kwire serve --control-port`
(kwire/faults/control.py), driven from a shell. Failures are one line on
stderr and exit status 1 (2 for usage errors, as argparse)."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
from typing import Any

from kwire.admin.common import table

PROGRAM = "kwire fault"
CONTROL_ENV = "KWIRE_CONTROL"
TIMEOUT_S = 10.0


class ControlError(Exception):
    pass


def register(commands: Any) -> None:
    fault = commands.add_parser(
        "fault",
        help="inject faults into a running kwire (serve --control-port)",
        description="Add, list and clear fault-injection rules of a running `kwire serve --control-port PORT`, "
        "pause partitions, close every client connection, or kill the broker.",
    )
    actions = fault.add_subparsers(dest="action", required=True)

    add = actions.add_parser("add", help="add a rule; prints its id")
    control_option(add)
    add.add_argument("kind", choices=["error", "latency", "drop", "lose_response", "crash"])
    add.add_argument("api", help="the API: a Kafka name (Produce, FindCoordinator, ...) or key")
    add.add_argument("--error", help="error rules: a Kafka error name (NOT_LEADER_OR_FOLLOWER) or code")
    add.add_argument("--ms", type=int, help="latency rules: milliseconds to add")
    add.add_argument("--count", type=int, help="fault only the next N matching requests (default: until cleared)")
    add.add_argument("--topic", help="only requests naming this topic")
    add.add_argument("--partition", type=int, help="only requests naming this partition")
    add.add_argument("--client-id", help="only requests from this client id")
    add.add_argument("--every", type=int, help="only every Nth matching request")
    add.add_argument("--after", type=int, help="let the first N matching requests through")
    add.add_argument("--duration-ms", type=int, help="remove the rule after this long")
    add.set_defaults(admin=_add)

    listing = actions.add_parser("list", help="the rules and paused partitions")
    control_option(listing)
    listing.add_argument("--output", choices=["table", "json"], default="table", help="(default table)")
    listing.set_defaults(admin=_list)

    clear = actions.add_parser("clear", help="remove one rule (by id) or every rule and pause")
    control_option(clear)
    clear.add_argument("id", nargs="?", type=int, help="the rule's id (default: all)")
    clear.set_defaults(admin=_clear)

    for action, verb in (("pause", "fetches see no new data, produces wait"), ("resume", "undo pause")):
        parser = actions.add_parser(action, help=f"{action} a partition: {verb}")
        control_option(parser)
        parser.add_argument("topic")
        parser.add_argument("partition", type=int)
        parser.set_defaults(admin=_pause if action == "pause" else _resume)

    close = actions.add_parser("close-connections", help="close every client connection now")
    control_option(close)
    close.set_defaults(admin=lambda args: _run(args, "POST", "/connections/close", None, "closed"))

    kill = actions.add_parser("kill", help="end the broker process at once, no clean shutdown")
    control_option(kill)
    kill.set_defaults(admin=lambda args: _run(args, "POST", "/kill", None, "killing"))


def control_option(parser: argparse.ArgumentParser) -> None:
    from_env = os.environ.get(CONTROL_ENV)
    parser.add_argument(
        "--control",
        required=from_env is None,
        default=from_env,
        metavar="HOST:PORT",
        help=f"the broker's control endpoint (its --control-port; default: ${CONTROL_ENV})",
    )


def _add(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"kind": args.kind, "api": args.api}
    for name in ("error", "ms", "count", "topic", "partition", "client_id", "every", "after", "duration_ms"):
        value = getattr(args, name)
        if value is not None:
            body[name] = value
    return _run(args, "POST", "/faults", body, "id")


def _list(args: argparse.Namespace) -> int:
    try:
        rules = call(args.control, "GET", "/faults")
    except ControlError as error:
        return _fail(error)
    if args.output == "json":
        print(json.dumps(rules))
        return 0
    if not rules:
        print("no faults")
        return 0
    rows = []
    for rule in rules:
        if rule["kind"] == "pause":
            rows.append(("-", "pause", "-", f"{rule['topic']}-{rule['partition']}"))
            continue
        details = [f"{key}={value}" for key, value in rule.items() if key not in ("id", "kind", "api") and value]
        rows.append((rule["id"], rule["kind"], rule["api"], " ".join(details)))
    print(table(("ID", "KIND", "API", "DETAILS"), rows))
    return 0


def _clear(args: argparse.Namespace) -> int:
    path = "/faults" if args.id is None else f"/faults/{args.id}"
    return _run(args, "DELETE", path, None, "removed")


def _pause(args: argparse.Namespace) -> int:
    return _run(args, "POST", "/faults", {"kind": "pause", "topic": args.topic, "partition": args.partition}, None)


def _resume(args: argparse.Namespace) -> int:
    return _run(args, "POST", "/faults", {"kind": "resume", "topic": args.topic, "partition": args.partition}, None)


def _run(args: argparse.Namespace, method: str, path: str, body: dict[str, Any] | None, show: str | None) -> int:
    try:
        answer = call(args.control, method, path, body)
    except ControlError as error:
        return _fail(error)
    if show is not None and isinstance(answer, dict):
        print(answer.get(show))
    return 0


def _fail(error: ControlError) -> int:
    print(f"{PROGRAM}: {error}", file=sys.stderr, flush=True)
    return 1


def call(control: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """One request to the endpoint at HOST:PORT; its JSON answer, or ControlError (one line)."""
    host, colon, port = control.rpartition(":")
    if not colon or not port.isdigit():
        raise ControlError(f"--control must be HOST:PORT, not {control!r}")
    connection = http.client.HTTPConnection(host.strip("[]") or "127.0.0.1", int(port), timeout=TIMEOUT_S)
    try:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        status = response.status
    except (OSError, http.client.HTTPException) as error:
        raise ControlError(f"cannot reach the fault control endpoint at {control}: {error}") from None
    finally:
        connection.close()
    try:
        answer = json.loads(raw)
    except ValueError:
        raise ControlError(f"the endpoint at {control} answered {status} without JSON") from None
    if status >= 400:
        message = answer.get("error") if isinstance(answer, dict) else None
        raise ControlError(str(message or f"HTTP {status}"))
    return answer
