"""Build kio response entities of any version from plain dicts.

Handlers describe a response once, with every field any version may carry;
`build` keeps the fields that the requested version's class has, converts
plain ints to the timedelta/enum types kio expects, and builds nested
entities from nested dicts. Used for the small, rare responses; the hot
ones have hand-written encoders (fast_responses.py).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import io
import types
import typing
from collections.abc import Callable
from typing import IO, Any

# kio is first imported by kwire/protocol/__init__.py (the fast way), which
# Python runs before any module of this package.
from kio.schema.errors import ErrorCode
from kio.serial import entity_writer

_TIMEDELTA_TYPES = frozenset({"timedelta_i32", "timedelta_i64"})


@functools.cache
def field_plan(cls: type) -> tuple[tuple[str, str | None, type | None, bool, bool], ...]:
    """(name, kafka_type, nested entity class, is_sequence, is_nullable) for each field."""
    plan = []
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        annotation = hints.get(field.name, field.type)
        nested, is_sequence = _nested_entity(annotation)
        nullable = typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in typing.get_args(
            annotation
        )
        plan.append((field.name, field.metadata.get("kafka_type"), nested, is_sequence, nullable))
    return tuple(plan)


def _nested_entity(annotation: Any) -> tuple[type | None, bool]:
    origin = typing.get_origin(annotation)
    if origin is tuple:
        inner = typing.get_args(annotation)[0]
        return (inner if isinstance(inner, type) and dataclasses.is_dataclass(inner) else None), True
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                nested, is_sequence = _nested_entity(arg)
                if nested is not None or is_sequence:
                    return nested, is_sequence
        return None, False
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return annotation, False
    return None, False


def build(cls: type, values: dict[str, Any]) -> Any:
    kwargs: dict[str, Any] = {}
    for name, kafka_type, nested, is_sequence, nullable in field_plan(cls):
        if name not in values:
            continue
        value = values[name]
        if value is None:
            kwargs[name] = None
        elif nested is not None:
            if is_sequence:
                kwargs[name] = tuple(build(nested, item) if isinstance(item, dict) else item for item in value)
            else:
                kwargs[name] = build(nested, value) if isinstance(value, dict) else value
        elif kafka_type in _TIMEDELTA_TYPES and isinstance(value, int):
            kwargs[name] = datetime.timedelta(milliseconds=value)
        elif kafka_type == "datetime_i64" and isinstance(value, int):
            # -1 means "no timestamp": None where kio allows it, else the
            # datetime kio writes back as -1.
            no_time = value == -1 and nullable
            kwargs[name] = None if no_time else datetime.datetime.fromtimestamp(value / 1000, datetime.UTC)
        elif kafka_type == "error_code" and isinstance(value, int):
            kwargs[name] = ErrorCode(value)
        elif is_sequence:
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


@functools.cache
def _writer(cls: type) -> Callable[[IO[bytes], Any], None]:
    return entity_writer(cls)


def encode(entity: Any) -> bytes:
    buffer = io.BytesIO()
    cls: type = type(entity)  # not type[Any], which mypy does not see as hashable
    _writer(cls)(buffer, entity)
    return buffer.getvalue()
