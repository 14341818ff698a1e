"""Drive a BrokerCore the way a connection would, without a socket: test
helpers shared by the handler, core and server tests."""

import struct

from kwire.clock import SYSTEM_CLOCK, Clock
from kwire.config import BrokerConfig
from kwire.core import BrokerCore
from kwire.handlers.base import Delayed, Late
from tests.wire import decode_response, request_frame


class CoreClient:
    """Calls BrokerCore.handle_frame the way a connection would, no socket."""

    def __init__(self, core: BrokerCore) -> None:
        self.core = core
        self.late_ms = 0  # the delay fault injection put on the last answer

    def raw(self, api_key: int, version: int, values: dict):
        return self.core.handle_frame(request_frame(api_key, version, values)[4:])

    def call(self, api_key: int, version: int, values: dict):
        outcome = self.raw(api_key, version, values)
        self.late_ms = 0
        if isinstance(outcome, Late):
            outcome, self.late_ms = outcome.outcome, outcome.delay_ms
        if isinstance(outcome, tuple):
            delayed, finish = outcome
            assert isinstance(delayed, Delayed)
            outcome = finish(delayed.complete(True))
        payload = b"".join(bytes(part) for part in outcome)
        (size,) = struct.unpack_from(">i", payload)
        assert size == len(payload) - 4
        _correlation, response = decode_response(api_key, version, payload[4:])
        return response


def make_core(tmp_path=None, clock: Clock = SYSTEM_CLOCK, **overrides) -> BrokerCore:
    config = BrokerConfig(port=0, data_dir=tmp_path, **overrides)
    return BrokerCore(config, clock)
