"""The dispatcher's generic search for the error codes of kio responses."""

from kio.schema.create_topics.v7 import response as create_topics
from kio.schema.metadata.v12 import response as metadata

from kwire.observability import response_errors
from kwire.observability.request_events import RequestEvent
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode
from tests.handlers import requests as rq
from tests.observability.watched import WatchedClient, metered_core


def new_event() -> RequestEvent:
    return RequestEvent("PLAINTEXT", "127.0.0.1:1")


def topic_result(name: str, error: ErrorCode) -> create_topics.CreatableTopicResult:
    return create_topics.CreatableTopicResult(
        name=name,
        topic_id=None,
        error_code=error,
        error_message=None,
        topic_config_error_code=ErrorCode.none,
        num_partitions=-1,
        replication_factor=-1,
        configs=None,
    )


def test_nested_error_codes_are_counted_and_none_is_not():
    answer = create_topics.CreateTopicsResponse(
        throttle_time=__import__("datetime").timedelta(0),
        topics=(
            topic_result("a", ErrorCode.topic_already_exists),
            topic_result("b", ErrorCode.none),
            topic_result("c", ErrorCode.topic_already_exists),
            topic_result("d", ErrorCode.invalid_replication_factor),
        ),
    )
    event = new_event()
    response_errors.note_response_errors(event, answer)
    assert event.errors == {ErrorCode.topic_already_exists: 2, ErrorCode.invalid_replication_factor: 1}


def test_what_is_not_a_kio_entity_is_left_alone():
    event = new_event()
    for value in (b"bytes", [b"parts"], None, metadata.MetadataResponse):
        response_errors.note_response_errors(event, value)
    assert event.errors == {}


def test_the_search_is_bounded(monkeypatch):
    monkeypatch.setattr(response_errors, "MAX_ENTRIES", 3)
    answer = create_topics.CreateTopicsResponse(
        throttle_time=__import__("datetime").timedelta(0),
        topics=tuple(topic_result(str(i), ErrorCode.topic_already_exists) for i in range(10)),
    )
    event = new_event()
    response_errors.note_response_errors(event, answer)
    assert event.errors == {ErrorCode.topic_already_exists: 2}  # the response, then two entries


def test_the_dispatcher_fills_the_event_of_a_request_whose_handler_noted_nothing():
    core = metered_core()
    client = WatchedClient(core)
    client.call(ApiKey.CREATE_TOPICS, 7, rq.create("t"))
    assert client.events[-1].errors == {}
    client.call(ApiKey.CREATE_TOPICS, 7, rq.create("t"))
    assert client.events[-1].errors == {ErrorCode.topic_already_exists: 1}
    core.close()
