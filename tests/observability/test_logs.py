"""Log lines as text (the classic layout plus key=value fields) and as JSON."""

import json
import logging
import shlex

import pytest

from kwire.observability.logs import FIELDS, JsonFormatter, TextFormatter, log_event, text_fields, text_value


def record(message="something happened", *args, level=logging.INFO, fields=None, exc_info=None):
    made = logging.LogRecord("kwire.test", level, __file__, 1, message, args, exc_info)
    if fields is not None:
        setattr(made, FIELDS, fields)
    made.created = 1_700_000_000.25  # 2023-11-14T22:13:20.250Z
    return made


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("plain", "plain"),
        ("two words", '"two words"'),
        ("", '""'),
        ('say "hi"', '"say \\"hi\\""'),
        ("a=b", '"a=b"'),
        ("line\nbreak", '"line\\nbreak"'),
        (None, "null"),
        (True, "true"),
        (7, "7"),
        (1.5, "1.5"),
        (2.0, "2"),
        (0.12345, "0.123"),
        (["a", "b"], "a,b"),
        ({"MESSAGE_TOO_LARGE": 1}, "MESSAGE_TOO_LARGE:1"),
        ("User:alice", "User:alice"),
    ],
)
def test_text_values_are_bare_words_or_quoted(value, shown):
    assert text_value(value) == shown


def test_a_text_line_splits_back_into_its_fields():
    fields = {"api": "Produce", "reason": 'The "batch" is 5070 bytes', "client_id": "my app", "empty": ""}
    parsed = dict(item.split("=", 1) for item in shlex.split(text_fields(fields)))
    assert parsed == fields


def test_text_is_the_classic_layout_followed_by_the_fields():
    line = TextFormatter().format(record(fields={"topic": "orders", "reason": "too big"}))
    assert line.endswith(' INFO kwire.test: something happened topic=orders reason="too big"')
    assert TextFormatter().format(record("%d apples", 3)).endswith(" INFO kwire.test: 3 apples")


def test_a_traceback_follows_the_fields_on_lines_of_its_own():
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        line = TextFormatter().format(record(fields={"a": 1}, exc_info=sys.exc_info()))
    first, *rest = line.splitlines()
    assert first.endswith("something happened a=1")
    assert rest[-1] == "ValueError: boom"


def test_json_is_one_object_per_line_with_the_fields():
    line = JsonFormatter().format(record("%s: done", "CreateTopics", fields={"topics": ("a", "b"), "ms": 1.23456}))
    assert "\n" not in line
    assert json.loads(line) == {
        "ts": "2023-11-14T22:13:20.250Z",
        "level": "INFO",
        "logger": "kwire.test",
        "message": "CreateTopics: done",
        "topics": ["a", "b"],
        "ms": 1.235,
    }


def test_json_keeps_its_own_members_and_carries_a_traceback():
    try:
        raise KeyError("k")
    except KeyError:
        import sys

        line = JsonFormatter().format(
            record("m\nx", fields={"level": "forged", "x": object()}, exc_info=sys.exc_info())
        )
    parsed = json.loads(line)
    assert parsed["level"] == "INFO" and parsed["message"] == "m\nx"
    assert parsed["x"].startswith("<object object")
    assert "KeyError: 'k'" in parsed["exception"]


def test_log_event_puts_the_fields_on_the_record_and_builds_nothing_when_off(caplog):
    logger = logging.getLogger("kwire.test.events")
    with caplog.at_level(logging.INFO, logger="kwire.test.events"):
        log_event(logger, logging.INFO, "100% done", topic="t")
        log_event(logger, logging.DEBUG, "hidden", topic="t")
    (made,) = caplog.records
    assert made.getMessage() == "100% done"
    assert getattr(made, FIELDS) == {"topic": "t"}
