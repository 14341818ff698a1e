"""`kwire serve` refuses to start with one line on stderr naming the setting,
address or path at fault, exit status 1 and no traceback; it touches
neither the data directory nor the network before its settings are known
to be good, and does not create the data directory when the port is busy."""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
import sys

import pytest

from compat_tests.broker import KwireProcess
from compat_tests.clients import Outgoing, consume, create_topic, produce

RUN_TIMEOUT_S = 30


def run_serve(*args: str, preexec_fn=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kwire", "serve", *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        preexec_fn=preexec_fn,
    )


def assert_one_line(result: subprocess.CompletedProcess, *expected: str) -> str:
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""  # never announced itself as ready
    for fragment in expected:
        assert fragment in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--port", "99999"], "Invalid value 99999 for option --port: Value must be no more than 65535"),
        (["--port", "-1"], "Invalid value -1 for option --port: Value must be at least 0"),
        (["--port", "http"], "Invalid value http for option --port: Not a number of type INT"),
        (["--advertised-port", "0"], "Invalid value 0 for option --advertised-port"),
        (["--node-id", "-1"], "Invalid value -1 for option --node-id: Value must be at least 0"),
        (["-o", "num.partitions=0"], "Invalid value 0 for configuration num.partitions: Value must be at least 1"),
        (["-o", "num.partitions=-4"], "Invalid value -4 for configuration num.partitions: Value must be at least 1"),
        (
            ["-o", "num.partitions=three"],
            "Invalid value three for configuration num.partitions: Not a number of type INT",
        ),
        (["-o", "message.max.bytes=-1"], "configuration message.max.bytes: Value must be at least 0"),
        (["-o", "socket.request.max.bytes=0"], "configuration socket.request.max.bytes: Value must be at least 1"),
        (["-o", "log.segment.bytes=13"], "configuration log.segment.bytes: Value must be at least 14"),
        (
            ["-o", "log.retention.ms=0"],
            "configuration log.retention.ms: Value must be at least 1 (or -1 for unlimited)",
        ),
        (
            ["-o", "log.cleaner.min.cleanable.ratio=2"],
            "configuration log.cleaner.min.cleanable.ratio: Value must be no more than 1",
        ),
        (["-o", "compression.type=brotli"], "configuration compression.type: String must be one of"),
        (
            ["-o", "log.cleanup.policy=compact,forever"],
            "configuration log.cleanup.policy: String must be one of: compact, delete",
        ),
        (
            ["-o", "auto.create.topics.enable=yes"],
            "configuration auto.create.topics.enable: Expected value to be either true or false",
        ),
        (["-o", "node.id=-1"], "configuration node.id: Value must be at least 0"),
        (["-o", "max.connections.per.ip=0"], "max.connections.per.ip"),
        (
            ["-o", "queued.max.request.bytes=1000"],
            "queued.max.request.bytes: must be at least socket.request.max.bytes",
        ),
        (["-o", "no.such.setting=1"], "Unknown broker config 'no.such.setting'"),
        (["-o", "num.partitions"], "Invalid value num.partitions for option -o: expected NAME=VALUE"),
        (["--host", "192.0.2.1"], "cannot listen on 192.0.2.1:0: Cannot assign requested address"),
    ],
)
def test_a_bad_setting_is_one_line_and_nothing_is_created(tmp_path, args, expected):
    data_dir = tmp_path / "data"
    assert_one_line(run_serve("--port", "0", "--data-dir", str(data_dir), *args), expected)
    assert not data_dir.exists()


def test_a_busy_port_is_one_line_naming_the_address_and_leaves_the_data_directory_alone(tmp_path):
    data_dir = tmp_path / "data"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_serve("--port", str(port), "--data-dir", str(data_dir))
    assert_one_line(result, f"cannot listen on 127.0.0.1:{port}: Address already in use")
    assert not data_dir.exists()


def test_a_data_directory_that_is_a_file_is_one_line(tmp_path):
    a_file = tmp_path / "data"
    a_file.write_text("not a directory")
    assert_one_line(run_serve("--port", "0", "--data-dir", str(a_file)), f"data directory {a_file} is not a directory")
    assert a_file.read_text() == "not a directory"


def test_a_data_directory_that_cannot_be_created_is_one_line(tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("")
    inside = a_file / "data"
    assert_one_line(
        run_serve("--port", "0", "--data-dir", str(inside)),
        f"cannot create data directory {inside}: {a_file} is not a directory",
    )


def test_an_unwritable_data_directory_is_one_line(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o500)
    assert_one_line(
        run_serve("--port", "0", "--data-dir", str(data_dir), preexec_fn=_without_root_file_access()),
        f"data directory {data_dir} is not writable",
    )
    assert not data_dir.exists() or list(data_dir.iterdir()) == []


def test_a_data_directory_under_an_unwritable_one_is_one_line(tmp_path):
    parent = tmp_path / "readonly"
    parent.mkdir(mode=0o500)
    data_dir = parent / "data"
    assert_one_line(
        run_serve("--port", "0", "--data-dir", str(data_dir), preexec_fn=_without_root_file_access()),
        f"cannot create data directory {data_dir}: {parent} is not writable",
    )


def test_an_unreadable_partition_directory_is_one_line_naming_it(start_kwire, topic_name):
    broker = start_kwire()
    create_topic("confluent-kafka", broker.bootstrap, topic_name, partitions=2)
    produce("kafka-python", broker.bootstrap, topic_name, [Outgoing(b"k", b"v", partition=1)])
    assert broker.stop() == 0
    locked = broker.data_dir / f"{topic_name}-1"
    locked.chmod(0)
    try:
        result = run_serve("--port", "0", "--data-dir", str(broker.data_dir), preexec_fn=_without_root_file_access())
    finally:
        locked.chmod(0o755)
    assert_one_line(result, f"cannot open {locked}: Permission denied")
    # Nothing was lost: with access restored the broker starts and serves the topic.
    restarted = KwireProcess(broker.data_dir, broker.log_path).start()
    try:
        assert [m.value for m in consume("confluent-kafka", restarted.bootstrap, topic_name, [1], 1)] == [b"v"]
    finally:
        restarted.kill()


def test_debug_log_level_shows_the_traceback_as_well(tmp_path):
    result = run_serve(
        "--port", "0", "--data-dir", str(tmp_path / "d"), "-o", "num.partitions=0", "--log-level", "DEBUG"
    )
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "kwire serve: Invalid value 0 for configuration num.partitions: Value must be at least 1"
    )


def test_several_problems_get_a_line_each(tmp_path):
    result = run_serve(
        "--port", "0", "--data-dir", str(tmp_path / "d"), "-o", "num.partitions=0", "-o", "compression.type=brotli"
    )
    assert result.returncode == 1
    assert [line.split(":")[1].strip() for line in result.stderr.splitlines()] == [
        "Invalid value 0 for configuration num.partitions",
        "Invalid value brotli for configuration compression.type",
    ]


def _without_root_file_access():
    """Permission bits do not stop root: run the broker without the
    capabilities that let root ignore them (as a plain user it has none)."""
    if os.geteuid() != 0:
        return None
    if not sys.platform.startswith("linux"):
        pytest.skip("needs Linux capabilities to test permissions as root")

    def drop_file_access_capabilities() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        pr_capbset_drop, cap_dac_override, cap_dac_read_search = 24, 1, 2
        for capability in (cap_dac_override, cap_dac_read_search):
            if libc.prctl(pr_capbset_drop, capability, 0, 0, 0) != 0:
                os._exit(97)

    return drop_file_access_capabilities


@pytest.mark.parametrize("brokers", [1, 3])
def test_a_sigterm_right_after_the_ready_line_stops_kwire_cleanly(tmp_path, brokers):
    """The signal handler is in place before kwire says it is ready, so a
    supervisor that stops it at once gets exit status 0, not death by SIGTERM."""
    for round_number in range(5):
        args = ["--port", "0"] if brokers == 1 else ["--port", "0", "--brokers", str(brokers)]
        broker = KwireProcess(tmp_path / f"data-{round_number}", tmp_path / f"kwire-{round_number}.log", args)
        try:
            broker.start()
            assert broker.stop() == 0
        finally:
            broker.kill()
