import pytest

from kwire.security.sasl.jaas import JaasEntry, JaasSyntaxError, parse_jaas


def test_kafka_style_plain_entry():
    text = (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        'username="admin" password="admin-secret" user_admin="admin-secret" user_alice=alice-secret;'
    )
    [entry] = parse_jaas(text)
    assert entry.module == "org.apache.kafka.common.security.plain.PlainLoginModule"
    assert entry.module_simple_name == "PlainLoginModule"
    assert entry.flag == "required"
    assert entry.options == {
        "username": "admin",
        "password": "admin-secret",
        "user_admin": "admin-secret",
        "user_alice": "alice-secret",
    }


def test_quoted_values_keep_spaces_and_escapes():
    [entry] = parse_jaas('M optional a="x y;z=" b="q\\"uote\\\\" c="";')
    assert entry.options == {"a": "x y;z=", "b": 'q"uote\\', "c": ""}


def test_several_entries_and_whitespace():
    entries = parse_jaas("\n  A Required k=v;\n\tB sufficient ;  ")
    assert entries == [JaasEntry("A", "required", {"k": "v"}), JaasEntry("B", "sufficient", {})]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "Module required k=v",  # no ';'
        "Module k=v;",  # no flag
        "Module always k=v;",  # unknown flag
        "Module required k;",
        "Module required k=;",
        "Module required =v;",
        'Module required k="open;',
        'Module required k="x\\',
        ";",
    ],
)
def test_malformed_texts(text):
    with pytest.raises(JaasSyntaxError) as error:
        parse_jaas(text)
    assert "\n" not in str(error.value)


def test_errors_do_not_quote_the_text():
    with pytest.raises(JaasSyntaxError) as error:
        parse_jaas('Module required password="hunter2')
    assert "hunter2" not in str(error.value)
