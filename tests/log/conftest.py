"""Fixtures shared by the log tests."""

import pytest

from kwire.log import PartitionLog
from kwire.log.config import LogConfig


@pytest.fixture
def disk_log(tmp_path):
    logs = []

    def opener(**config):
        log = PartitionLog.open(tmp_path / "t-0", LogConfig(**config))
        logs.append(log)
        return log

    yield opener
    for log in logs:
        log.close()
