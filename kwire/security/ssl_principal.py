"""The principal of a TLS client: its certificate's subject written as Java's
X500Principal.getName() writes it (RFC 2253), then mapped by
`ssl.principal.mapping.rules` as Kafka's SslPrincipalMapper maps it.

Rules are `RULE:pattern/replacement/[LU]` or `DEFAULT`, comma-separated; the
first rule whose pattern matches the whole name gives the user name. Patterns
are Java regular expressions and replacements use Java's `$1` / `\\$` syntax;
both are translated to Python's here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from kwire.config import ConfigError
from kwire.security import ANONYMOUS

# Attribute types X500Principal names with a keyword in RFC 2253 form; every
# other type is written as its dotted OID and the value's DER bytes in hex.
_KEYWORDS_BY_OID = {
    "2.5.4.3": "CN",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.9": "STREET",
    "0.9.2342.19200300.100.1.25": "DC",
    "0.9.2342.19200300.100.1.1": "UID",
}
# getpeercert()'s attribute names (OpenSSL's long names) -> (OID, DER string tag
# the value most likely had), for the dict form, which drops the ASN.1 type.
_UTF8, _PRINTABLE, _IA5 = 0x0C, 0x13, 0x16
_OPENSSL_NAMES = {
    "commonName": ("2.5.4.3", _UTF8),
    "countryName": ("2.5.4.6", _PRINTABLE),
    "localityName": ("2.5.4.7", _UTF8),
    "stateOrProvinceName": ("2.5.4.8", _UTF8),
    "organizationName": ("2.5.4.10", _UTF8),
    "organizationalUnitName": ("2.5.4.11", _UTF8),
    "streetAddress": ("2.5.4.9", _UTF8),
    "domainComponent": ("0.9.2342.19200300.100.1.25", _IA5),
    "userId": ("0.9.2342.19200300.100.1.1", _UTF8),
    "emailAddress": ("1.2.840.113549.1.9.1", _IA5),
    "serialNumber": ("2.5.4.5", _PRINTABLE),
    "title": ("2.5.4.12", _UTF8),
    "surname": ("2.5.4.4", _UTF8),
    "givenName": ("2.5.4.42", _UTF8),
    "initials": ("2.5.4.43", _UTF8),
    "generationQualifier": ("2.5.4.44", _UTF8),
    "dnQualifier": ("2.5.4.46", _PRINTABLE),
    "pseudonym": ("2.5.4.65", _UTF8),
    "businessCategory": ("2.5.4.15", _UTF8),
    "postalCode": ("2.5.4.17", _UTF8),
    "jurisdictionCountryName": ("1.3.6.1.4.1.311.60.2.1.3", _PRINTABLE),
}
# DER string types Java writes as text; any other (UniversalString, ...) goes as hex.
_TEXT_TAGS = {0x13: "ascii", 0x14: "latin-1", 0x16: "ascii", 0x1B: "latin-1", 0x1E: "utf-16-be", 0x0C: "utf-8"}
_ESCAPED = set(',=+<>#;"\\')


class PrincipalMappingError(Exception):
    """No mapping rule matched the client's name (Kafka fails the
    authentication then); str(error) is one line."""


# --- the subject's distinguished name --------------------------------------


def distinguished_name(certificate: dict[str, Any] | bytes) -> str:
    """The certificate's subject as X500Principal.getName() gives it; takes
    getpeercert()'s dict, or the DER bytes (getpeercert(binary_form=True)),
    which keep each value's ASN.1 type and so are exact for every attribute."""
    if isinstance(certificate, bytes | bytearray):
        rdns = _rdns_from_der(bytes(certificate))
    else:
        # The dict drops each value's ASN.1 type: assume the usual one per attribute.
        rdns = [
            [(*_OPENSSL_NAMES.get(name, (name, _UTF8)), value) for name, value in rdn]
            for rdn in certificate.get("subject", ())
        ]
    return ",".join("+".join(_ava(oid, tag, value) for oid, tag, value in rdn) for rdn in reversed(rdns))


def _rdns_from_der(der: bytes) -> list[list[tuple[str, int, str | bytes]]]:
    from cryptography import x509

    try:
        subject = x509.load_der_x509_certificate(der).subject
    except ValueError as error:
        raise PrincipalMappingError(f"the client certificate cannot be read: {error}") from None
    rdns = []
    for rdn in subject.rdns:
        avas: list[tuple[str, int, str | bytes]] = []
        for attribute in rdn:
            kind = getattr(attribute, "_type", None)  # the ASN.1 string type (private in cryptography)
            tag = int(getattr(kind, "value", _UTF8))
            avas.append((attribute.oid.dotted_string, tag, attribute.value))
        rdns.append(avas)
    return rdns


def _ava(oid: str, tag: int, value: str | bytes) -> str:
    keyword = _KEYWORDS_BY_OID.get(oid)
    if keyword is None or tag not in _TEXT_TAGS or isinstance(value, bytes):
        return f"{oid}=#{_der_value(tag, value).hex()}"
    return f"{keyword}={_escape(value)}"


def _der_value(tag: int, value: str | bytes) -> bytes:
    if isinstance(value, bytes):
        body = value
    elif tag == 0x1C:  # UniversalString
        body = value.encode("utf-32-be")
    else:
        body = value.encode(_TEXT_TAGS.get(tag, "utf-8"), "replace")
    size = len(body)
    length = (
        bytes([size])
        if size < 0x80
        else bytes([0x80 | ((size.bit_length() + 7) // 8)]) + size.to_bytes((size.bit_length() + 7) // 8, "big")
    )
    return bytes([tag]) + length + body


def _escape(value: str) -> str:
    """A value as X500Principal writes it: a backslash before , = + < > # ; " \\
    anywhere and before leading or trailing spaces (and carriage returns), NUL as \\00."""
    out = []
    for char in value:
        if char in _ESCAPED:
            out.append("\\" + char)
        elif char == "\0":
            out.append("\\00")
        else:
            out.append(char)
    text = out
    lead = 0
    while lead < len(text) and text[lead] in (" ", "\r"):
        lead += 1
    trail = len(text) - 1
    while trail >= lead and text[trail] in (" ", "\r"):
        trail -= 1
    return "".join("\\" + piece if index < lead or index > trail else piece for index, piece in enumerate(text))


# --- mapping rules ------------------------------------------------------------

# One rule: DEFAULT, RULE:pattern/replacement/ with an optional L or U, or
# anything else (taken lazily, so a malformed rule is caught by the full-length check).
_RULE = (
    r"(?P<default>DEFAULT)"
    r"|RULE:(?P<pattern>(?:\\.|[^\\/])*)/(?P<replacement>(?:\\.|[^\\/])*)/(?P<case>[LU]?).*?"
    r"|(?P<other>.*?)"
)
_RULE_ITEM = re.compile(r"\s*(?P<item>" + _RULE + r")\s*(?:,\s*|$)")
_RULE_ALONE = re.compile(_RULE)


class _Rule:
    def __init__(self, pattern: str | None = None, replacement: str = "", case: str = "") -> None:
        self.source = pattern
        self.replacement = replacement
        self.case = case
        self.pattern = None if pattern is None else re.compile(_python_regex(pattern))

    def __str__(self) -> str:
        if self.source is None:
            return "DEFAULT"
        return f"RULE:{self.source}/{self.replacement}" + (f"/{self.case}" if self.case else "")

    def apply(self, name: str) -> str | None:
        if self.pattern is None:
            return name
        if self.pattern.fullmatch(name) is None:
            return None
        expand = _replacement(self.replacement, self.pattern.groups, self.pattern.groupindex)
        result = self.pattern.sub(expand, name)
        return result.lower() if self.case == "L" else result.upper() if self.case == "U" else result


def _split(rules: str) -> list[str]:
    return [match.group("item") for match in _RULE_ITEM.finditer(rules.strip())]


@lru_cache(maxsize=32)
def parse_rules(rules: str, label: str = "ssl.principal.mapping.rules") -> tuple[_Rule, ...]:
    """The rules in order; ConfigError (one line, naming `label`) for a bad one."""
    parsed = []
    for item in _split(rules):
        match = _RULE_ALONE.match(item)
        if match is None or match.end() != len(item):
            raise ConfigError(f"Invalid value {rules} for configuration {label}: invalid rule {item!r}")
        if match.group("default") is not None:
            parsed.append(_Rule())
        elif match.group("pattern") is not None:
            try:
                parsed.append(_Rule(match.group("pattern"), match.group("replacement"), match.group("case")))
            except re.error as error:
                raise ConfigError(
                    f"Invalid value {rules} for configuration {label}: bad pattern in rule {item!r}: {error}"
                ) from None
        # an empty item is skipped, as Kafka skips it
    return tuple(parsed)


def validate_rules(rules: str, label: str = "ssl.principal.mapping.rules") -> None:
    """Raise ConfigError (one line) if Kafka would refuse these mapping rules."""
    parse_rules(rules, label)


def map_name(distinguished: str, rules: str) -> str:
    """The user name the first matching rule gives; PrincipalMappingError if none does."""
    parsed = parse_rules(rules)
    for rule in parsed:
        try:
            name = rule.apply(distinguished)
        except _ReplacementError as error:
            raise PrincipalMappingError(f"rule {rule} cannot map {distinguished}: {error}") from None
        if name is not None:
            return name
    raise PrincipalMappingError(f"No rules apply to {distinguished}, rules [{', '.join(map(str, parsed))}]")


def principal_of(certificate: dict[str, Any] | bytes | None, rules: str = "DEFAULT") -> str:
    """ "User:<name>" for a TLS peer certificate (getpeercert()'s dict or DER
    bytes) mapped by `rules`; "User:ANONYMOUS" when the client sent none.
    Raises PrincipalMappingError when no rule matches (close the connection)."""
    if not certificate:
        return ANONYMOUS
    if isinstance(certificate, dict) and not certificate.get("subject"):
        return ANONYMOUS  # getpeercert() of an unverified peer is {}
    return "User:" + map_name(distinguished_name(certificate), rules)


# --- Java regular expressions and replacements --------------------------------

_NAMED_GROUP = re.compile(r"(?<!\\)\(\?<(?=[A-Za-z])")


def _python_regex(java: str) -> str:
    # Java's named groups (?<name>...) are (?P<name>...) in Python; the rest of
    # the syntax rules use (classes, quantifiers, anchors) is the same.
    return _NAMED_GROUP.sub("(?P<", java)


class _ReplacementError(Exception):
    pass


def _literal_invalid_references(replacement: str, groups: int) -> str:
    # Kafka turns a $n naming a group the pattern does not have into the text
    # "$n" (after trying shorter prefixes of n), unless the pattern has no groups.
    if groups == 0:
        return replacement
    out, index = [], 0
    for match in re.finditer(r"\$(\d+)", replacement):
        number = match.group(1)
        if number.startswith("0"):
            continue
        reference = int(number)
        while reference > groups and reference >= 10:
            reference //= 10
        if reference > groups:
            out.append(replacement[index : match.start()] + "\\")
            index = match.start()
    out.append(replacement[index:])
    return "".join(out)


def _replacement(
    replacement: str, groups: int, names: Sequence[tuple[str, int]] | Any
) -> Callable[[re.Match[str] | None], str]:
    """A re.sub function giving what Java's Matcher.replaceAll gives for
    `replacement`: $n (the longest n naming a group), ${name}, \\x for a literal x."""
    text = _literal_invalid_references(replacement, groups)
    pieces: list[str | int] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            if index + 1 >= len(text):
                raise _ReplacementError("character to be escaped is missing")
            pieces.append(text[index + 1])
            index += 2
        elif char == "$":
            index += 1
            if index >= len(text):
                raise _ReplacementError("Illegal group reference: group index is missing")
            if text[index] == "{":
                end = text.find("}", index)
                name = text[index + 1 : end] if end > 0 else ""
                if end < 0 or not name or name not in dict(names):
                    raise _ReplacementError(f"No group with name {{{name}}}")
                pieces.append(dict(names)[name])
                index = end + 1
                continue
            if not text[index].isdigit():
                raise _ReplacementError("Illegal group reference")
            reference = int(text[index])
            if reference > groups:
                raise _ReplacementError(f"No group {reference}")
            index += 1
            while index < len(text) and text[index].isdigit() and reference * 10 + int(text[index]) <= groups:
                reference = reference * 10 + int(text[index])
                index += 1
            pieces.append(reference)
        else:
            pieces.append(char)
            index += 1

    def expand(match: re.Match[str] | None) -> str:
        if match is None:
            return ""
        return "".join(piece if isinstance(piece, str) else match.group(piece) or "" for piece in pieces)

    return expand
