"""Hand-built OTLP MetricsData, as the clients push it (shared by the telemetry tests)."""

from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2

DELTA = metrics_pb2.AGGREGATION_TEMPORALITY_DELTA


def _attributes(target, **values):
    for key, value in values.items():
        pair = target.add()
        pair.key = key.replace("_", ".") if key.startswith("node") else key
        if isinstance(value, int):
            pair.value.int_value = value
        else:
            pair.value.string_value = value


def metrics_data(*, queue_time=12.5, retries=3, latency_count=4) -> bytes:
    """A producer's push: a gauge, a delta sum and a histogram."""
    data = metrics_pb2.MetricsData()
    resource = data.resource_metrics.add()
    _attributes(resource.resource.attributes, client_rack="rack-a", transactional_id="tx-1")
    scope = resource.scope_metrics.add()
    gauge = scope.metrics.add(name="org.apache.kafka.producer.record.queue.time.avg", unit="ms")
    point = gauge.gauge.data_points.add(as_double=queue_time, time_unix_nano=1)
    _attributes(point.attributes, topic="orders")
    total = scope.metrics.add(name="org.apache.kafka.producer.record.retry.total")
    total.sum.aggregation_temporality = DELTA
    total.sum.is_monotonic = True
    total.sum.data_points.add(as_int=retries)
    latency = scope.metrics.add(name="org.apache.kafka.producer.node.request.latency")
    latency.histogram.aggregation_temporality = DELTA
    latency.histogram.data_points.add(count=latency_count, sum=40.0, min=2.0, max=20.0)
    other = scope.metrics.add(name="org.apache.kafka.consumer.coordinator.rebalance.latency.avg")
    other.gauge.data_points.add(as_double=7.0)
    return data.SerializeToString()


def any_value_kinds() -> bytes:
    data = metrics_pb2.MetricsData()
    scope = data.resource_metrics.add().scope_metrics.add()
    metric = scope.metrics.add(name="x.kinds")
    point = metric.gauge.data_points.add(as_int=1)
    for key, value in [
        ("b", common_pb2.AnyValue(bool_value=True)),
        ("d", common_pb2.AnyValue(double_value=1.5)),
        ("y", common_pb2.AnyValue(bytes_value=b"\x01\x02")),
        ("a", common_pb2.AnyValue(array_value=common_pb2.ArrayValue(values=[common_pb2.AnyValue(int_value=1)]))),
    ]:
        pair = point.attributes.add()
        pair.key = key
        pair.value.CopyFrom(value)
    summary = scope.metrics.add(name="x.summary")
    summary.summary.data_points.add(count=2, sum=3.0)
    return data.SerializeToString()
