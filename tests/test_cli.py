"""`kwire serve` start-up failures: one line each, exit status 1, no traceback
unless --log-level DEBUG. (compat_tests/test_startup_errors.py runs the
real cases as subprocesses.)"""

import logging
import subprocess
import sys

import pytest

from kwire import cli
from kwire.errors import StartupError
from kwire.server import listener, startup


def locked_data(config, clock=None, controller=None):
    raise StartupError(f"data directory {config.data_dir} is in use by another broker (its .lock is held)")


def test_a_startup_error_while_opening_the_data_is_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(startup, "open_data", locked_data)
    assert cli.main(["serve", "--port", "0", "--data-dir", str(tmp_path / "d")]) == 1
    assert capsys.readouterr().err == (
        f"kwire serve: data directory {tmp_path / 'd'} is in use by another broker (its .lock is held)\n"
    )


def test_a_startup_error_raised_in_a_task_is_one_line_too(monkeypatch, capsys):
    async def refuses(core, listeners, security=None, *, task_status):
        raise StartupError("cannot serve: refused by a test")

    monkeypatch.setattr(listener, "serve", refuses)
    assert cli.main(["serve", "--port", "0", "--memory"]) == 1
    assert capsys.readouterr().err == "kwire serve: cannot serve: refused by a test\n"


def test_every_problem_in_the_settings_gets_its_own_line(capsys, tmp_path):
    status = cli.main(
        [
            "serve",
            "--port",
            "70000",
            "--data-dir",
            str(tmp_path / "d"),
            "-o",
            "num.partitions=0",
            "-o",
            "log.cleaner.enable=maybe",
        ]
    )
    assert status == 1
    assert capsys.readouterr().err.splitlines() == [
        "kwire serve: Invalid value 70000 for option --port: Value must be no more than 65535",
        "kwire serve: Invalid value 0 for configuration num.partitions: Value must be at least 1",
        "kwire serve: Invalid value maybe for configuration log.cleaner.enable: Expected value to be either true or false",
    ]
    assert not (tmp_path / "d").exists()


def test_debug_logs_the_traceback(monkeypatch, caplog, tmp_path):
    monkeypatch.setattr(startup, "open_data", locked_data)
    with caplog.at_level(logging.DEBUG, logger="kwire"):
        assert cli.main(["serve", "--port", "0", "--data-dir", str(tmp_path / "d"), "--log-level", "DEBUG"]) == 1
    (failure,) = [record for record in caplog.records if record.exc_info]
    assert failure.levelno == logging.DEBUG and isinstance(failure.exc_info[1], StartupError)


@pytest.fixture(autouse=True)
def _leave_logging_alone(monkeypatch):
    # cli.main configures the root logger; keep that out of other tests.
    monkeypatch.setattr(cli.logging, "basicConfig", lambda **kwargs: None)


def test_unsupported_file_settings_are_one_warning_and_bad_ones_name_file_and_line(
    monkeypatch, capsys, caplog, tmp_path
):
    from kwire.server import process

    served = []
    monkeypatch.setattr(process, "serve_until_signal", lambda config, brokers=None: served.append(config) or 0)
    monkeypatch.delenv("KAFKA_NUM_PARTITIONS", raising=False)
    path = tmp_path / "server.properties"
    path.write_text("process.roles=broker,controller\nzookeeper.connect=zk:2181\nnum.partitions=3\n")
    with caplog.at_level(logging.WARNING, logger="kwire"):
        assert cli.main(["serve", "--config", str(path), "--memory"]) == 0
    assert served[0].num_partitions == 3
    assert [record.getMessage() for record in caplog.records] == [
        "ignoring settings kwire does not support: process.roles, zookeeper.connect"
    ]
    path.write_text("num.partitions=3\nnum.partitions=0\n")
    assert cli.main(["serve", "--config", str(path), "--memory"]) == 1
    assert capsys.readouterr().err == (
        f"kwire serve: {path}:2: Invalid value 0 for configuration num.partitions: Value must be at least 1\n"
    )
    assert len(served) == 1


def test_serve_help_lists_the_options_and_the_environment(capsys):
    with pytest.raises(SystemExit):
        cli.main(["serve", "--help"])
    out = capsys.readouterr().out
    for option in ("--config", "--host", "--port", "--data-dir", "--memory", "--advertised-host", "-o", "--log-level"):
        assert option in out
    assert "KWIRE_PORT" in out and "KAFKA_NUM_PARTITIONS" in out


def test_serve_loads_neither_hypothesis_nor_the_admin_commands():
    # Start-up time: kio would pull in hypothesis (a test extra) and the admin
    # commands the wire client; `kwire serve` needs neither.
    probe = (
        "import sys; from kwire import cli; cli.build_parser(with_admin_commands=False); "
        "import kwire.server.process; "
        "print(sys.modules.get('hypothesis') is not None, 'kwire.admin.wire_client' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.split() == ["False", "False"]
