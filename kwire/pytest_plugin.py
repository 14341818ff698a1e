"""kwire's pytest plugin (entry point `pytest11: kwire`): a Kafka broker for a
test suite, in the test process.

Fixtures:

- `kafka_broker` (session): a `kwire.Broker` in memory on a free port, one
  per session — with pytest-xdist one per worker process.
- `kafka_bootstrap_servers` (session): "HOST:PORT" of that broker, or of
  the Kafka given with `--kafka-bootstrap-servers`.
- `kafka_broker_factory`: `kafka_broker_factory(**settings)` starts another
  broker (the keywords of `kwire.Broker`); all are stopped after the test.
- `kafka_cluster`: a `kwire.Cluster` of 3 brokers (replication factor 3 by
  default, data in the test's tmp_path so a stopped node restarts with its
  logs), stopped after the test; `kafka_cluster_factory(brokers=3, **settings)`
  starts clusters of other shapes.
- `kafka_topic`: `kafka_topic(partitions=1, config=None)` creates a topic of
  a unique name on `kafka_bootstrap_servers` (or `bootstrap_servers=`)
  through the wire, so it works against a real Kafka too, and deletes it
  after the test.

Options: `--kafka-bootstrap-servers HOST:PORT[,...]` runs the suite against
an external Kafka (or kwire) instead of starting one: `kafka_bootstrap_servers`
and `kafka_topic` use it, and tests that need the `kafka_broker` object
itself are skipped. `--kwire-log-level` (default INFO) is the level of the
brokers' logs that a failed test's report shows ("kwire broker log").

Nothing here imports the broker (trio) until a fixture is used.
"""

from __future__ import annotations

import itertools
import re
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from kwire.broker import Broker
    from kwire.cluster_api import Cluster

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
TOPIC_READY_TIMEOUT_S = 30.0
_SESSION_BROKER = pytest.StashKey["Broker"]()
_ITEM_BROKERS = pytest.StashKey[list[tuple["Broker", int]]]()
_topic_numbers = itertools.count()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kwire", "kwire: a Kafka broker for the tests")
    group.addoption(
        "--kafka-bootstrap-servers",
        dest="kafka_bootstrap_servers",
        default=None,
        metavar="HOST:PORT",
        help="run against this Kafka instead of starting kwire (kafka_broker tests are skipped)",
    )
    group.addoption(
        "--kwire-log-level",
        dest="kwire_log_level",
        default="INFO",
        type=str.upper,
        choices=LOG_LEVELS,
        help="level of the kwire broker log attached to a failed test's report (default INFO)",
    )


def _external(config: pytest.Config) -> str | None:
    servers: str | None = config.getoption("kafka_bootstrap_servers", default=None)
    return servers.strip() if servers and servers.strip() else None


def _log_level(config: pytest.Config) -> str:
    return str(config.getoption("kwire_log_level", default="INFO"))


def _attach(request: pytest.FixtureRequest, broker: Broker) -> None:
    """The failed test's report shows all `broker` logged (it was started for the test)."""
    item = request.node
    if isinstance(item, pytest.Item):
        item.stash.setdefault(_ITEM_BROKERS, []).append((broker, 0))


@pytest.fixture(scope="session")
def kafka_broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    """A kwire broker for the session (in memory, on a free port of 127.0.0.1)."""
    external = _external(request.config)
    if external is not None:
        pytest.skip(f"kafka_broker is kwire in this process; the suite runs against {external} instead")
    from kwire.broker import Broker

    broker = Broker(log_level=_log_level(request.config)).start()
    request.config.stash[_SESSION_BROKER] = broker
    try:
        yield broker
    finally:
        del request.config.stash[_SESSION_BROKER]
        broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap_servers(request: pytest.FixtureRequest) -> str:
    """HOST:PORT of the session's Kafka: `--kafka-bootstrap-servers`, else `kafka_broker`'s."""
    external = _external(request.config)
    if external is not None:
        return external
    broker: Broker = request.getfixturevalue("kafka_broker")
    return broker.bootstrap_servers


@pytest.fixture
def kafka_broker_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., Broker]]:
    """`kafka_broker_factory(**settings)`: a started kwire.Broker of its own (stopped after the test)."""
    from kwire.broker import Broker

    started: list[Broker] = []

    def start(settings: dict[str, object] | None = None, **keywords: Any) -> Broker:
        keywords.setdefault("log_level", _log_level(request.config))
        broker = Broker(settings, **keywords).start()
        started.append(broker)
        _attach(request, broker)
        return broker

    try:
        yield start
    finally:
        _stop_all(started)


@pytest.fixture
def kafka_cluster_factory(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Callable[..., Cluster]]:
    """`kafka_cluster_factory(brokers=3, **settings)`: a started kwire.Cluster (stopped after the test)."""
    from kwire.cluster_api import Cluster

    started: list[Cluster] = []

    def start(brokers: int = 3, settings: dict[str, object] | None = None, **keywords: Any) -> Cluster:
        keywords.setdefault("data_dir", tmp_path / f"kwire-cluster-{len(started)}")
        if "default.replication.factor" not in (settings or {}):
            keywords.setdefault("default_replication_factor", min(3, brokers))
        cluster = Cluster(brokers, settings, **keywords).start()
        started.append(cluster)
        return cluster

    try:
        yield start
    finally:
        _stop_all(started)


def _stop_all(started: list[Broker] | list[Cluster]) -> None:
    """Stop every broker or cluster a factory started, then raise the first failure."""
    problems = []
    for running in started:
        try:
            running.stop()
        except Exception as error:  # stop them all, then say what went wrong
            problems.append(error)
    if problems:
        raise problems[0]


@pytest.fixture
def kafka_cluster(kafka_cluster_factory: Callable[..., Cluster]) -> Cluster:
    """Three brokers, replication factor 3 by default: `cluster.stop(node_id)`, `cluster.start(node_id)` …"""
    return kafka_cluster_factory()


@pytest.fixture
def kafka_topic(request: pytest.FixtureRequest) -> Iterator[Callable[..., str]]:
    """`kafka_topic(partitions=1, config=None, bootstrap_servers=None) -> name`:
    a new topic of a unique name (CreateTopics), deleted after the test."""
    created: list[tuple[str, str]] = []

    def create(
        partitions: int = 1, config: dict[str, object] | None = None, bootstrap_servers: str | None = None
    ) -> str:
        servers = bootstrap_servers or request.getfixturevalue("kafka_bootstrap_servers")
        name = _unique_topic_name(request.node.name)
        _create_topic(servers, name, partitions, {key: str(value) for key, value in (config or {}).items()})
        created.append((servers, name))
        return name

    yield create
    for servers, name in reversed(created):
        _delete_topic(servers, name)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    broker = item.config.stash.get(_SESSION_BROKER, None)
    if broker is not None and _uses_session_broker(item):
        item.stash.setdefault(_ITEM_BROKERS, []).append((broker, broker.log_position))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    if report.failed:
        attached: list[tuple[Broker, int]] = item.stash.get(_ITEM_BROKERS, [])
        brokers = list(attached)
        session_broker = item.config.stash.get(_SESSION_BROKER, None)
        if session_broker is not None and _uses_session_broker(item):
            if not any(broker is session_broker for broker, _ in brokers):
                brokers.append((session_broker, 0))  # it started during this test's setup
        for broker, since in brokers:
            where = broker.bootstrap_servers if broker.running else "stopped"
            text = broker.log_text(since) or "(nothing logged)"
            report.sections.append((f"kwire broker log ({where})", text))
    return report


def _uses_session_broker(item: pytest.Item) -> bool:
    names = getattr(item, "fixturenames", ())
    return any(name in names for name in ("kafka_broker", "kafka_bootstrap_servers", "kafka_topic"))


# --- topics through the wire (kwire's admin client: works against a real Kafka too) ----------------------------


def _unique_topic_name(test_name: str) -> str:
    safe = re.sub(r"[^a-zA-Z0-9._-]+", "-", test_name).strip("-.")[:120] or "topic"
    return f"{safe}-{next(_topic_numbers)}-{uuid.uuid4().hex[:8]}"


def _create_topic(servers: str, name: str, partitions: int, configs: dict[str, str]) -> None:
    from kwire.admin.cluster_client import ClusterClient
    from kwire.protocol.api_keys import ApiKey
    from kwire.protocol.errors import ErrorCode

    values = dict(
        topics=[
            dict(
                name=name,
                num_partitions=partitions,
                replication_factor=-1,  # the cluster's default.replication.factor
                assignments=[],
                configs=[dict(name=key, value=value) for key, value in configs.items()],
            )
        ],
        timeout=int(TOPIC_READY_TIMEOUT_S * 1000),
        validate_only=False,
    )
    with ClusterClient(servers) as cluster:
        _version, answer = cluster.any().call(ApiKey.CREATE_TOPICS, values, 7, 4)
        (result,) = answer.topics
        if result.error_code != ErrorCode.none:
            message = result.error_message or ErrorCode(result.error_code).name
            raise RuntimeError(f"cannot create topic {name} on {servers}: {message}")
        deadline = time.monotonic() + TOPIC_READY_TIMEOUT_S
        while True:  # a real Kafka's brokers learn of the topic a little later
            (topic,) = cluster.metadata([name]).topics
            if topic.error_code == ErrorCode.none and all(p.leader_id >= 0 for p in topic.partitions):
                if len(topic.partitions) == partitions:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"topic {name} was created on {servers} but has no leaders yet")
            time.sleep(0.05)


def _delete_topic(servers: str, name: str) -> None:
    from kwire.admin.cluster_client import ClusterClient, ClusterError
    from kwire.protocol.api_keys import ApiKey
    from kwire.protocol.errors import ErrorCode

    values = dict(topics=[dict(name=name, topic_id=None)], topic_names=[name], timeout=30_000)
    with ClusterClient(servers) as cluster:
        try:
            connection = cluster.any()
        except ClusterError:
            return  # the broker is gone (a factory's, stopped first), and its topics with it
        _version, answer = connection.call(ApiKey.DELETE_TOPICS, values, 6, 1)
    for result in answer.responses:
        if result.error_code not in (ErrorCode.none, ErrorCode.unknown_topic_or_partition):
            message = getattr(result, "error_message", None) or ErrorCode(result.error_code).name
            raise RuntimeError(f"cannot delete topic {name} on {servers}: {message}")
