"""Kafka-style `server.properties` files, read with Java's properties syntax.

The rules are those of java.util.Properties.load, which Kafka uses: `#` and
`!` start comment lines; a key ends at the first unescaped `=`, `:` or
blank, and one `=` or `:` (with blanks around it) may follow; a line ending
in an odd number of backslashes continues on the next, whose leading blanks
are dropped; `\\t \\n \\r \\f \\uXXXX` are escapes and a backslash before any
other character stands for that character. A key given twice keeps its
last value, as in Java.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from kwire.config import ConfigError

_BLANKS = " \t\f"
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


@attrs.frozen
class Entry:
    """One setting as a source gave it; `origin` names where, for error messages
    ("server.properties:12", "environment variable KAFKA_NUM_PARTITIONS"), and is
    empty for `-o`, whose errors name the setting alone."""

    key: str
    value: str
    origin: str = ""


def read_properties(path: Path) -> list[Entry]:
    """The entries of a properties file in file order; ConfigError (one line) if
    it cannot be read or holds a malformed escape."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror or error}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        # Java reads properties files as ISO-8859-1; UTF-8 is tried first
        # because it is what editors write today (ASCII reads the same).
        text = data.decode("latin-1")
    return parse_properties(text, str(path))


def parse_properties(text: str, name: str) -> list[Entry]:
    """The entries of properties text; `name` is used in origins ("name:line")."""
    entries = []
    for line_number, logical in _logical_lines(text):
        origin = f"{name}:{line_number}"
        key, value = _split(logical)
        entries.append(Entry(_unescape(key, origin), _unescape(value, origin), origin))
    return entries


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, logical line) for every line that is not blank or a comment."""
    natural = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    found: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, line in enumerate(natural, start=1):
        if pending:
            line = line.lstrip(_BLANKS)  # a continuation line's indentation is not part of the value
        else:
            stripped = line.lstrip(_BLANKS)
            if not stripped or stripped[0] in "#!":
                continue
            line, start = stripped, number
        if _ends_in_continuation(line):
            pending.append(line[:-1])
            continue
        pending.append(line)
        found.append((start, "".join(pending)))
        pending = []
    if pending:  # the file ended in a continuation: Java keeps what was read
        found.append((start, "".join(pending)))
    return found


def _ends_in_continuation(line: str) -> bool:
    backslashes = len(line) - len(line.rstrip("\\"))
    return backslashes % 2 == 1


def _split(line: str) -> tuple[str, str]:
    """The raw (still escaped) key and value of a logical line."""
    index = 0
    while index < len(line):
        char = line[index]
        if char == "\\":
            index += 2
            continue
        if char in "=:" or char in _BLANKS:
            break
        index += 1
    key, rest = line[:index], line[index:]
    rest = rest.lstrip(_BLANKS)
    if rest[:1] in ("=", ":"):
        rest = rest[1:].lstrip(_BLANKS)
    return key, rest


def _unescape(raw: str, origin: str) -> str:
    out = []
    index = 0
    while index < len(raw):
        char = raw[index]
        if char != "\\":
            out.append(char)
            index += 1
            continue
        if index + 1 >= len(raw):
            break  # a lone backslash at the very end stands for nothing
        escaped = raw[index + 1]
        if escaped == "u":
            digits = raw[index + 2 : index + 6]
            if len(digits) < 4 or any(d not in "0123456789abcdefABCDEF" for d in digits):
                raise ConfigError(f"{origin}: Malformed \\uxxxx encoding")
            out.append(chr(int(digits, 16)))
            index += 6
            continue
        out.append(_ESCAPES.get(escaped, escaped))
        index += 2
    return "".join(out)
