"""`kwire serve` start-up failures: one line each, exit status 1, no traceback
unless --log-level DEBUG. (compat_tests/test_startup_errors.py runs the
real cases as subprocesses.)"""

import logging

import pytest

from kwire import cli
from kwire.errors import StartupError
from kwire.server import listener, startup


def locked_data(config, clock=None):
    raise StartupError(f"data directory {config.data_dir} is in use by another broker (its .lock is held)")


def test_a_startup_error_while_opening_the_data_is_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(startup, "open_data", locked_data)
    assert cli.main(["serve", "--port", "0", "--data-dir", str(tmp_path / "d")]) == 1
    assert capsys.readouterr().err == (
        f"kwire serve: data directory {tmp_path / 'd'} is in use by another broker (its .lock is held)\n"
    )


def test_a_startup_error_raised_in_a_task_is_one_line_too(monkeypatch, capsys):
    async def refuses(core, listeners, *, task_status):
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
