"""Requests parked until something changes (fetch long-polls, joins and
syncs waiting for a rebalance), keyed on what they wait for: a partition
`(topic, index)` or a group `("group", id)`. The server parks and wakes
them; the state only says who to wake."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Protocol


class Waiter(Protocol):
    def wake(self) -> None: ...


class Waiters:
    def __init__(self) -> None:
        self._by_key: dict[Hashable, set[Waiter]] = {}

    def add(self, keys: Iterable[Hashable], waiter: Waiter) -> None:
        for key in keys:
            self._by_key.setdefault(key, set()).add(waiter)

    def remove(self, keys: Iterable[Hashable], waiter: Waiter) -> None:
        for key in keys:
            waiters = self._by_key.get(key)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._by_key[key]

    def notify(self, key: Hashable) -> None:
        """Wake every waiter parked on `key`."""
        waiters = self._by_key.get(key)
        if waiters:
            for waiter in list(waiters):
                waiter.wake()
