"""The shared cache of open files: bounded, least recently used closed
first, never closing (or reusing) a descriptor that is pinned, safe across
threads; logs with more files than it holds still read and write."""

import errno
import os
import threading

import pytest

from kwire.log import PartitionLog
from kwire.log.config import LogConfig
from kwire.log.open_files import FileClosed, OpenFiles, capacity_from_limit
from kwire.log.segment import Segment
from kwire.log.stores import FileStore
from kwire.protocol.record_codec import Record, build_batch, iter_all_records
from kwire.protocol.records import parse_header


def open_fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_the_cache_holds_at_most_its_capacity(tmp_path):
    files = OpenFiles(capacity=4)
    stores = [FileStore(str(tmp_path / f"{i}.log"), files) for i in range(20)]
    baseline = open_fd_count()
    for i, store in enumerate(stores):
        store.append(b"data-%d" % i)
    assert len(files) == 4
    assert open_fd_count() <= baseline + 4
    # Files closed by the cache open again on demand.
    assert [store.read_bytes(0, 10) for store in stores] == [b"data-%d" % i for i in range(20)]
    for store in stores:
        store.close()
    assert len(files) == 0


def test_least_recently_used_goes_first(tmp_path):
    files = OpenFiles(capacity=2)
    a, b, c = (FileStore(str(tmp_path / f"{n}.log"), files) for n in "abc")
    a.append(b"a")
    b.append(b"b")
    a.read_bytes(0, 1)  # a is now the most recent
    c.append(b"c")
    assert a in files._open and c in files._open and b not in files._open


def test_a_pinned_file_is_never_closed(tmp_path):
    files = OpenFiles(capacity=1)
    a, b = FileStore(str(tmp_path / "a.log"), files), FileStore(str(tmp_path / "b.log"), files)
    a.append(b"aaaa")
    entry = files.pin(a)
    b.append(b"b")  # over capacity while a is in use: a stays open
    assert os.pread(entry.fd, 4, 0) == b"aaaa"
    a.close()  # its owner closes it meanwhile: the descriptor lives until unpinned
    assert os.pread(entry.fd, 4, 0) == b"aaaa"
    files.unpin(entry)
    assert _file_of(entry.fd) != str(tmp_path / "a.log")  # closed by its last user
    with pytest.raises(FileClosed):
        a.read_bytes(0, 1)  # a closed store does not open again


def _file_of(fd: int) -> str | None:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


def test_running_out_of_descriptors_closes_idle_files_and_retries(tmp_path, monkeypatch):
    files = OpenFiles(capacity=100)
    stores = [FileStore(str(tmp_path / f"{i}.log"), files) for i in range(6)]
    for store in stores[:5]:
        store.append(b"x")
    real_open = os.open
    refused = []

    def open_(path, flags, mode=0o777):
        if str(path).endswith("5.log") and not refused:
            refused.append(path)
            raise OSError(errno.EMFILE, "Too many open files")
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", open_)
    stores[5].append(b"y")
    assert refused and len(files) == 3 + 1  # half of the five idle ones closed, then it opened
    assert stores[5].read_bytes(0, 1) == b"y"


def test_threads_share_the_cache_safely(tmp_path):
    files = OpenFiles(capacity=3)
    stores = [FileStore(str(tmp_path / f"{i}.log"), files) for i in range(12)]
    for i, store in enumerate(stores):
        store.append(bytes([i]) * 4096)
    errors = []

    def reader(offset):
        try:
            for round_ in range(300):
                i = (round_ * 7 + offset) % len(stores)
                assert stores[i].read_bytes(0, 4096) == bytes([i]) * 4096
        except Exception as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert len(files) <= 3


def test_index_files_go_through_the_cache(tmp_path):
    files = OpenFiles(capacity=2)
    segments = []
    for n in range(6):
        stem = tmp_path / f"{n}"
        segment = Segment(
            0, FileStore(f"{stem}.log", files), *(cls(f"{stem}{suffix}", files) for cls, suffix in _index_classes())
        )
        segments.append(segment)
    baseline = open_fd_count()
    for n, segment in enumerate(segments):
        batch = build_batch([Record(0, 0, None, b"v", ())], base_timestamp=1000 + n)
        segment.append(batch, parse_header(batch), index_interval_bytes=0)
    assert open_fd_count() <= baseline + 2
    assert all((tmp_path / f"{n}.timeindex").stat().st_size == 12 for n in range(6))


def _index_classes():
    from kwire.log.index import OffsetIndex, TimeIndex

    return [(OffsetIndex, ".index"), (TimeIndex, ".timeindex")]


def test_many_logs_need_no_descriptor_each(tmp_path):
    baseline = open_fd_count()
    logs = [PartitionLog.open(tmp_path / f"t-{i}", LogConfig()) for i in range(300)]
    for i, log in enumerate(logs):
        batch = build_batch([Record(0, 0, None, b"%d" % i, ())], base_timestamp=1000)
        log.append(batch, parse_header(batch))
    assert open_fd_count() - baseline <= capacity_from_limit()
    for i, log in enumerate(logs):
        data = b"".join(bytes(c) for c in log.read(0, 1000))
        assert [r.value for r in iter_all_records(data)] == [b"%d" % i]
        log.close()


def test_capacity_follows_the_descriptor_limit(monkeypatch):
    import resource

    monkeypatch.setattr(resource, "getrlimit", lambda which: (256, 4096))
    assert capacity_from_limit() == 64
    monkeypatch.setattr(resource, "getrlimit", lambda which: (20, 4096))
    assert capacity_from_limit() == 16  # a floor, so a tiny limit does not thrash
