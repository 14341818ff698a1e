"""`sasl.jaas.config` values: one or more `LoginModule flag key=value ...;`
entries, the syntax of Kafka's JaasConfig (a Java JAAS file entry body).

Values are bare words or double-quoted strings with backslash escapes.
Passwords live in these values, so errors never quote the text.
"""

from __future__ import annotations

import attrs

CONTROL_FLAGS = ("required", "requisite", "sufficient", "optional")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "\\": "\\", '"': '"', "'": "'"}
_BARE_STOPS = frozenset(' \t\r\n=;"')


class JaasSyntaxError(ValueError):
    """What is wrong with a JAAS text, without quoting any of it."""


@attrs.frozen
class JaasEntry:
    module: str  # e.g. org.apache.kafka.common.security.plain.PlainLoginModule
    flag: str
    options: dict[str, str]

    @property
    def module_simple_name(self) -> str:
        return self.module.rsplit(".", 1)[-1]


def parse_jaas(text: str) -> list[JaasEntry]:
    """Every entry of a JAAS config text; JaasSyntaxError when malformed."""
    tokens = _tokens(text)
    entries: list[JaasEntry] = []
    position = 0
    while position < len(tokens):
        kind, module = tokens[position]
        if kind != "word":
            raise JaasSyntaxError(f"expected a login module name at entry {len(entries) + 1}")
        if position + 1 >= len(tokens) or tokens[position + 1][0] != "word":
            raise JaasSyntaxError(f"login module {module} has no control flag")
        flag = tokens[position + 1][1]
        if flag.lower() not in CONTROL_FLAGS:
            raise JaasSyntaxError(
                f"login module {module} has an invalid control flag (expected one of {', '.join(CONTROL_FLAGS)})"
            )
        position += 2
        options: dict[str, str] = {}
        while True:
            if position >= len(tokens):
                raise JaasSyntaxError(f"login module {module} is not terminated by ';'")
            kind, value = tokens[position]
            if kind == ";":
                position += 1
                break
            if kind != "word" or position + 2 >= len(tokens) or tokens[position + 1][0] != "=":
                raise JaasSyntaxError(f"login module {module} has an option that is not name=value")
            if tokens[position + 2][0] not in ("word", "quoted"):
                raise JaasSyntaxError(f"option {value} of login module {module} has no value")
            options[value] = tokens[position + 2][1]
            position += 3
        entries.append(JaasEntry(module, flag.lower(), options))
    if not entries:
        raise JaasSyntaxError("no login module given")
    return entries


def _tokens(text: str) -> list[tuple[str, str]]:
    """("word" | "quoted" | "=" | ";", text) pairs."""
    tokens: list[tuple[str, str]] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char.isspace():
            index += 1
        elif char in "=;":
            tokens.append((char, char))
            index += 1
        elif char == '"':
            value, index = _quoted(text, index + 1)
            tokens.append(("quoted", value))
        else:
            start = index
            while index < len(text) and text[index] not in _BARE_STOPS and not text[index].isspace():
                index += 1
            tokens.append(("word", text[start:index]))
    return tokens


def _quoted(text: str, index: int) -> tuple[str, int]:
    """The value of a quoted string whose opening quote ends before `index`, and the index after its closing quote."""
    parts: list[str] = []
    while index < len(text):
        char = text[index]
        if char == '"':
            return "".join(parts), index + 1
        if char == "\\":
            if index + 1 >= len(text):
                break
            escaped = text[index + 1]
            parts.append(_ESCAPES.get(escaped, escaped))
            index += 2
        else:
            parts.append(char)
            index += 1
    raise JaasSyntaxError("a quoted value is not closed")
