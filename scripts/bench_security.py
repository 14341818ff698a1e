#!/usr/bin/env python
"""Benchmark kwire's security path with real clients; prints the figures
issue 14 asks for, from ONE broker with a PLAINTEXT, a SASL_PLAINTEXT and a
SASL_SSL listener:

1. confluent-kafka produce (acks=1) and consume throughput, 100-byte and
   1 KB messages, over PLAINTEXT and over SASL_SSL with SCRAM-SHA-512, and
   the ratio of the two (with the broker's CPU per message);
2. how many connections per second complete a SASL authentication (TLS
   handshake where the listener has TLS, SaslHandshake, then SaslAuthenticate
   once for PLAIN and twice for SCRAM-SHA-512), driven by a client written
   here over raw sockets from several threads at once; connections/s, the
   p50/p99 time of one connection and the broker's CPU per connection.

The broker is `python -m kwire serve --config FILE`, the way a user starts
one, with throwaway certificates from kwire.security.cert_maker. The SCRAM
user is created through AdminClient.alter_user_scram_credentials. Only
127.0.0.1; ends only the broker it started.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import os
import secrets
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

PLAIN_USER, PLAIN_PASSWORD = "admin", "admin-secret"
SCRAM_USER, SCRAM_PASSWORD = "bench", "bench-secret"
SCRAM_ITERATIONS = 4096  # Kafka's default for kafka-configs / AdminClient credentials
LISTENERS = ("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL")


def free_ports(count: int) -> list[int]:
    """Ports nothing listens on right now (the config file needs them up front)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class SecureBroker:
    """A kwire subprocess with one listener of each protocol in LISTENERS."""

    def __init__(self, workdir: Path, log_level: str = "WARNING") -> None:
        from kwire.security.cert_maker import make_test_certificates

        self.certificates = make_test_certificates(workdir / "certs")
        self.ports = dict(zip(LISTENERS, free_ports(len(LISTENERS)), strict=True))
        settings = {
            "listeners": ",".join(f"{name}://127.0.0.1:{port}" for name, port in self.ports.items()),
            **self.certificates.broker_settings(client_auth="none"),
            "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-512",
            "sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'user_{PLAIN_USER}="{PLAIN_PASSWORD}";',
        }
        properties = workdir / "server.properties"
        properties.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kwire", "serve", "--memory", "--config", str(properties), "--log-level", log_level],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        line = self.process.stdout.readline()
        if "ready on" not in line:
            self.process.kill()
            raise SystemExit(f"kwire did not start: {line!r}")
        self.ps = psutil.Process(self.process.pid)

    def bootstrap(self, listener: str) -> str:
        return f"127.0.0.1:{self.ports[listener]}"

    def client_settings(self, listener: str) -> dict[str, str]:
        """confluent-kafka settings for the listener (SCRAM-SHA-512 on SASL_SSL)."""
        settings = {"bootstrap.servers": self.bootstrap(listener)}
        if listener == "SASL_SSL":
            settings.update(
                {
                    "security.protocol": "SASL_SSL",
                    "sasl.mechanism": "SCRAM-SHA-512",
                    "sasl.username": SCRAM_USER,
                    "sasl.password": SCRAM_PASSWORD,
                    "ssl.ca.location": str(self.certificates.ca),
                }
            )
        return settings

    def cpu_seconds(self) -> float:
        times = self.ps.cpu_times()
        return times.user + times.system

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def create_scram_user(broker: SecureBroker) -> None:
    from confluent_kafka.admin import AdminClient, ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion

    # As a PLAIN user on the SASL_PLAINTEXT listener (no authorizer: any principal may).
    admin = AdminClient(
        {
            "bootstrap.servers": broker.bootstrap("SASL_PLAINTEXT"),
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "PLAIN",
            "sasl.username": PLAIN_USER,
            "sasl.password": PLAIN_PASSWORD,
        }
    )
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
    upsertion = UserScramCredentialUpsertion(SCRAM_USER, info, SCRAM_PASSWORD.encode())
    for future in admin.alter_user_scram_credentials([upsertion]).values():
        future.result(30)


def create_topic(broker: SecureBroker, topic: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": broker.bootstrap("PLAINTEXT")})  # must outlive the future
    admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(30)


# ---------------------------------------------------------------- throughput


def produce(broker: SecureBroker, listener: str, topic: str, count: int, size: int) -> dict:
    from confluent_kafka import Producer

    producer = Producer({**broker.client_settings(listener), "acks": 1, "linger.ms": 5})
    values = [os.urandom(size // 2 + 1).hex()[:size].encode() for _ in range(1024)]
    producer.produce(topic, value=values[0])  # connect, authenticate, fetch metadata outside the timing
    producer.flush(30)
    cpu_before, start = broker.cpu_seconds(), time.perf_counter()
    send, poll = producer.produce, producer.poll
    for i in range(count):
        value = values[i & 1023]
        while True:
            try:
                send(topic, value=value)
                break
            except BufferError:  # 100,000 messages queued (queue.buffering.max.messages): wait for some
                poll(0.005)
        if not i & 0x3FFF:
            poll(0)
    left = producer.flush(120)
    elapsed = time.perf_counter() - start
    cpu = broker.cpu_seconds() - cpu_before
    if left:
        raise SystemExit(f"{left} messages not delivered over {listener}")
    return dict(msgs=count / elapsed, mb=count * size / elapsed / 1e6, seconds=elapsed, cpu_us=cpu / count * 1e6)


def consume(broker: SecureBroker, listener: str, topic: str, partitions: int, count: int, size: int) -> dict:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {
            **broker.client_settings(listener),
            "group.id": f"bench-{listener}",
            "enable.auto.commit": False,
            "fetch.queue.backoff.ms": 10,  # see bench.py: the 1 s default makes the figure swing
        }
    )
    # Timed from assign(), with connecting and authenticating (a few ms): once
    # connected, librdkafka prefetches up to 100,000 messages a partition.
    received, start, cpu_before = 0, time.perf_counter(), broker.cpu_seconds()
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    deadline = start + 120
    while received < count and time.perf_counter() < deadline:
        batch = consumer.consume(min(10_000, count - received), 1.0)
        errors = [m.error() for m in batch if m.error() is not None]
        if errors:
            raise SystemExit(f"consume error over {listener}: {errors[0]}")
        received += len(batch)
    elapsed = time.perf_counter() - start
    cpu = broker.cpu_seconds() - cpu_before
    consumer.close()
    if received < count:
        raise SystemExit(f"consumed {received} of {count} over {listener}")
    return dict(msgs=received / elapsed, mb=received * size / elapsed / 1e6, cpu_us=cpu / received * 1e6)


# ----------------------------------------------- authentications per second


def _request(api_key: int, version: int, correlation_id: int, body: bytes) -> bytes:
    # Request header v1 (both APIs at the versions used here are not flexible).
    header = struct.pack(">hhih", api_key, version, correlation_id, 5) + b"bench"
    return struct.pack(">i", len(header) + len(body)) + header + body


def _receive_exactly(sock: socket.socket | ssl.SSLSocket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the broker closed the connection")
        data += chunk
    return bytes(data)


def _exchange(sock: socket.socket | ssl.SSLSocket, frame: bytes) -> bytes:
    sock.sendall(frame)
    (size,) = struct.unpack(">i", _receive_exactly(sock, 4))
    return _receive_exactly(sock, size)[4:]  # past the correlation id


def _sasl_handshake(sock: socket.socket | ssl.SSLSocket, mechanism: str) -> None:
    name = mechanism.encode()
    answer = _exchange(sock, _request(17, 1, 1, struct.pack(">h", len(name)) + name))  # SaslHandshake v1
    (error_code,) = struct.unpack_from(">h", answer)
    if error_code:
        raise ConnectionError(f"SaslHandshake answered error {error_code}")


def _sasl_authenticate(sock: socket.socket | ssl.SSLSocket, token: bytes, correlation_id: int) -> bytes:
    """One SaslAuthenticate v1 round; the broker's token."""
    answer = _exchange(sock, _request(36, 1, correlation_id, struct.pack(">i", len(token)) + token))
    error_code, message_length = struct.unpack_from(">hh", answer)
    at = 4 + max(message_length, 0)
    if error_code:
        raise ConnectionError(f"SaslAuthenticate answered error {error_code}: {answer[4:at]!r}")
    (token_length,) = struct.unpack_from(">i", answer, at)
    return answer[at + 4 : at + 4 + token_length]


# The client's salted password depends only on (salt, iterations): a real
# client derives it on every login, but that is client CPU on a machine the
# broker shares, so the loop caches it and measures the broker instead.
_salted_passwords: dict[tuple[bytes, int], bytes] = {}


def _scram_sha512(sock: socket.socket | ssl.SSLSocket) -> None:
    """RFC 5802 from the client's side: client-first, client-final with the
    proof, then check the server's signature."""
    nonce = base64.b64encode(secrets.token_bytes(24)).decode()
    client_first_bare = f"n={SCRAM_USER},r={nonce}"
    server_first = _sasl_authenticate(sock, f"n,,{client_first_bare}".encode(), 2).decode()
    fields = dict(part.split("=", 1) for part in server_first.split(","))
    if not fields["r"].startswith(nonce):
        raise ConnectionError("the server's nonce does not extend ours")
    salt, iterations = base64.b64decode(fields["s"]), int(fields["i"])
    salted = _salted_passwords.get((salt, iterations))
    if salted is None:
        salted = hashlib.pbkdf2_hmac("sha512", SCRAM_PASSWORD.encode(), salt, iterations)
        _salted_passwords[(salt, iterations)] = salted
    final_without_proof = f"c=biws,r={fields['r']}"
    auth_message = f"{client_first_bare},{server_first},{final_without_proof}".encode()
    client_key = hmac.digest(salted, b"Client Key", "sha512")
    signature = hmac.digest(hashlib.sha512(client_key).digest(), auth_message, "sha512")
    proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, signature, strict=True))).decode()
    server_final = _sasl_authenticate(sock, f"{final_without_proof},p={proof}".encode(), 3).decode()
    server_key = hmac.digest(salted, b"Server Key", "sha512")
    expected = base64.b64encode(hmac.digest(server_key, auth_message, "sha512")).decode()
    if server_final != f"v={expected}":
        raise ConnectionError(f"bad server signature: {server_final!r}")


def _plain(sock: socket.socket | ssl.SSLSocket) -> None:
    _sasl_authenticate(sock, f"\0{PLAIN_USER}\0{PLAIN_PASSWORD}".encode(), 2)


def authenticate_once(port: int, tls: ssl.SSLContext | None, mechanism: str) -> None:
    raw = socket.create_connection(("127.0.0.1", port), timeout=30)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock: socket.socket | ssl.SSLSocket = raw
    try:
        if tls is not None:
            sock = tls.wrap_socket(raw, server_hostname="localhost")  # handshakes here
        _sasl_handshake(sock, mechanism)
        (_scram_sha512 if mechanism == "SCRAM-SHA-512" else _plain)(sock)
    finally:
        sock.close()


def _authenticate_in_threads(
    port: int, cafile: str | None, mechanism: str, threads: int, per_thread: int, start_at: float
) -> list[float]:
    """One client process: `threads` threads each authenticating `per_thread`
    connections one after another, all starting at wall-clock `start_at`;
    the seconds each connection took."""
    tls = None if cafile is None else ssl.create_default_context(cafile=cafile)
    durations: list[float] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def loop() -> None:
        mine = []
        time.sleep(max(start_at - time.time(), 0))
        try:
            for _ in range(per_thread):
                began = time.perf_counter()
                authenticate_once(port, tls, mechanism)
                mine.append(time.perf_counter() - began)
        except BaseException as exc:  # reported after the run
            failures.append(exc)
        with lock:
            durations.extend(mine)

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if failures:
        raise RuntimeError(f"{mechanism} on port {port}: {failures[0]!r}")
    return durations


def connection_rate(
    broker: SecureBroker,
    pool: ProcessPoolExecutor,
    processes: int,
    listener: str,
    mechanism: str,
    threads: int,
    per_thread: int,
) -> dict:
    cafile = str(broker.certificates.ca) if listener == "SASL_SSL" else None
    port = broker.ports[listener]
    warm_up = pool.submit(_authenticate_in_threads, port, cafile, mechanism, 1, 20, 0.0)
    warm_up.result(60)
    start_at = time.time() + 0.5  # every process has its threads waiting by then
    runs = [
        pool.submit(_authenticate_in_threads, port, cafile, mechanism, threads, per_thread, start_at)
        for _ in range(processes)
    ]
    time.sleep(max(start_at - time.time(), 0))
    cpu_before, start = broker.cpu_seconds(), time.perf_counter()
    durations = sorted(duration for run in runs for duration in run.result(600))
    elapsed = time.perf_counter() - start
    cpu = broker.cpu_seconds() - cpu_before
    return dict(
        per_s=len(durations) / elapsed,
        p50_ms=statistics.median(durations) * 1000,
        p99_ms=durations[max(int(len(durations) * 0.99) - 1, 0)] * 1000,
        cpu_ms=cpu / len(durations) * 1000,
        broker_cpu_share=cpu / elapsed,
        count=len(durations),
    )


def _timed(label: str, action: Callable[[], dict]) -> dict:
    figures = action()
    print(f"  done: {label}", file=sys.stderr, flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small-messages", type=int, default=400_000, help="100-byte messages per listener")
    parser.add_argument("--large-messages", type=int, default=150_000, help="1 KB messages per listener")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--processes", type=int, default=2, help="client processes authenticating at once")
    parser.add_argument("--threads", type=int, default=4, help="threads per client process")
    parser.add_argument("--connections", type=int, default=3_000, help="authentications per listener and mechanism")
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.small_messages, args.large_messages, args.connections = 20_000, 5_000, 200

    with tempfile.TemporaryDirectory(prefix="kwire-secbench-") as workdir:
        broker = SecureBroker(Path(workdir))
        try:
            create_scram_user(broker)
            throughput: dict[tuple[int, str], tuple[dict, dict]] = {}
            for size, count in ((100, args.small_messages), (1024, args.large_messages)):
                for listener in ("PLAINTEXT", "SASL_SSL"):
                    topic = f"bench-{listener}-{size}"
                    create_topic(broker, topic, args.partitions)
                    produced = _timed(
                        f"produce {size} B {listener}", lambda: produce(broker, listener, topic, count, size)
                    )
                    consumed = _timed(
                        f"consume {size} B {listener}",
                        lambda: consume(broker, listener, topic, args.partitions, count + 1, size),
                    )
                    throughput[(size, listener)] = (produced, consumed)
            per_thread = max(args.connections // (args.processes * args.threads), 1)
            rates = {}
            pool = ProcessPoolExecutor(args.processes)
            for listener, mechanism in (
                ("SASL_PLAINTEXT", "PLAIN"),
                ("SASL_PLAINTEXT", "SCRAM-SHA-512"),
                ("SASL_SSL", "PLAIN"),
                ("SASL_SSL", "SCRAM-SHA-512"),
            ):
                rates[(listener, mechanism)] = _timed(
                    f"connections {listener} {mechanism}",
                    lambda: connection_rate(
                        broker, pool, args.processes, listener, mechanism, args.threads, per_thread
                    ),
                )
            pool.shutdown()
        finally:
            broker.stop()

    print(f"kwire security benchmark — one broker (in memory), {os.cpu_count()} CPUs, clients on the same machine")
    print(f"throughput: confluent-kafka, acks=1, linger.ms=5, {args.partitions} partitions; SASL_SSL = SCRAM-SHA-512")
    for size, count in ((100, args.small_messages), (1024, args.large_messages)):
        (plain_p, plain_c), (secure_p, secure_c) = throughput[(size, "PLAINTEXT")], throughput[(size, "SASL_SSL")]
        for what, plain, secure in (("produce", plain_p, secure_p), ("consume", plain_c, secure_c)):
            for listener, figures in (("PLAINTEXT", plain), ("SASL_SSL", secure)):
                print(
                    f"  {what} {size:>4} B x {count:,} {listener:14s} {figures['msgs']:10,.0f} msgs/s "
                    f"{figures['mb']:7.1f} MB/s  broker CPU {figures['cpu_us']:5.2f} µs/msg"
                )
            print(f"  {what} {size:>4} B SASL_SSL / PLAINTEXT{'':9s} {secure['msgs'] / plain['msgs']:9.0%}")
    print(
        f"authentications: {args.processes} client processes x {args.threads} threads x {per_thread} connections "
        "each, raw sockets "
        "(TLS handshake, SaslHandshake v1, SaslAuthenticate v1 x1 PLAIN / x2 SCRAM), P-256 certificate"
    )
    for (listener, mechanism), figures in rates.items():
        print(
            f"  {listener:14s} {mechanism:13s} {figures['per_s']:8,.0f} connections/s  "
            f"p50 {figures['p50_ms']:6.2f} ms  p99 {figures['p99_ms']:6.2f} ms  "
            f"broker CPU {figures['cpu_ms']:.2f} ms/connection ({figures['broker_cpu_share']:.0%} of a core)"
        )


if __name__ == "__main__":
    main()
