import itertools

import pytest

from compat_tests.broker import KwireProcess
from compat_tests.cluster import KwireCluster
from compat_tests.group_consumers import GroupConsumer
from compat_tests.raw import close_opened

# pytester: test_broker_api.py runs kwire's pytest plugin in a suite of its own;
# security_kit: the fixtures the test_security_* modules share.
pytest_plugins = ["pytester", "compat_tests.security_kit"]

_counter = itertools.count()


@pytest.fixture
def start_kwire(tmp_path, request):
    """Factory: start_kwire(*extra_args, memory=False, preexec_fn=None) -> a running KwireProcess."""
    started: list[KwireProcess] = []

    def start(*extra_args: str, memory: bool = False, preexec_fn=None) -> KwireProcess:
        n = next(_counter)
        data_dir = None if memory else tmp_path / f"data{n}"
        broker = KwireProcess(data_dir, tmp_path / f"kwire{n}.log", list(extra_args), preexec_fn).start()
        started.append(broker)
        return broker

    yield start
    for broker in started:
        broker.kill()  # only the processes this fixture started, by their pid
    if request.node.rep_call_failed if hasattr(request.node, "rep_call_failed") else False:
        for log in tmp_path.glob("kwire*.log"):
            print(f"--- {log.name}\n{log.read_text()[-5000:]}")


@pytest.fixture
def start_cluster(tmp_path, request):
    """Factory: start_cluster(*extra_args, brokers=3, port=0) -> a running KwireCluster
    (`python -m kwire serve --brokers N`); killed (by its pid) after the test."""
    started: list[KwireCluster] = []

    def start(*extra_args: str, brokers: int = 3, port: int = 0) -> KwireCluster:
        n = next(_counter)
        cluster = KwireCluster(tmp_path / f"cluster{n}", tmp_path / f"cluster{n}.log", list(extra_args), brokers, port)
        started.append(cluster.start())
        return cluster

    yield start
    for cluster in started:
        cluster.kill()
    if getattr(request.node, "rep_call_failed", False):
        for cluster in started:
            print(f"--- {cluster.log_path.name}\n{cluster.log_tail()}")


@pytest.fixture(scope="session")
def shared_kwire(tmp_path_factory):
    """One broker for tests that only need their own topics."""
    directory = tmp_path_factory.mktemp("shared")
    broker = KwireProcess(directory / "data", directory / "kwire.log").start()
    yield broker
    broker.kill()


@pytest.fixture
def broker(start_kwire):
    return start_kwire()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call_failed = report.failed


@pytest.fixture(autouse=True)
def _close_raw_sockets():
    yield
    close_opened()


_topic_counter = itertools.count()


@pytest.fixture
def topic_name(request):
    safe = "".join(c if c.isalnum() else "-" for c in request.node.name)[:80]
    return f"{safe}-{next(_topic_counter)}"


@pytest.fixture
def consumers():
    started: list[GroupConsumer] = []
    yield started
    for consumer in started:
        consumer.stop()  # only the worker processes this test started
