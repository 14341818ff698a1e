"""Idempotent producer state: Kafka's sequence and epoch rules, the
five-batch duplicate cache, snapshots and the rebuild after a restart."""

import pytest

from kwire.log import PartitionLog
from kwire.log.config import LogConfig
from kwire.log.producer_state import ProducerStateError, ProducerStateManager
from kwire.protocol.errors import ErrorCode as E
from kwire.protocol.record_codec import Record, build_batch
from kwire.protocol.records import parse_header

PID = 1000


def header(seq, count=1, epoch=0, pid=PID, base_offset=0, timestamp=0):
    records = [Record(offset_delta=i, timestamp_delta=0, key=None, value=b"v") for i in range(count)]
    batch = build_batch(
        records,
        base_offset=base_offset,
        base_timestamp=timestamp,
        producer_id=pid,
        producer_epoch=epoch,
        base_sequence=seq,
    )
    return parse_header(batch)


class Partition:
    """The produce path in miniature: check, then record at the next offset."""

    def __init__(self):
        self.state = ProducerStateManager()
        self.next_offset = 0

    def produce(self, seq, count=1, epoch=0, pid=PID):
        h = header(seq, count, epoch, pid, self.next_offset)
        duplicate = self.state.check(h)
        if duplicate is not None:
            return duplicate.base_offset, True
        self.state.update(h)
        self.next_offset += count
        return h.base_offset, False


def error_of(call) -> int:
    with pytest.raises(ProducerStateError) as info:
        call()
    return info.value.error_code


def test_sequences_continue_and_retries_get_their_offset():
    p = Partition()
    assert p.produce(0, 3) == (0, False)
    assert p.produce(3, 2) == (3, False)
    assert p.produce(0, 3) == (0, True)  # a retry of the first batch
    assert p.produce(3, 2) == (3, True)
    assert p.next_offset == 5


def test_only_the_last_five_batches_are_remembered():
    p = Partition()
    for seq in range(7):
        p.produce(seq)
    assert p.produce(2) == (2, True)
    assert error_of(lambda: p.produce(1)) == E.out_of_order_sequence_number


def test_a_gap_is_out_of_order():
    p = Partition()
    p.produce(0)
    assert error_of(lambda: p.produce(2)) == E.out_of_order_sequence_number


def test_epochs():
    p = Partition()
    p.produce(0, epoch=1)
    assert error_of(lambda: p.produce(1, epoch=0)) == E.invalid_producer_epoch
    assert error_of(lambda: p.produce(5, epoch=2)) == E.out_of_order_sequence_number
    assert p.produce(0, epoch=2) == (1, False)  # a bumped epoch starts again at 0
    assert p.produce(1, epoch=2) == (2, False)


def test_an_unknown_producer_may_start_anywhere():
    p = Partition()
    assert p.produce(42) == (0, False)
    assert p.produce(43) == (1, False)


def test_sequences_wrap_around():
    p = Partition()
    p.produce(2**31 - 2, count=2)
    assert p.produce(0) == (2, False)


def test_producers_are_independent():
    p = Partition()
    p.produce(0, pid=1)
    p.produce(0, pid=2)
    assert p.produce(1, pid=1) == (2, False)
    assert p.produce(0, pid=2) == (1, True)


def test_idle_producers_expire_unless_a_transaction_is_open():
    manager = ProducerStateManager()
    for pid, timestamp in [(1, 1_000), (2, 5_000), (3, 1_000)]:
        manager.update(header(0, pid=pid, timestamp=timestamp))
    assert manager.remove_expired(now_ms=5_999, expiration_ms=5_000, open_transactions={3: 0}) == 0
    assert manager.remove_expired(now_ms=6_000, expiration_ms=5_000, open_transactions={3: 0}) == 1
    assert sorted(manager.entries) == [2, 3]  # 2 wrote recently, 3 has a transaction open
    assert error_of(lambda: manager.check(header(5, pid=2))) == E.out_of_order_sequence_number  # still checked
    assert manager.check(header(7, pid=1)) is None  # 1 is unknown again: any sequence goes


def test_snapshot_round_trip_keeps_the_last_batch():
    p = Partition()
    p.produce(0, 2, epoch=3)
    p.produce(2, 4, epoch=3)
    again = ProducerStateManager.from_snapshot(p.state.snapshot_bytes())
    entry = again.entries[PID]
    assert (entry.epoch, entry.last_seq, entry.last_offset) == (3, 5, 5)
    assert again.check(header(2, 4, epoch=3)).base_offset == 2  # the last batch is still a duplicate
    with pytest.raises(ValueError):
        ProducerStateManager.from_snapshot(p.state.snapshot_bytes()[:-1] + b"\x00")


def append(log, seq, count=1, epoch=0):
    records = [Record(offset_delta=i, timestamp_delta=0, key=None, value=b"v") for i in range(count)]
    batch = build_batch(records, producer_id=PID, producer_epoch=epoch, base_sequence=seq)
    h = parse_header(batch)
    duplicate = log.producer_state.check(h)
    return duplicate.base_offset if duplicate else log.append(batch, h)


@pytest.mark.parametrize("shutdown", ["clean", "crash"])
def test_retries_after_a_restart_are_still_duplicates(tmp_path, shutdown):
    config = LogConfig(segment_bytes=200)
    log = PartitionLog.open(tmp_path / "t-0", config)
    for seq in range(0, 12, 2):
        append(log, seq, 2)  # several segments, a snapshot at each roll
    end = log.log_end_offset
    if shutdown == "clean":
        log.close()  # writes a snapshot at the log end
    # A crash leaves the snapshot of the last roll; the rest is rebuilt from headers.
    again = PartitionLog.open(tmp_path / "t-0", config)
    assert append(again, 10, 2) == 10  # the last batch, retried
    assert again.log_end_offset == end
    assert append(again, 12, 1) == 12
    with pytest.raises(ProducerStateError):
        append(again, 20)
    assert list((tmp_path / "t-0").glob("*.snapshot"))


def test_an_entry_remembers_only_the_last_five_batches():
    from kwire.log.producer_state import CACHED_BATCHES, BatchMetadata, ProducerEntry

    entry = ProducerEntry(producer_id=1, epoch=0)
    for i in range(8):
        entry.remember(BatchMetadata(i * 10, i * 10 + 9, i * 10, i * 10 + 9, i))
    assert [b.first_seq for b in entry.batches] == [30, 40, 50, 60, 70] and len(entry.batches) == CACHED_BATCHES
    assert entry.last_seq == 79 and entry.find_duplicate(20, 29) is None and entry.find_duplicate(30, 39) is not None
