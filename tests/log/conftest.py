"""Fixtures shared by the log tests."""

import pytest

from kwire.clock import SYSTEM_CLOCK, Clock
from kwire.log import PartitionLog
from kwire.log.config import LogConfig


@pytest.fixture
def disk_log(tmp_path):
    logs = []

    def opener(clock: Clock = SYSTEM_CLOCK, **config):
        log = PartitionLog.open(tmp_path / "t-0", LogConfig(**config), clock=clock)
        logs.append(log)
        return log

    yield opener
    for log in logs:
        log.close()
