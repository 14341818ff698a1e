"""The bounds pass: every length a request body declares is checked against
the bytes actually in the frame before kio's native reader sees the body.

kio's reader (Rust) sizes each array from its declared count before reading
a single element: a count of 10^9 makes it allocate ~100 GB and abort the
whole process, which no `except` can catch. This pass walks a request body
exactly as kio will read it (kio's schema classes say how) and refuses it
when any declared length cannot be true:

- a string, bytes or records length that runs past the end of the frame;
- an array count larger than the bytes left divided by the smallest
  encoding of one element (so no count can make kio allocate more than a
  few times the frame's own size), and more elements in one request than
  `MAX_REQUEST_ELEMENTS` (each becomes a Python object, ~10x its wire size);
- a tagged field whose value does not end exactly where its declared size
  says (kio reads the value and ignores the size, so the two must agree), a
  tagged-field count larger than the bytes left allow;
- a varint longer than 5 bytes; a null (or a nullable-struct marker other
  than -1/1) where the schema allows none.

The walk is generated per schema as straight-line Python, compiled once and
cached: no per-field dispatch, fixed-size fields skipped with one addition,
arrays of fixed-size elements skipped without a loop. A second variant
records where every length field is, for the byte-level fuzzer.
"""

from __future__ import annotations

import dataclasses
import functools
import struct
from collections.abc import Callable
from typing import Any, NamedTuple

from kio.index import load_request_schema
from kio.serial._introspect import (
    EntityField,
    EntityTupleField,
    PrimitiveField,
    PrimitiveTupleField,
    classify_field,
    get_field_tag,
    get_schema_field_type,
    is_optional,
)
from kio.static.protocol import Entity

# More array elements than this in one request is refused: the largest
# requests real clients send (Metadata for every topic, a commit for every
# partition of a big consumer group) hold tens of thousands, and each element
# costs the broker 50-200 bytes of Python objects however small its encoding.
MAX_REQUEST_ELEMENTS = 1_000_000

_FIXED_SIZES = {
    "int8": 1,
    "uint8": 1,
    "bool": 1,
    "int16": 2,
    "uint16": 2,
    "error_code": 2,
    "int32": 4,
    "uint32": 4,
    "timedelta_i32": 4,
    "int64": 8,
    "uint64": 8,
    "float64": 8,
    "timedelta_i64": 8,
    "datetime_i64": 8,
    "uuid": 16,
}
_VARIABLE = ("string", "bytes", "records")
_INT16 = struct.Struct(">h").unpack_from
_INT32 = struct.Struct(">i").unpack_from


class RequestBoundsError(ValueError):
    """A declared length in the request cannot be true: refuse the request."""


class LengthField(NamedTuple):
    """Where a length, count or null marker sits in a frame (for the fuzzer)."""

    position: int
    encoding: str  # "int16", "int32", "uvarint" or "marker" (int8)
    path: str


def _uvarint(buf: bytes, pos: int) -> tuple[int, int]:
    """An unsigned varint of at most 5 bytes, as Kafka's readUnsignedVarint."""
    value = shift = 0
    for _ in range(5):
        byte = buf[pos]  # IndexError when truncated: reported by the caller
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    raise RequestBoundsError(f"varint longer than 5 bytes ending at {pos}")


BoundsCheck = Callable[[bytes, int], int]
# The fuzzer's variant: also appends each length field to a list.
RecordingCheck = Callable[[bytes, int, list[LengthField]], int]


@functools.cache
def bounds_check(api_key: int, version: int) -> BoundsCheck:
    """check(frame, body_offset) -> end of the body; raises RequestBoundsError."""
    check: BoundsCheck = _compile(load_request_schema(api_key, version), record=False)
    return check


@functools.cache
def _recording_check(api_key: int, version: int) -> RecordingCheck:
    check: RecordingCheck = _compile(load_request_schema(api_key, version), record=True)
    return check


def length_fields(api_key: int, version: int, frame: bytes, body_offset: int) -> list[LengthField]:
    """Every length, count and null marker in a (valid) request body, in order."""
    marks: list[LengthField] = []
    _recording_check(api_key, version)(frame, body_offset, marks)
    return marks


# --- code generation ------------------------------------------------------


def _min_size(entity: type[Entity], nullable: bool = False) -> int:
    """Fewest bytes one encoding of `entity` can take."""
    size = 1 if nullable else 0
    flexible = entity.__flexible__
    for field in dataclasses.fields(entity):
        if get_field_tag(field) is not None:
            continue
        shape = classify_field(field)
        if isinstance(shape, (PrimitiveTupleField, EntityTupleField)):
            size += 1 if flexible else 4
        elif isinstance(shape, EntityField):
            size += _min_size(shape.type_, is_optional(field))
        else:
            size += _primitive_min_size(get_schema_field_type(field), flexible)
    return size + (1 if flexible else 0)  # the tagged-field count


def _primitive_min_size(kafka_type: str, flexible: bool) -> int:
    if kafka_type in _FIXED_SIZES:
        return _FIXED_SIZES[kafka_type]
    if flexible:
        return 1
    return 2 if kafka_type == "string" else 4


class _Generator:
    def __init__(self, record: bool) -> None:
        self.record = record
        self.lines: list[str] = []
        self.depth = 1
        self.counter = 0
        self.pending_skip = 0  # fixed-size bytes not yet added to pos

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def emit(self, line: str) -> None:
        self.flush_skip()
        self.lines.append("    " * self.depth + line)

    def flush_skip(self) -> None:
        if self.pending_skip:
            skip, self.pending_skip = self.pending_skip, 0
            self.lines.append("    " * self.depth + f"pos += {skip}")

    def indent(self) -> None:
        self.flush_skip()
        self.depth += 1

    def dedent(self) -> None:
        self.flush_skip()
        self.depth -= 1

    def fail(self, message: str) -> None:
        self.emit(f"raise RequestBoundsError(f{message!r})")

    def mark(self, encoding: str, path: str) -> None:
        if self.record:
            self.emit(f"marks.append(LengthField(pos, {encoding!r}, {path!r}))")

    def read_uvarint(self, target: str, path: str) -> None:
        """`target` = the varint at pos; up to two bytes inline (lengths
        below 16384), longer ones by call."""
        second = self.fresh("b")
        self.mark("uvarint", path)
        self.emit(f"{target} = buf[pos]")
        self.emit(f"if {target} < 128:")
        self.indent()
        self.emit("pos += 1")
        self.dedent()
        self.emit("else:")
        self.indent()
        self.emit(f"{second} = buf[pos + 1]")
        self.emit(f"if {second} < 128:")
        self.indent()
        self.emit(f"{target} = ({target} & 127) | ({second} << 7)")
        self.emit("pos += 2")
        self.dedent()
        self.emit("else:")
        self.indent()
        self.emit(f"{target}, pos = _uvarint(buf, pos)")
        self.dedent()
        self.dedent()

    # entities ------------------------------------------------------------

    def entity(self, entity: type[Entity], nullable: bool, path: str) -> None:
        if nullable:
            marker = self.fresh("m")
            self.mark("marker", path)
            self.emit(f"{marker} = buf[pos]")
            self.emit("pos += 1")
            self.emit(f"if {marker} == 1:")
            self.indent()
            self.entity_body(entity, path)
            self.dedent()
            self.emit(f"elif {marker} != 255:")
            self.indent()
            self.fail(f"nullable struct {path}: marker {{{marker}}} is neither -1 nor 1")
            self.dedent()
        else:
            self.entity_body(entity, path)

    def entity_body(self, entity: type[Entity], path: str) -> None:
        flexible = entity.__flexible__
        tagged: list[tuple[int, dataclasses.Field[Any]]] = []
        for field in dataclasses.fields(entity):
            tag = get_field_tag(field)
            if tag is not None:
                tagged.append((tag, field))
            else:
                self.field(field, flexible, f"{path}.{field.name}", tagged=False)
        if flexible:
            self.tagged_section(tagged, path)

    def tagged_section(self, tagged: list[tuple[int, dataclasses.Field[Any]]], path: str) -> None:
        count, tag, size, stop = self.fresh("t"), self.fresh("tag"), self.fresh("size"), self.fresh("stop")
        self.read_uvarint(count, f"{path}._tagged_fields")
        self.emit(f"if {count}:")
        self.indent()
        self.emit(f"if {count} * 2 > end - pos:")  # each takes a tag and a size
        self.indent()
        self.fail(f"{path}: {{{count}}} tagged fields declared, {{end - pos}} bytes left")
        self.dedent()
        self.emit(f"for _ in range({count}):")
        self.indent()
        self.read_uvarint(tag, f"{path}._tag")
        self.read_uvarint(size, f"{path}._tag_size")
        self.emit(f"{stop} = pos + {size}")
        self.emit(f"if {stop} > end:")
        self.indent()
        self.fail(f"{path}: tagged field {{{tag}}} of {{{size}}} bytes runs past the frame")
        self.dedent()
        keyword = "if"
        for number, field in sorted(tagged, key=lambda item: item[0]):
            self.emit(f"{keyword} {tag} == {number}:")
            keyword = "elif"
            self.indent()
            self.field(field, True, f"{path}.{field.name}", tagged=True)
            self.emit(f"if pos != {stop}:")
            self.indent()
            self.fail(f"{path}.{field.name}: tagged field value does not fill its declared {{{size}}} bytes")
            self.dedent()
            self.dedent()
        if tagged:
            self.emit("else:")
            self.indent()
            self.emit(f"pos = {stop}")  # an unknown tag: skipped, as Kafka does
            self.dedent()
        else:
            self.emit(f"pos = {stop}")
        self.dedent()
        self.dedent()

    # fields --------------------------------------------------------------

    def field(self, field: dataclasses.Field[Any], flexible: bool, path: str, tagged: bool) -> None:
        shape = classify_field(field)
        if isinstance(shape, PrimitiveField):
            # kio reads tagged primitives as non-nullable (their absence is the null).
            nullable = is_optional(field) and not tagged
            self.primitive(get_schema_field_type(field), flexible, nullable, path)
        elif isinstance(shape, EntityField):
            self.entity(shape.type_, is_optional(field), path)
        elif isinstance(shape, PrimitiveTupleField):
            kafka_type = get_schema_field_type(field)
            self.array(
                flexible,
                is_optional(field),
                path,
                _primitive_min_size(kafka_type, flexible),
                fixed=_FIXED_SIZES.get(kafka_type),
                element=lambda: self.primitive(kafka_type, flexible, False, f"{path}[]"),
            )
        elif isinstance(shape, EntityTupleField):
            self.array(
                flexible,
                is_optional(field),
                path,
                max(1, _min_size(shape.type_)),
                fixed=None,
                element=lambda: self.entity(shape.type_, False, f"{path}[]"),
            )
        else:  # pragma: no cover - kio knows no other shape
            raise TypeError(f"unknown field shape {shape!r} at {path}")

    def primitive(self, kafka_type: str, flexible: bool, nullable: bool, path: str) -> None:
        if kafka_type in _FIXED_SIZES:
            self.pending_skip += _FIXED_SIZES[kafka_type]
            return
        if kafka_type not in _VARIABLE:  # pragma: no cover - kio knows no other type
            raise TypeError(f"unknown kafka_type {kafka_type!r} at {path}")
        length = self.fresh("n")
        if flexible:
            self.read_uvarint(length, path)
            if nullable:
                self.emit(f"if {length}:")
                self.indent()
                self.emit(f"pos += {length} - 1")
                self.dedent()
            else:
                self.emit(f"if not {length}:")
                self.indent()
                self.fail(f"{path}: null where the schema allows none")
                self.dedent()
                self.emit(f"pos += {length} - 1")
        else:
            encoding, reader, width = ("int16", "_INT16", 2) if kafka_type == "string" else ("int32", "_INT32", 4)
            self.mark(encoding, path)
            self.emit(f"{length} = {reader}(buf, pos)[0]")
            self.emit(f"pos += {width}")
            self.emit(f"if {length} >= 0:")
            self.indent()
            self.emit(f"pos += {length}")
            self.dedent()
            self.emit(f"elif {length} != -1:" if nullable else "else:")
            self.indent()
            self.fail(f"{path}: invalid length {{{length}}}")
            self.dedent()
        # A length past the frame fails here, before any later count is trusted.
        self.emit("if pos > end:")
        self.indent()
        self.fail(f"{path}: declared length runs {{pos - end}} bytes past the frame")
        self.dedent()

    def array(
        self, flexible: bool, nullable: bool, path: str, min_size: int, fixed: int | None, element: Callable[[], None]
    ) -> None:
        count = self.fresh("c")
        if flexible:
            self.read_uvarint(count, path)
            self.emit(f"if {count}:")
            self.indent()
            self.emit(f"{count} -= 1")
        else:
            self.mark("int32", path)
            self.emit(f"{count} = _INT32(buf, pos)[0]")
            self.emit("pos += 4")
            self.emit(f"if {count} >= 0:")
            self.indent()
        self.emit(f"if {count} * {min_size} > end - pos:")
        self.indent()
        self.fail(f"{path}: {{{count}}} elements declared, only {{end - pos}} bytes left")
        self.dedent()
        self.emit(f"items += {count}")
        self.emit("if items > MAX_REQUEST_ELEMENTS:")
        self.indent()
        self.fail(f"{path}: more than {{MAX_REQUEST_ELEMENTS}} array elements in one request")
        self.dedent()
        if fixed is not None:
            self.emit(f"pos += {count} * {fixed}")
        else:
            self.emit(f"for _ in range({count}):")
            self.indent()
            element()
            self.dedent()
        self.dedent()
        if flexible:
            if not nullable:
                self.emit("else:")
                self.indent()
                self.fail(f"{path}: null array where the schema allows none")
                self.dedent()
        else:
            self.emit(f"elif {count} != -1:" if nullable else "else:")
            self.indent()
            self.fail(f"{path}: invalid array length {{{count}}}")
            self.dedent()


def _compile(schema: type[Entity], record: bool) -> Callable[..., int]:
    generator = _Generator(record)
    generator.entity(schema, False, schema.__name__)
    generator.flush_skip()
    body = "\n".join(generator.lines) or "    pass"
    signature = "buf, pos, marks" if record else "buf, pos"
    source = (
        f"def check({signature}):\n"
        "    end = len(buf)\n"
        "    items = 0\n"
        "    try:\n" + "\n".join("    " + line for line in body.splitlines()) + "\n"
        "    except (IndexError, struct.error):\n"
        "        raise RequestBoundsError(f'request body truncated: a field at byte {pos} of {end}') from None\n"
        "    if pos > end:\n"
        "        raise RequestBoundsError(f'request body runs {pos - end} bytes past the frame')\n"
        "    return pos\n"
    )
    namespace: dict[str, Any] = {
        "RequestBoundsError": RequestBoundsError,
        "LengthField": LengthField,
        "MAX_REQUEST_ELEMENTS": MAX_REQUEST_ELEMENTS,
        "_uvarint": _uvarint,
        "_INT16": _INT16,
        "_INT32": _INT32,
        "struct": struct,
    }
    exec(compile(source, f"<bounds {schema.__module__}>", "exec"), namespace)
    check: Callable[..., int] = namespace["check"]
    return check
