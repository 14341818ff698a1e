"""ACLs: what they are (AclBinding), how CreateAcls checks a new one, how
DescribeAcls / DeleteAcls filters select them (Kafka's AclBindingFilter),
the node's set of them (Acls, kept in the metadata log), and the
authorizer that decides requests from them with the semantics of Kafka's
StandardAuthorizer.

Pure: no I/O. Acls writes through the callback it is given
(MetadataLog.write_acls or the controller's) and is reloaded when a
cluster's controller publishes a change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import attrs

from kwire.errors import StartupError
from kwire.security.resources import (
    CLUSTER_NAME,
    WILDCARD,
    AclOperation,
    PatternType,
    PermissionType,
    ResourceType,
)

# A literal ACL with this principal applies to every principal.
WILDCARD_PRINCIPAL = "User:*"
# authorizer.class.name values that turn kwire's authorizer on (Kafka's own class names).
AUTHORIZER_CLASS_NAMES = frozenset(
    {
        "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "kafka.security.authorizer.AclAuthorizer",
        "kafka.security.auth.SimpleAclAuthorizer",
    }
)
# An ALLOW of one of these operations also allows DESCRIBE (DESCRIBE_CONFIGS).
_IMPLIES_DESCRIBE = frozenset(
    {AclOperation.DESCRIBE, AclOperation.READ, AclOperation.WRITE, AclOperation.DELETE, AclOperation.ALTER}
)
_IMPLIES_DESCRIBE_CONFIGS = frozenset({AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS})
# Decisions remembered between ACL changes; past this many the cache starts over.
_CACHE_LIMIT = 100_000

_E = TypeVar("_E", ResourceType, AclOperation, PatternType, PermissionType)


def from_code(kind: type[_E], code: int) -> _E:
    """The enum member of a wire code; UNKNOWN for a code Kafka does not know."""
    try:
        return kind(code)
    except ValueError:
        return kind(0)  # every one of these enums has UNKNOWN = 0


@attrs.frozen
class AclBinding:
    """One ACL: a resource pattern and an access control entry."""

    resource_type: ResourceType
    name: str
    pattern_type: PatternType
    principal: str  # "User:alice", or "User:*" for everyone
    host: str  # an IP address, or "*" for any host
    operation: AclOperation
    permission: PermissionType

    def describe(self) -> str:
        """As Kafka prints an AclBinding (the admin log's lines)."""
        return (
            f"(pattern=ResourcePattern(resourceType={self.resource_type.name}, name={self.name}, "
            f"patternType={self.pattern_type.name}), entry=(principal={self.principal}, host={self.host}, "
            f"operation={self.operation.name}, permissionType={self.permission.name}))"
        )


@attrs.frozen
class AclBindingFilter:
    """What DescribeAcls and DeleteAcls select by: None and the ANY codes
    match anything; pattern type MATCH selects every ACL that would apply
    to the named resource (its literal, the wildcard and prefixes of it)."""

    resource_type: ResourceType = ResourceType.ANY
    name: str | None = None
    pattern_type: PatternType = PatternType.ANY
    principal: str | None = None
    host: str | None = None
    operation: AclOperation = AclOperation.ANY
    permission: PermissionType = PermissionType.ANY

    @property
    def has_unknown(self) -> bool:
        """A field whose code Kafka does not know (the request cannot be parsed)."""
        return 0 in (self.resource_type, self.pattern_type, self.operation, self.permission)

    def matches(self, acl: AclBinding) -> bool:
        return self._matches_pattern(acl) and self._matches_entry(acl)

    def _matches_pattern(self, acl: AclBinding) -> bool:
        if self.resource_type != ResourceType.ANY and self.resource_type != acl.resource_type:
            return False
        loose = self.pattern_type in (PatternType.ANY, PatternType.MATCH)
        if not loose and self.pattern_type != acl.pattern_type:
            return False
        if self.name is None:
            return True
        if self.pattern_type in (PatternType.ANY, acl.pattern_type):
            return self.name == acl.name
        # MATCH: the ACLs that apply to a resource of this name.
        if acl.pattern_type == PatternType.LITERAL:
            return self.name == acl.name or acl.name == WILDCARD
        return self.name.startswith(acl.name)

    def _matches_entry(self, acl: AclBinding) -> bool:
        return (
            (self.principal is None or self.principal == acl.principal)
            and (self.host is None or self.host == acl.host)
            and (self.operation == AclOperation.ANY or self.operation == acl.operation)
            and (self.permission == PermissionType.ANY or self.permission == acl.permission)
        )


def principal_error(principal: str) -> str | None:
    """Why `principal` is not "type:name" (None when it is)."""
    if ":" in principal:
        return None
    return (
        f"Could not parse principal from `{principal}` "
        "(no colon is present separating the principal type from the principal name)"
    )


def creation_error(acl: AclBinding) -> str | None:
    """Why CreateAcls refuses `acl` (INVALID_REQUEST), in the order the
    broker and then the controller check; None: it may be created."""
    if acl.resource_type == ResourceType.CLUSTER and acl.name != CLUSTER_NAME:
        return f"The only valid name for the CLUSTER resource is {CLUSTER_NAME}"
    if not acl.name:
        return "Invalid empty resource name"
    if acl.resource_type in (ResourceType.UNKNOWN, ResourceType.ANY):
        return f"Invalid resourceType {acl.resource_type.name}"
    if acl.pattern_type not in (PatternType.LITERAL, PatternType.PREFIXED):
        return f"Invalid patternType {acl.pattern_type.name}"
    if acl.operation in (AclOperation.UNKNOWN, AclOperation.ANY):
        return f"Invalid operation {acl.operation.name}"
    if acl.permission not in (PermissionType.ALLOW, PermissionType.DENY):
        return f"Invalid permissionType {acl.permission.name}"
    return principal_error(acl.principal)


class Acls:
    """Every ACL of the cluster, as the metadata log has them. `version`
    moves on every change, so whoever derives something from them (the
    authorizer's index) knows when to start over."""

    def __init__(self, stored: Iterable[AclBinding], write: Callable[[dict[AclBinding, bool]], None]) -> None:
        self.bindings: set[AclBinding] = set(stored)
        self._write = write  # MetadataLog.write_acls / Controller.write_acls: {acl: present}, one batch
        self.version = 0

    def create(self, acls: Iterable[AclBinding]) -> list[AclBinding]:
        """Add the (valid) ACLs; those already present stay as they are
        (creating one twice succeeds, as in Kafka). The ones added."""
        added = list(dict.fromkeys(acl for acl in acls if acl not in self.bindings))
        if added:
            self._write(dict.fromkeys(added, True))
            self.bindings.update(added)
            self.version += 1
        return added

    def matching(self, acl_filter: AclBindingFilter) -> list[AclBinding]:
        return sorted((acl for acl in self.bindings if acl_filter.matches(acl)), key=_order)

    def delete(self, filters: Iterable[AclBindingFilter]) -> list[list[AclBinding]]:
        """Remove every ACL some filter matches, all in one write; each
        filter's matches (an ACL two filters match is listed under both)."""
        matched = [self.matching(acl_filter) for acl_filter in filters]
        gone = {acl: False for each in matched for acl in each}
        if gone:
            self._write(gone)
            self.bindings.difference_update(gone)
            self.version += 1
        return matched

    def reload(self, stored: Iterable[AclBinding]) -> None:
        """The ACLs as the controller's metadata now has them."""
        fresh = set(stored)
        if fresh != self.bindings:
            self.bindings = fresh
            self.version += 1


def _order(acl: AclBinding) -> tuple[int, str, int, str, str, int, int]:
    return (
        acl.resource_type,
        acl.name,
        acl.pattern_type,
        acl.principal,
        acl.host,
        acl.operation,
        acl.permission,
    )


@attrs.define
class _TypeIndex:
    """One resource type's ACLs: literal and prefixed ones by name, so the
    ACLs of a resource are a few dict lookups (one per prefix length in use)."""

    literal: dict[str, list[AclBinding]] = attrs.field(factory=dict)
    prefixed: dict[str, list[AclBinding]] = attrs.field(factory=dict)
    prefix_lengths: set[int] = attrs.field(factory=set)

    def add(self, acl: AclBinding) -> None:
        if acl.pattern_type == PatternType.PREFIXED:
            self.prefixed.setdefault(acl.name, []).append(acl)
            self.prefix_lengths.add(len(acl.name))
        else:
            self.literal.setdefault(acl.name, []).append(acl)

    def applying_to(self, name: str) -> list[AclBinding]:
        found = list(self.literal.get(name, ()))
        if name != WILDCARD:
            found.extend(self.literal.get(WILDCARD, ()))
        for length in self.prefix_lengths:
            if length <= len(name):
                found.extend(self.prefixed.get(name[:length], ()))
        return found


def parse_super_users(text: str) -> frozenset[str]:
    """super.users: principals separated by semicolons (StartupError on one without a type)."""
    users = frozenset(part.strip() for part in text.split(";") if part.strip())
    for user in users:
        if principal_error(user) is not None:
            raise StartupError(f"super.users: {user!r} is not a principal (expected type:name, as User:alice)")
    return users


class AclAuthorizer:
    """Decides from the ACLs as Kafka's StandardAuthorizer does:
    super users may do anything; otherwise among the ACLs on the resource
    (its literal name, the `*` wildcard, prefixes of it) whose principal
    (or User:*) and host (or *) match, a DENY of the operation (or ALL)
    wins over any ALLOW; an ALLOW of READ, WRITE, DELETE or ALTER also
    allows DESCRIBE, of ALTER_CONFIGS also DESCRIBE_CONFIGS, of ALL
    everything; no ACL at all on the resource leaves it to
    `allow.everyone.if.no.acl.found`."""

    def __init__(self, acls: Acls, super_users: Iterable[str] = (), allow_if_no_acl: bool = False) -> None:
        self.acls = acls
        self.super_users = frozenset(super_users)
        self.allow_if_no_acl = allow_if_no_acl
        self._version = -1  # the Acls version the index and cache were built from
        self._index: dict[ResourceType, _TypeIndex] = {}
        self._cache: dict[tuple[str, str, AclOperation, ResourceType, str], bool] = {}

    def authorize(
        self, principal: str, host: str, operation: AclOperation, resource_type: ResourceType, name: str
    ) -> bool:
        if principal in self.super_users:
            return True
        if self._version != self.acls.version:
            self._rebuild()
        key = (principal, host, operation, resource_type, name)
        decision = self._cache.get(key)
        if decision is None:
            decision = self._decide(principal, host, operation, resource_type, name)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = decision
        return decision

    def authorize_by_resource_type(
        self, principal: str, host: str, operation: AclOperation, resource_type: ResourceType
    ) -> bool:
        """Whether the principal may do `operation` on SOME resource of the
        type (Kafka's authorizeByResourceType: an idempotent producer needs
        WRITE on any topic). Allowed when a made-up name would be (super
        users, allow.everyone.if.no.acl.found), or an ALLOW (of the operation
        or ALL) exists that no DENY covers: a literal one denied neither by
        the same literal nor by a prefix of it, a prefixed one no shorter
        prefix denies. A DENY on `*` refuses outright."""
        if self.authorize(principal, host, operation, resource_type, "kwire-by-resource-type"):
            return True
        allowed: dict[PatternType, set[str]] = {PatternType.LITERAL: set(), PatternType.PREFIXED: set()}
        denied: dict[PatternType, set[str]] = {PatternType.LITERAL: set(), PatternType.PREFIXED: set()}
        for acl in self.acls.bindings:
            if acl.resource_type != resource_type or acl.operation not in (operation, AclOperation.ALL):
                continue
            if acl.principal not in (principal, WILDCARD_PRINCIPAL) or acl.host not in (host, WILDCARD):
                continue
            if acl.pattern_type not in allowed:
                continue
            if acl.permission == PermissionType.DENY:
                if acl.pattern_type == PatternType.LITERAL and acl.name == WILDCARD:
                    return False
                denied[acl.pattern_type].add(acl.name)
            elif acl.permission == PermissionType.ALLOW:
                if acl.pattern_type == PatternType.LITERAL and acl.name == WILDCARD:
                    return True
                allowed[acl.pattern_type].add(acl.name)
        for pattern_type, names in allowed.items():
            for name in names:
                if pattern_type == PatternType.LITERAL and name in denied[PatternType.LITERAL]:
                    continue
                if not any(name[:length] in denied[PatternType.PREFIXED] for length in range(1, len(name) + 1)):
                    return True
        return False

    def _rebuild(self) -> None:
        index: dict[ResourceType, _TypeIndex] = {}
        for acl in self.acls.bindings:
            index.setdefault(acl.resource_type, _TypeIndex()).add(acl)
        self._index = index
        self._cache = {}
        self._version = self.acls.version

    def _decide(
        self, principal: str, host: str, operation: AclOperation, resource_type: ResourceType, name: str
    ) -> bool:
        of_type = self._index.get(resource_type)
        applying = [] if of_type is None else of_type.applying_to(name)
        if not applying:
            return self.allow_if_no_acl
        allowed = False
        for acl in applying:
            if acl.principal != principal and acl.principal != WILDCARD_PRINCIPAL:
                continue
            if acl.host != WILDCARD and acl.host != host:
                continue
            if acl.permission == PermissionType.DENY:
                if acl.operation in (AclOperation.ALL, operation):
                    return False
            elif not allowed:
                allowed = _allow_covers(acl.operation, operation)
        return allowed


def _allow_covers(granted: AclOperation, asked: AclOperation) -> bool:
    if granted in (AclOperation.ALL, asked):
        return True
    if asked == AclOperation.DESCRIBE:
        return granted in _IMPLIES_DESCRIBE
    if asked == AclOperation.DESCRIBE_CONFIGS:
        return granted in _IMPLIES_DESCRIBE_CONFIGS
    return False


def authorizer_wanted(class_name: str) -> bool:
    """Whether `authorizer.class.name` turns ACL authorization on (empty:
    off, every request allowed); StartupError for a class kwire does not provide."""
    name = class_name.strip()
    if name and name not in AUTHORIZER_CLASS_NAMES:
        raise StartupError(
            f"authorizer.class.name: {name} is not an authorizer kwire provides "
            f"(use {' or '.join(sorted(AUTHORIZER_CLASS_NAMES))})"
        )
    return bool(name)


def acl_json(acl: AclBinding) -> list[object]:
    """The metadata log's form of an ACL (its record key)."""
    return [
        int(acl.resource_type),
        acl.name,
        int(acl.pattern_type),
        acl.principal,
        acl.host,
        int(acl.operation),
        int(acl.permission),
    ]


def acl_from_json(data: list[Any]) -> AclBinding:
    resource_type, name, pattern_type, principal, host, operation, permission = data
    return AclBinding(
        from_code(ResourceType, int(resource_type)),
        str(name),
        from_code(PatternType, int(pattern_type)),
        str(principal),
        str(host),
        from_code(AclOperation, int(operation)),
        from_code(PermissionType, int(permission)),
    )


def resources_of(acls: Iterable[AclBinding]) -> Mapping[tuple[ResourceType, str, PatternType], list[AclBinding]]:
    """ACLs grouped by resource pattern (DescribeAcls' shape), in a stable order."""
    grouped: dict[tuple[ResourceType, str, PatternType], list[AclBinding]] = {}
    for acl in sorted(acls, key=_order):
        grouped.setdefault((acl.resource_type, acl.name, acl.pattern_type), []).append(acl)
    return grouped
