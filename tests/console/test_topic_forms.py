"""The create and delete forms: Kafka's checks and errors, the admin log,
and refusal of posts from another site."""

import logging

from tests.console.console_state import console_for, filled_core, post, text


async def test_create_a_topic(caplog):
    core = filled_core()
    console = console_for(core)
    with caplog.at_level(logging.INFO, logger="kwire.admin"):
        response = await post(
            console, "/topics", "name=made&partitions=3&replication_factor=-1&configs=cleanup.policy%3Dcompact"
        )
    assert response.status == 303 and dict(response.headers)["location"] == "/topics/made"
    topic = core.cluster.get("made")
    assert topic is not None and len(topic.partitions) == 3 and topic.configs == {"cleanup.policy": "compact"}
    assert any(
        "CreateTopics from the web console" in r.message and "made: created" in r.message for r in caplog.records
    )


async def test_kafka_errors_are_shown():
    console = console_for(filled_core())
    for body, error in [
        ("name=orders&partitions=1", "TOPIC_ALREADY_EXISTS"),
        ("name=bad%2Fname&partitions=1", "INVALID_TOPIC_EXCEPTION"),
        ("name=fine&partitions=0", "INVALID_PARTITIONS"),
        ("name=fine&partitions=1&replication_factor=3", "INVALID_REPLICATION_FACTOR"),
        ("name=fine&partitions=1&configs=no.such.config%3D1", "INVALID_CONFIG"),
        ("name=fine&partitions=many", "INVALID_REQUEST"),
        ("name=%3Cscript%3E&partitions=1", "INVALID_TOPIC_EXCEPTION"),
    ]:
        response = await post(console, "/topics", body)
        page = text(response)
        assert response.status == 200 and f'<b class="error-name">{error}</b>' in page, body
        assert "<script>" not in page


async def test_delete_a_topic(caplog):
    core = filled_core()
    console = console_for(core)
    with caplog.at_level(logging.INFO, logger="kwire.admin"):
        response = await post(console, "/topics/orders/delete", "")
    assert response.status == 303 and dict(response.headers)["location"] == "/topics?deleted=orders"
    assert core.cluster.get("orders") is None
    assert any(
        "DeleteTopics from the web console" in r.message and "orders: deleted" in r.message for r in caplog.records
    )
    assert "UNKNOWN_TOPIC_OR_PARTITION" in text(await post(console, "/topics/orders/delete", ""))
    core.cluster.internal_topic("__consumer_offsets")
    assert "INVALID_TOPIC_EXCEPTION" in text(await post(console, "/topics/__consumer_offsets/delete", ""))


async def test_posts_from_another_site_are_refused():
    core = filled_core()
    console = console_for(core)
    for origin in ["http://evil.example", "null", None, "http://127.0.0.1:9999"]:
        response = await post(console, "/topics", "name=sneaky&partitions=1", origin=origin)
        assert response.status == 403, origin
        assert (await post(console, "/topics/orders/delete", "", origin=origin)).status == 403
    assert core.cluster.get("sneaky") is None and core.cluster.get("orders") is not None
