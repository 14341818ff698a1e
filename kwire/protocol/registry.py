"""The one list of what the broker serves: (api_key, min, max) -> handler.

Each handler declares what it serves beside its code with `@api(...)`; the
registry collects the tagged handlers of the modules it is given and refuses
a second handler for the same API. ApiVersions answers are generated from it,
so the broker never advertises a version it cannot decode and answer.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any, TypeVar

import attrs

# kio is first imported by kwire/protocol/__init__.py (the fast way), which
# Python runs before any module of this package.
from kio.index import load_request_schema, load_response_schema
from kio.serial import entity_reader

from kwire.protocol.api_keys import ApiKey
from kwire.protocol.bounds import bounds_check

# decode(frame, body_offset, version) -> request object
Decoder = Callable[[bytes, int, int], Any]
Handler = TypeVar("Handler", bound=Callable[..., Any])

_TAG = "__kwire_api__"


@attrs.frozen
class ApiSpec:
    api_key: ApiKey
    min_version: int
    max_version: int
    handler: Callable[..., Any]
    decoder: Decoder
    # What ApiVersions shows when it differs from min_version: Kafka 4.x lists
    # Produce v0-2 (librdkafka disables compression otherwise, KAFKA-18659)
    # but rejects them like any unsupported version.
    advertised_min: int


@attrs.frozen
class ApiTag:
    """What `@api` notes on a handler: the API and versions it serves."""

    api_key: ApiKey
    min_version: int
    max_version: int
    advertised_min: int | None = None


def api(
    api_key: ApiKey, min_version: int, max_version: int, *, advertised_min: int | None = None
) -> Callable[[Handler], Handler]:
    """Declare that the decorated function serves `api_key` versions
    min..max. It only tags the function; `ApiRegistry.register_module`
    collects the tags."""

    def tag(handler: Handler) -> Handler:
        if not inspect.isfunction(handler):
            raise TypeError(f"@api tags handler functions, not {handler!r}")
        setattr(handler, _TAG, ApiTag(ApiKey(api_key), min_version, max_version, advertised_min))
        return handler

    return tag


def api_tag(handler: Callable[..., Any]) -> ApiTag | None:
    tag = getattr(handler, _TAG, None)
    return tag if isinstance(tag, ApiTag) else None


@functools.cache
def request_header_version(api_key: int, version: int) -> int:
    """1, or 2 (with tagged fields) for flexible request versions."""
    return int(load_request_schema(api_key, version).__header_schema__.__version__)


@functools.cache
def response_header_version(api_key: int, version: int) -> int:
    """0, or 1 (with tagged fields); ApiVersions' responses always use 0
    (the client must read them before it knows what the broker speaks)."""
    return int(load_response_schema(api_key, version).__header_schema__.__version__)


def request_is_flexible(api_key: int, version: int) -> bool:
    """Whether this request's header carries tagged fields (header v2)."""
    return request_header_version(api_key, version) >= 2


def response_is_flexible(api_key: int, version: int) -> bool:
    """Whether this response's header carries tagged fields (header v1)."""
    return response_header_version(api_key, version) >= 1


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


def kio_decoder(frame: bytes, body_offset: int, version: int, *, api_key: int) -> Any:
    return _reader(api_key, version)(frame, body_offset)


class DuplicateApi(ValueError):
    """Two handlers claim the same API key."""


class ApiRegistry:
    def __init__(self) -> None:
        self._specs: dict[int, ApiSpec] = {}  # keyed by ApiKey members
        # Served by a module not imported yet: key -> (module, min, max, advertised min).
        self._lazy: dict[int, tuple[str, int, int, int]] = {}

    def register_lazy(self, module_name: str, apis: Mapping[ApiKey, tuple[int, ...]]) -> None:
        """APIs that `module_name` serves, with the versions its `@api`
        declarations give ((min, max) or (min, max, advertised min)): they
        are advertised at once, and the module is imported (and its handlers
        registered, which must agree) on the first `get` of one of them."""
        for api_key, versions in apis.items():
            key = ApiKey(api_key)
            if key in self._specs or key in self._lazy:
                raise DuplicateApi(f"{key.name} is served already; refusing {module_name}")
            low, high, *advertised = versions
            self._lazy[key] = (module_name, low, high, advertised[0] if advertised else low)

    def _load(self, api_key: int) -> None:
        module_name = self._lazy[api_key][0]
        declared = {key: entry for key, entry in self._lazy.items() if entry[0] == module_name}
        for key in declared:
            del self._lazy[key]
        self.register_module(importlib.import_module(module_name))
        for key, (_name, low, high, advertised) in declared.items():
            spec = self._specs.get(key)
            if spec is None or (spec.min_version, spec.max_version, spec.advertised_min) != (low, high, advertised):
                raise ValueError(f"{module_name} does not serve {ApiKey(key).name} as declared for it")

    def register(
        self,
        api_key: ApiKey,
        min_version: int,
        max_version: int,
        handler: Callable[..., Any],
        decoder: Decoder | None = None,
        advertised_min: int | None = None,
    ) -> None:
        key = ApiKey(api_key)
        if key in self._lazy:
            raise DuplicateApi(f"{key.name} is served by {self._lazy[key][0]} already; refusing {handler.__qualname__}")
        if key in self._specs:
            raise DuplicateApi(
                f"{key.name} is served by {self._specs[key].handler.__qualname__} already; "
                f"refusing {handler.__qualname__}"
            )
        if decoder is None:
            decoder = functools.partial(kio_decoder, api_key=int(key))
        if advertised_min is None:
            advertised_min = min_version
        self._specs[key] = ApiSpec(key, min_version, max_version, handler, decoder, advertised_min)

    def register_tagged(self, handler: Callable[..., Any]) -> None:
        tag = api_tag(handler)
        if tag is None:
            raise ValueError(f"{handler.__qualname__} has no @api declaration")
        self.register(tag.api_key, tag.min_version, tag.max_version, handler, advertised_min=tag.advertised_min)

    def register_module(self, module: ModuleType) -> int:
        """Every `@api` handler defined in `module`; how many there were."""
        handlers = [
            value
            for value in vars(module).values()
            if callable(value) and api_tag(value) is not None and getattr(value, "__module__", None) == module.__name__
        ]
        for handler in handlers:
            self.register_tagged(handler)
        return len(handlers)

    def register_modules(self, modules: Iterable[ModuleType]) -> None:
        for module in modules:
            if not self.register_module(module):
                raise ValueError(f"{module.__name__} declares no handler")

    def unregister(self, api_key: ApiKey) -> ApiSpec:
        """Remove and return a registration (tests swap a decoder this way)."""
        if api_key in self._lazy:
            self._load(api_key)
        return self._specs.pop(ApiKey(api_key))

    def get(self, api_key: int) -> ApiSpec | None:
        # An IntEnum member hashes and compares as its int: no conversion per request.
        spec = self._specs.get(api_key)
        if spec is None and api_key in self._lazy:
            self._load(api_key)
            spec = self._specs.get(api_key)
        return spec

    def max_version(self, api_key: int) -> int | None:
        """The newest version served, without importing its handler."""
        if api_key in self._lazy:
            return self._lazy[api_key][2]
        spec = self._specs.get(api_key)
        return None if spec is None else spec.max_version

    def supported(self) -> list[tuple[int, int, int]]:
        loaded = [(int(s.api_key), s.advertised_min, s.max_version) for s in self._specs.values()]
        lazy = [(int(key), advertised, high) for key, (_name, _low, high, advertised) in self._lazy.items()]
        return sorted(loaded + lazy)
