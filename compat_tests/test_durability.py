"""The durability policy a client can ask for: `flush.messages=1` on a topic
(or `log.flush.interval.messages=1` on the broker) fsyncs every write before
it is acknowledged; by default nothing on the produce path is fsynced, and
acknowledged data lives in the page cache, which a killed broker does not
lose. A power loss cannot be tested here; the fsyncs themselves are counted
with strace, where the machine allows tracing."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading

import pytest

from compat_tests.clients import TIMEOUT_S, consume, create_topic

MESSAGES = 30


class FsyncTrace:
    """strace attached to the broker: which files it fsyncs."""

    def __init__(self, pid: int, output) -> None:
        self.output = output
        self.process = subprocess.Popen(
            ["strace", "-f", "-y", "-e", "trace=fsync,fdatasync", "-p", str(pid), "-o", str(output)],
            stderr=subprocess.PIPE,
            text=True,
        )
        attached = threading.Event()
        threading.Thread(target=lambda: self.process.stderr.readline() and attached.set(), daemon=True).start()
        if not attached.wait(10) or self.process.poll() is not None:
            self.process.kill()
            pytest.skip("cannot trace the broker here (no ptrace permission)")

    def stop(self) -> list[str]:
        """The paths fsynced while tracing."""
        self.process.send_signal(signal.SIGINT)  # detaches, the broker runs on
        self.process.wait(10)
        return re.findall(r"fsync\(\d+<([^>]*)>\)", self.output.read_text())


def produce_one_by_one(client: str, bootstrap: str, topic: str, count: int) -> list[int]:
    """Each message its own request, acknowledged before the next is sent."""
    values = [b"%s-%d" % (topic.encode(), i) for i in range(count)]
    if client == "kafka-python":
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
        try:
            return [producer.send(topic, value=v, partition=0).get(TIMEOUT_S).offset for v in values]
        finally:
            producer.close(10)
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": False})
    offsets = []
    for v in values:
        producer.produce(
            topic, value=v, partition=0, on_delivery=lambda e, m: offsets.append(None if e else m.offset())
        )
        assert producer.flush(TIMEOUT_S) == 0
    return offsets


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_flush_messages_one_fsyncs_every_write_and_the_default_none(start_kwire, client, tmp_path):
    broker = start_kwire()
    create_topic(client, broker.bootstrap, "durable", 1, configs={"flush.messages": "1"})
    create_topic(client, broker.bootstrap, "plain", 1)
    trace = FsyncTrace(broker.pid, tmp_path / "strace.out")
    durable = produce_one_by_one(client, broker.bootstrap, "durable", MESSAGES)
    plain = produce_one_by_one(client, broker.bootstrap, "plain", MESSAGES)
    fsynced = trace.stop()
    assert durable == plain == list(range(MESSAGES))
    durable_log = [p for p in fsynced if p.endswith(os.path.join("durable-0", "00000000000000000000.log"))]
    assert len(durable_log) == MESSAGES  # one fsync per acknowledged write
    assert not [p for p in fsynced if "plain-0" in p]

    os.kill(broker.pid, signal.SIGKILL)
    broker.process.wait(10)
    broker.start()
    for topic in ("durable", "plain"):
        got = consume(client, broker.bootstrap, topic, [0], MESSAGES)
        assert [m.value for m in got] == [b"%s-%d" % (topic.encode(), i) for i in range(MESSAGES)]


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_the_broker_flush_setting_is_every_topics_default(start_kwire, client):
    broker = start_kwire("-o", "log.flush.interval.messages=1")
    create_topic(client, broker.bootstrap, "synced", 1)
    assert produce_one_by_one(client, broker.bootstrap, "synced", 5) == list(range(5))
    described = confluent_describe(broker.bootstrap, "synced")
    assert described["flush.messages"] == "1"
    assert described["flush.ms"] == str(2**63 - 1)  # Kafka's default: no time-based flush


def confluent_describe(bootstrap: str, topic: str) -> dict:
    from confluent_kafka.admin import AdminClient, ConfigResource

    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    return {name: entry.value for name, entry in admin.describe_configs([resource])[resource].result(TIMEOUT_S).items()}
