"""DescribeClientQuotas and AlterClientQuotas, in process."""

import logging

import pytest

from kwire.protocol.errors import ErrorCode
from tests.core_client import CoreClient, make_core

DESCRIBE, ALTER = 48, 49
EXACT, DEFAULT, SPECIFIED = 0, 1, 2


def entity(**components):
    return [dict(entity_type=kind.replace("_", "-"), entity_name=name) for kind, name in components.items()]


def alter(client, *entries, validate_only=False, version=1):
    """entries: (entity list, {key: value or None (remove)})"""
    request = dict(
        entries=[
            dict(
                entity=ent,
                ops=[dict(key=k, value=0.0 if v is None else float(v), remove=v is None) for k, v in ops.items()],
            )
            for ent, ops in entries
        ],
        validate_only=validate_only,
    )
    return client.call(ALTER, version, request).entries


def describe(client, *components, strict=False, version=1):
    request = dict(
        components=[dict(entity_type=t, match_type=m, match=name) for t, m, name in components], strict=strict
    )
    return client.call(DESCRIBE, version, request)


def described(client, *components, strict=False):
    response = describe(client, *components, strict=strict)
    assert response.error_code == ErrorCode.none, response.error_message
    return {
        tuple(sorted((e.entity_type, e.entity_name) for e in entry.entity)): {v.key: v.value for v in entry.values}
        for entry in response.entries
    }


@pytest.mark.parametrize("version", [0, 1])
def test_set_describe_and_remove(client, version, caplog):
    caplog.set_level(logging.INFO, logger="kwire.admin")
    (result,) = alter(client, (entity(client_id="app"), {"producer_byte_rate": 1024}), version=version)
    assert result.error_code == ErrorCode.none and result.error_message is None
    assert [(e.entity_type, e.entity_name) for e in result.entity] == [("client-id", "app")]
    assert "changed client quotas of ClientQuotaEntity(entries={client-id=app})" in caplog.text
    assert "producer_byte_rate=1024.0" in caplog.text
    assert described(client) == {(("client-id", "app"),): {"producer_byte_rate": 1024.0}}
    alter(client, (entity(client_id="app"), {"consumer_byte_rate": 2048, "producer_byte_rate": None}))
    assert described(client) == {(("client-id", "app"),): {"consumer_byte_rate": 2048.0}}
    alter(client, (entity(client_id="app"), {"consumer_byte_rate": None}))
    assert described(client) == {}


def test_defaults_and_filters(client):
    alter(
        client,
        (entity(client_id=None), {"producer_byte_rate": 100}),
        (entity(user="alice", client_id="app"), {"request_percentage": 12.5}),
        (entity(user=None), {"controller_mutation_rate": 3.5}),
        (entity(ip="127.0.0.1"), {"connection_creation_rate": 10}),
        (entity(ip=None), {"connection_creation_rate": 20}),
    )
    assert set(described(client)) == {
        (("client-id", None),),
        (("client-id", "app"), ("user", "alice")),
        (("user", None),),
        (("ip", "127.0.0.1"),),
        (("ip", None),),
    }
    assert set(described(client, ("client-id", DEFAULT, None))) == {(("client-id", None),)}
    assert set(described(client, ("client-id", SPECIFIED, None))) == {
        (("client-id", None),),
        (("client-id", "app"), ("user", "alice")),
    }
    assert set(described(client, ("client-id", SPECIFIED, None), strict=True)) == {(("client-id", None),)}
    assert set(described(client, ("user", EXACT, "alice"))) == {(("client-id", "app"), ("user", "alice"))}
    assert described(client, ("user", EXACT, "alice"), strict=True) == {}
    assert set(described(client, ("ip", SPECIFIED, None))) == {(("ip", "127.0.0.1"),), (("ip", None),)}
    assert set(described(client, ("ip", DEFAULT, None))) == {(("ip", None),)}


@pytest.mark.parametrize(
    "components, code, message",
    [
        ([("", EXACT, "x")], ErrorCode.invalid_request, "Invalid empty entity type."),
        ([("topic", EXACT, "x")], ErrorCode.unsupported_version, "Unsupported entity type topic"),
        (
            [("user", EXACT, "a"), ("user", SPECIFIED, None)],
            ErrorCode.invalid_request,
            "Entity type user cannot appear more than once in the filter.",
        ),
        (
            [("user", EXACT, None)],
            ErrorCode.invalid_request,
            "Request specified MATCH_TYPE_EXACT, but set match string to null.",
        ),
        (
            [("user", DEFAULT, "a")],
            ErrorCode.invalid_request,
            "Request specified MATCH_TYPE_DEFAULT, but also specified a match string.",
        ),
        (
            [("user", SPECIFIED, "a")],
            ErrorCode.invalid_request,
            "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.",
        ),
        ([("user", 7, None)], ErrorCode.invalid_request, "Unknown match type 7"),
        (
            [("ip", SPECIFIED, None), ("client-id", SPECIFIED, None)],
            ErrorCode.invalid_request,
            "Invalid entity filter component combination. IP filter component should not be used with "
            "user or clientId filter component.",
        ),
    ],
)
def test_describe_refuses_bad_filters(client, components, code, message):
    response = describe(client, *components)
    assert (response.error_code, response.error_message) == (code, message)


@pytest.mark.parametrize(
    "ent, ops, message",
    [
        (entity(user="a", ip="1.2.3.4"), {"producer_byte_rate": 1}, "IP entity shouldnot be combined"),
        (entity(topic="t"), {"producer_byte_rate": 1}, "Unhandled client quota entity type: topic"),
        ([], {"producer_byte_rate": 1}, "Invalid empty client quota entity"),
        (entity(client_id=""), {"producer_byte_rate": 1}, "Empty client-id not supported"),
        (entity(client_id="a"), {"bogus": 1}, "Invalid configuration key bogus"),
        (entity(client_id="a"), {"connection_creation_rate": 1}, "Invalid configuration key connection_creation_rate"),
        (entity(ip="1.2.3.4"), {"producer_byte_rate": 1}, "Invalid configuration key producer_byte_rate"),
        (entity(ip="no such host"), {"connection_creation_rate": 1}, "no such host is not a valid IP"),
        (entity(client_id="a"), {"producer_byte_rate": 0}, "Quota producer_byte_rate must be greater than 0"),
        (entity(client_id="a"), {"producer_byte_rate": 1.5}, "producer_byte_rate cannot be a fractional value."),
        (entity(ip=None), {"connection_creation_rate": 2.0**31}, "is too large for an INT."),
    ],
)
def test_alter_refuses_what_kafka_refuses(client, ent, ops, message):
    (result,) = alter(client, (ent, ops))
    assert result.error_code == ErrorCode.invalid_request
    assert message in result.error_message
    assert described(client) == {}


def test_each_entry_answers_for_itself_and_validate_only_changes_nothing(client):
    good, bad = entity(client_id="good"), entity(client_id="bad")
    results = alter(client, (good, {"request_percentage": 50}), (bad, {"nope": 1}), validate_only=True)
    assert [r.error_code for r in results] == [ErrorCode.none, ErrorCode.invalid_request]
    assert described(client) == {}
    results = alter(client, (good, {"request_percentage": 50}), (bad, {"nope": 1}))
    assert [r.error_code for r in results] == [ErrorCode.none, ErrorCode.invalid_request]
    assert described(client) == {(("client-id", "good"),): {"request_percentage": 50.0}}


def test_an_entity_named_twice_is_refused_once(client):
    results = alter(
        client, (entity(client_id="a"), {"producer_byte_rate": 1}), (entity(client_id="a"), {"producer_byte_rate": 2})
    )
    assert len(results) == 1
    assert results[0].error_code == ErrorCode.invalid_request
    assert results[0].error_message == "Ignoring duplicate entity ClientQuotaEntity(entries={client-id=a})"


def test_quotas_survive_a_restart(tmp_path):
    core = make_core(tmp_path)
    client = CoreClient(core)
    alter(
        client,
        (entity(client_id=None), {"producer_byte_rate": 100}),
        (entity(user=None, client_id="x"), {"consumer_byte_rate": 200}),
        (entity(client_id="gone"), {"producer_byte_rate": 1}),
    )
    alter(client, (entity(client_id="gone"), {"producer_byte_rate": None}))
    core.close()
    core = make_core(tmp_path)
    try:
        assert described(CoreClient(core)) == {
            (("client-id", None),): {"producer_byte_rate": 100.0},
            (("client-id", "x"), ("user", None)): {"consumer_byte_rate": 200.0},
        }
    finally:
        core.close()
