"""A key, value or header as the message browser shows it: text (invalid
UTF-8 escaped), pretty JSON, or hex. Long values are cut at SHOWN_BYTES."""

from __future__ import annotations

import json

FORMATS = ("text", "json", "hex")
SHOWN_BYTES = 64 * 1024


def show(data: bytes | None, form: str) -> tuple[str, str]:
    """(the text to show, a note such as "null" or "not JSON")."""
    if data is None:
        return "", "null"
    cut = len(data) > SHOWN_BYTES
    part = data[:SHOWN_BYTES]
    note = f"first {SHOWN_BYTES:,} of {len(data):,} bytes" if cut else ""
    if form == "hex":
        return _hex(part), note
    if form == "json" and not cut:
        try:
            return json.dumps(json.loads(data), indent=2, ensure_ascii=False), note
        except (ValueError, RecursionError):
            return as_text(part), "not JSON"
    return as_text(part), note


_CONTROL = {code: f"\\x{code:02x}" for code in [*range(0x20), 0x7F] if chr(code) not in "\n\t"}


def as_text(data: bytes) -> str:
    """UTF-8, with bytes that are not valid UTF-8, and control characters
    other than newline and tab, shown as \\xNN."""
    return data.decode("utf-8", "backslashreplace").translate(_CONTROL)


def _hex(data: bytes) -> str:
    lines = []
    for at in range(0, len(data), 16):
        chunk = data[at : at + 16]
        lines.append(f"{at:08x}  {chunk.hex(' '):<47}  {''.join(chr(b) if 32 <= b < 127 else '.' for b in chunk)}")
    return "\n".join(lines)
