from kwire.observability.broker_metrics import BrokerMetrics
from kwire.observability.metrics import NodeMetrics
from tests.core_client import make_core
from tests.observability.watched import metered_core


def test_without_the_http_port_the_metrics_count_nothing_and_watch_no_request():
    core = make_core()
    metrics = core.state.metrics
    assert type(metrics) is NodeMetrics and not metrics.enabled and metrics.registry is None
    assert core.state.request_observers == []
    metrics.produced("t", 0, b"")  # does nothing, whatever it is given
    metrics.connection_opened("PLAINTEXT")
    core.close()


def test_with_the_http_port_each_node_has_its_own_registry_watching_its_requests():
    first, second = metered_core(), metered_core()
    assert isinstance(first.state.metrics, BrokerMetrics) and first.state.metrics.enabled
    assert first.state.metrics.registry is not second.state.metrics.registry
    assert first.state.request_observers == [first.state.metrics.observe]
    first.close()
    second.close()
