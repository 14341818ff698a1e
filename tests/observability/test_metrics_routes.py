"""GET /metrics on the node's router, without a socket."""

import trio
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from kwire.http.messages import HttpRequest
from kwire.observability.http_app import build_router
from kwire.observability.node_view import NodeView
from tests.core_client import make_core
from tests.observability.watched import metered_core


def get(view: NodeView, path: str):
    return trio.run(build_router(view), HttpRequest("GET", path))


def test_metrics_in_prometheus_text_format_with_the_nodes_state():
    core = metered_core()
    view = NodeView(core, 0)
    answer = get(view, "/metrics")
    assert answer.status == 200 and answer.content_type == CONTENT_TYPE_LATEST
    families = {family.name: family for family in text_string_to_metric_families(answer.body.decode())}
    (starting,) = families["kafka_server_kafkaserver_brokerstate"].samples
    assert starting.value == 1  # not ready yet
    view.ready = True
    families = {family.name: family for family in text_string_to_metric_families(get(view, "/metrics").body.decode())}
    assert families["kafka_server_kafkaserver_brokerstate"].samples[0].value == 3
    view.stopping = True
    families = {family.name: family for family in text_string_to_metric_families(get(view, "/metrics").body.decode())}
    assert families["kafka_server_kafkaserver_brokerstate"].samples[0].value == 7
    core.close()


def test_no_metrics_route_for_a_node_whose_metrics_are_off():
    core = make_core()
    assert get(NodeView(core, 0), "/metrics").status == 404
    core.close()
