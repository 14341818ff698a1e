"""`kwire.Broker` (kwire/broker.py): the in-process broker of users' test
suites, in a thread of its own or in the current trio loop — settings by
Kafka name or keyword, checked as `-o` is; restart; its log; nothing left
behind, also after 200 starts and stops."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import subprocess
import sys
import threading

import pytest
import trio

import kwire
from kwire.admin.cluster_client import ClusterClient
from kwire.admin.wire_client import WireClient
from kwire.config import ConfigError
from kwire.errors import StartupError
from tests.handlers import requests as rq
from tests.server.node_checks import Resources, assert_port_free, exercise

pytestmark = pytest.mark.timeout(60)


def test_import_kwire_stays_cheap_and_broker_is_a_lazy_attribute():
    code = "import sys, kwire; assert 'trio' not in sys.modules, 'trio'; kwire.Broker; assert 'trio' in sys.modules"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, env=env)
    from kwire.broker import Broker

    assert kwire.Broker is Broker
    with pytest.raises(AttributeError, match="no attribute 'Brokers'"):
        kwire.Brokers  # noqa: B018


def test_a_broker_serves_in_a_thread_on_a_free_port_in_memory():
    before = Resources.now()
    with kwire.Broker() as broker:
        assert broker.running and broker.port > 0 and broker.host == "127.0.0.1"
        assert broker.bootstrap_servers == f"127.0.0.1:{broker.port}"
        assert broker.data_dir is None and broker.state.config.in_memory
        exercise(broker.bootstrap_servers)
        assert broker.state.cluster.partition("t", 0).log.log_end_offset == 4
        assert broker.node.core.state is broker.state
        port = broker.port
    assert not broker.running
    with pytest.raises(RuntimeError, match="not running"):
        broker.bootstrap_servers  # noqa: B018
    assert Resources.now() == before
    assert_port_free(port)


def test_settings_by_kafka_name_and_by_keyword_are_checked_as_dash_o():
    broker = kwire.Broker(
        {"num.partitions": 3, "log.retention.hours": 2}, auto_create_topics_enable=False, log_cleanup_policy=["compact"]
    )
    config = broker.config
    assert (config.num_partitions, config.log_retention_ms) == (3, 7_200_000)
    assert config.auto_create_topics_enable is False and config.log_cleanup_policy == "compact"
    assert {"num.partitions", "log.retention.ms", "auto.create.topics.enable"} <= config.explicit
    assert kwire.Broker(node_id=7).config.node_id == 7
    with pytest.raises(
        ConfigError, match="^Invalid value 0 for configuration num.partitions: Value must be at least 1$"
    ):
        kwire.Broker(num_partitions=0)
    with pytest.raises(ConfigError, match="Invalid value 0 for configuration num.partitions"):
        kwire.Broker({"num.partitions": "0"})
    with pytest.raises(ConfigError, match="^Unknown broker config 'num.partitons'$"):
        kwire.Broker(num_partitons=3)
    with pytest.raises(ConfigError, match="Expected value to be either true or false"):
        kwire.Broker(auto_create_topics_enable="maybe")
    with pytest.raises(ConfigError, match="option --port"):
        kwire.Broker(port=70000)
    with pytest.raises(ConfigError, match="log_level"):
        kwire.Broker(log_level="LOUD")


def test_the_settings_reach_the_running_node():
    with kwire.Broker(num_partitions=3) as broker:
        with ClusterClient(broker.bootstrap_servers) as client:
            client.metadata(["auto-created"], allow_auto_create=True)
        assert broker.call_in_loop(lambda: len(broker.state.cluster.topics["auto-created"].partitions)) == 3


def test_restart_keeps_the_port_and_the_data_directory(tmp_path):
    before = Resources.now()
    with kwire.Broker(data_dir=tmp_path / "data") as broker:
        exercise(broker.bootstrap_servers)
        port = broker.port
        assert broker.restart() is broker
        assert broker.port == port
        assert broker.state.cluster.partition("t", 0).log.log_end_offset == 4
    assert Resources.now() == before


def test_a_broker_in_memory_comes_back_empty():
    with kwire.Broker() as broker:
        exercise(broker.bootstrap_servers)
        broker.restart()
        assert "t" not in broker.state.cluster.topics


def test_restart_moves_to_a_new_port_when_its_port_was_taken_meanwhile():
    with kwire.Broker() as broker:
        port = broker.port
        broker.stop()
        with kwire.Broker(port=port):
            broker.start()
            assert broker.port != port
            exercise(broker.bootstrap_servers)
        assert f"port {port} is taken now" in broker.log_text()
        broker.stop()


def test_a_fixed_port_that_is_busy_is_a_startup_error():
    with kwire.Broker() as running:
        before = Resources.now()
        with pytest.raises(StartupError, match="cannot listen on 127.0.0.1"):
            kwire.Broker(port=running.port).start()
        assert Resources.now() == before


def test_start_twice_and_stop_twice():
    broker = kwire.Broker().start()
    try:
        with pytest.raises(RuntimeError, match="already running"):
            broker.start()
    finally:
        broker.stop()
    broker.stop()


def test_the_broker_log_holds_its_records_and_the_kwire_logger_level_comes_back():
    logger = logging.getLogger("kwire")
    level = logger.level
    with kwire.Broker() as first, kwire.Broker(log_level="WARNING") as second:
        assert logger.getEffectiveLevel() <= logging.INFO
        exercise(first.bootstrap_servers, "in-first")
    assert logger.level == level
    assert "INFO kwire.broker: kwire broker serving on 127.0.0.1:" in first.log_text()
    assert "kwire broker stopped" in first.log_text()
    assert "serving" not in second.log_text()  # INFO is below its level


def test_the_broker_log_holds_the_request_log_admin_fields_and_failed_requests():
    with kwire.Broker({"kafka.request.logging": True}) as broker, kwire.Broker() as quiet:
        exercise(broker.bootstrap_servers, "logged", batches=1)
        exercise(quiet.bootstrap_servers, "unlogged", batches=1)
        host, port = broker.bootstrap_servers.rsplit(":", 1)
        with WireClient(host, int(port)) as client:
            client.call(19, 7, rq.create("logged"))  # TOPIC_ALREADY_EXISTS: INFO, not a warning
            client.call(19, 7, rq.create("bad name!"))
    text = broker.log_text()
    assert "INFO kafka.request.logger: CreateTopics v7: ok api=CreateTopics version=7" in text
    assert "INFO kafka.request.logger: Produce v9: ok" in text
    assert "Fetch v12" not in text  # polling stays at DEBUG
    assert "INFO kwire.admin: CreateTopics from client " in text and " principal=User:ANONYMOUS " in text
    assert "INFO kwire.requests: CreateTopics request failed: TOPIC_ALREADY_EXISTS" in text
    assert "WARNING kwire.requests: CreateTopics request failed: INVALID_TOPIC_EXCEPTION (bad name!: " in text
    assert "kafka.request.logger" not in quiet.log_text()


def test_records_from_a_brokers_tasks_go_to_that_broker_only():
    with kwire.Broker() as first, kwire.Broker() as second:
        first.call_in_loop(lambda: logging.getLogger("kwire.test").info("said by the first"))
        second.call_in_loop(lambda: logging.getLogger("kwire.test").warning("said by the second"))
    assert "INFO kwire.test: said by the first" in first.log_text()
    assert "said by the second" not in first.log_text()
    assert "WARNING kwire.test: said by the second" in second.log_text()


def test_faults_names_what_is_missing_until_the_state_has_them():
    with kwire.Broker() as broker:
        if hasattr(broker.state, "faults"):
            assert broker.faults is broker.state.faults
        else:
            with pytest.raises(AttributeError, match="no fault injector"):
                broker.faults  # noqa: B018


async def test_a_broker_in_the_current_trio_loop(tmp_path):
    before = Resources.now()
    async with kwire.Broker(data_dir=tmp_path / "data", num_partitions=2) as broker:
        assert threading.active_count() >= 1 and broker.running
        await trio.to_thread.run_sync(exercise, broker.bootstrap_servers)
        port = broker.port
        assert await broker.arestart() is broker
        assert broker.port == port
        assert broker.state.cluster.partition("t", 0).log.log_end_offset == 4
        with pytest.raises(RuntimeError, match="async with"):
            broker.stop()
    assert not broker.running
    assert Resources.now() == before
    assert "kwire broker serving on" in broker.log_text()


async def test_a_failed_start_in_trio_mode_leaves_nothing():
    async with kwire.Broker() as running:
        before = Resources.now()
        with pytest.raises(StartupError, match="cannot listen"):
            async with kwire.Broker(port=running.port):
                pass  # pragma: no cover
        assert Resources.now() == before


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_two_hundred_starts_and_stops_leave_no_threads_descriptors_or_memory_behind():
    for _ in range(10):  # warm-up: imports, caches, the allocator's arenas
        with kwire.Broker():
            pass
    gc.collect()
    before, rss_before = Resources.now(), _rss_bytes()
    threads_before = set(threading.enumerate())
    for _ in range(200):
        with kwire.Broker() as broker:
            assert broker.port > 0
    gc.collect()
    assert Resources.now() == before
    # No thread started here outlives its broker (threads of earlier tests may end meanwhile).
    assert set(threading.enumerate()) - threads_before == set()
    growth = _rss_bytes() - rss_before
    assert growth < 20 * 1024 * 1024, f"RSS grew by {growth / 1e6:.1f} MB over 200 brokers"


def test_an_asyncio_program_uses_the_thread_mode_with_aiokafka():
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    async def produce_and_consume(bootstrap: str) -> list[bytes]:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            for number in range(10):
                await producer.send_and_wait("asyncio-topic", b"m%d" % number)
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer("asyncio-topic", bootstrap_servers=bootstrap, auto_offset_reset="earliest")
        await consumer.start()
        try:
            got: list[bytes] = []
            async with asyncio.timeout(30):
                while len(got) < 10:
                    batches = await consumer.getmany(timeout_ms=500)
                    got.extend(record.value for records in batches.values() for record in records)
            return got
        finally:
            await consumer.stop()

    with kwire.Broker() as broker:
        assert asyncio.run(produce_and_consume(broker.bootstrap_servers)) == [b"m%d" % n for n in range(10)]


def test_a_broker_with_a_sasl_listener_from_settings_in_code():
    from confluent_kafka.admin import AdminClient

    jaas = 'org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";'
    settings = {
        "listeners": "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": jaas,
    }
    with kwire.Broker(settings) as broker:
        address = broker.bootstrap_servers_for("SASL_PLAINTEXT")
        assert address != broker.bootstrap_servers
        admin = AdminClient(
            {
                "bootstrap.servers": address,
                "security.protocol": "SASL_PLAINTEXT",
                "sasl.mechanism": "PLAIN",
                "sasl.username": "alice",
                "sasl.password": "alice-secret",
            }
        )
        brokers = admin.list_topics(timeout=10).brokers
        assert [f"{each.host}:{each.port}" for each in brokers.values()] == [address]
    with pytest.raises(ConfigError, match="No security protocol defined for listener INTERNAL"):
        kwire.Broker({"listeners": "INTERNAL://127.0.0.1:0"})


def test_a_restart_keeps_every_listeners_port():
    with kwire.Broker(
        {
            "listeners": "PLAINTEXT://127.0.0.1:0,SSL_LESS://127.0.0.1:0",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SSL_LESS:PLAINTEXT",
        }
    ) as broker:
        before = (broker.bootstrap_servers, broker.bootstrap_servers_for("SSL_LESS"))
        broker.restart()
        assert (broker.bootstrap_servers, broker.bootstrap_servers_for("SSL_LESS")) == before
