"""Client quotas enforced on Produce, Fetch and every request's handling
time: throttle times in the answers, and the Throttled outcome that tells
the connection to mute (a ManualClock moves the time)."""

import struct

from kwire.clock import ManualClock
from kwire.dispatch import Throttled
from kwire.protocol.errors import ErrorCode
from tests.core_client import CoreClient, make_core
from tests.handlers import requests as rq
from tests.handlers.test_client_quotas import alter, entity
from tests.wire import decode_response, request_frame

PRODUCE, FETCH, METADATA = 0, 1, 3
CLIENT = "kwire"  # the client id tests.wire sends


def outcome_of(client, api_key, version, values):
    outcome = client.raw(api_key, version, values)
    if isinstance(outcome, tuple):
        delayed, finish = outcome
        outcome = finish(delayed.complete(True))
    payload = b"".join(bytes(part) for part in outcome)
    (size,) = struct.unpack_from(">i", payload)
    assert size == len(payload) - 4
    return outcome, decode_response(api_key, version, payload[4:])[1]


def make(clock=None):
    core = make_core(clock=clock or ManualClock())
    return core, CoreClient(core)


def test_producing_over_the_byte_rate_is_throttled():
    core, client = make()
    try:
        (result,) = alter(client, (entity(client_id=CLIENT), {"producer_byte_rate": 100}))
        assert result.error_code == ErrorCode.none
        values = rq.produce("t", 0, rq.batch(b"x" * 500))
        request_size = len(request_frame(PRODUCE, 9, values)) - 4  # header and body, as Kafka counts
        outcome, response = outcome_of(client, PRODUCE, 9, values)
        assert response.responses[0].partition_responses[0].error_code == ErrorCode.none
        # The first request is measured over 10 windows: well within 100 B/s.
        assert response.throttle_time.total_seconds() == 0 and not isinstance(outcome, Throttled)
        for _ in range(3):
            outcome, response = outcome_of(client, PRODUCE, 9, values)
        # All is written all the same; the answer says how long to wait.
        assert response.responses[0].partition_responses[0].error_code == ErrorCode.none
        observed = 4 * request_size / 10
        expected_ms = round((observed - 100) / 100 * 10_000)
        assert response.throttle_time.total_seconds() * 1000 == expected_ms
        assert isinstance(outcome, Throttled) and outcome.throttle_ms == expected_ms
    finally:
        core.close()


def test_another_client_id_is_not_throttled_and_removing_the_quota_ends_it():
    core, client = make()
    try:
        alter(client, (entity(client_id="someone-else"), {"producer_byte_rate": 1}))
        outcome, response = outcome_of(client, PRODUCE, 9, rq.produce("t", 0, rq.batch(b"x" * 5000)))
        assert response.throttle_time.total_seconds() == 0
        alter(client, (entity(client_id=None), {"producer_byte_rate": 1}))
        outcome, response = outcome_of(client, PRODUCE, 9, rq.produce("t", 0, rq.batch(b"x" * 5000)))
        assert response.throttle_time.total_seconds() > 0
        alter(client, (entity(client_id=None), {"producer_byte_rate": None}))
        outcome, response = outcome_of(client, PRODUCE, 9, rq.produce("t", 0, rq.batch(b"x" * 5000)))
        assert response.throttle_time.total_seconds() == 0 and not isinstance(outcome, Throttled)
    finally:
        core.close()


def fetched_size(outcome) -> int:
    """The answer body's size (a flexible answer: without the size prefix,
    the correlation id and the header's empty tag buffer)."""
    return sum(len(part) for part in outcome) - 4 - 4 - 1


def test_fetching_over_the_byte_rate_is_throttled_with_an_empty_answer():
    clock = ManualClock()
    core, client = make(clock)
    try:
        for _ in range(10):
            client.call(PRODUCE, 9, rq.produce("t", 0, rq.batch(b"y" * 1000)))
        alter(client, (entity(client_id=None), {"consumer_byte_rate": 2000}))
        # At most 2000 B/s x 10 windows of records per answer: here the whole log.
        outcome, response = outcome_of(client, FETCH, 12, rq.fetch("t", 0, 0))
        whole = len(response.responses[0].partitions[0].records)
        assert 10_000 < whole < 11_000 and response.throttle_time.total_seconds() == 0
        counted = fetched_size(outcome)
        assert counted > whole  # the whole answer counts, as in Kafka
        # A second whole answer: observed (2 x counted) / 10 s is over 2000 B/s.
        outcome, response = outcome_of(client, FETCH, 12, rq.fetch("t", 0, 0))
        assert response.responses == ()  # throttled: nothing answered, nothing counted
        expected_ms = round((2 * counted / 10 - 2000) / 2000 * 10_000)
        assert outcome.throttle_ms == response.throttle_time.total_seconds() * 1000 == expected_ms
        assert isinstance(outcome, Throttled)
        clock.advance(11)  # every window since gone by
        outcome, response = outcome_of(client, FETCH, 12, rq.fetch("t", 0, 0))
        assert len(response.responses[0].partitions[0].records) == whole
    finally:
        core.close()


class SlowClock(ManualClock):
    """Every reading of the monotonic clock is 50 ms after the one before."""

    def monotonic(self):
        self.advance(0.05)
        return super().monotonic()


def test_handling_time_over_the_request_percentage_is_throttled():
    core, client = make(SlowClock())
    try:
        alter(client, (entity(client_id=CLIENT), {"request_percentage": 0.01}))
        outcome, response = outcome_of(client, METADATA, 12, rq.metadata("t"))
        # Capped at one window, as Kafka caps the request quota's throttle.
        assert isinstance(outcome, Throttled) and outcome.throttle_ms == 1000
        assert response.throttle_time.total_seconds() == 1.0  # also in the cached Metadata body
        frame = request_frame(METADATA, 1, rq.metadata("t"), client_id="other")
        assert not isinstance(client.core.handle_frame(frame[4:]), Throttled)
        outcome, response = outcome_of(client, PRODUCE, 9, rq.produce("t", 0, rq.batch(b"z")))
        assert response.throttle_time.total_seconds() == 1.0
        outcome, response = outcome_of(client, FETCH, 12, rq.fetch("t", 0, 0))
        assert response.throttle_time.total_seconds() == 1.0
        assert len(response.responses[0].partitions[0].records) > 0
        (entry,) = alter(client, (entity(client_id="x"), {"producer_byte_rate": 10}))
        assert entry.error_code == ErrorCode.none
    finally:
        core.close()
