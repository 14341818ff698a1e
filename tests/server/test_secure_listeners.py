"""Several listeners on one node, each with its own security protocol
(kwire/server/listener.py, connection.py): each answers with its own
addresses, and a hostile client on one (garbage instead of a TLS handshake,
a request before authentication, a huge SASL frame) loses only its own
connection while the others carry on."""

from __future__ import annotations

import ssl
import struct

import trio

from kwire.config import BrokerConfig
from kwire.protocol.api_keys import ApiKey
from kwire.security.cert_maker import make_test_certificates
from kwire.server.node import Node, open_node
from tests.wire import decode_response, request_frame

JAAS = 'org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";'
METADATA = {"topics": [], "allow_auto_topic_creation": False, "include_topic_authorized_operations": False}


def secure_config(certificates) -> BrokerConfig:
    config = BrokerConfig(port=0, data_dir=None, sasl_jaas_config=JAAS)
    config.listener_specs = (
        ("PLAINTEXT", "PLAINTEXT", "127.0.0.1", 0),
        ("SSL", "SSL", "127.0.0.1", 0),
        ("SASL_PLAINTEXT", "SASL_PLAINTEXT", "127.0.0.1", 0),
    )
    config.ssl_keystore_type = "PEM"
    config.ssl_keystore_location = str(certificates.broker)
    config.ssl_truststore_type = "PEM"
    config.ssl_truststore_location = str(certificates.ca)
    config.ssl_client_auth = "requested"
    return config


async def exchange(stream: trio.abc.Stream, api_key: int, version: int, values: dict):
    await stream.send_all(request_frame(api_key, version, values))
    payload = b""
    with trio.fail_after(10):
        while len(payload) < 4 or len(payload) < 4 + struct.unpack_from(">i", payload)[0]:
            data = await stream.receive_some(65536)
            assert data, "the broker closed the connection"
            payload += data
    return decode_response(api_key, version, payload[4:])[1]


async def closed_by_broker(stream: trio.abc.Stream) -> bool:
    with trio.fail_after(10):
        try:
            while await stream.receive_some(65536):
                pass
        except (trio.BrokenResourceError, ssl.SSLError):
            pass
    return True


async def connect(node: Node, listener: str) -> trio.SocketStream:
    return await trio.open_tcp_stream("127.0.0.1", node.ports[listener])


async def tls_connect(node: Node, certificates, client: str | None = None) -> trio.SSLStream:
    context = ssl.create_default_context(cafile=str(certificates.ca))
    if client is not None:
        certificate, key = certificates.clients[client]
        context.load_cert_chain(str(certificate), str(key))
    stream = trio.SSLStream(await connect(node, "SSL"), context, server_hostname="localhost")
    await stream.do_handshake()
    return stream


async def test_each_listener_answers_with_its_own_addresses(tmp_path):
    certificates = make_test_certificates(tmp_path, clients=("alice",))
    async with open_node(secure_config(certificates)) as node:
        assert len(set(node.ports.values())) == 3
        plain = await connect(node, "PLAINTEXT")
        answer = await exchange(plain, ApiKey.METADATA, 12, METADATA)
        assert [(broker.host, broker.port) for broker in answer.brokers] == [("127.0.0.1", node.ports["PLAINTEXT"])]
        secure = await tls_connect(node, certificates, "alice")
        answer = await exchange(secure, ApiKey.METADATA, 12, METADATA)
        assert [(broker.host, broker.port) for broker in answer.brokers] == [("127.0.0.1", node.ports["SSL"])]
        answer = await exchange(secure, ApiKey.FIND_COORDINATOR, 3, {"key": "g", "key_type": 0})
        assert answer.port == node.ports["SSL"]
        await plain.aclose()
        await secure.aclose()


async def test_hostile_clients_lose_only_their_own_connection(tmp_path):
    certificates = make_test_certificates(tmp_path)
    async with open_node(secure_config(certificates)) as node:
        bystander = await connect(node, "PLAINTEXT")
        await exchange(bystander, ApiKey.METADATA, 12, METADATA)

        garbage = await connect(node, "SSL")  # not a TLS handshake at all
        await garbage.send_all(b"\x16\x03\x01\x00\x05hello" + bytes(range(256)) * 4)
        assert await closed_by_broker(garbage)

        early = await connect(node, "SASL_PLAINTEXT")  # a request before authenticating
        await early.send_all(request_frame(ApiKey.METADATA, 12, METADATA))
        assert await closed_by_broker(early)

        huge = await connect(node, "SASL_PLAINTEXT")  # 100 MB announced for a SaslAuthenticate
        await exchange(huge, ApiKey.SASL_HANDSHAKE, 1, {"mechanism": "PLAIN"})
        await huge.send_all(struct.pack(">i", 100 * 1024 * 1024) + b"\x00\x24\x00\x02")
        assert await closed_by_broker(huge)

        halfway = await connect(node, "SASL_PLAINTEXT")  # stops after the handshake; others go on
        await exchange(halfway, ApiKey.SASL_HANDSHAKE, 1, {"mechanism": "PLAIN"})

        good = await connect(node, "SASL_PLAINTEXT")
        assert (await exchange(good, ApiKey.SASL_HANDSHAKE, 1, {"mechanism": "PLAIN"})).error_code == 0
        done = await exchange(good, ApiKey.SASL_AUTHENTICATE, 2, {"auth_bytes": b"\0alice\0alice-secret"})
        assert done.error_code == 0
        assert (await exchange(good, ApiKey.METADATA, 12, METADATA)).brokers
        assert (await exchange(bystander, ApiKey.METADATA, 12, METADATA)).brokers
        for stream in (bystander, halfway, good):
            await stream.aclose()
