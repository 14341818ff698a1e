"""One request's story, told to whoever watches requests (metrics, the
request log) once its answer has gone out, or the connection closed instead.

The connection builds a RequestEvent only when someone watches
(`BrokerState.request_observers` is not empty), so an unwatched broker pays
one check per request. The dispatcher fills in what the request says; a
handler adds the error codes it answered with (RequestContext.note_error);
the connection adds the times and sizes.

Times are the clock's monotonic seconds. Kafka's request time split maps
onto them as: queue = received..dispatched (kwire has no request queue, so
only waiting for queued.max.request.bytes), local = dispatched..handled,
remote = handled..completed (an acks=all wait or a fetch long poll),
throttle = the mute after a quota, send = completed..sent.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs


@attrs.define(slots=True)
class RequestEvent:
    listener: str
    client_address: str  # "127.0.0.1:53312"
    api_key: int = -1  # -1: the frame was not understood
    api_version: int = -1
    correlation_id: int = -1
    client_id: str | None = None
    principal: str = ""
    request_bytes: int = 0  # the frame, without its size prefix
    response_bytes: int = 0  # 0 with no response (acks=0) or a closed connection
    # Error codes the answer carries (code -> how many partitions/resources), without NONE.
    errors: dict[int, int] = attrs.field(factory=dict)
    # Why it failed, when a handler said (the request log's and the WARNING line's reason).
    reasons: list[str] = attrs.field(factory=list)
    received: float = 0.0  # the whole frame in hand
    dispatched: float = 0.0  # handling began (after the request budget let it in)
    handled: float = 0.0  # the handler returned
    completed: float = 0.0  # a delayed answer (acks=all, long poll) was ready
    sent: float = 0.0  # the answer went out (or the connection was closed)
    throttle_ms: int = 0
    answered: bool = True  # False: no answer (acks=0) or the connection was closed instead
    closed: str = ""  # why the connection was closed by this request, if it was

    def note_error(self, code: int, count: int = 1, reason: str = "") -> None:
        if code:
            self.errors[code] = self.errors.get(code, 0) + count
            if reason and len(self.reasons) < 8:
                self.reasons.append(reason)

    @property
    def total_ms(self) -> float:
        return (self.sent - self.received) * 1000

    @property
    def queue_ms(self) -> float:
        return max(0.0, self.dispatched - self.received) * 1000

    @property
    def local_ms(self) -> float:
        return max(0.0, self.handled - self.dispatched) * 1000

    @property
    def remote_ms(self) -> float:
        return max(0.0, self.completed - self.handled) * 1000

    @property
    def send_ms(self) -> float:
        return max(0.0, self.sent - self.completed) * 1000

    @property
    def failed(self) -> bool:
        return bool(self.errors) or bool(self.closed)


RequestObserver = Callable[[RequestEvent], None]
