"""fsync in the background: a rolled segment (as Kafka flushes it after a
roll) and time-based flushes (`flush.ms`), so the event loop never waits for
a big fsync. One worker thread takes jobs in order; each job's outcome waits
in a queue until the event loop applies it (`apply_completed`, from the
timer tick), which is when a log's recovery point moves."""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from typing import Callable

logger = logging.getLogger("kwire.log")


class BackgroundFlusher:
    def __init__(self) -> None:
        self._jobs: queue.Queue = queue.Queue()
        self._completed: collections.deque = collections.deque()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, flush: Callable[[], None], done: Callable[[OSError | None], None]) -> None:
        """Run `flush` in the worker thread; `done(error or None)` later, in
        the thread that calls `apply_completed`."""
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="kwire-log-flusher", daemon=True)
                self._thread.start()
        self._jobs.put((flush, done))

    def apply_completed(self) -> int:
        """Hand finished jobs' outcomes to their logs; returns how many."""
        applied = 0
        while self._completed:
            done, error = self._completed.popleft()
            done(error)
            applied += 1
        return applied

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until every submitted job ran (or the timeout passes)."""
        deadline = time.monotonic() + timeout_s
        with self._jobs.all_tasks_done:
            while self._jobs.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._jobs.all_tasks_done.wait(remaining)
        return True

    def _work(self) -> None:
        while True:
            flush, done = self._jobs.get()
            error = None
            try:
                flush()
            except OSError as exc:
                error = exc
            except Exception as exc:  # a bug must not kill the worker; the log goes offline
                logger.exception("background flush failed")
                error = OSError(f"background flush failed: {exc!r}")
            self._completed.append((done, error))
            self._jobs.task_done()


# The one flusher the broker's logs share.
FLUSHER = BackgroundFlusher()
