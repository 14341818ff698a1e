"""The arguments Kafka's tools take in their own formats: `topic:0,1`
partition specs, ISO-8601 durations (`PnDTnHnMnS`), reset datetimes
(`YYYY-MM-DDTHH:mm:SS.sss[Z|±hh:mm]`) and `k=v,k2=[a,b]` config lists.
Each raises ClusterError with a one-line reason."""

from __future__ import annotations

import datetime
import re

from kwire.admin.cluster_client import ClusterError

_DURATION = re.compile(
    r"P(?:(?P<days>\d+)D)?(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d{1,9})?)S)?)?",
    re.IGNORECASE,
)
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?P<zone>Z|[+-]\d{2}:\d{2})?")


def parse_partition_spec(spec: str) -> tuple[str, list[int] | None]:
    """`topic` (every partition: None) or `topic:0,1,2`."""
    topic, sep, partitions = spec.partition(":")
    if not topic:
        raise ClusterError(f"--topic {spec!r} names no topic")
    if not sep:
        return topic, None
    try:
        numbers = sorted({int(p) for p in partitions.split(",")})
    except ValueError:
        raise ClusterError(f"--topic {spec!r}: partitions must be numbers, as topic:0,1,2") from None
    if not numbers or numbers[0] < 0:
        raise ClusterError(f"--topic {spec!r}: partitions must be numbers, as topic:0,1,2")
    return topic, numbers


def parse_duration_ms(text: str) -> int:
    """An ISO-8601 duration as Java's Duration.parse takes it (PnDTnHnMnS), in milliseconds."""
    match = _DURATION.fullmatch(text)
    if not match or not any(match.groupdict().values()) or text.upper().endswith("T"):
        raise ClusterError(f"--by-duration {text!r} is not an ISO-8601 duration such as PT1H30M or P1DT2H")
    parts = {name: float(value) for name, value in match.groupdict().items() if value}
    delta = datetime.timedelta(**parts)
    return round(delta.total_seconds() * 1000)


def parse_datetime_ms(text: str) -> int:
    """`YYYY-MM-DDTHH:mm:SS.sss` with an optional `Z` or `±hh:mm` (local time without one), as epoch ms."""
    match = _DATETIME.fullmatch(text)
    if not match:
        raise ClusterError(f"--to-datetime {text!r} is not in the format YYYY-MM-DDTHH:mm:SS.sss[Z|±hh:mm]")
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ClusterError(f"--to-datetime {text!r}: {exc}") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # the local zone, as Kafka's tool does
    return round(moment.timestamp() * 1000)


def parse_config_list(text: str) -> dict[str, str]:
    """`k=v,k2=v2`; a value holding commas goes in brackets: `k=[a,b]`."""
    settings: dict[str, str] = {}
    for item in _split_outside_brackets(text):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ClusterError(f"config {item!r} is not name=value")
        value = value.strip()
        if value.startswith("[") and value.endswith("]"):
            value = value[1:-1]
        settings[name] = value
    return settings


def _split_outside_brackets(text: str) -> list[str]:
    items, depth, current = [], 0, ""
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]":
            depth = max(depth - 1, 0)
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    return [item for item in items if item.strip()]
