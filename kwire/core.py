"""The broker's sans-IO core: state plus `handle_frame`, bytes in, bytes out.

The trio server (kwire/server/) owns sockets and timers; everything here is
plain Python that a test can drive without a socket.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any, Callable, Hashable, Protocol

from kwire.cluster.cluster import Cluster
from kwire.cluster.log_maintenance import LogMaintenance
from kwire.config import BrokerConfig
from kwire.coordinator.groups_service import GroupsService
from kwire.coordinator.producer_ids import ProducerIdAllocator
from kwire.coordinator.transactions_service import TransactionsService
from kwire.handlers import build_registry
from kwire.handlers.api_versions import unsupported_version_body
from kwire.handlers.base import CLOSE_CONNECTION, NO_RESPONSE, Delayed, Encoded, RequestContext
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.framing import frame
from kwire.protocol.headers import HeaderError, encode_response_header, parse_request_header, peek_api
from kwire.protocol.kio_build import encode
from kwire.protocol.registry import request_is_flexible, response_is_flexible
from kwire.response_cache import ResponseCache

log = logging.getLogger(__name__)

class ProtocolViolation(Exception):
    """The request cannot be understood; close the connection it came on."""


def _must_propagate(exc: BaseException) -> bool:
    """Interrupts, exits and trio's cancellation are not decoding failures
    (matched by module so the sans-IO core does not import trio)."""
    return isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)) or \
        type(exc).__module__.partition(".")[0] == "trio"


class Waiter(Protocol):
    def wake(self) -> None: ...


EXIT_AFTER_PRODUCE_CODE = 17


class BrokerCore:
    def __init__(self, config: BrokerConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.cluster = Cluster(config)
        self.registry = build_registry()
        self.producer_ids = ProducerIdAllocator(self.cluster.metadata, self.cluster.next_producer_id_floor)
        self.groups = GroupsService(config, self.cluster, self.notify, clock)
        self.maintenance = LogMaintenance(self.cluster, clock)
        self.transactions = TransactionsService(config, self.cluster, self.groups, self.producer_ids.allocate, self.notify)
        self.advertised_host, self.advertised_port = config.advertised(config.port)
        self._waiters: dict[Hashable, set[Waiter]] = {}
        self._produce_requests = 0
        # Encoded response bodies, keyed on the request's shape and the
        # cluster's metadata version (bounded; dropped when the version moves).
        self.response_cache = ResponseCache(lambda: self.cluster.version)

    def set_bound_port(self, port: int) -> None:
        self.advertised_host, self.advertised_port = self.config.advertised(port)
        self.response_cache.clear()

    # --- long-poll waiters ---------------------------------------------

    def add_waiter(self, keys: list[Hashable], waiter: Waiter) -> None:
        for key in keys:
            self._waiters.setdefault(key, set()).add(waiter)

    def remove_waiter(self, keys: list[Hashable], waiter: Waiter) -> None:
        for key in keys:
            waiters = self._waiters.get(key)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiters[key]

    def notify_append(self, topic: str, partition: int) -> None:
        self.notify((topic, partition))

    def notify(self, key: Hashable) -> None:
        """Wake every long-poll waiting on `key` (a partition, or a group)."""
        waiters = self._waiters.get(key)
        if waiters:
            for waiter in list(waiters):
                waiter.wake()

    def should_drop_produce_response(self) -> bool:
        """Fault injection after a produce request was written:
        --exit-after-produce N ends the process like a kill; --drop-produce-responses N
        answers every Nth by closing the connection."""
        self._produce_requests += 1
        if self._produce_requests == self.config.exit_after_produce:
            log.warning("exiting after produce request %d (--exit-after-produce)", self._produce_requests)
            os._exit(EXIT_AFTER_PRODUCE_CODE)
        every = self.config.drop_produce_responses_every
        return every > 0 and self._produce_requests % every == 0

    # --- requests --------------------------------------------------------

    def tick(self) -> None:
        """Timers: session expiry, rebalance deadlines, offset retention,
        log retention and compaction."""
        self.groups.tick()
        self.maintenance.tick()
        self.transactions.tick()

    def handle_frame(self, request_frame: bytes, client_host: str = "") -> Any:
        """Answer one request frame.

        Returns a list of buffers (the framed response), NO_RESPONSE,
        CLOSE_CONNECTION, or a (Delayed, finish) pair where finish(response)
        frames whatever the delayed completion returns. Raises
        ProtocolViolation when the connection must be closed.
        """
        try:
            api_key, api_version, correlation_id = peek_api(request_frame)
        except HeaderError as exc:
            raise ProtocolViolation(str(exc)) from None
        spec = self.registry.get(api_key)
        if spec is None:
            raise ProtocolViolation(f"unknown API key {api_key}")
        if not spec.min_version <= api_version <= spec.max_version:
            if api_key == ApiKey.API_VERSIONS:  # error 35 in a v0 body, so the client can retry
                return self._frame(api_key, 0, correlation_id, self._api_versions_unsupported())
            raise ProtocolViolation(f"unsupported version {api_version} of API {api_key}")
        try:
            header = parse_request_header(request_frame, request_is_flexible(api_key, api_version))
            request = spec.decoder(request_frame, header.body_offset, api_version)
        except BaseException as exc:
            # Any decoding failure means a malformed request, also one that is
            # not an Exception: a panic in kio's native reader surfaces as
            # pyo3's PanicException, a BaseException.
            if _must_propagate(exc):
                raise
            raise ProtocolViolation(f"malformed request (api {api_key} v{api_version}): {exc!r}") from None
        context = RequestContext(self, api_key, api_version, correlation_id, header.client_id, client_host)
        response = spec.handler(context, request)
        if isinstance(response, Delayed):
            return response, lambda final_response: self._frame(api_key, api_version, correlation_id, final_response)
        return self._frame(api_key, api_version, correlation_id, response)

    def _frame(self, api_key: int, api_version: int, correlation_id: int, response: Any) -> Any:
        if response is NO_RESPONSE or response is CLOSE_CONNECTION:
            return response
        header = encode_response_header(correlation_id, response_is_flexible(api_key, api_version))
        if isinstance(response, Encoded):
            return frame([header, *response.parts])
        if isinstance(response, (bytes, bytearray)):
            return frame([header, response])
        return frame([header, encode(response)])

    def _api_versions_unsupported(self) -> bytes:
        return unsupported_version_body(self.registry)

    def close(self) -> None:
        self.cluster.close()
