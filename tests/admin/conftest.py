"""Shared fixtures of the admin-command tests: one in-memory node per
module (a module may define its own `node` with other settings) and a way
to run a `kwire` command against it."""

import pytest

from kwire import cli
from kwire.config import BrokerConfig
from kwire.server.node_thread import start_node_in_thread


@pytest.fixture(scope="module")
def node():
    with start_node_in_thread(BrokerConfig(port=0, data_dir=None)) as running:
        yield running


@pytest.fixture
def kwire(node, capsys):
    """kwire(*args) -> (exit status, stdout, stderr) of one command against the node."""

    def run(*args: str) -> tuple[int, str, str]:
        status = cli.main([*args, "--bootstrap-server", node.bootstrap_servers])
        out, err = capsys.readouterr()
        return status, out, err

    return run
