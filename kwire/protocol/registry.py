"""The one list of what the broker serves: (api_key, min, max) -> handler.

ApiVersions answers are generated from it, so the broker never advertises a
version it cannot decode and answer.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import attrs

import kwire.protocol  # noqa: F401  (fast kio import)
from kio.index import load_request_schema, load_response_schema
from kio.serial import entity_reader

from kwire.protocol.bounds import bounds_check

# decode(frame, body_offset, version) -> request object
Decoder = Callable[[bytes, int, int], Any]


@attrs.frozen
class ApiSpec:
    api_key: int
    min_version: int
    max_version: int
    handler: Callable[..., Any]
    decoder: Decoder
    # What ApiVersions shows when it differs from min_version: Kafka 4.x lists
    # Produce v0-2 (librdkafka disables compression otherwise, KAFKA-18659)
    # but rejects them like any unsupported version.
    advertised_min: int


@functools.cache
def request_is_flexible(api_key: int, version: int) -> bool:
    return bool(load_request_schema(api_key, version).__flexible__)


@functools.cache
def response_is_flexible(api_key: int, version: int) -> bool:
    if api_key == 18:  # ApiVersions responses always use header v0
        return False
    return bool(load_response_schema(api_key, version).__flexible__)


@functools.cache
def _reader(api_key: int, version: int) -> Callable[[bytes, int], Any]:
    check = bounds_check(api_key, version)
    read = entity_reader(load_request_schema(api_key, version))

    def decode(frame: bytes, body_offset: int) -> Any:
        # kio's native reader trusts declared lengths (a huge array count
        # aborts the process): nothing reaches it before the bounds pass.
        check(frame, body_offset)
        request, _size = read(frame, body_offset)
        return request

    return decode


def kio_decoder(frame: bytes, body_offset: int, version: int, *, api_key: int):
    return _reader(api_key, version)(frame, body_offset)


class ApiRegistry:
    def __init__(self) -> None:
        self._specs: dict[int, ApiSpec] = {}

    def register(
        self,
        api_key: int,
        min_version: int,
        max_version: int,
        handler: Callable[..., Any],
        decoder: Decoder | None = None,
        advertised_min: int | None = None,
    ) -> None:
        if decoder is None:
            decoder = functools.partial(kio_decoder, api_key=api_key)
        if advertised_min is None:
            advertised_min = min_version
        self._specs[api_key] = ApiSpec(api_key, min_version, max_version, handler, decoder, advertised_min)

    def get(self, api_key: int) -> ApiSpec | None:
        return self._specs.get(api_key)

    def supported(self) -> list[tuple[int, int, int]]:
        return [(s.api_key, s.advertised_min, s.max_version) for s in sorted(self._specs.values(), key=lambda s: s.api_key)]
