import pytest

from kwire.quotas.entities import (
    IP_KEYS,
    MATCH_DEFAULT,
    MATCH_EXACT,
    MATCH_SPECIFIED,
    USER_AND_CLIENT_KEYS,
    Filter,
    QuotaError,
    entity_of,
    entity_text,
    resolve,
    validate_entity,
    validate_value,
)

KEY = "producer_byte_rate"


def quotas(*entries):
    return {entity_of(components): {KEY: value} for components, value in entries}


@pytest.mark.parametrize(
    "entries, expected",
    [
        # most specific first: user+client, user+default client, user, default user+client, ...
        (
            [({"user": "ANONYMOUS", "client-id": "app"}, 1), ({"user": "ANONYMOUS", "client-id": None}, 2)],
            (1, ("ANONYMOUS", "app")),
        ),
        ([({"user": "ANONYMOUS", "client-id": None}, 2), ({"user": "ANONYMOUS"}, 3)], (2, ("ANONYMOUS", "app"))),
        ([({"user": "ANONYMOUS"}, 3), ({"user": None, "client-id": "app"}, 4)], (3, ("ANONYMOUS", ""))),
        ([({"user": None, "client-id": "app"}, 4), ({"user": None, "client-id": None}, 5)], (4, ("ANONYMOUS", "app"))),
        ([({"user": None, "client-id": None}, 5), ({"user": None}, 6)], (5, ("ANONYMOUS", "app"))),
        ([({"user": None}, 6), ({"client-id": "app"}, 7)], (6, ("ANONYMOUS", ""))),
        ([({"client-id": "app"}, 7), ({"client-id": None}, 8)], (7, ("", "app"))),
        ([({"client-id": None}, 8), ({"client-id": "other"}, 9)], (8, ("", "app"))),
        ([({"client-id": "other"}, 9), ({"user": "alice"}, 10)], None),
    ],
)
def test_the_most_specific_quota_applies(entries, expected):
    assert resolve(quotas(*entries), KEY, "ANONYMOUS", "app") == expected


def test_each_key_resolves_on_its_own():
    stored = {
        entity_of({"client-id": "app"}): {"consumer_byte_rate": 5.0},
        entity_of({"client-id": None}): {KEY: 7.0},
    }
    assert resolve(stored, KEY, "ANONYMOUS", "app") == (7.0, ("", "app"))


def test_entity_validation():
    assert validate_entity({"client-id": "a"}) == USER_AND_CLIENT_KEYS
    assert validate_entity({"ip": "::1"}) == IP_KEYS
    assert validate_entity({"ip": None}) == IP_KEYS
    with pytest.raises(QuotaError, match="Invalid quota entity combination"):
        validate_entity({"ip": None, "client-id": None})
    with pytest.raises(QuotaError, match="Empty user not supported"):
        validate_entity({"user": ""})


def test_value_validation():
    validate_value(USER_AND_CLIENT_KEYS, "request_percentage", 0.5)
    validate_value(USER_AND_CLIENT_KEYS, KEY, 2.0**40)
    with pytest.raises(QuotaError, match="too large for a LONG"):
        validate_value(USER_AND_CLIENT_KEYS, KEY, 1e30)
    with pytest.raises(QuotaError, match="must be greater than 0"):
        validate_value(USER_AND_CLIENT_KEYS, "request_percentage", -1)


def test_filters():
    both = entity_of({"user": "u", "client-id": "c"})
    client = entity_of({"client-id": "c"})
    default_client = entity_of({"client-id": None})
    exact = Filter([("client-id", MATCH_EXACT, "c")], strict=False)
    assert exact.matches(both) and exact.matches(client) and not exact.matches(default_client)
    assert not Filter([("client-id", MATCH_EXACT, "c")], strict=True).matches(both)
    assert Filter([("client-id", MATCH_DEFAULT, None)], strict=False).matches(default_client)
    specified = Filter([("client-id", MATCH_SPECIFIED, None), ("user", MATCH_SPECIFIED, None)], strict=True)
    assert specified.matches(both) and not specified.matches(client)
    assert Filter([], strict=False).matches(both)
    assert not Filter([], strict=True).matches(both)


def test_entity_text_is_kafkas():
    assert entity_text({"user": None, "client-id": "a"}) == "ClientQuotaEntity(entries={user=null, client-id=a})"
