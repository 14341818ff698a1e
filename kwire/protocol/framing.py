"""Size-prefixed frames, sans-IO: feed bytes in, take whole frames out."""

from __future__ import annotations

import struct

_SIZE = struct.Struct(">i")

DEFAULT_MAX_REQUEST_BYTES = 100 * 1024 * 1024  # socket.request.max.bytes


class FrameError(Exception):
    """The peer sent something that is not a valid frame; close its connection."""


class FrameReader:
    """Accumulates received bytes and splits them into request frames.

    A size prefix that is negative or above `max_frame_bytes` is rejected as
    soon as the four prefix bytes arrive, before any body is buffered.
    """

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_REQUEST_BYTES) -> None:
        self._max = max_frame_bytes
        self._buf = bytearray()
        self._pos = 0

    def feed(self, data: bytes | bytearray) -> None:
        if self._pos and self._pos == len(self._buf):
            self._buf.clear()
            self._pos = 0
        self._buf += data

    @property
    def pending_bytes(self) -> int:
        return len(self._buf) - self._pos

    def next_frame_size(self) -> int | None:
        """The declared body size of the next frame, once its prefix has arrived."""
        buf, pos = self._buf, self._pos
        if len(buf) - pos < 4:
            return None
        size: int = _SIZE.unpack_from(buf, pos)[0]
        if size < 0 or size > self._max:
            raise FrameError(f"frame size {size} outside 0..{self._max} (socket.request.max.bytes)")
        return size

    def next_frame(self) -> bytes | None:
        """The next complete frame body, or None until more bytes arrive."""
        size = self.next_frame_size()
        if size is None:
            return None
        buf, pos = self._buf, self._pos
        end = pos + 4 + size
        if len(buf) < end:
            return None
        with memoryview(buf) as view:  # one copy of the body, not two
            frame = bytes(view[pos + 4 : end])
        if end == len(buf):
            buf.clear()
            self._pos = 0
        elif end > 1 << 20:
            del buf[:end]
            self._pos = 0
        else:
            self._pos = end
        return frame


def frame(payload_parts: list[bytes | bytearray | memoryview]) -> list[bytes | bytearray | memoryview]:
    """Prefix a response (list of buffers) with its total size."""
    total = sum(len(p) for p in payload_parts)
    return [_SIZE.pack(total), *payload_parts]
