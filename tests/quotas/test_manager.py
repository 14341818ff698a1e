import pytest

from kwire.clock import ManualClock
from kwire.config import BrokerConfig
from kwire.quotas.entities import entity_of
from kwire.quotas.manager import ClientQuotas

PRODUCE, FETCH, REQUEST = "producer_byte_rate", "consumer_byte_rate", "request_percentage"


@pytest.fixture
def clock():
    return ManualClock(monotonic=100.0)


def make(clock, stored=None, written=None, **config):
    def write(changes):
        if written is not None:
            written.extend(changes.items())

    return ClientQuotas(BrokerConfig(port=0, **config), stored or {}, write, clock)


def test_nothing_is_counted_without_a_quota(clock):
    quotas = make(clock)
    assert not quotas.enforces(PRODUCE)
    assert quotas.record(PRODUCE, "app", 10**9) == 0
    assert quotas.max_value_in_window(FETCH, "app") is None


def test_a_client_over_its_byte_rate_is_throttled_as_kafka_computes_it(clock):
    quotas = make(clock, {entity_of({"client-id": "app"}): {PRODUCE: 1000.0}})
    assert quotas.record(PRODUCE, "app", 5_000) == 0  # 500 B/s over 10 s
    assert quotas.record(PRODUCE, "other", 10**6) == 0  # no quota for it
    # 20,000 B over 10 s is 2,000 B/s: twice the quota, 10 s to make up.
    assert quotas.record(PRODUCE, "app", 15_000) == 10_000
    clock.advance(5)
    # 21,000 B over 10 s: 2,100 B/s; still 11 s over.
    assert quotas.record(PRODUCE, "app", 1_000) == 11_000


def test_the_default_client_id_quota_counts_each_client_apart(clock):
    quotas = make(clock, {entity_of({"client-id": None}): {PRODUCE: 1000.0}})
    assert quotas.record(PRODUCE, "a", 10_000) == 0
    assert quotas.record(PRODUCE, "b", 10_000) == 0
    assert quotas.record(PRODUCE, "a", 10_000) > 0


def test_a_user_quota_is_shared_by_all_its_clients(clock):
    quotas = make(clock, {entity_of({"user": None}): {PRODUCE: 1000.0}})
    assert quotas.record(PRODUCE, "a", 10_000) == 0
    assert quotas.record(PRODUCE, "b", 10_000) > 0


def test_fetch_bound_and_unrecord(clock):
    quotas = make(clock, {entity_of({"client-id": None}): {FETCH: 100.0}}, quota_window_num=5)
    assert quotas.max_value_in_window(FETCH, "app") == 400
    assert quotas.record(FETCH, "app", 1_000) > 0
    quotas.unrecord(FETCH, "app", 1_000)
    assert quotas.record(FETCH, "app", 300) == 0


def test_the_request_quota_throttle_is_at_most_one_window(clock):
    quotas = make(clock, {entity_of({"client-id": "app"}): {REQUEST: 1.0}})
    # One second of handling is 100 percent-seconds: far over 1 % over 10 s.
    assert quotas.record_request_time("app", 1.0) == 1_000
    assert quotas.record_request_time("other", 1.0) == 0


def test_alter_writes_changes_and_validate_only_writes_none(clock):
    written = []
    quotas = make(clock, written=written)
    results = quotas.alter([({"client-id": "a"}, [(PRODUCE, 10.0)])], validate_only=True)
    assert [r.error for r in results] == [None]
    assert written == [] and quotas.quotas == {}
    quotas.alter([({"client-id": "a"}, [(PRODUCE, 10.0)])], validate_only=False)
    assert written == [(entity_of({"client-id": "a"}), {PRODUCE: 10.0})]
    assert quotas.enforces(PRODUCE)
    quotas.alter([({"client-id": "a"}, [(PRODUCE, 10.0)])], validate_only=False)
    assert len(written) == 1  # nothing changed: nothing written
    quotas.alter([({"client-id": "a"}, [(PRODUCE, None)])], validate_only=False)
    assert written[-1] == (entity_of({"client-id": "a"}), {})
    assert not quotas.enforces(PRODUCE) and quotas.quotas == {}


def test_idle_sensors_are_forgotten(clock):
    quotas = make(clock, {entity_of({"client-id": None}): {PRODUCE: 1000.0}})
    quotas.tick()
    quotas.record(PRODUCE, "a", 1)
    clock.advance(5)
    quotas.tick()
    assert quotas._sensors
    clock.advance(7)
    quotas.tick()
    assert not quotas._sensors


def test_a_throttle_time_fits_the_answers_int32(clock):
    quotas = make(clock, {entity_of({"client-id": "app"}): {PRODUCE: 1.0}})
    assert quotas.record(PRODUCE, "app", 10**12) == 2**31 - 1


def test_connection_creation_rate_per_address_and_default(clock):
    quotas = make(
        clock,
        {
            entity_of({"ip": "127.0.0.1"}): {"connection_creation_rate": 2.0},
            entity_of({"ip": None}): {"connection_creation_rate": 1.0},
        },
        quota_window_num=2,
    )
    # Two a second over (at least) one window for 127.0.0.1.
    assert quotas.record_connection("127.0.0.1") == 0
    assert quotas.record_connection("::ffff:127.0.0.1") == 0
    assert quotas.record_connection("127.0.0.1") == 500  # (3 - 2) / 2 x 1 s; not counted
    assert quotas.record_connection("127.0.0.1") == 500
    # Any other address has the default: one a second.
    assert quotas.record_connection("10.0.0.1") == 0
    assert quotas.record_connection("10.0.0.1") == 1000  # at most one window
    clock.advance(2)
    assert quotas.record_connection("127.0.0.1") == 0


def test_connections_are_not_counted_without_an_ip_quota(clock):
    quotas = make(clock, {entity_of({"client-id": None}): {PRODUCE: 1.0}})
    assert all(quotas.record_connection("127.0.0.1") == 0 for _ in range(100))
