"""The client metrics pages (KIP-714): who pushed, the headline figures,
every series of one client; client-chosen names stay text."""

import uuid

from kwire.protocol.record_codec import NONE
from kwire.telemetry.otlp import decode_push
from kwire.telemetry.subscriptions import ClientMetadata
from tests.console.console_state import EVIL, START_MS, console_for, filled_core, get, text
from tests.telemetry.otlp_samples import metrics_data


def _pushed(client_id: str) -> tuple[object, uuid.UUID]:
    core = filled_core()
    state = core.state
    state.cluster.client_metrics.alter("ci", {"metrics": "*", "interval.ms": "100"}, validate_only=False)

    def metadata(instance_id: uuid.UUID) -> ClientMetadata:
        return ClientMetadata(instance_id, client_id, "librdkafka", "2.16.0", "127.0.0.1", 4000)

    instance = state.telemetry.instances.get_subscriptions(None, metadata, START_MS)
    push = decode_push(metrics_data(queue_time=42.5, retries=3), NONE, 1 << 20)
    state.telemetry.record_push(instance, push, False, START_MS + 10)
    return core, instance.instance_id


async def test_the_list_names_each_client_with_its_headline_figures() -> None:
    core, instance_id = _pushed("ci-producer")
    page = text(await get(console_for(core), "/clients"))
    assert "ci-producer" in page and "librdkafka 2.16.0" in page and "127.0.0.1:4000" in page
    assert "producer queue time avg: <b>42.500</b>" in page
    assert "producer retries: <b>3</b>" in page
    assert f'href="/clients/{instance_id}"' in page


async def test_one_client_shows_every_series_and_its_resource() -> None:
    core, instance_id = _pushed("ci-producer")
    page = text(await get(console_for(core), f"/clients/{instance_id}"))
    assert "org.apache.kafka.producer.record.queue.time.avg" in page and "topic=orders" in page
    assert "org.apache.kafka.producer.node.request.latency" in page
    assert "client_rack" in page and "rack-a" in page
    assert (await get(console_for(core), f"/clients/{uuid.uuid4()}")).status == 404
    assert (await get(console_for(core), "/clients/not-a-uuid")).status == 404


async def test_no_pushes_yet_says_how_to_subscribe() -> None:
    page = text(await get(console_for(filled_core()), "/clients"))
    assert "No client has pushed metrics." in page and "--entity-type client-metrics" in page


async def test_a_client_id_with_markup_stays_text() -> None:
    core, instance_id = _pushed(EVIL)
    for target in ("/clients", f"/clients/{instance_id}"):
        page = text(await get(console_for(core), target))
        assert EVIL not in page and "&lt;script&gt;" in page
