"""`queued.max.request.bytes`: one byte budget for the requests all
connections are receiving or handling.

Before a connection buffers a frame's body it reserves the frame's declared
size; it gives the bytes back once the request has been answered. While a
reservation waits, its connection reads nothing (it is muted), so slow
senders of large frames wait their turn instead of each holding up to
`socket.request.max.bytes` of memory. Reservations are granted in arrival
order, so a large frame is not starved by a stream of small ones; a frame
larger than the whole budget is granted only when nothing else is reserved,
so it cannot wait forever.

Plain accounting, no I/O: the connection task supplies a `wake` callback
and waits for it to be called (kwire/server/connection.py).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable


class Reservation:
    __slots__ = ("size", "granted", "wake")

    def __init__(self, size: int) -> None:
        self.size = size
        self.granted = False
        # Called once when a waiting reservation is granted.
        self.wake: Callable[[], None] | None = None


class RequestBudget:
    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("a request budget needs a positive capacity")
        self.capacity = capacity
        self.reserved = 0
        self._waiting: deque[Reservation] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def reserve(self, size: int) -> Reservation:
        """Ask for `size` bytes: granted at once when they fit and nobody is
        waiting, else queued (set `wake` and wait for it)."""
        reservation = Reservation(size)
        if not self._waiting and self._fits(size):
            self._grant(reservation)
        else:
            self._waiting.append(reservation)
        return reservation

    def release(self, reservation: Reservation) -> None:
        """Give the bytes back (or withdraw a reservation still waiting) and
        grant whatever waits in line and now fits."""
        if reservation.granted:
            reservation.granted = False
            self.reserved -= reservation.size
        else:
            try:
                self._waiting.remove(reservation)
            except ValueError:
                return  # released twice: nothing held
        while self._waiting and self._fits(self._waiting[0].size):
            granted = self._waiting.popleft()
            self._grant(granted)
            if granted.wake is not None:
                granted.wake()

    def _fits(self, size: int) -> bool:
        return self.reserved + size <= self.capacity or self.reserved == 0

    def _grant(self, reservation: Reservation) -> None:
        reservation.granted = True
        self.reserved += reservation.size
