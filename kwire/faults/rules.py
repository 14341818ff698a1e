"""The fault rule table: pure, sans-IO, and not thread-safe by itself (the
injector, kwire/faults/injector.py, holds the lock around it).

A rule says what to do to which requests: an API (by Kafka name, enum name
or key), optional topic / partition and client-id filters, the next `count`
matching requests (None: until cleared), optionally only every `every`-th of
them after skipping the first `after`, until an optional expiry (on the
node's clock, monotonic seconds).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

import attrs

from kwire.protocol.api_keys import ApiKey, api_name
from kwire.protocol.errors import ErrorCode

log = logging.getLogger("kwire.faults")

# What a rule does to a request it matches.
ERROR = "error"  # answer with an error code instead of handling
LATENCY = "latency"  # handle, answer `latency_ms` later
DROP = "drop"  # close the connection instead of handling
LOSE_RESPONSE = "lose_response"  # handle, then close the connection instead of answering
CRASH = "crash"  # handle, then exit the process at once (--exit-after-produce)
KINDS = (ERROR, LATENCY, DROP, LOSE_RESPONSE, CRASH)


class FaultError(ValueError):
    """A rule that cannot be made (unknown API, error, kind, bad number): one line."""


def parse_api(value: object) -> ApiKey:
    """ "Produce", "FindCoordinator", "PRODUCE", "find_coordinator", 0 or "0"."""
    if isinstance(value, bool):
        raise FaultError(f"unknown API {value!r}")
    if isinstance(value, ApiKey):
        return value
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        try:
            return ApiKey(int(value))
        except ValueError:
            raise FaultError(f"unknown API key {value}") from None
    if isinstance(value, str) and value.strip():
        text = value.strip()
        name = text.upper() if "_" in text or text.isupper() else re.sub(r"(?<!^)(?=[A-Z])", "_", text).upper()
        try:
            return ApiKey[name]
        except KeyError:
            pass
    raise FaultError(f"unknown API {value!r} (use a Kafka name such as Produce or FindCoordinator, or a key)")


def parse_error(value: object) -> ErrorCode:
    """ "NOT_LEADER_OR_FOLLOWER", "not_leader_or_follower", 6 or "6"."""
    if isinstance(value, bool):
        raise FaultError(f"unknown error {value!r}")
    if isinstance(value, int) or (isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value)):
        try:
            code = ErrorCode(int(value))
        except ValueError:
            raise FaultError(f"unknown error code {value}") from None
    elif isinstance(value, str):
        try:
            code = ErrorCode[value.strip().lower()]
        except KeyError:
            raise FaultError(f"unknown error {value!r} (use a Kafka name such as NOT_LEADER_OR_FOLLOWER)") from None
    else:
        raise FaultError(f"unknown error {value!r}")
    if code == ErrorCode.none:
        raise FaultError("error NONE (0) is not an error")
    return code


@attrs.define
class Rule:
    id: int
    kind: str
    api: ApiKey
    topic: str | None = None
    partition: int | None = None
    client_id: str | None = None
    count: int | None = None  # requests still to fault; None: until cleared
    every: int = 1  # fault every Nth matching request
    after: int = 0  # let this many matching requests through first
    expires_at: float | None = None  # monotonic seconds on the node's clock
    error: ErrorCode | None = None
    latency_ms: int = 0
    matched: int = 0  # matching requests seen
    applied: int = 0  # requests faulted

    def matches(self, api: ApiKey, client_id: str | None, partitions: Iterable[tuple[str, int | None]]) -> bool:
        if api != self.api:
            return False
        if self.client_id is not None and client_id != self.client_id:
            return False
        if self.topic is None and self.partition is None:
            return True
        for topic, partition in partitions:
            if self.topic is not None and topic != self.topic:
                continue
            if self.partition is not None and partition is not None and partition != self.partition:
                continue
            return True
        return False

    def describe(self) -> str:
        what = {
            ERROR: f"answer {self.error.name.upper() if self.error is not None else '?'}",
            LATENCY: f"add {self.latency_ms} ms to",
            DROP: "drop the connection of",
            LOSE_RESPONSE: "handle then lose the answer of",
            CRASH: "handle then exit the process on",
        }[self.kind]
        scope = []
        if self.topic is not None:
            scope.append(f"topic {self.topic}")
        if self.partition is not None:
            scope.append(f"partition {self.partition}")
        if self.client_id is not None:
            scope.append(f"client {self.client_id}")
        how_many = "every" if self.count is None else f"the next {self.count}"
        if self.every > 1:
            how_many += f" (1 in {self.every})"
        if self.after:
            how_many += f" after {self.after}"
        return f"rule {self.id}: {what} {how_many} {api_name(self.api)} requests" + (
            f" ({', '.join(scope)})" if scope else ""
        )

    def as_json(self, now: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "api": api_name(self.api),
            "topic": self.topic,
            "partition": self.partition,
            "client_id": self.client_id,
            "count": self.count,
            "every": self.every,
            "after": self.after,
            "expires_in_ms": None if self.expires_at is None else max(0, round((self.expires_at - now) * 1000)),
            "error": None if self.error is None else self.error.name.upper(),
            "latency_ms": self.latency_ms,
            "applied": self.applied,
        }


class RuleTable:
    """The rules in the order they were added; the first rule that matches
    a request and is due decides what happens to it."""

    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self._next_id = 1

    def add(
        self,
        kind: str,
        api: object,
        *,
        now: float,
        topic: str | None = None,
        partition: int | None = None,
        client_id: str | None = None,
        count: int | None = None,
        every: int = 1,
        after: int = 0,
        duration_ms: int | None = None,
        error: object = None,
        latency_ms: int = 0,
    ) -> Rule:
        if kind not in KINDS:
            raise FaultError(f"unknown fault kind {kind!r} (one of {', '.join(KINDS)})")
        key = parse_api(api)
        code = parse_error(error) if kind == ERROR else None
        if kind == ERROR and error is None:
            raise FaultError("an error rule needs an error (a Kafka error name or code)")
        _check_int("count", count, 1, allow_none=True)
        _check_int("every", every, 1)
        _check_int("after", after, 0)
        _check_int("duration_ms", duration_ms, 1, allow_none=True)
        _check_int("partition", partition, 0, allow_none=True)
        if kind == LATENCY:
            _check_int("latency_ms", latency_ms, 1, at_most=3_600_000)
        if topic is not None and (not isinstance(topic, str) or not topic):
            raise FaultError("topic must be a non-empty string")
        if client_id is not None and not isinstance(client_id, str):
            raise FaultError("client_id must be a string")
        rule = Rule(
            id=self._next_id,
            kind=kind,
            api=key,
            topic=topic,
            partition=partition,
            client_id=client_id,
            count=count,
            every=every,
            after=after,
            expires_at=None if duration_ms is None else now + duration_ms / 1000,
            error=code,
            latency_ms=latency_ms if kind == LATENCY else 0,
        )
        self._next_id += 1
        self.rules.append(rule)
        log.info("fault added: %s%s", rule.describe(), "" if duration_ms is None else f" for {duration_ms} ms")
        return rule

    def expire(self, now: float) -> None:
        kept = []
        for rule in self.rules:
            if rule.expires_at is not None and now >= rule.expires_at:
                log.info("fault expired: %s (applied %d times)", rule.describe(), rule.applied)
            else:
                kept.append(rule)
        self.rules = kept

    def match(
        self, api: ApiKey, client_id: str | None, partitions: Iterable[tuple[str, int | None]], now: float
    ) -> Rule | None:
        """The rule to apply to this request (its count taken), or None."""
        if any(rule.expires_at is not None and now >= rule.expires_at for rule in self.rules):
            self.expire(now)
        partitions = list(partitions)
        for rule in self.rules:
            if not rule.matches(api, client_id, partitions):
                continue
            rule.matched += 1
            seen = rule.matched - rule.after
            if seen <= 0 or seen % rule.every != 0:
                continue
            rule.applied += 1
            if rule.count is not None:
                rule.count -= 1
                if rule.count <= 0:
                    self.rules.remove(rule)  # used up (the injector logs it)
            return rule
        return None

    def clear(self, rule_id: int | None = None) -> int:
        """Remove one rule (or all); how many were removed."""
        if rule_id is None:
            removed = len(self.rules)
            self.rules = []
        else:
            before = len(self.rules)
            self.rules = [rule for rule in self.rules if rule.id != rule_id]
            removed = before - len(self.rules)
        return removed

    def list(self, now: float) -> list[dict[str, Any]]:
        self.expire(now)
        return [rule.as_json(now) for rule in self.rules]


def _check_int(name: str, value: object, at_least: int, *, allow_none: bool = False, at_most: int = 2**31 - 1) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not at_least <= value <= at_most:
        raise FaultError(f"{name} must be an integer from {at_least} to {at_most}, not {value!r}")
