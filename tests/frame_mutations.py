"""Byte-level mutations of request frames, for the fuzz tests (the unit test
of the bounds pass and the byte-level fuzzer in compat_tests/).

A frame here is a request without its 4-byte size prefix. Mutations flip,
overwrite, insert, delete and duplicate bytes, truncate, move the request to
another version of its API, and write extreme values into the length and
count fields that the bounds pass reports (kwire.protocol.bounds.length_fields).
"""

from __future__ import annotations

import random
import struct

from kwire.protocol.bounds import LengthField, length_fields
from kwire.protocol.headers import HeaderError, parse_request_header, peek_api
from kwire.protocol.registry import request_is_flexible

EXTREMES = {
    "int16": [0, 1, -1, -2, 2, 0x7FFF, -0x8000],
    "int32": [0, 1, -1, -2, 2, 0x7FFF, 0xFFFF, 0x7FFFFFFF, -(2**31)],
    "uvarint": [0, 1, 2, 0x7F, 0x80, 0x3FFF, 0x7FFFFFFF, 0xFFFFFFFF, 2**35 - 1, "overlong"],
    "marker": [0, 1, -1, 2, 0x7F, -128],
}
_PACK = {"int16": struct.Struct(">h"), "int32": struct.Struct(">i"), "marker": struct.Struct(">b")}
_INTERESTING_BYTES = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE]
_SIZE = struct.Struct(">i")


def encode_uvarint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _varint_span(frame: bytes, pos: int) -> int:
    """Bytes the varint at pos occupies (at most 5, or to the end)."""
    end = pos
    while end < len(frame) and end - pos < 5:
        end += 1
        if frame[end - 1] < 0x80:
            break
    return end - pos


def write_value(frame: bytes, field: LengthField, value) -> bytes:
    """`frame` with `value` in place of the length field (a varint may change size)."""
    pos = field.position
    if field.encoding == "uvarint":
        encoded = b"\xff" * 5 + b"\x01" if value == "overlong" else encode_uvarint(value)
        return frame[:pos] + encoded + frame[pos + _varint_span(frame, pos) :]
    packer = _PACK[field.encoding]
    return frame[:pos] + packer.pack(value) + frame[pos + packer.size :]


def frame_length_fields(frame: bytes) -> list[LengthField]:
    """Length fields of a valid request frame: the header's and the body's."""
    api_key, version, _correlation = peek_api(frame)
    flexible = request_is_flexible(api_key, version)
    header = parse_request_header(frame, flexible)
    fields = [LengthField(8, "int16", "header.client_id")]
    if flexible:
        client_id_length = max(0, _PACK["int16"].unpack_from(frame, 8)[0])
        fields.append(LengthField(10 + client_id_length, "uvarint", "header._tagged_fields"))
    return fields + length_fields(api_key, version, frame, header.body_offset)


def every_extreme(frame: bytes, fields: list[LengthField]):
    """Each length field of `frame` set to each extreme value in turn."""
    for field in fields:
        for value in EXTREMES[field.encoding]:
            yield write_value(frame, field, value)


class Mutator:
    """Deterministic given its random.Random."""

    def __init__(self, rng: random.Random, versions: dict[int, list[int]] | None = None) -> None:
        self.rng = rng
        self.versions = versions or {}  # api_key -> served versions, for version swaps
        self._operations = [
            (30, self.extreme_length),
            (12, self.flip_bits),
            (12, self.overwrite_bytes),
            (9, self.insert_bytes),
            (9, self.delete_bytes),
            (9, self.truncate),
            (5, self.duplicate_slice),
            (5, self.swap_version),
            (9, self.stacked),
        ]
        self._weights = [weight for weight, _ in self._operations]

    def mutate(self, frame: bytes, fields: list[LengthField]) -> bytes:
        if not frame:
            return self.insert_bytes(frame, fields)
        (operation,) = self.rng.choices([op for _, op in self._operations], self._weights)
        return operation(frame, fields)

    def extreme_length(self, frame: bytes, fields: list[LengthField]) -> bytes:
        if not fields:
            return self.flip_bits(frame, fields)
        field = self.rng.choice(fields)
        return write_value(frame, field, self.rng.choice(EXTREMES[field.encoding]))

    def flip_bits(self, frame: bytes, fields) -> bytes:
        data = bytearray(frame)
        for _ in range(self.rng.randint(1, 4)):
            data[self.rng.randrange(len(data))] ^= 1 << self.rng.randrange(8)
        return bytes(data)

    def overwrite_bytes(self, frame: bytes, fields) -> bytes:
        data = bytearray(frame)
        for _ in range(self.rng.randint(1, 4)):
            data[self.rng.randrange(len(data))] = self._a_byte()
        return bytes(data)

    def insert_bytes(self, frame: bytes, fields) -> bytes:
        pos = self.rng.randrange(len(frame) + 1)
        return frame[:pos] + bytes(self._a_byte() for _ in range(self.rng.randint(1, 8))) + frame[pos:]

    def delete_bytes(self, frame: bytes, fields) -> bytes:
        pos = self.rng.randrange(len(frame))
        return frame[:pos] + frame[pos + self.rng.randint(1, 8) :]

    def truncate(self, frame: bytes, fields) -> bytes:
        return frame[: self.rng.randrange(len(frame))]

    def duplicate_slice(self, frame: bytes, fields) -> bytes:
        start = self.rng.randrange(len(frame))
        piece = frame[start : start + self.rng.randint(1, 64)]
        at = self.rng.randrange(len(frame) + 1)
        return frame[:at] + piece * self.rng.randint(1, 4) + frame[at:]

    def swap_version(self, frame: bytes, fields) -> bytes:
        """The same body read as another version of its API."""
        try:
            api_key, version, _ = peek_api(frame)
        except HeaderError:
            return self.flip_bits(frame, fields)
        others = [v for v in self.versions.get(api_key, []) if v != version]
        if not others:
            return self.flip_bits(frame, fields)
        return frame[:2] + struct.pack(">h", self.rng.choice(others)) + frame[4:]

    def stacked(self, frame: bytes, fields) -> bytes:
        for _ in range(self.rng.randint(2, 4)):
            if not frame:
                break
            # Positions of length fields move once bytes are inserted or
            # deleted; stale ones still land somewhere interesting.
            (operation,) = self.rng.choices([op for _, op in self._operations[:-1]], self._weights[:-1])
            frame = operation(frame, [f for f in fields if f.position < len(frame)])
        return frame

    def _a_byte(self) -> int:
        return self.rng.choice(_INTERESTING_BYTES) if self.rng.random() < 0.5 else self.rng.randrange(256)

    def size_prefix(self, frame: bytes) -> bytes:
        """The 4-byte size prefix: mostly true, sometimes a lie."""
        roll = self.rng.random()
        if roll < 0.9:
            size = len(frame)
        elif roll < 0.96:
            size = max(0, len(frame) + self.rng.choice([-16, -4, -1, 1, 4, 16, 4096]))
        else:
            size = self.rng.choice([0, -1, 0x7FFFFFFF, -(2**31), len(frame) * 2 + 1])
        return _SIZE.pack(size)
