"""Legal state changes written down as data.

Groups and transactions each keep a table: for every state, the states it
may be entered from (the way Kafka declares them). A change the table does
not allow is a bug in the coordinator, never a client's mistake, so it
raises `IllegalStateTransition` instead of answering with a Kafka error.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TypeVar

StateT = TypeVar("StateT", bound=enum.Enum)


class IllegalStateTransition(RuntimeError):
    """The coordinator tried a state change its table forbids."""


def check_transition(
    subject: str, current: StateT, target: StateT, valid_previous: Mapping[StateT, frozenset[StateT]]
) -> None:
    """Raise IllegalStateTransition unless `target` may follow `current`."""
    if current not in valid_previous[target]:
        raise IllegalStateTransition(
            f"{subject}: cannot go from {current.name} to {target.name}"
            f" (only from {', '.join(sorted(s.name for s in valid_previous[target])) or 'nowhere'})"
        )
