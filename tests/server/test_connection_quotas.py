"""max.connections / max.connections.per.ip accounting, without sockets."""

import logging

from kwire.clock import ManualClock
from kwire.server.connection_quotas import ConnectionQuotas


def test_connections_beyond_the_per_address_limit_are_refused():
    quotas = ConnectionQuotas(max_connections=10, max_per_ip=2)
    assert quotas.admit("10.0.0.1") and quotas.admit("10.0.0.1")
    assert not quotas.admit("10.0.0.1")
    assert quotas.admit("10.0.0.2")  # another address has its own quota
    quotas.release("10.0.0.1")
    assert quotas.admit("10.0.0.1")


def test_connections_beyond_the_broker_limit_are_refused():
    quotas = ConnectionQuotas(max_connections=2, max_per_ip=10)
    assert quotas.admit("a") and quotas.admit("b")
    assert not quotas.admit("c")
    quotas.release("a")
    assert quotas.admit("c")
    assert quotas.total == 2


def test_addresses_that_have_gone_leave_nothing_behind():
    quotas = ConnectionQuotas(max_connections=100_000, max_per_ip=5)
    for n in range(1000):
        ip = f"10.0.{n // 256}.{n % 256}"
        assert quotas.admit(ip)
        quotas.release(ip)
    assert quotas.total == 0 and quotas._per_ip == {}


def test_refusals_are_logged_at_most_once_a_second_with_a_count(caplog):
    clock = ManualClock()
    quotas = ConnectionQuotas(max_connections=0, max_per_ip=5, clock=clock)
    with caplog.at_level(logging.WARNING, logger="kwire.server.connection_quotas"):
        for _ in range(50):
            assert not quotas.admit("10.0.0.9")
        clock.advance(1.5)
        assert not quotas.admit("10.0.0.9")
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert messages[0].startswith("closed 1 new connection(s) (latest from 10.0.0.9): max.connections=0 reached")
    assert messages[1].startswith("closed 50 new connection(s)")
