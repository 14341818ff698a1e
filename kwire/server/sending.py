"""Writing framed responses: one small write, or a scatter write that sends
record chunks without copying them into one buffer."""

from __future__ import annotations

import trio

from kwire.protocol.fast_responses import Chunk

_JOIN_BELOW = 64 * 1024
_MAX_IOVECS = 512


async def send_buffers(stream: trio.abc.Stream, parts: list[Chunk]) -> None:
    if len(parts) == 1:
        await stream.send_all(parts[0])
        return
    if not isinstance(stream, trio.SocketStream):  # TLS: every byte is encrypted (copied) anyway
        await stream.send_all(b"".join(parts))
        return
    total = 0
    for part in parts:
        total += len(part)
    if total < _JOIN_BELOW:
        await stream.send_all(b"".join(parts))
        return
    sock = stream.socket
    views = [memoryview(part).cast("B") for part in parts if len(part)]
    first = 0
    while first < len(views):
        sent = await sock.sendmsg(views[first : first + _MAX_IOVECS])
        while sent:
            head = views[first]
            if sent >= len(head):
                sent -= len(head)
                first += 1
            else:
                views[first] = head[sent:]
                sent = 0
