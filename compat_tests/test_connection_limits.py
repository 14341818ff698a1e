"""Connection limits, as Kafka names them: connections.max.idle.ms,
max.connections / max.connections.per.ip, queued.max.request.bytes; and
running out of file descriptors, which must slow the accept loop down, not
flood the log, while the open connections carry on."""

from __future__ import annotations

import resource
import socket
import subprocess
import sys
import threading
import time

import psutil
import pytest

from compat_tests.broker import READY, START_TIMEOUT_S, STOP_TIMEOUT_S, _read_line_with_timeout, wait_for
from compat_tests.clients import Outgoing, consume, create_topic, produce
from compat_tests.raw import call, closed_by_peer, connect, read_frame
from kwire.protocol.record_codec import Record, build_batch
from tests.wire import decode_response, request_frame

API_VERSIONS, FETCH, PRODUCE = 18, 1, 0


def answers(sock: socket.socket) -> bool:
    return call(sock, API_VERSIONS, 0, {}).error_code == 0


def log_lines(broker, fragment: str) -> list[str]:
    return [line for line in broker.log_path.read_text().splitlines() if fragment in line]


# --- connections.max.idle.ms ----------------------------------------------------------------------------------------


def test_idle_connections_are_closed_even_mid_frame(start_kwire):
    broker = start_kwire("-o", "connections.max.idle.ms=300", memory=True)
    after_a_request = connect(broker.bootstrap)
    assert answers(after_a_request)
    silent = connect(broker.bootstrap)
    half_a_frame = connect(broker.bootstrap)
    half_a_frame.sendall(b"\x00\x00")
    for sock in (after_a_request, silent, half_a_frame):
        assert closed_by_peer(sock)
    assert len(log_lines(broker, "(connections.max.idle.ms)")) == 3
    assert answers(connect(broker.bootstrap))


def test_a_long_poll_is_not_idle(start_kwire, topic_name):
    broker = start_kwire("-o", "connections.max.idle.ms=300", memory=True)
    create_topic("kafka-python", broker.bootstrap, topic_name, 1)
    sock = connect(broker.bootstrap)
    parked_ms = 1500  # five times the idle limit, with nothing to return
    fetch = dict(
        replica_id=-1,
        max_wait=parked_ms,
        min_bytes=1,
        max_bytes=1 << 20,
        isolation_level=0,
        session_id=0,
        session_epoch=-1,
        rack_id="",
        forgotten_topics_data=[],
        topics=[
            dict(
                topic=topic_name,
                partitions=[
                    dict(
                        partition=0,
                        current_leader_epoch=-1,
                        fetch_offset=0,
                        last_fetched_epoch=-1,
                        log_start_offset=-1,
                        partition_max_bytes=1 << 20,
                    )
                ],
            )
        ],
    )
    response = call(sock, FETCH, 11, fetch)  # nothing to return: parked for max_wait, then answered
    assert response.responses[0].partitions[0].error_code == 0
    assert response.responses[0].partitions[0].records in (None, b"")
    assert log_lines(broker, "(connections.max.idle.ms)") == []


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_clients_carry_on_after_their_idle_connections_are_closed(start_kwire, topic_name, client):
    broker = start_kwire("-o", "connections.max.idle.ms=1000", memory=True)
    create_topic(client, broker.bootstrap, topic_name, 1)
    if client == "confluent-kafka":
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "linger.ms": 0})

        def send(value: bytes) -> None:
            producer.produce(topic_name, value=value, partition=0)
            assert producer.flush(30) == 0

        close = lambda: None  # noqa: E731
    else:
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", retries=5)

        def send(value: bytes) -> None:
            producer.send(topic_name, value=value, partition=0).get(30)

        close = lambda: producer.close(10)  # noqa: E731
    try:
        send(b"before")
        wait_for(
            lambda: log_lines(broker, "(connections.max.idle.ms)"),
            "the broker to close the idle producer's connections",
            timeout_s=15,
        )
        send(b"after")
    finally:
        close()
    assert [m.value for m in consume("aiokafka", broker.bootstrap, topic_name, [0], 2)] == [b"before", b"after"]


# --- max.connections / max.connections.per.ip ---------------------------------------------------------------------


@pytest.mark.parametrize("setting", ["max.connections", "max.connections.per.ip"])
def test_connections_beyond_the_limit_are_closed_and_the_others_unharmed(start_kwire, setting):
    broker = start_kwire("-o", f"{setting}=3", memory=True)
    held = [connect(broker.bootstrap) for _ in range(3)]
    assert all(answers(sock) for sock in held)
    refused = connect(broker.bootstrap)
    assert closed_by_peer(refused)
    assert all(answers(sock) for sock in held)
    wait_for(lambda: log_lines(broker, f"{setting}=3 reached"), "the refusal to be logged", timeout_s=10)
    held.pop().close()

    def a_new_connection_is_served() -> bool:
        sock = connect(broker.bootstrap)
        try:
            return answers(sock)
        except ConnectionError:
            return False  # the broker had not yet seen the other one close
        finally:
            sock.close()

    wait_for(a_new_connection_is_served, "a freed slot to be usable", timeout_s=10)


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_a_client_refused_at_the_limit_gets_through_once_a_slot_frees(start_kwire, topic_name, client):
    broker = start_kwire("-o", "max.connections.per.ip=2", memory=True)  # the topic is created on first use
    held = [connect(broker.bootstrap) for _ in range(2)]
    assert all(answers(sock) for sock in held)
    outcome: list = []
    fast_reconnects = (
        {"reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 200, "message.timeout.ms": 60_000}
        if client == "confluent-kafka"
        else {"reconnect_backoff_ms": 50, "reconnect_backoff_max_ms": 200}
    )
    producing = threading.Thread(
        target=lambda: outcome.append(
            produce(
                client, broker.bootstrap, topic_name, [Outgoing(None, b"got through", partition=0)], **fast_reconnects
            )
        )
    )
    producing.start()
    try:
        wait_for(
            lambda: log_lines(broker, "max.connections.per.ip=2 reached"),
            "the client's connections to be refused",
            timeout_s=20,
        )
    finally:
        for sock in held:
            sock.close()
        producing.join(60)
    assert outcome == [[(0, 0)]]
    assert [m.value for m in consume("aiokafka", broker.bootstrap, topic_name, [0], 1)] == [b"got through"]


# --- out of file descriptors ---------------------------------------------------------------------------------------

FD_LIMIT = 64


def test_out_of_file_descriptors_backs_off_logs_once_and_keeps_serving(tmp_path):
    log_path = tmp_path / "kwire.log"
    broker = _start_with_fd_limit(log_path, FD_LIMIT, FD_LIMIT)  # hard too: the broker cannot raise it
    try:
        bootstrap = f"127.0.0.1:{broker.port}"
        early = connect(bootstrap)
        assert answers(early)
        used = psutil.Process(broker.process.pid).num_fds()
        # More connections than descriptors left: the rest wait in the listen backlog.
        crowd = [socket.create_connection(("127.0.0.1", broker.port), timeout=10) for _ in range(FD_LIMIT - used + 20)]
        wait_for(lambda: "cannot accept connections" in log_path.read_text(), "the EMFILE warning", timeout_s=10)
        time.sleep(1.0)  # a second out of descriptors: trio's own loop would have logged ten tracebacks by now
        assert answers(early)  # connections already open are still served
        text = log_path.read_text()
        assert text.count("cannot accept connections") == 1
        assert "Traceback" not in text
        for sock in crowd[:-1]:
            sock.close()
        waiting = crowd[-1]  # one that sat in the backlog: served once descriptors are free
        waiting.settimeout(10)
        assert answers(waiting)
        wait_for(lambda: "accepting connections on" in log_path.read_text(), "the recovery to be logged", timeout_s=10)
        assert log_path.read_text().count("accepting connections on") == 1
    finally:
        broker.kill()


@pytest.mark.skipif(not hasattr(resource, "prlimit"), reason="reads the limit with prlimit (Linux)")
def test_the_soft_open_files_limit_is_raised_to_the_hard_limit(tmp_path):
    broker = _start_with_fd_limit(tmp_path / "kwire.log", soft=256, hard=4096)
    try:
        soft, hard = resource.prlimit(broker.process.pid, resource.RLIMIT_NOFILE)
        assert (soft, hard) == (4096, 4096)
    finally:
        broker.kill()


class _Broker:
    def __init__(self, process: subprocess.Popen, port: int) -> None:
        self.process, self.port = process, port

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(STOP_TIMEOUT_S)
        self.process.stdout.close()


def _start_with_fd_limit(log_path, soft: int, hard: int) -> _Broker:
    def limit_descriptors() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "kwire", "serve", "--port", "0", "--memory"],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            preexec_fn=limit_descriptors,
        )
    match = READY.search(_read_line_with_timeout(process, START_TIMEOUT_S) or "")
    if not match:
        process.kill()
        raise RuntimeError(f"kwire did not start: {log_path.read_text()}")
    return _Broker(process, int(match.group(2)))


# --- queued.max.request.bytes ------------------------------------------------------------------------------------

FRAME_LIMIT = 8 * 1024 * 1024
SENDERS = 10


def big_produce_frame(topic: str, correlation_id: int) -> bytes:
    value = bytes([correlation_id]) * (FRAME_LIMIT - 64 * 1024)
    batch = build_batch(
        [Record(offset_delta=0, timestamp_delta=0, key=None, value=value, headers=())], base_timestamp=1_000
    )
    frame = request_frame(
        PRODUCE,
        7,
        dict(
            transactional_id=None,
            acks=1,
            timeout=30_000,
            topic_data=[dict(name=topic, partition_data=[dict(index=0, records=bytes(batch))])],
        ),
        correlation_id,
    )
    assert len(frame) - 4 <= FRAME_LIMIT
    return frame


def peak_rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the peak RSS from /proc")
def test_large_requests_wait_their_turn_and_memory_stays_bounded(start_kwire, topic_name):
    limit = str(FRAME_LIMIT)
    broker = start_kwire(
        "-o",
        f"socket.request.max.bytes={limit}",
        "-o",
        f"queued.max.request.bytes={limit}",
        "-o",
        f"message.max.bytes={limit}",
    )
    create_topic("confluent-kafka", broker.bootstrap, topic_name, 1)
    warm_up = connect(broker.bootstrap)
    warm_up.sendall(big_produce_frame(topic_name, 100))  # one at a time: the memory one request needs
    assert _produce_error(read_frame(warm_up)) == 0
    rss_before = psutil.Process(broker.pid).memory_info().rss
    peak_before = peak_rss_bytes(broker.pid)

    results: dict[int, int] = {}

    def send_big(correlation_id: int) -> None:
        sock = connect(broker.bootstrap)
        sock.settimeout(60)
        frame = big_produce_frame(topic_name, correlation_id)
        for start in range(0, len(frame), 256 * 1024):  # trickled, as a slow client would
            sock.sendall(frame[start : start + 256 * 1024])
        results[correlation_id] = _produce_error(read_frame(sock))
        sock.close()

    senders = [threading.Thread(target=send_big, args=(n,)) for n in range(1, SENDERS + 1)]
    for sender in senders:
        sender.start()
    # Real clients keep working meanwhile (their small requests take their turn too).
    produce("confluent-kafka", broker.bootstrap, topic_name, [Outgoing(b"k", b"small one")])
    produce("kafka-python", broker.bootstrap, topic_name, [Outgoing(b"k", b"small two")])
    for sender in senders:
        sender.join(90)
    assert results == {n: 0 for n in range(1, SENDERS + 1)}  # every large request was served

    grown = peak_rss_bytes(broker.pid) - max(peak_before, rss_before)
    # Ten frames buffered at once would be 80 MB more; one at a time is what the warm-up took.
    assert grown < 3 * FRAME_LIMIT, f"peak RSS grew by {grown / 1e6:.1f} MB"
    values = [m.value for m in consume("aiokafka", broker.bootstrap, topic_name, [0], SENDERS + 3, timeout=60)]
    assert sorted(v[:1] for v in values if len(v) > 1000) == sorted(bytes([n]) for n in [100, *range(1, SENDERS + 1)])
    assert {b"small one", b"small two"} <= set(values)


def _produce_error(payload: bytes) -> int:
    _correlation, response = decode_response(PRODUCE, 7, payload)
    return response.responses[0].partition_responses[0].error_code
