"""A TCP relay between real clients and a broker that keeps a copy of every
request frame the clients send (scripts/capture_requests.py builds the fuzz
corpus with it).

The broker must advertise the relay's port (`--advertised-port`), or the
clients would follow the Metadata answer straight to the broker. Only
127.0.0.1; every socket has a timeout and every thread ends on stop().
"""

from __future__ import annotations

import socket
import struct
import threading

_SIZE = struct.Struct(">i")
SOCKET_TIMEOUT_S = 60
JOIN_TIMEOUT_S = 5


class RecordingProxy:
    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self.upstream_port = 0
        self.label = ""  # who is talking now, kept with each frame
        self.frames: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []

    def start(self, upstream_port: int) -> RecordingProxy:
        self.upstream_port = upstream_port
        self._spawn(self._accept_loop)
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            try:
                sock.close()
            except OSError:
                pass
        self._listener.close()
        for thread in list(self._threads):
            thread.join(JOIN_TIMEOUT_S)

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=SOCKET_TIMEOUT_S)
            except OSError:
                client.close()
                continue
            for sock in (client, upstream):
                sock.settimeout(SOCKET_TIMEOUT_S)
            with self._lock:
                self._sockets += [client, upstream]
            self._spawn(self._pump, client, upstream, True)
            self._spawn(self._pump, upstream, client, False)

    def _pump(self, source: socket.socket, target: socket.socket, requests: bool) -> None:
        pending = bytearray()
        try:
            while not self._stopping.is_set():
                try:
                    data = source.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    break
                if requests:
                    pending += data
                    self._take_frames(pending)
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _take_frames(self, pending: bytearray) -> None:
        while len(pending) >= 4:
            (size,) = _SIZE.unpack_from(pending, 0)
            if size < 0 or len(pending) < 4 + size:
                return
            frame = bytes(pending[4 : 4 + size])
            del pending[: 4 + size]
            with self._lock:
                self.frames.append((self.label, frame))
