"""TLS handshakes between two contexts in memory (ssl.MemoryBIO), no sockets."""

from __future__ import annotations

import ssl

from kwire.config import BrokerConfig


def config_with(settings: dict[str, str]) -> BrokerConfig:
    config = BrokerConfig()
    for name, value in settings.items():
        if name.startswith("listener.name."):
            config.listener_overrides[name] = value
        else:
            config.apply_override(name, value)
    return config


def client_context(ca: object, certificate: object = None, key: object = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    if certificate is not None:
        context.load_cert_chain(str(certificate), str(key))
    return context


def handshake(server: ssl.SSLContext, client: ssl.SSLContext, host: str = "localhost") -> ssl.SSLObject:
    """Run the handshake to its end and return the server side's SSLObject;
    raises the ssl.SSLError of whichever side failed. TLS 1.3 sends the
    client's certificate verdict after the client finished, so the client
    also reads the server's first data (or alert) before this returns."""
    server_in, server_out, client_in, client_out = (ssl.MemoryBIO() for _ in range(4))
    server_side = server.wrap_bio(server_in, server_out, server_side=True)
    client_side = client.wrap_bio(client_in, client_out, server_hostname=host)
    done = {"client": False, "server": False}
    for _ in range(20):  # a handshake takes a few flights; more means something is stuck
        for name, side, outgoing, peer_incoming in (
            ("client", client_side, client_out, server_in),
            ("server", server_side, server_out, client_in),
        ):
            if not done[name]:
                try:
                    side.do_handshake()
                    done[name] = True
                except ssl.SSLWantReadError:
                    pass
                finally:
                    pending = outgoing.read()
                    if pending:
                        peer_incoming.write(pending)
        if all(done.values()):
            break
    else:
        raise AssertionError("the handshake did not finish")
    # The server answers a rejected TLS 1.3 client certificate with an alert
    # the client only sees when it reads: write a byte each way and read it.
    server_side.write(b"s")
    client_in.write(server_out.read())
    assert client_side.read(1) == b"s"
    client_side.write(b"c")
    server_in.write(client_out.read())
    assert server_side.read(1) == b"c"
    return server_side
