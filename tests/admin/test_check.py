"""`kwire check`: one line per problem in a data directory, nothing changed,
exit status 1 when something is wrong."""

import shutil
import struct

import pytest

from kwire.admin.check import check_data_dir, run
from kwire.cluster.cluster import Cluster
from kwire.config import BrokerConfig
from kwire.log.keyed_records import append_keyed_records
from kwire.protocol.records import HEADER_SIZE
from tests.log.segment_files import batches_in, flip_byte, patch, segment_paths

GARBAGE = bytes(range(128, 256))


@pytest.fixture
def data_dir(tmp_path):
    """A cleanly shut down directory: a 2-partition topic over several segments, offsets committed elsewhere."""
    cluster = Cluster(BrokerConfig(port=0, data_dir=tmp_path))
    cluster.create_topic("t", 2, configs={"segment.bytes": "600", "index.interval.bytes": "100"})
    for index in range(2):
        for i in range(12):
            append_keyed_records(cluster.partition("t", index).log, [(b"k%d" % i, b"v" * 50)])
    cluster.delete_records("t", 1, 3)
    cluster.close()
    return tmp_path


def state(root):
    return {p: (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def test_a_sound_directory_has_no_problem(data_dir, capsys):
    assert run(data_dir) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith(f"checked {data_dir}: 3 partition(s)") and out[-1].endswith(": 0 problem(s)")
    report = check_data_dir(data_dir)
    assert report.counts["batches"] >= 25 and report.counts["checkpoints"] == 2  # log start, recovery points


def _second_segment(data_dir):
    return segment_paths(data_dir / "t-0")[1]


DAMAGE = {
    "crc": (
        lambda d: flip_byte(_second_segment(d), batches_in(_second_segment(d))[1][0] + HEADER_SIZE + 1),
        "t-0/0000",
        "CRC-32C mismatch",
    ),
    "time index deleted": (
        lambda d: _second_segment(d).with_suffix(".timeindex").unlink(),
        "t-0/0000",
        ".timeindex: missing",
    ),
    "index entry": (
        lambda d: patch(_second_segment(d).with_suffix(".index"), 0, struct.pack(">i", 7)),
        "t-0/0000",
        ".index: entry 0 names offset",
    ),
    "time entry": (
        lambda d: patch(_second_segment(d).with_suffix(".timeindex"), 0, struct.pack(">q", 5)),
        "t-0/0000",
        "does not match",
    ),
    "checkpoint": (
        lambda d: (d / "log-start-offset-checkpoint").write_bytes(GARBAGE),
        "log-start-offset-checkpoint: damaged",
        "ignores it",
    ),
    "checkpoint past the end": (
        lambda d: (d / "recovery-point-offset-checkpoint").write_text("0\n1\nt 0 99\n"),
        "recovery-point-offset-checkpoint: offset 99 of t-0 is past its log end 12",
        "",
    ),
    "partition.metadata": (
        lambda d: (d / "t-1" / "partition.metadata").write_bytes(GARBAGE),
        "t-1/partition.metadata: partition.metadata is not text",
        "",
    ),
    "meta.properties": (
        lambda d: (d / "meta.properties").write_bytes(GARBAGE),
        "meta.properties: damaged: not text",
        "",
    ),
    "orphan": (lambda d: (d / "t-2").mkdir(), "t-2: the metadata log knows no such partition", ""),
    "missing partition": (lambda d: shutil.rmtree(d / "t-1"), "t-1: missing", ""),
    "segment gone": (lambda d: _second_segment(d).unlink(), "t-0/", "are missing between segments"),
    "leftover": (
        lambda d: (d / "t-0" / "00000000000000000000.log.cleaned").write_bytes(b""),
        "t-0/00000000000000000000.log.cleaned: left over",
        "",
    ),
    "torn metadata": (
        lambda d: patch(segment_paths(d / "__cluster_metadata-0")[0], 70, b"\x00" * 4),
        "__cluster_metadata-0/00000000000000000000.log: byte 0",
        "",
    ),
}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_each_problem_is_one_line_and_nothing_changes(data_dir, capsys, kind):
    damage, starts, contains = DAMAGE[kind]
    damage(data_dir)
    before = state(data_dir)
    assert run(data_dir) == 1
    assert state(data_dir) == before
    out = capsys.readouterr().out.splitlines()
    problems = [line for line in out if not line.startswith(("note:", "checked "))]
    assert any(line.startswith(starts) and contains in line for line in problems), out
    assert out[-1].endswith(f": {len(problems)} problem(s)")


def test_it_runs_beside_a_broker_holding_the_directory(data_dir):
    cluster = Cluster(BrokerConfig(port=0, data_dir=data_dir))  # holds the lock, as a running broker does
    try:
        append_keyed_records(cluster.partition("t", 0).log, [(b"k", b"v")])
        report = check_data_dir(data_dir)
        assert report.problems == []
        assert any("a broker holds the lock" in note for note in report.notes)
    finally:
        cluster.close()
