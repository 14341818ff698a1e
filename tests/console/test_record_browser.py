"""Reading a page of records: its bounds (records, bytes, the high watermark)."""

from kwire.console import record_browser
from kwire.console.record_browser import read_page, start_for_timestamp
from kwire.protocol.record_codec import Record
from tests.console.console_state import START_MS, append, filled_core


def test_limits_and_next_offset():
    log = filled_core().cluster.partition("orders", 0).log
    page = read_page(log, 3, limit=4)
    assert [r.offset for r in page.records] == [3, 4, 5, 6] and page.next_offset == 7 and not page.truncated
    page = read_page(log, 8, limit=50)
    assert [r.offset for r in page.records] == [8, 9] and page.next_offset == 10
    assert read_page(log, 10).records == [] and read_page(log, 99).records == []
    assert [r.offset for r in read_page(log, -5, limit=1).records] == [0]  # from the log start
    assert len(read_page(log, 0, limit=100_000).records) == 10  # capped at MAX_RECORDS, here the end


def test_the_byte_budget(monkeypatch):
    core = filled_core()
    append(core, "orders", 1, [Record(i, 0, None, b"x" * 1000) for i in range(5)])
    monkeypatch.setattr(record_browser, "BYTE_BUDGET", 2500)
    page = read_page(core.cluster.partition("orders", 1).log, 0)
    assert [r.offset for r in page.records] == [0, 1] and page.truncated and page.next_offset == 2


def test_nothing_past_the_high_watermark():
    log = filled_core().cluster.partition("orders", 0).log
    log.replicated = True
    log.set_high_watermark(5)
    assert [r.offset for r in read_page(log, 0).records] == [0, 1, 2, 3, 4]


def test_start_for_a_timestamp():
    log = filled_core().cluster.partition("orders", 0).log
    assert start_for_timestamp(log, START_MS + 3500) == 4
    assert start_for_timestamp(log, 0) == 0
    assert start_for_timestamp(log, START_MS + 60_000) == 10  # none that late: the end
