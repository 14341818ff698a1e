"""Subscription regular expressions (`SubscribedTopicRegex`, Kafka 4.x).

Kafka matches them with RE2/J, in linear time; Python's `re` backtracks,
so a pattern from the wire could stall the node. What RE2 refuses
(back-references, look-arounds, conditionals) is refused here too, and so
is a repetition inside an unbounded repetition, the shape of runaway
backtracking: INVALID_REGULAR_EXPRESSION, as Kafka answers a pattern it
cannot compile."""

from __future__ import annotations

import functools
import importlib
import re
from typing import Any

# The parser behind `re` (no stubs): its tree shows a pattern's shape.
sre: Any = importlib.import_module("re._constants")
sre_parse: Any = importlib.import_module("re._parser")

MAX_LENGTH = 1000
_REFUSED = {sre.GROUPREF, sre.GROUPREF_EXISTS, sre.ASSERT, sre.ASSERT_NOT}
_REPEATS = {sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT}


class InvalidTopicRegex(ValueError):
    pass


@functools.lru_cache(maxsize=256)
def compile_topic_regex(pattern: str) -> re.Pattern[str]:
    if len(pattern) > MAX_LENGTH:
        raise InvalidTopicRegex(f"longer than {MAX_LENGTH} characters")
    try:
        parsed = sre_parse.parse(pattern)
        compiled = re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise InvalidTopicRegex(str(exc)) from None
    _check(parsed, inside_repeat=False)
    return compiled


def _check(items: Any, inside_repeat: bool) -> None:
    for op, argument in items:
        if op in _REFUSED:
            raise InvalidTopicRegex("back-references, look-arounds and conditionals are not supported (RE2 syntax)")
        if op in _REPEATS:
            _low, high, body = argument
            if inside_repeat:
                raise InvalidTopicRegex("a repetition inside a repetition")
            _check(body, inside_repeat=high == sre.MAXREPEAT or high > 100)
        elif op == sre.SUBPATTERN:
            _check(argument[-1], inside_repeat)
        elif op == sre.BRANCH:
            for branch in argument[1]:
                _check(branch, inside_repeat)
        elif op == sre.ATOMIC_GROUP:
            _check(argument, inside_repeat)
