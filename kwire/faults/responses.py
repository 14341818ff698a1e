"""An error response for any request, built from the request itself.

The response schema of the request's API and version is walked: every
`error_code` field gets the injected code, every list of topics or
partitions is copied from the request's matching list (same field name, or
the only list left on both sides: Produce's topic_data -> responses), with
the identifying fields (name, topic, topic_id, partition_index, key, ...)
copied from the request's items, and everything else gets a neutral value
(-1 for offsets, epochs, ids and timestamps, 0, "", empty, or None where the
field is nullable). When the result cannot be built, or would carry no
error at all (Metadata for every topic, say), `error_response` raises and
the dispatcher closes the connection instead.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from typing import Any

from kwire.protocol.kio_build import build, field_plan

MESSAGE = "kwire fault injection"
_MINUS_ONE = re.compile(r"offset|epoch|timestamp|leader_id|producer_id|node_id|generation|coordinator|^port$")
_ALIASES = {
    "partition_index": ("partition", "index", "partition_id"),
    "partition": ("partition_index", "index"),
    "index": ("partition_index", "partition"),
    "name": ("topic", "topic_name"),
    "topic": ("name", "topic_name"),
    "topic_name": ("name", "topic"),
}
_STRING_KEYS = ("name", "topic", "key", "group_id", "transactional_id", "topic_name")
_INT_KEYS = ("partition_index", "partition", "index")


def error_response(api_key: int, api_version: int, request: Any, error_code: int) -> Any:
    from kio.index import load_response_schema

    cls = load_response_schema(api_key, api_version)
    values = _values(cls, request, error_code)
    if not _has_error(values):
        # e.g. Metadata for all topics: nowhere to put the error.
        raise ValueError("the response would carry no error_code")
    return build(cls, values)


def _has_error(values: Any) -> bool:
    if isinstance(values, dict):
        return "error_code" in values or "partition_error_code" in values or any(map(_has_error, values.values()))
    if isinstance(values, list):
        return any(_has_error(value) for value in values)
    return False


def _values(cls: type, source: Any, code: int) -> dict[str, Any]:
    plan = field_plan(cls)
    values: dict[str, Any] = {}
    defaults = {field.name: field for field in dataclasses.fields(cls)}
    source_sequences = _entity_sequences(source)
    unmatched_sources = [name for name in source_sequences if name not in {entry[0] for entry in plan}]
    for name, kafka_type, nested, is_sequence, nullable in plan:
        if kafka_type == "error_code":
            values[name] = code
        elif nested is not None and is_sequence:
            items = source_sequences.get(name)
            if items is None and unmatched_sources:
                items = source_sequences[unmatched_sources.pop(0)]
            values[name] = [_values(nested, item, code) for item in items or ()]
        elif nested is not None:
            values[name] = None if nullable else _values(nested, None, code)
        elif name in ("error_message", "message") and kafka_type == "string":
            values[name] = MESSAGE if nullable else MESSAGE
        else:
            copied = _copied(name, source, kafka_type, is_sequence)
            if copied is not _MISSING:
                values[name] = copied
            elif _has_default(defaults[name]):
                continue
            else:
                values[name] = _neutral(name, kafka_type, is_sequence, nullable)
    return values


_MISSING = object()


def _entity_sequences(source: Any) -> dict[str, tuple[Any, ...]]:
    """The request's lists (of entities, names or partition numbers), by field name."""
    if source is None or not dataclasses.is_dataclass(source):
        return {}
    found = {}
    for field in dataclasses.fields(source):
        value = getattr(source, field.name)
        if isinstance(value, tuple) and value and not isinstance(value[0], (bytes, bytearray)):
            found[field.name] = value
        elif isinstance(value, tuple) and field.name in ("topics", "topic_data", "partitions"):
            found[field.name] = value
    return found


def _copied(name: str, source: Any, kafka_type: str | None, is_sequence: bool) -> Any:
    if source is None or is_sequence:
        return _MISSING
    if isinstance(source, str):
        return source if kafka_type == "string" and name in _STRING_KEYS else _MISSING
    if isinstance(source, int) and not isinstance(source, bool):
        return source if name in _INT_KEYS else _MISSING
    if not dataclasses.is_dataclass(source):
        return _MISSING
    for candidate in (name, *_ALIASES.get(name, ())):
        if hasattr(source, candidate):
            value = getattr(source, candidate)
            if kafka_type == "string" and (value is None or isinstance(value, str)):
                return value
            if kafka_type in ("int8", "int16", "int32", "int64") and isinstance(value, int):
                return value
            if kafka_type == "uuid" and (value is None or isinstance(value, uuid.UUID)):
                return value
    return _MISSING


def _has_default(field: dataclasses.Field[Any]) -> bool:
    return field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING


def _neutral(name: str, kafka_type: str | None, is_sequence: bool, nullable: bool) -> Any:
    if is_sequence:
        return None if nullable else ()
    if kafka_type in ("int8", "int16", "int32", "int64", "uint16"):
        return -1 if _MINUS_ONE.search(name) and kafka_type != "uint16" else 0
    if kafka_type in ("timedelta_i32", "timedelta_i64"):
        return 0
    if kafka_type == "datetime_i64":
        return -1 if nullable else 0  # (kio reads no negative non-null timestamp)
    if kafka_type == "float64":
        return 0.0
    if kafka_type == "bool":
        return False
    if nullable:
        return None
    if kafka_type == "string":
        return ""
    if kafka_type in ("bytes", "records"):
        return b""
    if kafka_type == "uuid":
        return uuid.UUID(int=0)
    raise TypeError(f"no neutral value for field {name} ({kafka_type})")
