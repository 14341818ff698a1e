import pytest

from tests.core_client import CoreClient, make_core


@pytest.fixture
def client():
    core = make_core()
    yield CoreClient(core)
    core.close()
