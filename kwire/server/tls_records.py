"""The TLS records a connection has already read, decrypted at once.

trio's SSLStream.receive_some hands over one TLS record per call, and every
call is a trip through trio's scheduler (a checkpoint, an epoll poll).
librdkafka writes one record per buffer segment, about 2 KB of a produce
request, so a 1 MB request cost some 500 trips: most of the broker's CPU
in a SASL_SSL produce of 1 KB messages (scripts/bench_security.py). After
one receive_some, the records already read from the socket can be decrypted
without awaiting anything.

trio has no public way to do this: this uses SSLStream's SSLObject (named
`_ssl_object` in trio 0.25 to 0.35 at least) and does nothing for a stream
without one.
"""

from __future__ import annotations

import ssl

import trio


def buffered_plaintext(stream: trio.abc.Stream, max_bytes: int) -> list[bytes]:
    """Whatever whole TLS records `stream` holds, decrypted (at most about
    `max_bytes`); [] for a stream that is not TLS or holds no whole record.
    A record that fails to decrypt breaks the stream, as trio would say it."""
    ssl_object = getattr(stream, "_ssl_object", None)
    if not isinstance(ssl_object, ssl.SSLObject):
        return []
    chunks: list[bytes] = []
    total = 0
    while total < max_bytes:
        try:
            data = ssl_object.read(max_bytes - total)
        except ssl.SSLWantReadError:
            break  # no whole record left: the next receive_some waits for one
        except ssl.SSLError as exc:
            raise trio.BrokenResourceError from exc
        if not data:
            break  # the peer's close_notify: the next receive_some reports the end
        chunks.append(data)
        total += len(data)
    return chunks
