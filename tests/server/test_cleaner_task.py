"""The cleaner task over a whole broker core: it compacts the compacted
topics that are due and checkpoints how far it got, so a restart does not
compact everything again."""

from kwire.cluster.offset_checkpoint import CLEANER, read_checkpoint
from kwire.server.cleaner_task import clean_due_logs
from tests.core_client import CoreClient, make_core
from tests.handlers import requests as rq

COMPACTED = {"cleanup.policy": "compact", "segment.bytes": "100", "min.cleanable.dirty.ratio": "0.01"}


def fill(core, topic, rounds):
    client = CoreClient(core)
    for round_ in range(rounds):  # the same two keys every round, a segment per batch
        written = client.call(0, 9, rq.produce(topic, 0, rq.batch(b"v%d" % round_, b"w%d" % round_)))
        assert written.responses[0].partition_responses[0].error_code == 0


async def test_cleaning_is_checkpointed_and_survives_a_restart(tmp_path):
    core = make_core(tmp_path)
    CoreClient(core).call(19, 7, rq.create("compacted", configs=COMPACTED))
    CoreClient(core).call(19, 7, rq.create("plain", configs={"segment.bytes": "100"}))
    fill(core, "compacted", 5)
    fill(core, "plain", 5)
    assert await clean_due_logs(core) == 1  # only the compacted topic
    cleaned_to = core.cluster.partition("compacted", 0).log.first_dirty_offset
    assert cleaned_to == 8  # four closed segments of two records; the active one stays dirty
    assert read_checkpoint(tmp_path, CLEANER) == {("compacted", 0): cleaned_to}
    assert await clean_due_logs(core) == 0  # nothing new is dirty
    core.close()

    core = make_core(tmp_path)
    assert core.cluster.partition("compacted", 0).log.first_dirty_offset == cleaned_to
    assert await clean_due_logs(core) == 0  # the restart did not make it all dirty again
    fill(core, "compacted", 2)
    assert await clean_due_logs(core) == 1
    assert read_checkpoint(tmp_path, CLEANER)[("compacted", 0)] > cleaned_to
    core.close()


def test_a_damaged_checkpoint_is_ignored(tmp_path):
    (tmp_path / CLEANER).write_text("0\n2\ncompacted 0 x\n")
    assert read_checkpoint(tmp_path, CLEANER) == {}
    (tmp_path / CLEANER).write_text("7\n")
    assert read_checkpoint(tmp_path, CLEANER) == {}


async def test_a_compaction_the_disk_refuses_leaves_the_log_and_is_logged(tmp_path, monkeypatch, caplog):
    import errno
    import logging

    from tests.log.faults import FailingCalls

    core = make_core(tmp_path)
    CoreClient(core).call(19, 7, rq.create("compacted", configs=COMPACTED))
    fill(core, "compacted", 5)
    log = core.cluster.partition("compacted", 0).log
    before = [bytes(c) for c in log.read(0, 1 << 20)]
    FailingCalls(monkeypatch, "fsync", ".log.cleaned", errno.ENOSPC)
    with caplog.at_level(logging.WARNING, logger="kwire.log"):
        assert await clean_due_logs(core) == 0
    assert "Could not compact compacted-0" in caplog.text
    assert [bytes(c) for c in log.read(0, 1 << 20)] == before and log.offline_reason is None
    assert not list((tmp_path / "compacted-0").glob("*.cleaned"))
    monkeypatch.undo()
    assert await clean_due_logs(core) == 1
    core.close()


async def test_the_cleaner_reads_the_nodes_clock_for_the_compaction_lag():
    from kwire.clock import ManualClock

    clock = ManualClock(wall_ms=5_000)  # the test batches carry timestamp 1,000
    core = make_core(clock=clock)
    lagged = dict(COMPACTED, **{"min.compaction.lag.ms": str(3_600_000)})
    CoreClient(core).call(19, 7, rq.create("lagged", configs=lagged))
    fill(core, "lagged", 5)
    assert await clean_due_logs(core) == 0  # younger than the lag on the node's clock
    clock.advance(ms=2 * 3_600_000)
    assert await clean_due_logs(core) == 1
    core.close()
