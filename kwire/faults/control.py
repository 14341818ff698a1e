"""The fault-injection HTTP API, sans-IO: a parsed request in, a status and
a JSON value out (the trio server is kwire/server/control_server.py).

    GET    /faults                 the rules and paused partitions
    POST   /faults                 {"kind": "error", "api": "Produce", "error": "NOT_LEADER_OR_FOLLOWER", "count": 3}
                                   kinds: error, latency, drop, lose_response, crash, pause, resume
    DELETE /faults                 every rule, every pause
    DELETE /faults/<id>            one rule
    POST   /connections/close      close every client connection
    POST   /kill                   end the process at once (kwire serve only)
"""

from __future__ import annotations

import json
from typing import Any

from kwire.faults.injector import FaultInjector
from kwire.faults.rules import KINDS, FaultError

MAX_HEADER_BYTES = 8 * 1024
MAX_BODY_BYTES = 64 * 1024

_RULE_FIELDS = {
    "kind",
    "api",
    "error",
    "count",
    "topic",
    "partition",
    "client_id",
    "every",
    "after",
    "duration_ms",
    "latency_ms",
    "ms",
}
KILL = "kill"  # the status handed back when the server must end the process after answering


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    """The method, the path and the headers (lower-case names) of a request's
    head (the bytes before the blank line). Raises HttpError(400)."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        raise HttpError(400, "bad request") from None
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[0].isalpha() or not parts[1].startswith("/"):
        raise HttpError(400, "bad request line")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise HttpError(400, "bad header line")
        headers[name.lower()] = value.strip()
    return parts[0], parts[1], headers


def body_length(headers: dict[str, str]) -> int:
    if "transfer-encoding" in headers:
        raise HttpError(411, "chunked bodies are not supported: send Content-Length")
    raw = headers.get("content-length", "0")
    if not raw.isdigit():
        raise HttpError(400, "bad Content-Length")
    length = int(raw)
    if length > MAX_BODY_BYTES:
        raise HttpError(413, f"body over {MAX_BODY_BYTES} bytes")
    return length


def handle(faults: FaultInjector, method: str, path: str, body: bytes) -> tuple[int, Any]:
    """(status, JSON value); status KILL's answer is 202 and then the process ends."""
    path = path.split("?", 1)[0].rstrip("/") or "/"
    if path == "/faults":
        if method == "GET":
            return 200, faults.list()
        if method == "POST":
            return _add(faults, _json_object(body))
        if method == "DELETE":
            return 200, {"removed": faults.clear()}
        raise HttpError(405, f"{method} not allowed on {path}")
    if path.startswith("/faults/"):
        if method != "DELETE":
            raise HttpError(405, f"{method} not allowed on {path}")
        rule_id = path[len("/faults/") :]
        if not rule_id.isdigit():
            raise HttpError(404, f"no fault rule {rule_id}")
        try:
            return 200, {"removed": faults.clear(int(rule_id))}
        except FaultError as error:
            raise HttpError(404, str(error)) from None
    if path == "/connections/close":
        if method != "POST":
            raise HttpError(405, f"{method} not allowed on {path}")
        return 200, {"closed": faults.close_connections()}
    if path == "/kill":
        if method != "POST":
            raise HttpError(405, f"{method} not allowed on {path}")
        if not faults.exit_allowed:
            raise HttpError(409, "kill ends the process: only a node run by `kwire serve` can be killed")
        return 202, {"killing": True}
    raise HttpError(404, f"no such endpoint {path}")


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise HttpError(400, f"bad JSON: {error}".splitlines()[0]) from None
    if not isinstance(value, dict):
        raise HttpError(400, "the body must be a JSON object")
    return value


def _add(faults: FaultInjector, fields: dict[str, Any]) -> tuple[int, Any]:
    unknown = sorted(set(fields) - _RULE_FIELDS)
    if unknown:
        raise HttpError(400, f"unknown field(s): {', '.join(unknown)}")
    kind = fields.pop("kind", None)
    try:
        if kind in ("pause", "resume"):
            extra = sorted(set(fields) - {"topic", "partition"})
            if extra:
                raise FaultError(f"{kind} takes topic and partition only, not {', '.join(extra)}")
            topic, partition = fields.get("topic"), fields.get("partition")
            if not isinstance(topic, str) or isinstance(partition, bool) or not isinstance(partition, int):
                raise FaultError(f"{kind} needs a topic (string) and a partition (integer)")
            if kind == "pause":
                faults.pause_partition(topic, partition)
            else:
                faults.resume_partition(topic, partition)
            return 200, {"kind": kind, "topic": topic, "partition": partition}
        if kind not in KINDS:
            raise FaultError(f"kind must be one of {', '.join((*KINDS, 'pause', 'resume'))}, not {kind!r}")
        if "api" not in fields:
            raise FaultError("a rule needs an api (a Kafka API name such as Produce, or a key)")
        api = fields.pop("api")
        if "ms" in fields:
            fields["latency_ms"] = fields.pop("ms")
        rule_id = faults.add_rule(str(kind), api, **fields)
    except FaultError as error:
        raise HttpError(400, str(error)) from None
    return 201, {"id": rule_id}
