"""A node's fault injector (`BrokerState.faults`): the rule table, paused
partitions, and the actions that act at once (close every connection, kill
the process).

Every public method is thread-safe: a test thread may call them while the
node's trio thread reads them. The dispatcher's no-fault path is one
attribute read (`armed`), false while there is no rule and no paused
partition.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from kwire.clock import SYSTEM_CLOCK, Clock
from kwire.faults.rules import (
    CRASH,
    DROP,
    ERROR,
    LATENCY,
    LOSE_RESPONSE,
    FaultError,
    Rule,
    RuleTable,
    parse_api,
)
from kwire.protocol.api_keys import ApiKey, api_name

log = logging.getLogger("kwire.faults")

EXIT_AFTER_PRODUCE_CODE = 17  # the exit status of a crash rule and of kill()
KILLED_CODE = EXIT_AFTER_PRODUCE_CODE
# The long-poll key a produce to a paused partition waits on (notified on resume).
RESUMED = ("kwire-faults", "resumed")


class FaultInjector:
    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._table = RuleTable()
        self.armed = False  # any rule or paused partition: the dispatcher's one check
        self.paused: frozenset[tuple[str, int]] = frozenset()  # replaced whole, read without the lock
        # Installed by the server (thread-safe callables that hop to the node's trio thread):
        self.connection_closers: list[Callable[[], int]] = []
        self.notifiers: list[Callable[[Hashable], None]] = []
        # Only `kwire serve` owns its process and may end it (kwire/server/process.py sets this).
        self.exit_allowed = False

    # --- rules -------------------------------------------------------------

    def add_rule(self, kind: str, api: object, **options: Any) -> int:
        """Add a rule (see RuleTable.add for the options); its id. Raises FaultError."""
        if kind == CRASH and not self.exit_allowed:
            raise FaultError("crash rules end the process: only a node run by `kwire serve` takes them")
        with self._lock:
            rule = self._table.add(kind, api, now=self.clock.monotonic(), **options)
            self._rearm()
        return rule.id

    def inject_error(
        self,
        api: object,
        error: object,
        count: int | None = None,
        topic: str | None = None,
        partition: int | None = None,
        client_id: str | None = None,
        duration_ms: int | None = None,
        **options: Any,
    ) -> int:
        """Answer the next `count` matching requests (None: until cleared) with `error`."""
        return self.add_rule(
            ERROR,
            api,
            error=error,
            count=count,
            topic=topic,
            partition=partition,
            client_id=client_id,
            duration_ms=duration_ms,
            **options,
        )

    def add_latency(self, api: object, ms: int, count: int | None = None, **options: Any) -> int:
        """Answer matching requests `ms` milliseconds late (other connections carry on)."""
        return self.add_rule(LATENCY, api, latency_ms=ms, count=count, **options)

    def drop_connection(self, api: object, count: int | None = 1, **options: Any) -> int:
        """Close the connection instead of handling matching requests."""
        return self.add_rule(DROP, api, count=count, **options)

    def lose_response(self, api: object, count: int | None = 1, **options: Any) -> int:
        """Handle matching requests, then close the connection instead of answering."""
        return self.add_rule(LOSE_RESPONSE, api, count=count, **options)

    def crash_after(self, api: object, count: int | None = 1, **options: Any) -> int:
        """Handle a matching request, then exit the process at once (`kwire serve` only)."""
        return self.add_rule(CRASH, api, count=count, **options)

    def list(self) -> list[dict[str, Any]]:
        """The rules (JSON-ready dicts) and, as rules of kind "pause", the paused partitions."""
        with self._lock:
            rules = self._table.list(self.clock.monotonic())
            self._rearm()
            paused = sorted(self.paused)
        return rules + [{"kind": "pause", "topic": topic, "partition": partition} for topic, partition in paused]

    def clear(self, rule_id: int | None = None) -> int:
        """Remove one rule, or every rule and pause (resuming the partitions); how many."""
        with self._lock:
            removed = self._table.clear(rule_id)
            resumed = self.paused if rule_id is None else frozenset()
            if rule_id is None:
                self.paused = frozenset()
            self._rearm()
        if rule_id is not None and removed == 0:
            raise FaultError(f"no fault rule {rule_id}")
        log.info("faults cleared: %s", f"rule {rule_id}" if rule_id is not None else f"{removed} rules")
        if resumed:
            log.info("partitions resumed: %s", ", ".join(f"{t}-{p}" for t, p in sorted(resumed)))
            self._notify(RESUMED)
        return removed + len(resumed)

    def match(self, api: ApiKey, client_id: str | None, partitions: Iterable[tuple[str, int | None]]) -> Rule | None:
        """The dispatcher's question (only asked while `armed`)."""
        with self._lock:
            if not self._table.rules:
                return None
            rule = self._table.match(api, client_id, partitions, self.clock.monotonic())
            self._rearm()
        if rule is not None:
            log.info(
                "fault applied: rule %d (%s) to a %s request from client %s (%d so far)",
                rule.id,
                rule.kind,
                api_name(api),
                client_id,
                rule.applied,
            )
            if rule.count is not None and rule.count <= 0:
                log.info("fault done: rule %d (%s) applied %d times", rule.id, rule.kind, rule.applied)
        return rule

    def _rearm(self) -> None:
        self.armed = bool(self._table.rules) or bool(self.paused)

    # --- paused partitions --------------------------------------------------

    def pause_partition(self, topic: str, partition: int) -> None:
        """Fetches get no new data from it; produces to it wait until it resumes
        (or their timeout_ms passes: REQUEST_TIMED_OUT)."""
        if not isinstance(topic, str) or not topic or isinstance(partition, bool) or not isinstance(partition, int):
            raise FaultError("pause needs a topic name and a partition number")
        with self._lock:
            self.paused = self.paused | {(topic, partition)}
            self._rearm()
        log.info("partition %s-%d paused", topic, partition)

    def resume_partition(self, topic: str, partition: int) -> None:
        with self._lock:
            was = (topic, partition) in self.paused
            self.paused = self.paused - {(topic, partition)}
            self._rearm()
        if not was:
            raise FaultError(f"partition {topic}-{partition} is not paused")
        log.info("partition %s-%d resumed", topic, partition)
        self._notify(RESUMED)
        self._notify((topic, partition))

    def is_paused(self, topic: str, partition: int) -> bool:
        return (topic, partition) in self.paused

    def _notify(self, key: Hashable) -> None:
        for notify in list(self.notifiers):
            notify(key)

    # --- actions at once ------------------------------------------------------

    def close_connections(self) -> int:
        """Close every client connection of the node now; how many (0 when it
        serves none, e.g. driven without sockets)."""
        closed = sum(close() for close in list(self.connection_closers))
        log.info("closing all client connections (%d)", closed)
        return closed

    def kill(self) -> None:
        """End the process at once, no clean shutdown (os._exit), as a kill
        would: only for `kwire serve`; an embedded node refuses (FaultError)."""
        if not self.exit_allowed:
            raise FaultError("kill ends the process: only a node run by `kwire serve` can be killed")
        log.warning("killed by fault injection: exiting with status %d", KILLED_CODE)
        logging.shutdown()
        os._exit(KILLED_CODE)

    def crash(self, rule: Rule) -> None:
        """A crash rule's exit, right after its request was handled."""
        log.warning("exiting after %s request (%s)", rule.api.name, rule.describe())
        os._exit(EXIT_AFTER_PRODUCE_CODE)

    # --- start-up flags -----------------------------------------------------------

    def install_startup_flags(self, drop_produce_responses_every: int, exit_after_produce: int) -> None:
        """--drop-produce-responses N and --exit-after-produce N as rules."""
        with self._lock:
            now = self.clock.monotonic()
            if drop_produce_responses_every > 0:
                self._table.add(LOSE_RESPONSE, ApiKey.PRODUCE, now=now, every=drop_produce_responses_every)
            if exit_after_produce > 0:
                self._table.add(CRASH, ApiKey.PRODUCE, now=now, after=exit_after_produce - 1, count=1)
            self._rearm()


__all__ = ["FaultInjector", "FaultError", "EXIT_AFTER_PRODUCE_CODE", "RESUMED", "parse_api"]
