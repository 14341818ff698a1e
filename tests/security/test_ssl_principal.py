import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from kwire.config import ConfigError
from kwire.errors import StartupError
from kwire.security.ssl_principal import (
    PrincipalMappingError,
    distinguished_name,
    map_name,
    parse_rules,
    principal_of,
    validate_rules,
)

# Kafka's SslPrincipalMapper cases (its unit test and the security docs).
KAFKA_RULES = ", ".join(
    [
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L",
        "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L",
        "RULE:^cn=(.*?),ou=(.*?),dc=(.*?),dc=(.*?)$/$1@$2/U",
        "RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U",
        "DEFAULT",
    ]
)


@pytest.mark.parametrize(
    ("name", "mapped"),
    [
        ("CN=Duke,OU=ServiceUsers,O=Org,C=US", "duke"),
        ("CN=Duke,OU=SME,O=mycp,L=Fulton,ST=MD,C=US", "duke@sme"),
        ("cn=duke,ou=sme,dc=mycp,dc=com", "DUKE@SME"),
        ("cN=duke,OU=JavaSoft,O=Sun Microsystems", "DUKE"),
        ("OU=JavaSoft,O=Sun Microsystems,C=US", "OU=JavaSoft,O=Sun Microsystems,C=US"),
    ],
)
def test_kafkas_mapping_table(name, mapped):
    assert map_name(name, KAFKA_RULES) == mapped


def test_a_comma_escaped_in_the_name():
    assert map_name(r"CN=Tkac\, Adam,OU=ITZ,DC=geodis,DC=cz", r"RULE:^CN=((\\, *|\w)+)(,.*|$)/$1/,DEFAULT") == (
        r"Tkac\, Adam"
    )


def test_the_first_matching_rule_wins_and_no_match_is_an_error():
    rules = "RULE:^CN=(.*?),O=a$/first-$1/, RULE:^CN=(.*?),.*$/second-$1/"
    assert map_name("CN=x,O=a", rules) == "first-x"
    assert map_name("CN=x,O=b", rules) == "second-x"
    with pytest.raises(PrincipalMappingError, match="No rules apply to OU=y"):
        map_name("OU=y", rules)


def test_replacements_as_java_reads_them():
    assert map_name("CN=ab", r"RULE:^CN=(a)(b)$/$2$1\$1$12/") == "ba$1a2"  # $12 with two groups: $1 then "2"
    assert map_name("CN=ab", "RULE:^CN=(a)(b)$/$3-$2/") == "$3-b"  # Kafka keeps a missing group as text
    assert map_name("CN=ab", "RULE:^CN=(?<first>a)b$/${first}!/") == "a!"
    assert map_name("CN=a", "RULE:^CN=(a)|(z)$/[$2]/") == "[]"  # a group that took no part is empty


@pytest.mark.parametrize(
    ("rules", "problem"),
    [("RULE:^CN=(.*)$/$/", "group index is missing"), ("RULE:^CN=.*$/$1/", "No group 1")],
)
def test_a_replacement_java_refuses_fails_when_used_as_in_kafka(rules, problem):
    validate_rules(rules)  # Kafka checks only the rules' syntax and patterns at start
    with pytest.raises(PrincipalMappingError, match=problem):
        map_name("CN=a", rules)
    with pytest.raises(PrincipalMappingError, match="No rules apply"):
        map_name("OU=a", rules)  # a rule whose pattern does not match never uses its replacement


@pytest.mark.parametrize(
    "rules",
    [
        "DEFAULT",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L, DEFAULT",
        "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/",
        "RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L",
        "RULE:^cn=(.?),ou=(.?),dc=(.?),dc=(.?)$/$1@$2/U",
        "RULE:^CN=([^,ADEFLTU,]+)(,.*|$)/$1/",
        "RULE:^CN=([^,DEFAULT,]+)(,.*|$)/$1/",
        "",
    ],
)
def test_valid_rules(rules):
    validate_rules(rules)


@pytest.mark.parametrize(
    "rules",
    [
        "default",
        "DEFAUL",
        "DEFAULT/L",
        "DEFAULT/U",
        "RULE:CN=(.*?),OU=ServiceUsers.*/$1",
        "rule:^CN=(.*?),OU=ServiceUsers.*$/$1/",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L/U",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/L",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/U",
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/LU",
        "RULE:^CN=(.*$/$1/",  # not a regular expression
        "DEFAULT, RULE:^CN=.*$/x\\/",
    ],
)
def test_invalid_rules_are_one_line_config_errors(rules):
    with pytest.raises(ConfigError) as caught:
        validate_rules(rules, "listener.name.ssl.ssl.principal.mapping.rules")
    assert isinstance(caught.value, StartupError)
    assert "\n" not in str(caught.value) and "listener.name.ssl.ssl.principal.mapping.rules" in str(caught.value)


@pytest.mark.parametrize(
    ("rules", "shown"),
    [
        ("", "[]"),
        ("DEFAULT", "[DEFAULT]"),
        ("RULE://", "[RULE:/]"),
        ("RULE:/.*/", "[RULE:/.*]"),
        ("RULE:/.*/L", "[RULE:/.*/L]"),
        ("RULE://,DEFAULT", "[RULE:/, DEFAULT]"),
        ("  RULE:// ,  DEFAULT  ", "[RULE:/, DEFAULT]"),
        ("  RULE:   /     / ,  DEFAULT  ", "[RULE:   /     , DEFAULT]"),
        ("  RULE:  /     /U   ,DEFAULT  ", "[RULE:  /     /U, DEFAULT]"),
        ("  RULE:([A-Z]*)/$1/U   ,RULE:([a-z]+)/$1/,   DEFAULT  ", "[RULE:([A-Z]*)/$1/U, RULE:([a-z]+)/$1, DEFAULT]"),
        (",   , , ,      , , ,   ", "[]"),
        (",,RULE://,,,DEFAULT,,", "[RULE:/, DEFAULT]"),
        (",  , RULE: /   /    ,,,   DEFAULT, ,   ", "[RULE: /   , DEFAULT]"),
        ("     ,  , RULE:   /  /U    ,,  ,DEFAULT, ,", "[RULE:   /  /U, DEFAULT]"),
        (r"RULE:\/\\\(\)\n\t/\/\//", r"[RULE:\/\\\(\)\n\t/\/\/]"),
        (r"RULE:\**\/+/*/L,RULE:\/*\**/**/", r"[RULE:\**\/+/*/L, RULE:\/*\**/**]"),
        (
            r"RULE:,RULE:,/,RULE:,\//U,RULE:,/RULE:,/,RULE:,RULE:,/L,RULE:,/L,RULE:, DEFAULT, /DEFAULT/,DEFAULT",
            r"[RULE:,RULE:,/,RULE:,\//U, RULE:,/RULE:,, RULE:,RULE:,/L,RULE:,/L, RULE:, DEFAULT, /DEFAULT, DEFAULT]",
        ),
    ],
)
def test_rules_are_split_as_kafka_splits_them(rules, shown):
    assert "[" + ", ".join(str(rule) for rule in parse_rules(rules)) + "]" == shown


def certificate_for(subject: x509.Name) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


def as_peercert(certificate: x509.Certificate) -> dict:
    """What ssl's getpeercert() gives for the certificate (its private decoder)."""
    import ssl
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".pem") as file:
        file.write(certificate.public_bytes(serialization.Encoding.PEM))
        file.flush()
        return ssl._ssl._test_decode_cert(file.name)


def attribute(oid, value, kind=None):
    return x509.NameAttribute(oid, value, kind) if kind else x509.NameAttribute(oid, value)


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        (
            [
                (NameOID.COUNTRY_NAME, "US"),
                (NameOID.ORGANIZATION_NAME, "kwire"),
                (NameOID.ORGANIZATIONAL_UNIT_NAME, "eng"),
                (NameOID.COMMON_NAME, "client"),
            ],
            "CN=client,OU=eng,O=kwire,C=US",
        ),
        ([(NameOID.COMMON_NAME, 'a,b=c+d<e>f#g;h"i\\j')], r"CN=a\,b\=c\+d\<e\>f\#g\;h\"i\\j"),
        ([(NameOID.COMMON_NAME, "  two spaces  ")], r"CN=\ \ two spaces\ \ "),
        ([(NameOID.COMMON_NAME, "Jürgen Ωmega")], "CN=Jürgen Ωmega"),
        (
            [(NameOID.DOMAIN_COMPONENT, "com"), (NameOID.DOMAIN_COMPONENT, "example"), (NameOID.USER_ID, "u1")],
            "UID=u1,DC=example,DC=com",
        ),
        (
            [
                (NameOID.STATE_OR_PROVINCE_NAME, "MD"),
                (NameOID.LOCALITY_NAME, "Fulton"),
                (NameOID.STREET_ADDRESS, "1 Main St"),
            ],
            "STREET=1 Main St,L=Fulton,ST=MD",
        ),
        # Types without an RFC 2253 keyword: dotted OID and the DER value in hex.
        ([(NameOID.COMMON_NAME, "c"), (NameOID.EMAIL_ADDRESS, "a@b.c")], "1.2.840.113549.1.9.1=#16056140622e63,CN=c"),
        ([(NameOID.SERIAL_NUMBER, "42"), (NameOID.COMMON_NAME, "c")], "CN=c,2.5.4.5=#13023432"),
    ],
)
def test_subjects_are_written_as_java_writes_them(attributes, expected):
    certificate = certificate_for(x509.Name([attribute(*item) for item in attributes]))
    assert distinguished_name(certificate.public_bytes(serialization.Encoding.DER)) == expected
    assert distinguished_name(as_peercert(certificate)) == expected


def test_a_multi_valued_rdn_is_joined_with_plus():
    subject = x509.Name(
        [
            x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kwire")]),
            x509.RelativeDistinguishedName(
                [x509.NameAttribute(NameOID.COMMON_NAME, "x"), x509.NameAttribute(NameOID.USER_ID, "y")]
            ),
        ]
    )
    certificate = certificate_for(subject)
    from_der = distinguished_name(certificate.public_bytes(serialization.Encoding.DER))
    assert from_der in ("CN=x+UID=y,O=kwire", "UID=y+CN=x,O=kwire")
    assert distinguished_name(as_peercert(certificate)) == from_der


def test_a_value_of_a_type_java_does_not_write_as_text_is_hex():
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ab", _ASN1Type.UniversalString)])
    der = certificate_for(name).public_bytes(serialization.Encoding.DER)
    assert distinguished_name(der) == "2.5.4.3=#1c080000006100000062"


def test_principal_of():
    certificate = certificate_for(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alice")]))
    der = certificate.public_bytes(serialization.Encoding.DER)
    assert principal_of(der, "DEFAULT") == "User:CN=alice"
    assert principal_of(as_peercert(certificate), "RULE:^CN=(.*)$/$1/U,DEFAULT") == "User:ALICE"
    assert principal_of(None, "DEFAULT") == "User:ANONYMOUS"
    assert principal_of({}, "DEFAULT") == "User:ANONYMOUS"
    assert principal_of(b"", "DEFAULT") == "User:ANONYMOUS"
    with pytest.raises(PrincipalMappingError):
        principal_of(der, "RULE:^OU=(.*)$/$1/")


@pytest.mark.parametrize("junk", [b"\x30\x03\x02\x01\x01", b"not der at all", bytes(range(256))])
def test_a_damaged_certificate_is_a_clean_error(junk):
    with pytest.raises(PrincipalMappingError):
        principal_of(junk, "DEFAULT")
