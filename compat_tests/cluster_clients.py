"""Real clients against a multi-broker kwire: topic creation with a
replication factor, what each client's Metadata says about leaders and ISRs,
a producer that records every acknowledgement and error, and Metadata asked
of one particular node."""

from __future__ import annotations

import asyncio
import time
from typing import Any, NamedTuple

from compat_tests import raw
from compat_tests.clients import Reader

CLUSTER_CLIENTS = ["confluent-kafka", "kafka-python"]
TIMEOUT_S = 10
METADATA = 3


class PartitionView(NamedTuple):
    """One partition as a client's Metadata shows it."""

    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


def create_topic(
    client: str,
    bootstrap: str,
    name: str,
    partitions: int = 1,
    replication_factor: int = 3,
    configs: dict[str, str] | None = None,
) -> None:
    """Create a topic; raises the client's own error (KafkaException /
    kafka.errors.KafkaError) on failure."""
    if client == "confluent-kafka":
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": bootstrap})
        topic = NewTopic(name, partitions, replication_factor, config=configs or {})
        admin.create_topics([topic], request_timeout=TIMEOUT_S)[name].result(TIMEOUT_S)
    elif client == "kafka-python":
        from kafka.admin import KafkaAdminClient, NewTopic

        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=TIMEOUT_S * 1000)
        try:
            admin.create_topics([NewTopic(name, partitions, replication_factor, topic_configs=configs or {})])
        finally:
            admin.close()
    else:
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic
        from aiokafka.errors import for_code

        async def create():
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
            await admin.start()
            try:
                topic = NewTopic(name, partitions, replication_factor, topic_configs=configs or {})
                response = await admin.create_topics([topic])
            finally:
                await admin.close()
            for _name, code, *_ in response.topic_errors:  # aiokafka returns the codes, raising none
                if code:
                    raise for_code(code)

        asyncio.run(asyncio.wait_for(create(), TIMEOUT_S))


def describe(client: str, bootstrap: str, topic: str) -> dict[int, PartitionView]:
    """The topic's partitions as the client's Metadata shows them (leader -1: none)."""
    if client == "confluent-kafka":
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": bootstrap})
        found = admin.list_topics(topic, timeout=TIMEOUT_S).topics[topic]
        return {p.id: PartitionView(p.leader, tuple(p.replicas), tuple(p.isrs)) for p in found.partitions.values()}
    if client == "aiokafka":
        from aiokafka.admin import AIOKafkaAdminClient

        async def metadata():
            admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
            await admin.start()
            try:
                return await admin.describe_topics([topic])
            finally:
                await admin.close()

        (found,) = asyncio.run(asyncio.wait_for(metadata(), TIMEOUT_S))
        return {
            p["partition"]: PartitionView(p["leader"], tuple(p["replicas"]), tuple(p["isr"]))
            for p in found["partitions"]
        }
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=TIMEOUT_S * 1000)
    try:
        (found,) = admin.describe_topics([topic])
    finally:
        admin.close()
    return {
        p["partition_index"]: PartitionView(p["leader_id"], tuple(p["replica_nodes"]), tuple(p["isr_nodes"]))
        for p in found["partitions"]
    }


def metadata_from(address: str, topic: str) -> dict[int, dict[str, Any]]:
    """Metadata (v7) asked of the node at `address` itself, whatever the
    others say: {partition: {error, leader, leader_epoch, replicas, isr}}."""
    sock = raw.connect(address)
    response = raw.call(sock, METADATA, 7, {"topics": [{"name": topic}], "allow_auto_topic_creation": False})
    (found,) = response.topics
    return {
        p.partition_index: {
            "error": int(p.error_code),
            "leader": int(p.leader_id),
            "leader_epoch": int(p.leader_epoch),
            "replicas": [int(r) for r in p.replica_nodes],
            "isr": [int(r) for r in p.isr_nodes],
        }
        for p in found.partitions
    }


def error_name(error: Any) -> str:
    """The Kafka error name of a delivery error of either client."""
    if hasattr(error, "name") and callable(error.name):  # confluent_kafka.KafkaError
        return error.name()
    return getattr(type(error), "message", type(error).__name__)  # kafka.errors.*Error


class Sender:
    """A producer whose sends are asynchronous; every acknowledgement
    (value, partition, offset) and every delivery error (value, error) is
    recorded, in the order the client reports them."""

    def __init__(
        self,
        client: str,
        bootstrap: str,
        topic: str,
        acks: str | int = "all",
        idempotent: bool = True,
        retries: int | None = None,
        delivery_timeout_ms: int = 20_000,
    ) -> None:
        self.client = client
        self.topic = topic
        self.acked: list[tuple[bytes, int, int]] = []
        self.errors: list[tuple[bytes, Any]] = []
        if client == "confluent-kafka":
            from confluent_kafka import Producer

            config = {
                "bootstrap.servers": bootstrap,
                "acks": str(acks),
                "enable.idempotence": idempotent,
                "linger.ms": 5,
                "message.timeout.ms": delivery_timeout_ms,
                "retry.backoff.ms": 50,
            }
            if retries is not None:
                config["retries"] = retries
            self._producer = Producer(config)
        else:
            from kafka import KafkaProducer

            options = dict(
                bootstrap_servers=bootstrap,
                acks=acks,
                enable_idempotence=idempotent,
                linger_ms=5,
                delivery_timeout_ms=delivery_timeout_ms,
                request_timeout_ms=min(delivery_timeout_ms - 1000, 10_000),  # kafka-python: must be < delivery
                retry_backoff_ms=50,
            )
            if retries is not None:
                options["retries"] = retries
            self._producer = KafkaProducer(**options)

    def send(self, value: bytes, partition: int | None = None) -> None:
        if self.client == "confluent-kafka":

            def delivered(error, message):
                if error is not None:
                    self.errors.append((value, error))
                else:
                    self.acked.append((value, message.partition(), message.offset()))

            kwargs = {} if partition is None else {"partition": partition}
            self._producer.produce(self.topic, value=value, on_delivery=delivered, **kwargs)
            self._producer.poll(0)
        else:
            future = self._producer.send(self.topic, value=value, partition=partition)
            future.add_callback(lambda metadata: self.acked.append((value, metadata.partition, metadata.offset)))
            future.add_errback(lambda error: self.errors.append((value, error)))

    def poll(self, timeout: float) -> None:
        """Let delivery reports arrive for up to `timeout` seconds."""
        if self.client == "confluent-kafka":
            self._producer.poll(timeout)
        else:
            time.sleep(timeout)  # kafka-python delivers from its own thread

    def flush(self, timeout: float = 20) -> None:
        """Wait until every send is acknowledged or failed (bounded)."""
        if self.client == "confluent-kafka":
            remaining = self._producer.flush(timeout)
            assert remaining == 0, f"{remaining} message(s) neither delivered nor failed after {timeout} s"
        else:
            self._producer.flush(timeout)

    def close(self) -> None:
        if self.client == "kafka-python":
            self._producer.close(5)
        else:
            self._producer.flush(5)

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def produce_values(client: str, bootstrap: str, topic: str, values: list[bytes], **options) -> list[tuple]:
    """Send values and wait for all; the acknowledgements (value, partition,
    offset), asserting there was no delivery error."""
    with Sender(client, bootstrap, topic, **options) as sender:
        for value in values:
            sender.send(value)
        sender.flush()
        assert not sender.errors, [(v, error_name(e)) for v, e in sender.errors]
        return sender.acked


def read_all(client: str, bootstrap: str, topic: str, partitions: list[int], at_least: int) -> list[bytes]:
    """Every value up to the end (the high watermark) of the partitions."""
    with Reader(client, bootstrap).assign(topic, partitions) as reader:
        return [m.value for m in reader.poll_to_end(at_least=at_least, timeout=TIMEOUT_S)]
