"""What the SASL mechanisms of one listener need, read from the broker
config once at start-up (Kafka's names, with `listener.name.<l>.<mech>.`
overrides resolved by BrokerConfig.listener_setting)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs

from kwire.config import BrokerConfig, ConfigError
from kwire.security.credentials import ScramCredential
from kwire.security.sasl.jaas import JaasEntry, JaasSyntaxError, parse_jaas
from kwire.security.sasl.jwks import JwksError, load_jwks
from kwire.security.sasl.oauthbearer import OAuthSettings

SUPPORTED_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")
_PLAIN_USER_PREFIX = "user_"


@attrs.frozen
class SaslSettings:
    plain_users: Mapping[str, str]  # PLAIN: user name -> password (PlainLoginModule's user_<name> options)
    scram_lookup: Callable[[str, str], ScramCredential | None]  # (user name, mechanism) -> stored credential
    wall_clock_ms: Callable[[], int]
    oauth: OAuthSettings


def enabled_mechanisms(config: BrokerConfig, listener: str) -> list[str]:
    """`sasl.enabled.mechanisms` of a listener; ConfigError naming any mechanism kwire lacks."""
    raw = config.listener_setting(listener, "sasl.enabled.mechanisms") or ""
    mechanisms = [name.strip() for name in raw.split(",") if name.strip()]
    missing = [name for name in mechanisms if name not in SUPPORTED_MECHANISMS]
    if missing:
        raise ConfigError(
            f"Invalid value {raw} for configuration {_setting_name(config, listener, 'sasl.enabled.mechanisms')}: "
            f"kwire does not support SASL mechanism {', '.join(missing)} (it has {', '.join(SUPPORTED_MECHANISMS)})"
        )
    return mechanisms


def sasl_settings(
    config: BrokerConfig,
    listener: str,
    scram_lookup: Callable[[str, str], ScramCredential | None],
    wall_clock_ms: Callable[[], int],
) -> SaslSettings:
    """Everything the listener's enabled mechanisms need (only those are read, as Kafka
    configures only those); ConfigError (one line) on a bad JAAS config or JWKS file."""
    enabled = enabled_mechanisms(config, listener)
    plain_entries = _jaas(config, listener, "PLAIN") if "PLAIN" in enabled else []
    plain_users = {
        name[len(_PLAIN_USER_PREFIX) :]: password
        for entry in plain_entries
        if entry.module_simple_name == "PlainLoginModule"
        for name, password in entry.options.items()
        if name.startswith(_PLAIN_USER_PREFIX)
    }
    oauth = _oauth_settings(config, listener) if "OAUTHBEARER" in enabled else OAuthSettings()
    return SaslSettings(plain_users, scram_lookup, wall_clock_ms, oauth)


def _oauth_settings(config: BrokerConfig, listener: str) -> OAuthSettings:
    mechanism = "OAUTHBEARER"
    options: dict[str, str] = {}
    for entry in _jaas(config, listener, mechanism):
        options.update(entry.options)

    def setting(name: str) -> str | None:
        return config.listener_setting(listener, name, mechanism)

    def option(name: str) -> str | None:
        value = options.get(name, "").strip()
        return value or None

    skew_text = option("unsecuredValidatorAllowableClockSkewMs") or "0"
    if not skew_text.isdigit():
        raise ConfigError(
            f"Invalid value {skew_text} for option unsecuredValidatorAllowableClockSkewMs of configuration "
            f"{_setting_name(config, listener, 'sasl.jaas.config', mechanism)}: must be a non-negative integer"
        )
    clock_skew = setting("sasl.oauthbearer.clock.skew.seconds") or "30"
    if not clock_skew.isdigit():
        raise ConfigError(
            f"Invalid value {clock_skew} for configuration "
            f"{_setting_name(config, listener, 'sasl.oauthbearer.clock.skew.seconds', mechanism)}: must be a non-negative integer"
        )
    jwks = None
    url = setting("sasl.oauthbearer.jwks.endpoint.url")
    if url and url != "null":
        try:
            jwks = load_jwks(url)
        except JwksError as problem:
            name = _setting_name(config, listener, "sasl.oauthbearer.jwks.endpoint.url", mechanism)
            raise ConfigError(f"Invalid value {url} for configuration {name}: {problem}") from None
    issuer = setting("sasl.oauthbearer.expected.issuer")
    audience = setting("sasl.oauthbearer.expected.audience") or ""
    return OAuthSettings(
        principal_claim=option("unsecuredValidatorPrincipalClaimName")
        or (setting("sasl.oauthbearer.sub.claim.name") or "sub").strip(),
        scope_claim=option("unsecuredValidatorScopeClaimName")
        or (setting("sasl.oauthbearer.scope.claim.name") or "scope").strip(),
        required_scope=tuple((option("unsecuredValidatorRequiredScope") or "").split()),
        unsecured_skew_ms=int(skew_text),
        clock_skew_s=int(clock_skew),
        expected_issuer=None if issuer in (None, "null") else issuer,
        expected_audience=tuple(item.strip() for item in audience.split(",") if item.strip()),
        jwks=jwks,
    )


def _jaas(config: BrokerConfig, listener: str, mechanism: str) -> list[JaasEntry]:
    text = config.listener_setting(listener, "sasl.jaas.config", mechanism)
    if text is None or text == "null" or not text.strip():
        return []
    name = _setting_name(config, listener, "sasl.jaas.config", mechanism)
    try:
        entries = parse_jaas(text)
    except JaasSyntaxError as problem:
        raise ConfigError(f"Invalid value [hidden] for configuration {name}: {problem}") from None
    if len(entries) != 1:  # Kafka's rule for a broker's JAAS config property
        raise ConfigError(
            f"Invalid value [hidden] for configuration {name}: JAAS config property contains {len(entries)} login modules, should be 1 module"
        )
    return entries


def _setting_name(config: BrokerConfig, listener: str, kafka_name: str, mechanism: str | None = None) -> str:
    """The key a listener's value came from (the most specific given), for error messages."""
    prefix = f"listener.name.{listener.lower()}."
    candidates = [prefix + f"{mechanism.lower()}." + kafka_name] if mechanism else []
    candidates.append(prefix + kafka_name)
    return next((key for key in candidates if key in config.listener_overrides), kafka_name)
