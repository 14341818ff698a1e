"""Byte-level fuzzing of a broker subprocess: mutated copies of the request
frames real clients send (compat_tests/data/request_corpus.txt, from
scripts/capture_requests.py), one connection each, while a live
confluent-kafka producer and consumer work beside them.

Mutations (tests/frame_mutations.py): bit flips, byte overwrites, inserts,
deletes, duplicated slices, truncation, another version of the same API,
extreme values (0, 1, -1, 0x7fff, 0x7fffffff, -2^31, 0xffffffff, 2^35-1,
overlong varints) in every length and count field the bounds pass reports,
and lying size prefixes. Required: the broker process never dies; every
fuzz connection is answered or closed within ANSWER_TIMEOUT_S of the fuzzer
closing its side, except well-formed requests the protocol lets wait longer
(a Fetch for its max_wait_ms, a JoinGroup for its rebalance timeout, a
SyncGroup for its leader: sent, counted, not waited for); a health-check
ApiVersions keeps being answered; the live client sees no error and reads
back exactly what it wrote, in order.

Every extreme value in every length field of every corpus frame is sent
once, then KWIRE_FUZZ_FRAMES random mutations (20,000 by default; 200000 runs
longer); KWIRE_FUZZ_SEED picks other ones.
"""

from __future__ import annotations

import errno
import math
import os
import random
import selectors
import socket
import struct
import threading
import time
from pathlib import Path

from compat_tests.raw import connect, read_frame
from kwire.handlers import build_registry
from kwire.protocol.headers import parse_request_header, peek_api
from kwire.protocol.registry import kio_decoder, request_is_flexible
from tests.frame_mutations import Mutator, every_extreme, frame_length_fields
from tests.wire import request_frame

CORPUS = Path(__file__).parent / "data" / "request_corpus.txt"
FRAMES = int(os.environ.get("KWIRE_FUZZ_FRAMES", "20000"))
SEED = int(os.environ.get("KWIRE_FUZZ_SEED", "20250509"))
IN_FLIGHT = 16  # fuzz connections open at once
ANSWER_TIMEOUT_S = 10  # after the fuzzer closes its side: an answer or a close
HEALTH_TIMEOUT_S = 10
HEALTH_INTERVAL_S = 0.2
LIVE_TOPIC = "fuzz-live-bystander"
LIVE_INTERVAL_S = 0.01
DRAIN_TIMEOUT_S = 60
FETCH, JOIN_GROUP, SYNC_GROUP = 1, 11, 14
WAITING_APIS = (FETCH, JOIN_GROUP, SYNC_GROUP)


def load_corpus() -> list[bytes]:
    frames = []
    for line in CORPUS.read_text().splitlines():
        if line and not line.startswith("#"):
            frames.append(bytes.fromhex(line.split()[3]))
    return frames


def served_versions() -> dict[int, list[int]]:
    registry = build_registry()
    return {
        api_key: list(range(registry.get(api_key).min_version, high + 1))
        for api_key, _low, high in registry.supported()
    }


SERVED = served_versions()


def mutated_frames(corpus: list[bytes], count: int, seed: int) -> list[bytes]:
    """`count` size-prefixed mutated frames, the same ones for the same seed."""
    rng = random.Random(seed)
    mutator = Mutator(rng, SERVED)
    fields = [frame_length_fields(frame) for frame in corpus]
    out = []
    for _ in range(count):
        index = rng.randrange(len(corpus))
        body = mutator.mutate(corpus[index], fields[index])
        out.append(mutator.size_prefix(body) + body)
    return out


def extreme_frames(corpus: list[bytes]) -> list[bytes]:
    """Every length and count field of every corpus frame set to every
    extreme value in turn, one frame each."""
    return [
        struct.pack(">i", len(body)) + body
        for frame in corpus
        for body in every_extreme(frame, frame_length_fields(frame))
    ]


def protocol_wait_ms(data: bytes) -> float:
    """How long the protocol lets the broker keep this request unanswered:
    a Fetch waits up to its max_wait_ms, a JoinGroup up to its rebalance
    timeout, a SyncGroup until its leader syncs (bounded by a timeout that
    another, mutated, JoinGroup may have set to weeks). 0 for the rest, and
    for anything that is not a well-formed request."""
    try:
        (size,) = struct.unpack_from(">i", data)
        if not 0 <= size <= len(data) - 4:
            return 0  # the broker waits for more, sees our side closed, and closes
        frame = data[4 : 4 + size]  # a short size prefix still frames a request
        api_key, version, _ = peek_api(frame)
        if api_key not in WAITING_APIS or version not in SERVED[api_key]:
            return 0
        header = parse_request_header(frame, request_is_flexible(api_key, version))
        request = kio_decoder(frame, header.body_offset, version, api_key=api_key)
    except Exception:  # not well-formed: the broker must close it at once
        return 0
    if api_key == SYNC_GROUP:
        return math.inf
    wait = request.max_wait if api_key == FETCH else getattr(request, "rebalance_timeout", request.session_timeout)
    return wait.total_seconds() * 1000


class Outcomes:
    def __init__(self) -> None:
        self.sent = 0
        self.answered = 0  # the broker sent something back before closing
        self.closed = 0  # closed without an answer
        self.long_polls = 0  # requests the protocol lets wait (see protocol_wait_ms): not waited for
        self.hangs: list[bytes] = []  # neither answered nor closed within ANSWER_TIMEOUT_S
        self.refused: list[str] = []  # could not connect: the broker is gone


class _Connection:
    __slots__ = ("sock", "data", "offset", "deadline", "answered", "long_poll")

    def __init__(self, sock: socket.socket, data: bytes, long_poll: bool) -> None:
        self.sock, self.data, self.offset = sock, data, 0
        self.deadline = time.monotonic() + ANSWER_TIMEOUT_S
        self.answered = False
        self.long_poll = long_poll


def send_all(address: tuple[str, int], frames: list[bytes], outcomes: Outcomes, in_flight: int = IN_FLIGHT) -> None:
    """Each frame on its own connection, `in_flight` at a time: send it,
    close our sending side, then wait for the broker to answer and close."""
    selector = selectors.DefaultSelector()
    pending = iter(frames)
    open_connections = 0
    exhausted = False
    try:
        while True:
            while not exhausted and open_connections < in_flight and not outcomes.refused:
                data = next(pending, None)
                if data is None:
                    exhausted = True
                    break
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setblocking(False)
                sock.connect_ex(address)
                long_poll = protocol_wait_ms(data) >= ANSWER_TIMEOUT_S * 1000 / 2
                selector.register(sock, selectors.EVENT_WRITE, _Connection(sock, data, long_poll))
                open_connections += 1
            if open_connections == 0:
                return
            for key, _events in selector.select(timeout=0.1):
                if _step(key.data, selector, outcomes):
                    open_connections -= 1
            now = time.monotonic()
            for key in list(selector.get_map().values()):
                if key.data.deadline < now:
                    _finish(key.data, selector, outcomes, hang=True)
                    open_connections -= 1
    finally:
        for key in list(selector.get_map().values()):
            key.data.sock.close()
        selector.close()


def _step(connection: _Connection, selector, outcomes: Outcomes) -> bool:
    """Advance one connection; True once it is finished."""
    sock = connection.sock
    if connection.offset < len(connection.data):
        error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if error:
            if error == errno.ECONNREFUSED:
                outcomes.refused.append(os.strerror(error))
            return _finish(connection, selector, outcomes)
        try:
            connection.offset += sock.send(connection.data[connection.offset :])
        except BlockingIOError:
            return False
        except OSError:  # closed by the broker before it took everything
            return _finish(connection, selector, outcomes)
        if connection.offset < len(connection.data):
            return False
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            return _finish(connection, selector, outcomes)
        if connection.long_poll:
            outcomes.long_polls += 1
            return _finish(connection, selector, outcomes)
        selector.modify(sock, selectors.EVENT_READ, connection)
        return False
    try:
        chunk = sock.recv(65536)
    except BlockingIOError:
        return False
    except OSError:  # reset by the broker: closed
        return _finish(connection, selector, outcomes)
    if chunk:
        connection.answered = True
        return False
    return _finish(connection, selector, outcomes)


def _finish(connection: _Connection, selector, outcomes: Outcomes, hang: bool = False) -> bool:
    selector.unregister(connection.sock)
    connection.sock.close()
    outcomes.sent += 1
    if hang:
        outcomes.hangs.append(connection.data)
    elif connection.answered:
        outcomes.answered += 1
    else:
        outcomes.closed += 1
    return True


class HealthCheck(threading.Thread):
    """ApiVersions on one long-lived connection, every HEALTH_INTERVAL_S."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__(daemon=True)
        self.bootstrap = bootstrap
        self.done = threading.Event()
        self.checks = 0
        self.failures: list[str] = []
        self.slowest_s = 0.0

    def run(self) -> None:
        try:
            sock = connect(self.bootstrap)
            sock.settimeout(HEALTH_TIMEOUT_S)
        except OSError as exc:
            self.failures.append(repr(exc))
            return
        try:
            while not self.done.wait(HEALTH_INTERVAL_S):
                self.checks += 1
                started = time.monotonic()
                try:
                    sock.sendall(request_frame(18, 0, {}, correlation_id=self.checks))
                    payload = read_frame(sock)
                except OSError as exc:
                    self.failures.append(f"check {self.checks}: {exc!r}")
                    return
                if struct.unpack_from(">ih", payload) != (self.checks, 0):
                    self.failures.append(f"check {self.checks}: unexpected answer {payload[:6].hex()}")
                    return
                self.slowest_s = max(self.slowest_s, time.monotonic() - started)
        finally:
            sock.close()


class LiveClient(threading.Thread):
    """A confluent-kafka producer and consumer (by assignment) at work on
    their own topic for the whole run."""

    def __init__(self, bootstrap: str) -> None:
        super().__init__(daemon=True)
        self.bootstrap = bootstrap
        self.done = threading.Event()
        self.errors: list[str] = []
        self.produced: list[bytes] = []
        self.delivered: dict[bytes, int] = {}
        self.consumed: list[tuple[int, bytes]] = []

    def _error(self, error) -> None:
        self.errors.append(str(error))

    def run(self) -> None:
        from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

        producer = Producer(
            {
                "bootstrap.servers": self.bootstrap,
                "acks": "all",
                "enable.idempotence": True,
                "linger.ms": 5,
                "error_cb": self._error,
            }
        )
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": "fuzz-live",
                "enable.auto.commit": False,
                "error_cb": self._error,
            }
        )
        consumer.assign([TopicPartition(LIVE_TOPIC, 0, OFFSET_BEGINNING)])
        self.consumer = consumer
        try:
            while not self.done.is_set():
                value = b"live-%06d" % len(self.produced)
                producer.produce(LIVE_TOPIC, value=value, partition=0, on_delivery=self._delivered)
                self.produced.append(value)
                producer.poll(0)
                self._consume(LIVE_INTERVAL_S)
            if producer.flush(DRAIN_TIMEOUT_S):
                self.errors.append("producer could not flush")
            deadline = time.monotonic() + DRAIN_TIMEOUT_S
            while len(self.consumed) < len(self.produced) and time.monotonic() < deadline:
                self._consume(0.2)
        except Exception as exc:  # reported, not raised: the test asserts on it
            self.errors.append(repr(exc))
        finally:
            consumer.close()

    def _delivered(self, error, message) -> None:
        if error is not None:
            self.errors.append(f"delivery: {error}")
        else:
            self.delivered[message.value()] = message.offset()

    def _consume(self, timeout: float) -> None:
        for message in self._consumer_poll(timeout):
            if message.error():
                if message.error().code() != -191:  # _PARTITION_EOF is informational
                    self.errors.append(f"consume: {message.error()}")
                continue
            self.consumed.append((message.offset(), message.value()))

    def _consumer_poll(self, timeout: float):
        return self.consumer.consume(500, timeout)


def test_mutated_frames_never_stop_the_broker(start_kwire):
    broker = start_kwire()
    from compat_tests.clients import create_topic

    create_topic("confluent-kafka", broker.bootstrap, LIVE_TOPIC, 1)
    host, port = broker.bootstrap.rsplit(":", 1)
    address = (host, int(port))
    corpus = load_corpus()
    frames = extreme_frames(corpus) + mutated_frames(corpus, FRAMES, SEED)

    # The corpus as captured first: it creates the topics, groups and
    # transactions the mutated frames then poke at.
    primer = Outcomes()
    send_all(address, [struct.pack(">i", len(frame)) + frame for frame in corpus], primer, in_flight=1)
    assert not primer.refused and not primer.hangs, "the broker fails on the valid corpus"

    health = HealthCheck(broker.bootstrap)
    live = LiveClient(broker.bootstrap)
    health.start()
    live.start()
    outcomes = Outcomes()
    started = time.monotonic()
    try:
        send_all(address, frames, outcomes)
    finally:
        elapsed = time.monotonic() - started
        health.done.set()
        live.done.set()
    # A dead broker fails the test now, not after the live client's timeouts.
    assert broker.alive(), f"the broker died (exit code {broker.process.poll()}) after {outcomes.sent} frames"
    health.join(HEALTH_TIMEOUT_S * 2)
    live.join(DRAIN_TIMEOUT_S * 3)

    print(
        f"\nfuzz: {outcomes.sent} frames ({len(frames) - FRAMES} with extreme lengths, {FRAMES} random mutations) "
        f"in {elapsed:.1f} s: {outcomes.answered} answered, {outcomes.closed} closed, "
        f"{outcomes.long_polls} long-polls left waiting, {len(outcomes.hangs)} hangs, {len(outcomes.refused)} refused; "
        f"{health.checks} health checks (slowest {health.slowest_s:.2f} s); live client {len(live.produced)} "
        f"produced, {len(live.consumed)} consumed"
    )
    assert broker.alive(), f"the broker died (exit code {broker.process.poll()})"
    assert not live.is_alive(), "the live client did not finish"
    assert not outcomes.refused, outcomes.refused[:3]
    assert outcomes.sent == len(frames)
    assert not outcomes.hangs, [data[:64].hex() for data in outcomes.hangs[:5]]
    assert not health.failures, health.failures
    assert health.checks > 0
    assert not live.errors, live.errors[:5]
    assert live.produced and [value for _offset, value in live.consumed] == live.produced
    assert [offset for offset, _value in live.consumed] == list(range(len(live.produced)))
    assert all(live.delivered[value] == offset for offset, value in live.consumed)


def test_the_corpus_holds_every_served_api_version():
    """A version added to the registry without regenerating the corpus
    (scripts/capture_requests.py) would go unfuzzed."""
    covered = {peek_api(frame)[:2] for frame in load_corpus()}
    assert {(api_key, version) for api_key, versions in SERVED.items() for version in versions} <= covered
