from kwire.observability.request_events import RequestEvent
from kwire.observability.request_metrics import RequestMetrics, error_name
from kwire.protocol.api_keys import ApiKey
from tests.observability.watched import metered_core, sample, scrape


def event(api_key=ApiKey.PRODUCE, version=9, total_ms=3.0, errors=None, closed="", answered=True) -> RequestEvent:
    each = RequestEvent("PLAINTEXT", "127.0.0.1:1", api_key=int(api_key), api_version=version)
    each.received, each.dispatched = 10.0, 10.0 + 0.0005  # 0.5 ms in the request queue
    each.handled = each.completed = 10.0 + 0.0015  # 1 ms local
    each.sent = 10.0 + total_ms / 1000
    each.request_bytes, each.response_bytes = 300, 70
    each.errors = dict(errors or {})
    each.closed, each.answered = closed, answered
    return each


def test_error_names_are_kafkas():
    assert error_name(10) == "MESSAGE_TOO_LARGE" and error_name(0) == "NONE" and error_name(9999) == "9999"


def test_requests_and_their_times_per_api_and_version():
    core = metered_core()
    metrics = core.state.metrics
    for _ in range(3):
        metrics.observe(event())
    metrics.observe(event(version=7, total_ms=40.0))
    families = scrape(core)
    produce_v9 = {"request": "Produce", "version": "9"}
    assert sample(families, "kafka_network_requestmetrics_requests_total", **produce_v9) == 3
    assert sample(families, "kafka_network_requestmetrics_requests_total", request="Produce", version="7") == 1
    assert sample(families, "kafka_network_requestmetrics_totaltimems_count", **produce_v9) == 3
    assert abs(sample(families, "kafka_network_requestmetrics_totaltimems_sum", **produce_v9) - 9.0) < 1e-6
    # 3 ms: not within 2.5, within 5 (buckets are cumulative)
    assert sample(families, "kafka_network_requestmetrics_totaltimems_bucket", le="2.5", **produce_v9) == 0
    assert sample(families, "kafka_network_requestmetrics_totaltimems_bucket", le="5.0", **produce_v9) == 3
    assert sample(families, "kafka_network_requestmetrics_totaltimems_bucket", le="+Inf", **produce_v9) == 3
    assert abs(sample(families, "kafka_network_requestmetrics_requestqueuetimems_sum", **produce_v9) - 1.5) < 1e-6
    assert abs(sample(families, "kafka_network_requestmetrics_localtimems_sum", **produce_v9) - 3.0) < 1e-6
    assert sample(families, "kafka_network_requestmetrics_requestbytes_sum", **produce_v9) == 900
    assert sample(families, "kafka_network_requestmetrics_responsebytes_sum", **produce_v9) == 210
    core.close()


def test_a_fetchs_times_are_filed_under_fetch_consumer_and_its_count_under_fetch():
    core = metered_core()
    core.state.metrics.observe(event(ApiKey.FETCH, 12))
    families = scrape(core)
    assert sample(families, "kafka_network_requestmetrics_requests_total", request="Fetch", version="12") == 1
    assert (
        sample(families, "kafka_network_requestmetrics_totaltimems_count", request="FetchConsumer", version="12") == 1
    )
    core.close()


def test_errors_per_request_and_error_name_and_none_once_per_clean_answer():
    metrics = RequestMetrics()
    metrics.observe(event(errors={10: 2, 3: 1}))
    metrics.observe(event())
    metrics.observe(event())
    metrics.observe(event(closed="failed acks=0 produce", answered=False))  # closed: neither an error nor NONE
    errors = {tuple(s.labels.values()): s.value for f in metrics.collect() for s in f.samples if "errors" in s.name}
    assert errors == {
        ("Produce", "MESSAGE_TOO_LARGE"): 2,
        ("Produce", "UNKNOWN_TOPIC_OR_PARTITION"): 1,
        ("Produce", "NONE"): 2,
    }


def test_frames_refused_unread_make_no_series():
    metrics = RequestMetrics()
    metrics.observe(event(api_key=-1, version=-1))
    metrics.observe(RequestEvent("PLAINTEXT", "x", api_key=30000, api_version=1))
    metrics.observe(event(version=30000))
    assert all(not family.samples for family in metrics.collect())
