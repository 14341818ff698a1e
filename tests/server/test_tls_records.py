"""Decrypting the TLS records a connection has already read
(kwire/server/tls_records.py), over in-memory streams."""

from __future__ import annotations

import ssl

import pytest
import trio
import trio.testing

from kwire.security.cert_maker import make_test_certificates
from kwire.server.tls_records import buffered_plaintext


async def tls_pair(tmp_path, tamper=lambda data: data):
    """A handshaken (client, server) SSLStream pair; `tamper` sees every
    byte the client sends once `tamper.armed` is set."""
    certificates = make_test_certificates(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(str(certificates.broker_certificate), str(certificates.broker_key))
    client_context = ssl.create_default_context(cafile=str(certificates.ca))

    to_server_send, to_server_receive = trio.testing.MemorySendStream(), trio.testing.MemoryReceiveStream()

    async def pump() -> None:
        data = to_server_send.get_data_nowait()
        to_server_receive.put_data(tamper(data) if getattr(tamper, "armed", False) else data)

    to_server_send.send_all_hook = pump
    to_client_send, to_client_receive = trio.testing.memory_stream_one_way_pair()
    client_transport = trio.StapledStream(to_server_send, to_client_receive)
    server_transport = trio.StapledStream(to_client_send, to_server_receive)
    client = trio.SSLStream(client_transport, client_context, server_hostname="localhost")
    server = trio.SSLStream(server_transport, server_context, server_side=True)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(client.do_handshake)
        nursery.start_soon(server.do_handshake)
    return client, server


async def test_every_record_already_read_is_decrypted_at_once(tmp_path):
    client, server = await tls_pair(tmp_path)
    pieces = [bytes([i]) * 1500 for i in range(20)]
    for piece in pieces:  # one TLS record each, as librdkafka writes a request
        await client.send_all(piece)
    with trio.fail_after(10):
        first = await server.receive_some(1 << 20)
    assert first == pieces[0]  # trio hands over one record per call
    assert b"".join(buffered_plaintext(server, 1 << 20)) == b"".join(pieces[1:])
    assert buffered_plaintext(server, 1 << 20) == []  # nothing left; the stream goes on
    await client.send_all(b"after")
    with trio.fail_after(10):
        assert await server.receive_some(1 << 20) == b"after"


async def test_no_more_than_about_max_bytes(tmp_path):
    client, server = await tls_pair(tmp_path)
    for i in range(10):
        await client.send_all(bytes([i]) * 1000)
    with trio.fail_after(10):
        await server.receive_some(1 << 20)
    assert sum(map(len, buffered_plaintext(server, 2500))) == 2500
    assert sum(map(len, buffered_plaintext(server, 1 << 20))) == 6500


async def test_a_stream_without_tls_gives_nothing():
    client, server = trio.testing.memory_stream_pair()
    await client.send_all(b"plain bytes")
    assert buffered_plaintext(server, 1 << 20) == []
    with trio.fail_after(10):
        assert await server.receive_some(1 << 20) == b"plain bytes"


async def test_a_tampered_record_breaks_the_stream(tmp_path):
    def flip_last_byte(data: bytes) -> bytes:
        return data[:-1] + bytes([data[-1] ^ 1])

    client, server = await tls_pair(tmp_path, flip_last_byte)
    await client.send_all(b"good")
    flip_last_byte.armed = True
    await client.send_all(b"bad")
    with trio.fail_after(10):
        assert await server.receive_some(1 << 20) == b"good"
    with pytest.raises(trio.BrokenResourceError):
        buffered_plaintext(server, 1 << 20)


async def test_the_peers_close_notify_is_left_for_receive_some(tmp_path):
    client, server = await tls_pair(tmp_path)
    await client.send_all(b"last words")
    await client.aclose()
    with trio.fail_after(10):
        assert await server.receive_some(1 << 20) == b"last words"
        assert buffered_plaintext(server, 1 << 20) == []
        assert await server.receive_some(1 << 20) == b""
