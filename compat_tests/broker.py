"""Start kwire exactly as a user does: `python -m kwire serve` in a subprocess."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

READY = re.compile(r"ready on (\S+):(\d+)")
CONTROL = re.compile(r"fault control on 127\.0\.0\.1:(\d+)")
HTTP = re.compile(r"HTTP on http://(\S+):(\d+)/")
START_TIMEOUT_S = 15
STOP_TIMEOUT_S = 10
WAIT_S = 30  # the default bound of wait_for

T = TypeVar("T")


class OwnProcess:
    """A `python -m kwire serve` this test suite started: signalled only by its pid."""

    process: subprocess.Popen | None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self) -> int:
        """SIGTERM and wait; returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(STOP_TIMEOUT_S)
        finally:
            self.process.stdout.close()

    def kill(self) -> None:
        """SIGKILL it if it still runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT_S)
        if self.process is not None and self.process.stdout:
            self.process.stdout.close()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class KwireProcess(OwnProcess):
    def __init__(
        self,
        data_dir: Path | None,
        log_path: Path,
        extra_args: list[str] = (),
        preexec_fn=None,
        env: dict[str, str] | None = None,
        bare: bool = False,
    ) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.extra_args = list(extra_args)
        self.preexec_fn = preexec_fn  # run in the child before kwire starts (e.g. to set resource limits)
        self.env = dict(env or {})  # KAFKA_/KWIRE_ variables for kwire (the caller's own are not passed on)
        self.bare = bare  # no --port/--data-dir/--memory flags: the settings come from extra_args, env or a file
        self.port = 0
        self.control_port: int | None = None  # with --control-port: the fault control endpoint's port
        self.http_port: int | None = None  # with --http-port: the HTTP port (metrics, health, the console)
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> KwireProcess:
        storage = ["--memory"] if self.data_dir is None else ["--data-dir", str(self.data_dir)]
        flags = [] if self.bare else ["--port", str(self.port), *storage]
        command = [sys.executable, "-m", "kwire", "serve", *flags, *self.extra_args]
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            preexec_fn=self.preexec_fn,
            env=_environment(self.env),
        )
        log.close()
        line = _read_line_with_timeout(self.process, START_TIMEOUT_S)
        match = READY.search(line or "")
        if not match:
            self.kill()
            raise RuntimeError(f"kwire did not start: {line!r}\n{self.log_path.read_text()}")
        self.port = int(match.group(2))
        control = CONTROL.search(line or "")
        self.control_port = int(control.group(1)) if control else None
        http_port = HTTP.search(line or "")
        self.http_port = int(http_port.group(2)) if http_port else None
        return self

    @property
    def control(self) -> str:
        assert self.control_port is not None, "started without --control-port"
        return f"127.0.0.1:{self.control_port}"

    def faults(self, method: str, path: str, body: dict | None = None):
        """One call to the fault control endpoint (see kwire/faults/control.py); its JSON answer."""
        from kwire.admin.faults_command import call

        return call(self.control, method, path, body)

    def add_fault(self, kind: str, api: str, **fields) -> int:
        return self.faults("POST", "/faults", {"kind": kind, "api": api, **fields})["id"]

    def restart(self) -> KwireProcess:
        """Stop cleanly and start again on the same port and data dir."""
        assert self.stop() == 0
        return self.start()


def _environment(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment without KAFKA_/KWIRE_ settings (kwire reads those), plus `extra`."""
    inherited = {name: value for name, value in os.environ.items() if not name.startswith(("KAFKA_", "KWIRE_"))}
    return {**inherited, **extra}


def _read_line_with_timeout(process: subprocess.Popen, timeout: float) -> str | None:
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return result[0] if result else None


def wait_for(condition: Callable[[], T], what: str, timeout_s: float = WAIT_S, interval_s: float = 0.05) -> T:
    """Poll `condition` until it returns something true, and return that;
    after `timeout_s` an AssertionError naming `what`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
