"""fsync in the background: a rolled segment (as Kafka flushes it after a
roll) and time-based flushes (`flush.ms`), so the event loop never waits for
a big fsync.

One worker thread takes the jobs in order. It exists only while there are
jobs: the first job starts it and it ends when none is left, so no thread
outlives the nodes that used it (rolls and `flush.ms` flushes are rare next
to the cost of starting a thread).

A job's outcome waits until the thread that submitted it applies it
(`apply_completed`, from that node's timer tick), which is when the log's
recovery point moves: the outcome changes the log's state, which belongs to
the event loop that owns the log, so with nodes in several threads none
applies another's.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

logger = logging.getLogger("kwire.log")

Flush = Callable[[], None]
Done = Callable[[OSError | None], None]
THREAD_NAME = "kwire-log-flusher"


class _Job(NamedTuple):
    flush: Flush
    done: Done
    owner: threading.Thread  # the thread that submitted it: the one to apply its outcome


class BackgroundFlusher:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # a job finished, or the worker ended
        self._jobs: collections.deque[_Job] = collections.deque()
        self._worker: threading.Thread | None = None
        self._last_worker: threading.Thread | None = None
        self._completed: dict[threading.Thread, collections.deque[tuple[Done, OSError | None]]] = {}

    def submit(self, flush: Flush, done: Done) -> None:
        """Run `flush` in the worker thread; `done(error or None)` later, when
        the calling thread calls `apply_completed`."""
        with self._lock:
            self._jobs.append(_Job(flush, done, threading.current_thread()))
            if self._worker is None:
                self._worker = self._last_worker = threading.Thread(target=self._work, name=THREAD_NAME, daemon=True)
                self._worker.start()

    def apply_completed(self) -> int:
        """Hand the finished jobs this thread submitted to their logs; returns how many."""
        me = threading.current_thread()
        with self._lock:
            outcomes = self._completed.get(me)
        if outcomes is None:
            return 0
        applied = 0
        try:
            while outcomes:
                done, error = outcomes.popleft()
                done(error)
                applied += 1
        finally:
            with self._lock:
                if not outcomes and self._completed.get(me) is outcomes:
                    del self._completed[me]
        return applied

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until every submitted job ran and the worker thread ended (or
        the timeout passes)."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._worker is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            ended = self._last_worker
        if ended is not None:
            ended.join(max(0.0, deadline - time.monotonic()))  # it has only to return
            return not ended.is_alive()
        return True

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._jobs:
                    self._worker = None
                    self._changed.notify_all()
                    return
                job = self._jobs.popleft()
            error = _run(job.flush)
            with self._lock:
                self._record(job, error)
                self._changed.notify_all()

    def _record(self, job: _Job, error: OSError | None) -> None:
        # A thread that has ended will never apply its outcomes: drop them rather than keep its logs alive.
        for ended in [thread for thread in self._completed if not thread.is_alive()]:
            del self._completed[ended]
        if job.owner.is_alive():
            self._completed.setdefault(job.owner, collections.deque()).append((job.done, error))


def _run(flush: Flush) -> OSError | None:
    try:
        flush()
    except OSError as exc:
        return exc
    except Exception as exc:  # a bug must not kill the worker; the log goes offline
        logger.exception("background flush failed")
        return OSError(f"background flush failed: {exc!r}")
    return None


# The one flusher the broker's logs share (its outcomes are kept per thread).
FLUSHER = BackgroundFlusher()
