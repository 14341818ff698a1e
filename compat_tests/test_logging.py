"""The logs a user reads (README "Logs"): with kafka.request.logging=true a
failed produce has a request-log line naming the error and a WARNING naming
the reason; admin changes are INFO lines naming what changed; with
--log-format json every line is a JSON object. One broker for the module."""

from __future__ import annotations

import json
import shlex

import pytest

from compat_tests.broker import KwireProcess, wait_for
from compat_tests.clients import TIMEOUT_S, create_topic

pytestmark = pytest.mark.xdist_group("logging")  # one broker (on one worker) for the module

CLIENTS = ["kafka-python", "confluent-kafka"]
TOO_BIG = b"x" * 5000
LIMIT = {"max.message.bytes": "1000"}


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    directory = tmp_path_factory.mktemp("logging")
    args = ["-o", "kafka.request.logging=true", "--log-format", "json"]
    started = KwireProcess(None, directory / "kwire.log", args).start()
    yield started
    started.kill()


def json_lines(broker: KwireProcess) -> list[dict]:
    return [json.loads(line) for line in broker.log_path.read_text().splitlines() if line.strip()]


def produce_too_big(client: str, bootstrap: str, topic: str, client_id: str) -> str:
    """One record over the topic's max.message.bytes, never retried; the client's error name."""
    if client == "kafka-python":
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        producer = KafkaProducer(bootstrap_servers=bootstrap, client_id=client_id, retries=0, request_timeout_ms=10_000)
        try:
            producer.send(topic, TOO_BIG).get(TIMEOUT_S)
        except KafkaError as error:
            return type(error).__name__
        finally:
            producer.close(TIMEOUT_S)
        return "delivered"
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "client.id": client_id, "message.send.max.retries": 0})
    outcome: list[str] = []
    producer.produce(
        topic, TOO_BIG, on_delivery=lambda error, _m: outcome.append(error.name() if error else "delivered")
    )
    assert producer.flush(TIMEOUT_S) == 0
    return outcome[0]


@pytest.mark.parametrize("client", CLIENTS)
def test_a_failed_produce_is_in_the_request_log_and_a_warning_with_its_reason(broker, client, topic_name):
    create_topic(client, broker.bootstrap, topic_name, configs=LIMIT)
    client_id = f"logged-{client}"
    assert produce_too_big(client, broker.bootstrap, topic_name, client_id) in (
        "MessageSizeTooLargeError",
        "MSG_SIZE_TOO_LARGE",
    )

    def request_line() -> dict | None:
        for line in json_lines(broker):
            if line["logger"] == "kafka.request.logger" and line["api"] == "Produce" and line["client_id"] == client_id:
                return line
        return None

    logged = wait_for(request_line, "the request-log line of the failed produce", timeout_s=10)
    assert logged["level"] == "INFO" and logged["errors"] == "MESSAGE_TOO_LARGE"
    assert f"{topic_name}-0" in logged["reasons"] and logged["request_bytes"] > len(TOO_BIG)
    assert logged["client_address"].startswith("127.0.0.1:") and logged["listener"] == "PLAINTEXT"
    (warning,) = [
        line for line in json_lines(broker) if line["logger"] == "kwire.requests" and line["client_id"] == client_id
    ]
    assert warning["level"] == "WARNING" and warning["errors"] == "MESSAGE_TOO_LARGE"
    assert "larger than max.message.bytes=1000" in warning["reason"]
    assert warning["message"].startswith("Produce request failed: MESSAGE_TOO_LARGE (")


def delete_topic(client: str, bootstrap: str, name: str) -> None:
    if client == "kafka-python":
        from kafka.admin import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
        try:
            admin.delete_topics([name])
        finally:
            admin.close()
    else:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": bootstrap})  # kept until the result is in
        admin.delete_topics([name], request_timeout=10)[name].result(TIMEOUT_S)


@pytest.mark.parametrize("client", CLIENTS)
def test_creating_and_deleting_a_topic_are_info_admin_lines(broker, client, topic_name):
    create_topic(client, broker.bootstrap, topic_name, partitions=2)
    delete_topic(client, broker.bootstrap, topic_name)

    def admin_lines() -> list[dict]:
        found = [
            line for line in json_lines(broker) if line["logger"] == "kwire.admin" and topic_name in line["topics"]
        ]
        return found if len(found) == 2 else []

    created, deleted = wait_for(admin_lines, "the admin lines", timeout_s=10)
    assert (created["level"], created["api"]) == ("INFO", "CreateTopics")
    assert created["message"].endswith(f"{topic_name}: created")
    assert (deleted["level"], deleted["api"]) == ("INFO", "DeleteTopics")
    assert deleted["message"].endswith(f"{topic_name}: deleted")
    for line in (created, deleted):
        assert line["principal"] == "User:ANONYMOUS" and line["client_address"].startswith("127.0.0.1:")


def test_every_line_is_a_json_object_with_time_level_logger_and_message(broker):
    lines = json_lines(broker)  # raises if any line is not JSON
    assert lines
    for line in lines:
        assert {"ts", "level", "logger", "message"} <= set(line)
        assert line["ts"].endswith("Z") and "T" in line["ts"]


def test_the_text_format_has_the_same_fields_as_key_value_pairs(start_kwire, topic_name):
    broker = start_kwire("-o", "kafka.request.logging=true", memory=True)
    create_topic("kafka-python", broker.bootstrap, topic_name, configs=LIMIT)
    assert produce_too_big("kafka-python", broker.bootstrap, topic_name, "texted") == "MessageSizeTooLargeError"

    def produce_lines() -> list[str] | None:
        text = broker.log_path.read_text()
        found = [line for line in text.splitlines() if "Produce" in line and "client_id=texted" in line]
        return found if len(found) == 2 else None

    lines = wait_for(produce_lines, "the produce lines", timeout_s=10)
    warning, request = sorted(lines, key=lambda line: "kafka.request.logger" in line)
    assert " WARNING kwire.requests: Produce request failed: MESSAGE_TOO_LARGE (" in warning
    assert " INFO kafka.request.logger: Produce v" in request
    fields = dict(item.split("=", 1) for item in shlex.split(request.split(": MESSAGE_TOO_LARGE ", 1)[1]))
    assert fields["errors"] == "MESSAGE_TOO_LARGE" and fields["client_id"] == "texted"
    assert "larger than max.message.bytes=1000" in fields["reasons"]
