import json
import subprocess
import sys

import pytest

from kwire.config import BrokerConfig, ConfigError
from kwire.security.sasl import SUPPORTED_MECHANISMS, enabled_mechanisms, new_server, sasl_settings
from tests.security.sasl.tokens import SigningKey

PLAIN_JAAS = 'org.apache.kafka.common.security.plain.PlainLoginModule required username="a" password="b" user_alice="s1" user_bob="s2";'


def build(config, listener="SASL_PLAINTEXT"):
    return sasl_settings(config, listener, lambda user, mechanism: None, lambda: 0)


def test_plain_users_from_the_broker_wide_jaas_config():
    assert dict(build(BrokerConfig(sasl_jaas_config=PLAIN_JAAS)).plain_users) == {"alice": "s1", "bob": "s2"}


def test_listener_and_mechanism_override_wins():
    config = BrokerConfig(
        sasl_jaas_config=PLAIN_JAAS,
        listener_overrides={
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": 'org.apache.kafka.common.security.plain.PlainLoginModule required user_carol="s3";'
        },
    )
    assert dict(build(config).plain_users) == {"carol": "s3"}
    assert dict(build(config, "OTHER").plain_users) == {"alice": "s1", "bob": "s2"}


def test_only_plain_login_module_entries_give_users():
    config = BrokerConfig(
        sasl_jaas_config='org.apache.kafka.common.security.scram.ScramLoginModule required user_x="y";'
    )
    assert dict(build(config).plain_users) == {}


def test_no_jaas_config_means_no_plain_users():
    settings = build(BrokerConfig())
    assert dict(settings.plain_users) == {}
    with pytest.raises(Exception, match="Invalid username or password"):
        new_server("PLAIN", settings).respond(b"\0alice\0s1")


def test_malformed_jaas_config_is_one_line_naming_the_setting():
    config = BrokerConfig(
        listener_overrides={"listener.name.sasl_plaintext.plain.sasl.jaas.config": 'X required p="secret'}
    )
    with pytest.raises(ConfigError) as error:
        build(config)
    message = str(error.value)
    assert "listener.name.sasl_plaintext.plain.sasl.jaas.config" in message
    assert "secret" not in message and "\n" not in message


def test_jaas_config_with_two_login_modules_is_refused_as_kafka_does():
    with pytest.raises(ConfigError, match="contains 2 login modules, should be 1 module"):
        build(BrokerConfig(sasl_jaas_config=PLAIN_JAAS + " Other required;"))


def test_oauth_settings_from_config_and_jaas_options():
    config = BrokerConfig(
        sasl_oauthbearer_sub_claim_name="client_id",
        sasl_oauthbearer_expected_audience="kafka, other",
        sasl_oauthbearer_expected_issuer="https://idp",
        sasl_oauthbearer_clock_skew_seconds=5,
        listener_overrides={
            "listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config": (
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required "
                'unsecuredValidatorScopeClaimName="scp" unsecuredValidatorRequiredScope="read write" '
                'unsecuredValidatorAllowableClockSkewMs="2500";'
            )
        },
    )
    oauth = build(config).oauth
    assert oauth.principal_claim == "client_id"
    assert oauth.scope_claim == "scp"
    assert oauth.required_scope == ("read", "write")
    assert oauth.unsecured_skew_ms == 2500
    assert oauth.clock_skew_s == 5
    assert oauth.expected_issuer == "https://idp"
    assert oauth.expected_audience == ("kafka", "other")
    assert oauth.jwks is None
    jaas_principal = BrokerConfig(
        sasl_jaas_config='M required unsecuredValidatorPrincipalClaimName="appid";', sasl_oauthbearer_sub_claim_name="x"
    )
    assert build(jaas_principal).oauth.principal_claim == "appid"


def test_bad_skew_option_is_a_config_error():
    with pytest.raises(ConfigError, match="unsecuredValidatorAllowableClockSkewMs"):
        build(BrokerConfig(sasl_jaas_config='M required unsecuredValidatorAllowableClockSkewMs="-1";'))


def test_jwks_from_file_url_and_path(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": [SigningKey("ES256", "k1").jwk()]}))
    for url in (path.as_uri(), str(path)):
        [key] = build(BrokerConfig(sasl_oauthbearer_jwks_endpoint_url=url)).oauth.jwks
        assert (key.kid, key.kty, key.crv) == ("k1", "EC", "P-256")


@pytest.mark.parametrize(
    ("content", "url", "expected"),
    [
        (None, "https://idp.example/jwks", "files only"),
        (None, "http://idp.example/jwks", "files only"),
        (None, "{missing}", "cannot read"),
        ("not json", "{path}", "not JSON"),
        ('{"no": "keys"}', "{path}", '"keys"'),
        ('{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}', "{path}", "no RSA or EC"),
        ('{"keys": [{"kty": "RSA", "n": "AQAB"}]}', "{path}", "key 1 is invalid"),
        ('{"keys": [{"kty": "EC", "crv": "P-192", "x": "AA", "y": "AA"}]}', "{path}", "key 1 is invalid"),
        ('{"keys": [7]}', "{path}", "key 1 is not a JSON object"),
    ],
)
def test_unusable_jwks_is_a_config_error(tmp_path, content, url, expected):
    path = tmp_path / "keys.json"
    if content is not None:
        path.write_text(content)
    url = url.format(path=path, missing=tmp_path / "absent.json")
    with pytest.raises(ConfigError) as error:
        build(BrokerConfig(sasl_oauthbearer_jwks_endpoint_url=url))
    message = str(error.value)
    assert expected in message and "sasl.oauthbearer.jwks.endpoint.url" in message and "\n" not in message


def test_settings_of_disabled_mechanisms_are_not_read(tmp_path):
    config = BrokerConfig(
        sasl_enabled_mechanisms="SCRAM-SHA-256",
        sasl_jaas_config="not a jaas config",
        sasl_oauthbearer_jwks_endpoint_url=str(tmp_path / "absent.json"),
    )
    settings = build(config)
    assert dict(settings.plain_users) == {} and settings.oauth.jwks is None


def test_enabled_mechanisms_default_and_override():
    assert enabled_mechanisms(BrokerConfig(), "SASL_SSL") == list(SUPPORTED_MECHANISMS)
    config = BrokerConfig(listener_overrides={"listener.name.sasl_ssl.sasl.enabled.mechanisms": "SCRAM-SHA-512, PLAIN"})
    assert enabled_mechanisms(config, "SASL_SSL") == ["SCRAM-SHA-512", "PLAIN"]


def test_mechanisms_kwire_lacks_are_named():
    with pytest.raises(ConfigError) as error:
        enabled_mechanisms(BrokerConfig(sasl_enabled_mechanisms="PLAIN,GSSAPI,AWS_MSK_IAM"), "SASL_PLAINTEXT")
    message = str(error.value)
    assert "GSSAPI, AWS_MSK_IAM" in message and "sasl.enabled.mechanisms" in message and "\n" not in message


def test_new_server_refuses_unknown_mechanism():
    with pytest.raises(ValueError):
        new_server("GSSAPI", build(BrokerConfig()))


def test_settings_without_jwks_do_not_load_cryptography():
    # Start-up time: cryptography is only needed to check signed tokens.
    code = (
        "import sys; from kwire.config import BrokerConfig; from kwire.security.sasl import sasl_settings;"
        "sasl_settings(BrokerConfig(), 'SASL_PLAINTEXT', lambda user, mechanism: None, lambda: 0);"
        "sys.exit('cryptography' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
