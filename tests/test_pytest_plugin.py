"""kwire's pytest plugin (kwire/pytest_plugin.py), run by pytester in test
suites of its own: the session broker and its address, independent brokers
from the factory, topics created and deleted, an external Kafka given by
--kafka-bootstrap-servers, one broker per xdist worker, and the broker's log
in a failed test's report.

The inner runs load the plugin with `-p kwire.pytest_plugin` and no plugin
autoloading, so they behave the same whether or not the pytest11 entry
point is installed (an installed one would register the module a second
time)."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import kwire

pytestmark = pytest.mark.timeout(120)

# (-W: in-process runs import the plugin module already imported, which pytest cannot assert-rewrite.)
PLUGIN = ["-p", "kwire.pytest_plugin", "-W", "ignore::pytest.PytestAssertRewriteWarning"]


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in sys.path if p))
    return pytester


def test_the_pytest11_entry_point_names_the_plugin_module():
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    module = importlib.import_module(pyproject["project"]["entry-points"]["pytest11"]["kwire"])
    assert module.__name__ == "kwire.pytest_plugin"
    for name in ("kafka_broker", "kafka_bootstrap_servers", "kafka_broker_factory", "kafka_topic"):
        assert hasattr(module, name)


def test_loading_the_plugin_does_not_start_or_import_the_broker():
    # Nor kio: loaded while pytest starts, before hypothesis, it would miss kio's hypothesis strategies.
    code = (
        "import sys, pytest, kwire.pytest_plugin; "
        "assert not {'trio', 'kwire.broker', 'kio'} & set(sys.modules), sorted(sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, env=env)


def test_the_session_broker_its_address_and_topics(inner: pytest.Pytester):
    inner.makepyfile(
        """
        from kwire.admin.cluster_client import ClusterClient

        seen = {}

        def topic_names(servers):
            with ClusterClient(servers) as client:
                return {t.name for t in client.metadata(None).topics}

        def test_first(kafka_broker, kafka_bootstrap_servers, kafka_topic):
            assert kafka_bootstrap_servers == kafka_broker.bootstrap_servers == f"127.0.0.1:{kafka_broker.port}"
            assert kafka_broker.data_dir is None
            name = kafka_topic(partitions=3, config={"retention.ms": 60000})
            other = kafka_topic()
            assert name != other and "test_first" in name
            assert {name, other} <= topic_names(kafka_bootstrap_servers)
            topic = kafka_broker.state.cluster.topics[name]
            assert len(topic.partitions) == 3 and topic.configs["retention.ms"] == "60000"
            seen.update(port=kafka_broker.port, topics=(name, other))

        def test_second(kafka_broker, kafka_bootstrap_servers):
            assert kafka_broker.port == seen["port"]  # one broker for the session
            assert not set(seen["topics"]) & topic_names(kafka_bootstrap_servers)  # deleted after test_first
        """
    )
    inner.runpytest(*PLUGIN).assert_outcomes(passed=2)


def test_the_factory_gives_independent_brokers(inner: pytest.Pytester):
    inner.makepyfile(
        """
        import pytest
        from kwire.config import ConfigError

        def test_two(kafka_broker_factory, kafka_topic, tmp_path):
            a = kafka_broker_factory(num_partitions=2)
            b = kafka_broker_factory({"auto.create.topics.enable": False}, data_dir=tmp_path / "b")
            assert a.port != b.port and a.running and b.running
            assert a.config.num_partitions == 2 and b.config.auto_create_topics_enable is False
            name = kafka_topic(bootstrap_servers=a.bootstrap_servers)
            assert name in a.state.cluster.topics and name not in b.state.cluster.topics
            with pytest.raises(ConfigError, match="num.partitions"):
                kafka_broker_factory(num_partitions=0)
            pytest.brokers = (a, b)

        def test_stopped_after_the_test():
            assert not any(broker.running for broker in pytest.brokers)

        def test_a_topic_on_a_broker_stopped_before_the_topic_is_deleted(kafka_topic, kafka_broker_factory):
            kafka_topic(bootstrap_servers=kafka_broker_factory().bootstrap_servers)  # (teardown: the broker goes first)
        """
    )
    inner.runpytest(*PLUGIN).assert_outcomes(passed=3)


def test_kafka_bootstrap_servers_points_the_suite_at_an_external_kafka(inner: pytest.Pytester, tmp_path: Path):
    created = tmp_path / "created"
    inner.makepyfile(
        f"""
        from kwire.admin.cluster_client import ClusterClient

        def test_external(kafka_bootstrap_servers, kafka_topic):
            name = kafka_topic(partitions=2)
            with ClusterClient(kafka_bootstrap_servers) as client:
                (topic,) = client.metadata([name]).topics
            assert len(topic.partitions) == 2
            open({str(created)!r}, "w").write(kafka_bootstrap_servers + " " + name)

        def test_needs_the_object(kafka_broker):
            raise AssertionError("not reached")
        """
    )
    with kwire.Broker() as external:
        result = inner.runpytest(*PLUGIN, "--kafka-bootstrap-servers", external.bootstrap_servers, "-rs")
        result.assert_outcomes(passed=1, skipped=1)
        result.stdout.fnmatch_lines(
            [f"*kafka_broker is kwire in this process; the suite runs against {external.bootstrap_servers}*"]
        )
        servers, name = created.read_text().split()
        assert servers == external.bootstrap_servers
        assert name not in external.state.cluster.topics  # deleted at teardown
        assert [t for t in external.state.cluster.topics if not t.startswith("__")] == []


def test_one_broker_per_xdist_worker(inner: pytest.Pytester, tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    inner.makepyfile(
        f"""
        import os, pytest

        @pytest.mark.parametrize("n", range(8))
        def test_where(kafka_broker, kafka_topic, worker_id, n):
            kafka_topic()
            with open(os.path.join({str(out)!r}, f"{{worker_id}}-{{n}}"), "w") as f:
                f.write(str(kafka_broker.port))
        """
    )
    result = inner.runpytest_subprocess(*PLUGIN, "-p", "xdist", "-n", "2", timeout=100)
    result.assert_outcomes(passed=8)
    ports: dict[str, set[str]] = {}
    for path in out.iterdir():
        ports.setdefault(path.name.split("-")[0], set()).add(path.read_text())
    assert sorted(ports) == ["gw0", "gw1"], ports
    assert all(len(each) == 1 for each in ports.values())
    assert ports["gw0"] != ports["gw1"]


def test_a_failed_test_shows_the_broker_log(inner: pytest.Pytester):
    inner.makepyfile(
        """
        import logging

        def test_passes(kafka_broker):
            pass

        def test_fails(kafka_broker):
            kafka_broker.call_in_loop(lambda: logging.getLogger("kwire.example").warning("a broker complaint"))
            assert False

        def test_fails_with_its_own(kafka_broker_factory):
            broker = kafka_broker_factory()
            broker.call_in_loop(lambda: logging.getLogger("kwire.example").info("an own remark"))
            assert False
        """
    )
    result = inner.runpytest(*PLUGIN)
    result.assert_outcomes(passed=1, failed=2)
    text = result.stdout.str()
    assert text.count("kwire broker log (") == 2
    result.stdout.fnmatch_lines(
        [
            "*_ test_fails _*",
            "*- kwire broker log (127.0.0.1:*",
            "*WARNING kwire.example: a broker complaint",
            "*_ test_fails_with_its_own _*",
            "*- kwire broker log (127.0.0.1:*",
            "*INFO kwire.broker: kwire broker serving on 127.0.0.1:*",
            "*INFO kwire.example: an own remark",
        ]
    )
    quiet = inner.runpytest(*PLUGIN, "--kwire-log-level", "warning", "-k", "own")
    quiet.assert_outcomes(failed=1)
    quiet.stdout.fnmatch_lines(["*- kwire broker log (127.0.0.1:*", "(nothing logged)"])
    assert "INFO kwire" not in quiet.stdout.str()  # below --kwire-log-level
