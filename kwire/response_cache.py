"""Encoded response bodies that clients ask for again and again (Metadata,
ApiVersions), keyed on the request's shape.

A cached body is only good for the cluster metadata version it was built
from (handlers put that version in the key), so when the version moves the
whole cache is dropped: entries of an older version could never be asked
for again, yet would stay until pushed out. The cache is also bounded in
bytes, oldest entries going first, so a stream of distinct request shapes
on a large cluster cannot grow it without limit.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, ItemsView

MAX_BYTES = 32 * 1024 * 1024


class ResponseCache:
    def __init__(self, current_version: Callable[[], int], max_bytes: int = MAX_BYTES) -> None:
        self._current_version = current_version
        self._version = current_version()
        self.max_bytes = max_bytes
        self.total_bytes = 0
        self._bodies: dict[Hashable, bytes] = {}

    def get(self, key: Hashable, default: bytes | None = None) -> bytes | None:
        self._drop_if_stale()
        return self._bodies.get(key, default)

    def __setitem__(self, key: Hashable, body: bytes) -> None:
        self._drop_if_stale()
        if len(body) > self.max_bytes:
            return  # bigger than the whole cache: build it each time
        old = self._bodies.pop(key, None)
        if old is not None:
            self.total_bytes -= len(old)
        while self._bodies and self.total_bytes + len(body) > self.max_bytes:
            oldest = next(iter(self._bodies))
            self.total_bytes -= len(self._bodies.pop(oldest))
        self._bodies[key] = body
        self.total_bytes += len(body)

    def __len__(self) -> int:
        return len(self._bodies)

    def items(self) -> ItemsView[Hashable, bytes]:
        return self._bodies.items()

    def clear(self) -> None:
        self._bodies.clear()
        self.total_bytes = 0

    def _drop_if_stale(self) -> None:
        version = self._current_version()
        if version != self._version:
            self._version = version
            self.clear()
