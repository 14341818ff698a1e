"""`max.connections` and `max.connections.per.ip`: how many client
connections the broker holds, in all and from one address.

A connection beyond either limit is closed as soon as it is accepted, as
Kafka closes a connection over its per-address quota; the connections
already open are not touched. Refusals are logged at most once a second
(with how many there were), so a client retrying in a tight loop cannot
flood the log.
"""

from __future__ import annotations

import logging

from kwire.clock import SYSTEM_CLOCK, Clock
from kwire.config import BrokerConfig

log = logging.getLogger(__name__)

LOG_EVERY_S = 1.0


class ConnectionQuotas:
    def __init__(self, max_connections: int, max_per_ip: int, clock: Clock = SYSTEM_CLOCK) -> None:
        self.max_connections = max_connections
        self.max_per_ip = max_per_ip
        self.total = 0
        self._per_ip: dict[str, int] = {}
        self._clock = clock
        self._refused_unlogged = 0
        self._last_logged = -LOG_EVERY_S

    def set_limits(self, config: BrokerConfig) -> None:
        """The limits changed (a dynamic broker config): new connections
        are counted against them; open ones stay."""
        self.max_connections = config.max_connections
        self.max_per_ip = config.max_connections_per_ip

    def admit(self, ip: str) -> bool:
        """Count a new connection from `ip`, or refuse it (False) when a limit is reached."""
        held = self._per_ip.get(ip, 0)
        if self.total >= self.max_connections:
            self._refused(ip, f"max.connections={self.max_connections} reached")
            return False
        if held >= self.max_per_ip:
            self._refused(ip, f"max.connections.per.ip={self.max_per_ip} reached for {ip}")
            return False
        self.total += 1
        self._per_ip[ip] = held + 1
        return True

    def release(self, ip: str) -> None:
        """A connection admitted from `ip` has closed."""
        self.total -= 1
        held = self._per_ip[ip] - 1
        if held:
            self._per_ip[ip] = held
        else:
            del self._per_ip[ip]  # no entry stays behind for an address that has gone

    def connections_from(self, ip: str) -> int:
        return self._per_ip.get(ip, 0)

    def _refused(self, ip: str, reason: str) -> None:
        self._refused_unlogged += 1
        now = self._clock.monotonic()
        if now - self._last_logged >= LOG_EVERY_S:
            log.warning("closed %d new connection(s) (latest from %s): %s", self._refused_unlogged, ip, reason)
            self._refused_unlogged = 0
            self._last_logged = now
