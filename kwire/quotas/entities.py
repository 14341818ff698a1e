"""Quota entities and keys: what AlterClientQuotas accepts, which stored
entities a DescribeClientQuotas filter matches, and which entity's quota
applies to a client (Kafka's order of precedence).

An entity is a set of (type, name) components, types `user`, `client-id`
and `ip`; a null name is that type's default entity. kwire keeps it as a
tuple of (type, name) pairs sorted by type, so equal entities compare equal.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

USER, CLIENT_ID, IP = "user", "client-id", "ip"
ENTITY_TYPES = (USER, CLIENT_ID, IP)

PRODUCER_BYTE_RATE = "producer_byte_rate"
CONSUMER_BYTE_RATE = "consumer_byte_rate"
REQUEST_PERCENTAGE = "request_percentage"
CONTROLLER_MUTATION_RATE = "controller_mutation_rate"
CONNECTION_CREATION_RATE = "connection_creation_rate"

# Each key's Kafka type (QuotaConfig): integral types refuse fractions.
LONG, INT, DOUBLE = "LONG", "INT", "DOUBLE"
USER_AND_CLIENT_KEYS = {
    PRODUCER_BYTE_RATE: LONG,
    CONSUMER_BYTE_RATE: LONG,
    REQUEST_PERCENTAGE: DOUBLE,
    CONTROLLER_MUTATION_RATE: DOUBLE,
}
IP_KEYS = {CONNECTION_CREATION_RATE: INT}
_LIMITS = {LONG: (2**63 - 1, "a LONG"), INT: (2**31 - 1, "an INT")}

# The principal of every connection while kwire has no authentication.
ANONYMOUS = "ANONYMOUS"

MATCH_EXACT, MATCH_DEFAULT, MATCH_SPECIFIED = 0, 1, 2

Entity = tuple[tuple[str, str | None], ...]


class QuotaError(Exception):
    """A refused quota request: INVALID_REQUEST unless `unsupported`."""

    def __init__(self, message: str, unsupported: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.unsupported = unsupported


def entity_of(components: Mapping[str, str | None]) -> Entity:
    return tuple(sorted(components.items()))


def entity_text(entity: Entity | Mapping[str, str | None]) -> str:
    """An entity as Kafka's messages print it."""
    pairs = entity.items() if isinstance(entity, Mapping) else entity
    inner = ", ".join(f"{kind}={'null' if name is None else name}" for kind, name in pairs)
    return f"ClientQuotaEntity(entries={{{inner}}})"


# --- AlterClientQuotas ------------------------------------------------------


def validate_entity(entity: Mapping[str, str | None]) -> dict[str, str]:
    """The quota keys the entity may carry; raises QuotaError (Kafka's
    checks and messages, in Kafka's order)."""
    if not entity:
        raise QuotaError("Invalid empty client quota entity")
    for kind, name in entity.items():
        if kind not in ENTITY_TYPES:
            raise QuotaError(f"Unhandled client quota entity type: {kind}")
        if name is not None and name == "":
            raise QuotaError(f"Empty {kind} not supported")
    if IP in entity:
        if USER in entity or CLIENT_ID in entity:
            # Kafka's message, its missing space included.
            raise QuotaError("Invalid quota entity combination, IP entity shouldnot be combined with User or ClientId")
        name = entity[IP]
        if name is not None and not _is_ip(name):
            raise QuotaError(f"{name} is not a valid IP or resolvable host.")
        return IP_KEYS
    return USER_AND_CLIENT_KEYS


def _is_ip(name: str) -> bool:
    """An address literal (kwire resolves no host names: it looks nothing up)."""
    if name == "localhost":
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def ip_key(address: str) -> str:
    """An address as ip entities and peers are compared: its canonical form
    (`localhost` is 127.0.0.1; an IPv4-mapped IPv6 peer is its IPv4 address)."""
    if address == "localhost":
        return "127.0.0.1"
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(parsed)


def validate_value(keys: Mapping[str, str], key: str, value: float) -> None:
    kind = keys.get(key)
    if kind is None:
        raise QuotaError(f"Invalid configuration key {key}")
    if not value > 0.0:
        raise QuotaError(f"Quota {key} must be greater than 0")
    if kind == DOUBLE:
        return
    limit, type_name = _LIMITS[kind]
    if value > limit:
        raise QuotaError(f"Proposed value for {key} is too large for {type_name}.")
    if abs(value % 1.0) > 1e-6:
        raise QuotaError(f"{key} cannot be a fractional value.")


# --- DescribeClientQuotas ---------------------------------------------------


class Filter:
    """A DescribeClientQuotas filter: components (type, match type, match)
    and `strict` (no components beyond those named)."""

    def __init__(self, components: Iterable[tuple[str, int, str | None]], strict: bool) -> None:
        self.exact: dict[str, str | None] = {}
        self.specified: set[str] = set()
        self.strict = strict
        for kind, match_type, match in components:
            if kind == "":
                raise QuotaError("Invalid empty entity type.")
            if kind in self.exact or kind in self.specified:
                raise QuotaError(f"Entity type {kind} cannot appear more than once in the filter.")
            if kind not in ENTITY_TYPES:
                raise QuotaError(f"Unsupported entity type {kind}", unsupported=True)
            if match_type == MATCH_EXACT:
                if match is None:
                    raise QuotaError("Request specified MATCH_TYPE_EXACT, but set match string to null.")
                self.exact[kind] = match
            elif match_type == MATCH_DEFAULT:
                if match is not None:
                    raise QuotaError("Request specified MATCH_TYPE_DEFAULT, but also specified a match string.")
                self.exact[kind] = None
            elif match_type == MATCH_SPECIFIED:
                if match is not None:
                    raise QuotaError("Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.")
                self.specified.add(kind)
            else:
                raise QuotaError(f"Unknown match type {match_type}")
        named = set(self.exact) | self.specified
        if IP in named and (USER in named or CLIENT_ID in named):
            raise QuotaError(
                "Invalid entity filter component combination. IP filter component should not be used with "
                "user or clientId filter component."
            )

    def matches(self, entity: Entity) -> bool:
        components = dict(entity)
        if self.strict and len(components) != len(self.exact) + len(self.specified):
            return False
        for kind, name in self.exact.items():
            if kind not in components or components[kind] != name:
                return False
        return all(kind in components for kind in self.specified)


# --- which quota applies ----------------------------------------------------

# (user tag, client-id tag) of the sensor that counts a client's use: the
# clients sharing one quota share one count. "" stands for "all of them".
Tags = tuple[str, str]


def resolve(
    quotas: Mapping[Entity, Mapping[str, float]], key: str, user: str, client_id: str
) -> tuple[float, Tags] | None:
    """The `key` quota that applies to (user, client-id), most specific
    first as Kafka orders them, and the tags of the sensor counting it; None
    when no entity sets `key` for this client."""
    levels: tuple[tuple[Entity, Tags], ...] = (
        (entity_of({USER: user, CLIENT_ID: client_id}), (user, client_id)),
        (entity_of({USER: user, CLIENT_ID: None}), (user, client_id)),
        (entity_of({USER: user}), (user, "")),
        (entity_of({USER: None, CLIENT_ID: client_id}), (user, client_id)),
        (entity_of({USER: None, CLIENT_ID: None}), (user, client_id)),
        (entity_of({USER: None}), (user, "")),
        (entity_of({CLIENT_ID: client_id}), ("", client_id)),
        (entity_of({CLIENT_ID: None}), ("", client_id)),
    )
    for entity, tags in levels:
        values = quotas.get(entity)
        if values is not None and key in values:
            return values[key], tags
    return None
