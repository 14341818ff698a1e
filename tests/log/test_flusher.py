"""The background flusher: jobs run in order in one worker thread that exists
only while there is work, and each outcome is applied by the thread that
submitted the job, never by another node's thread."""

from __future__ import annotations

import threading
import weakref

from kwire.log.flusher import THREAD_NAME, BackgroundFlusher

WAIT_S = 10


def flusher_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == THREAD_NAME]


def test_jobs_run_in_order_and_outcomes_wait_for_apply_completed():
    flusher = BackgroundFlusher()
    ran: list[int] = []
    outcomes: list[tuple[int, OSError | None]] = []
    for number in range(5):
        flusher.submit(
            lambda number=number: ran.append(number), lambda error, number=number: outcomes.append((number, error))
        )
    assert flusher.wait_idle(WAIT_S)
    assert ran == [0, 1, 2, 3, 4]
    assert outcomes == []  # not until the submitting thread asks
    assert flusher.apply_completed() == 5
    assert outcomes == [(n, None) for n in range(5)]
    assert flusher.apply_completed() == 0


def test_a_failed_flush_is_handed_on_and_a_bug_does_not_kill_the_worker():
    flusher = BackgroundFlusher()
    errors: list[OSError | None] = []

    def disk_full() -> None:
        raise OSError(28, "No space left on device")

    def bug() -> None:
        raise ValueError("a bug")

    flusher.submit(disk_full, errors.append)
    flusher.submit(bug, errors.append)
    flusher.submit(lambda: None, errors.append)
    assert flusher.wait_idle(WAIT_S)
    assert flusher.apply_completed() == 3
    assert errors[0].errno == 28
    assert isinstance(errors[1], OSError) and "a bug" in str(errors[1])
    assert errors[2] is None


def test_the_worker_thread_ends_when_the_work_does_and_starts_again_for_more():
    flusher = BackgroundFlusher()
    before = set(flusher_threads())
    release = threading.Event()
    flusher.submit(lambda: release.wait(WAIT_S), lambda error: None)
    (worker,) = set(flusher_threads()) - before
    assert not flusher.wait_idle(0.05)  # still busy
    release.set()
    assert flusher.wait_idle(WAIT_S)
    assert not worker.is_alive()
    ran = threading.Event()
    flusher.submit(ran.set, lambda error: None)
    (second,) = set(flusher_threads()) - before
    assert flusher.wait_idle(WAIT_S) and ran.is_set()
    assert not second.is_alive()
    assert flusher.apply_completed() == 2


def test_each_thread_applies_only_the_outcomes_of_its_own_jobs():
    flusher = BackgroundFlusher()
    applied_by: dict[str, str] = {}

    def submit(name: str) -> None:
        flusher.submit(lambda: None, lambda error: applied_by.__setitem__(name, threading.current_thread().name))

    other_submitted, other_may_apply, other_applied = threading.Event(), threading.Event(), []

    def other_node() -> None:
        submit("other")
        other_submitted.set()
        other_may_apply.wait(WAIT_S)
        other_applied.append(flusher.apply_completed())

    other = threading.Thread(target=other_node, name="other-node")
    other.start()
    assert other_submitted.wait(WAIT_S)
    submit("mine")
    assert flusher.wait_idle(WAIT_S)
    assert flusher.apply_completed() == 1
    assert applied_by == {"mine": threading.current_thread().name}
    other_may_apply.set()
    other.join(WAIT_S)
    assert other_applied == [1]
    assert applied_by["other"] == "other-node"


class PartitionLogStandIn:
    def flushed(self, error: OSError | None) -> None:
        raise AssertionError("applied by a thread that did not submit it")


def test_the_outcomes_of_a_thread_that_ended_are_dropped_not_kept():
    flusher = BackgroundFlusher()
    release = threading.Event()
    owner = PartitionLogStandIn()
    gone = weakref.ref(owner)
    # Thread.run drops its target and args when it ends, so only `owner` holds it.
    submitter = threading.Thread(target=flusher.submit, args=(lambda: release.wait(WAIT_S), owner.flushed))
    submitter.start()
    submitter.join(WAIT_S)
    del owner
    release.set()  # it finishes after its submitter has gone
    assert flusher.wait_idle(WAIT_S)
    assert flusher.apply_completed() == 0
    assert gone() is None  # nothing holds on to the log
