"""ACL matching, filters and validation (kwire/security/acls.py)."""

import pytest

from kwire.errors import StartupError
from kwire.security.acls import (
    AclAuthorizer,
    AclBinding,
    AclBindingFilter,
    Acls,
    acl_from_json,
    acl_json,
    authorizer_wanted,
    creation_error,
    from_code,
    parse_super_users,
)
from kwire.security.resources import AclOperation as Op
from kwire.security.resources import PatternType as Pattern
from kwire.security.resources import PermissionType as Perm
from kwire.security.resources import ResourceType as Res

ALICE, BOB = "User:alice", "User:bob"
HOST, OTHER_HOST = "10.0.0.1", "10.0.0.2"


def acl(
    name="orders",
    operation=Op.READ,
    permission=Perm.ALLOW,
    principal=ALICE,
    host="*",
    pattern=Pattern.LITERAL,
    resource=Res.TOPIC,
):
    return AclBinding(resource, name, pattern, principal, host, operation, permission)


class Recorder:
    def __init__(self):
        self.writes = []

    def __call__(self, changes):
        self.writes.append(dict(changes))


def authorizer(*bindings, super_users=(), allow_if_no_acl=False):
    return AclAuthorizer(Acls(bindings, Recorder()), super_users, allow_if_no_acl)


def allowed(auth, operation=Op.READ, name="orders", principal=ALICE, host=HOST, resource=Res.TOPIC):
    return auth.authorize(principal, host, operation, resource, name)


# --- matching ----------------------------------------------------------------

MATCHING = [
    # (the ACL, the request: operation, resource name, principal, host, allowed?)
    (acl(), (Op.READ, "orders", ALICE, HOST), True),
    (acl(), (Op.READ, "orders", BOB, HOST), False),
    (acl(), (Op.READ, "orders2", ALICE, HOST), False),
    (acl(), (Op.WRITE, "orders", ALICE, HOST), False),
    (acl(host=HOST), (Op.READ, "orders", ALICE, HOST), True),
    (acl(host=HOST), (Op.READ, "orders", ALICE, OTHER_HOST), False),
    (acl(principal="User:*"), (Op.READ, "orders", BOB, HOST), True),
    (acl(name="*"), (Op.READ, "anything", ALICE, HOST), True),
    (acl(name="ord", pattern=Pattern.PREFIXED), (Op.READ, "orders", ALICE, HOST), True),
    (acl(name="ord", pattern=Pattern.PREFIXED), (Op.READ, "ord", ALICE, HOST), True),
    (acl(name="ord", pattern=Pattern.PREFIXED), (Op.READ, "or", ALICE, HOST), False),
    (acl(name="ord", pattern=Pattern.LITERAL), (Op.READ, "orders", ALICE, HOST), False),
    # A literal "*" only as a prefix pattern means the name starts with "*".
    (acl(name="*", pattern=Pattern.PREFIXED), (Op.READ, "orders", ALICE, HOST), False),
    (acl(operation=Op.ALL), (Op.ALTER_CONFIGS, "orders", ALICE, HOST), True),
    # Implied operations.
    (acl(operation=Op.READ), (Op.DESCRIBE, "orders", ALICE, HOST), True),
    (acl(operation=Op.WRITE), (Op.DESCRIBE, "orders", ALICE, HOST), True),
    (acl(operation=Op.DELETE), (Op.DESCRIBE, "orders", ALICE, HOST), True),
    (acl(operation=Op.ALTER), (Op.DESCRIBE, "orders", ALICE, HOST), True),
    (acl(operation=Op.CREATE), (Op.DESCRIBE, "orders", ALICE, HOST), False),
    (acl(operation=Op.ALTER_CONFIGS), (Op.DESCRIBE_CONFIGS, "orders", ALICE, HOST), True),
    (acl(operation=Op.ALTER_CONFIGS), (Op.DESCRIBE, "orders", ALICE, HOST), False),
    (acl(operation=Op.DESCRIBE), (Op.READ, "orders", ALICE, HOST), False),
    (acl(operation=Op.DESCRIBE_CONFIGS), (Op.ALTER_CONFIGS, "orders", ALICE, HOST), False),
]


@pytest.mark.parametrize(("binding", "asked", "expected"), MATCHING)
def test_matching_table(binding, asked, expected):
    operation, name, principal, host = asked
    auth = authorizer(binding)
    assert allowed(auth, operation, name, principal, host) is expected


def test_resource_types_do_not_mix():
    auth = authorizer(acl(resource=Res.GROUP, name="orders"))
    assert allowed(auth, resource=Res.GROUP)
    assert not allowed(auth, resource=Res.TOPIC)
    assert not allowed(auth, resource=Res.TRANSACTIONAL_ID)


def test_deny_wins_over_allow():
    auth = authorizer(acl(operation=Op.ALL), acl(operation=Op.WRITE, permission=Perm.DENY))
    assert allowed(auth, Op.READ)
    assert not allowed(auth, Op.WRITE)
    # Deny from a wildcard or a prefix pattern wins too.
    auth = authorizer(acl(), acl(name="*", principal="User:*", permission=Perm.DENY))
    assert not allowed(auth)
    auth = authorizer(acl(), acl(name="or", pattern=Pattern.PREFIXED, permission=Perm.DENY, host=HOST))
    assert not allowed(auth)
    assert allowed(auth, host=OTHER_HOST)


def test_deny_matches_only_its_operation_or_all():
    # A DENY of READ does not deny DESCRIBE (implication is for ALLOW only).
    auth = authorizer(acl(operation=Op.ALL), acl(operation=Op.READ, permission=Perm.DENY))
    assert allowed(auth, Op.DESCRIBE)
    assert not allowed(auth, Op.READ)
    auth = authorizer(acl(operation=Op.ALL), acl(operation=Op.ALL, permission=Perm.DENY))
    assert not allowed(auth, Op.DESCRIBE)


def test_super_users_are_always_allowed():
    auth = authorizer(acl(principal="User:admin", operation=Op.ALL, permission=Perm.DENY), super_users={"User:admin"})
    assert allowed(auth, Op.ALTER, principal="User:admin")
    assert allowed(auth, Op.CLUSTER_ACTION, "kafka-cluster", "User:admin", resource=Res.CLUSTER)
    assert not allowed(auth, Op.ALTER, principal=ALICE)


def test_allow_everyone_if_no_acl_found():
    # Only when no ACL at all names the resource; an ACL for someone else counts.
    auth = authorizer(acl(principal=BOB), allow_if_no_acl=True)
    assert allowed(auth, name="payments")
    assert not allowed(auth, name="orders")
    assert not authorizer(allow_if_no_acl=False).authorize(ALICE, HOST, Op.READ, Res.TOPIC, "x")


def test_decisions_follow_changes():
    acls = Acls((), Recorder())
    auth = AclAuthorizer(acls)
    assert not allowed(auth)
    acls.create([acl()])
    assert allowed(auth)  # the cached refusal was dropped
    acls.delete([AclBindingFilter()])
    assert not allowed(auth)
    acls.reload([acl(operation=Op.ALL)])
    assert allowed(auth, Op.WRITE)


# --- filters -------------------------------------------------------------------


def test_filter_fields_match_anything_when_null_or_any():
    binding = acl(host=HOST)
    assert AclBindingFilter().matches(binding)
    assert AclBindingFilter(principal=ALICE, host=HOST, operation=Op.READ, permission=Perm.ALLOW).matches(binding)
    assert not AclBindingFilter(principal=BOB).matches(binding)
    assert not AclBindingFilter(host="*").matches(binding)
    assert not AclBindingFilter(operation=Op.WRITE).matches(binding)
    assert not AclBindingFilter(permission=Perm.DENY).matches(binding)
    assert not AclBindingFilter(resource_type=Res.GROUP).matches(binding)


def test_pattern_filters():
    literal, wildcard, prefixed = acl(), acl(name="*"), acl(name="ord", pattern=Pattern.PREFIXED)
    every = [literal, wildcard, prefixed]

    def selected(**fields):
        return [b for b in every if AclBindingFilter(**fields).matches(b)]

    assert selected(name="orders", pattern_type=Pattern.LITERAL) == [literal]
    assert selected(pattern_type=Pattern.LITERAL) == [literal, wildcard]
    assert selected(name="ord", pattern_type=Pattern.PREFIXED) == [prefixed]
    assert selected(name="orders", pattern_type=Pattern.PREFIXED) == []
    assert selected(name="orders", pattern_type=Pattern.ANY) == [literal]
    assert selected(name="ord", pattern_type=Pattern.ANY) == [prefixed]
    # MATCH: everything that applies to a resource named "orders".
    assert selected(name="orders", pattern_type=Pattern.MATCH) == every
    assert selected(name="payments", pattern_type=Pattern.MATCH) == [wildcard]
    assert selected(pattern_type=Pattern.MATCH) == every


def test_unknown_codes():
    assert from_code(Op, 99) == Op.UNKNOWN
    assert from_code(Res, -1) == Res.UNKNOWN
    assert from_code(Perm, 3) == Perm.ALLOW
    assert AclBindingFilter(operation=Op.UNKNOWN).has_unknown
    assert not AclBindingFilter().has_unknown


# --- the set of ACLs ---------------------------------------------------------------


def test_create_writes_only_new_acls_and_delete_reports_per_filter():
    write = Recorder()
    acls = Acls([acl()], write)
    assert acls.create([acl(), acl(operation=Op.WRITE), acl(operation=Op.WRITE)]) == [acl(operation=Op.WRITE)]
    assert write.writes == [{acl(operation=Op.WRITE): True}]
    assert acls.create([acl()]) == []
    assert len(write.writes) == 1
    matched = acls.delete(
        [AclBindingFilter(operation=Op.READ), AclBindingFilter(name="orders"), AclBindingFilter(name="x")]
    )
    assert matched == [[acl()], [acl(), acl(operation=Op.WRITE)], []]
    assert write.writes[-1] == {acl(): False, acl(operation=Op.WRITE): False}
    assert acls.bindings == set()


def test_record_form_round_trips():
    binding = acl(name="a:b", principal="User:x:y", pattern=Pattern.PREFIXED, operation=Op.IDEMPOTENT_WRITE)
    assert acl_from_json(acl_json(binding)) == binding


# --- validation ----------------------------------------------------------------------

CREATION_ERRORS = [
    (acl(resource=Res.CLUSTER, name="other"), "The only valid name for the CLUSTER resource is kafka-cluster"),
    (acl(name=""), "Invalid empty resource name"),
    (acl(resource=Res.ANY), "Invalid resourceType ANY"),
    (acl(pattern=Pattern.MATCH), "Invalid patternType MATCH"),
    (acl(pattern=Pattern.ANY), "Invalid patternType ANY"),
    (acl(operation=Op.ANY), "Invalid operation ANY"),
    (acl(permission=Perm.ANY), "Invalid permissionType ANY"),
    (acl(principal="alice"), "Could not parse principal from `alice`"),
]


@pytest.mark.parametrize(("binding", "message"), CREATION_ERRORS)
def test_creation_errors(binding, message):
    error = creation_error(binding)
    assert error is not None and error.startswith(message)


def test_valid_creations():
    assert creation_error(acl()) is None
    assert creation_error(acl(resource=Res.CLUSTER, name="kafka-cluster", operation=Op.ALTER)) is None
    assert creation_error(acl(principal="User:*", name="*")) is None


# --- settings ------------------------------------------------------------------------


def test_authorizer_class_names():
    assert not authorizer_wanted("")
    assert authorizer_wanted("org.apache.kafka.metadata.authorizer.StandardAuthorizer")
    assert authorizer_wanted("kafka.security.authorizer.AclAuthorizer")
    assert authorizer_wanted("kafka.security.auth.SimpleAclAuthorizer")
    with pytest.raises(StartupError, match=r"^authorizer\.class\.name: com\.example\.Mine is not"):
        authorizer_wanted("com.example.Mine")


def test_super_users():
    assert parse_super_users(" User:a ; User:b;;") == {"User:a", "User:b"}
    assert parse_super_users("") == frozenset()
    with pytest.raises(StartupError, match=r"^super\.users: 'admin'"):
        parse_super_users("User:a;admin")


def test_prefixes_of_several_lengths():
    auth = authorizer(
        acl(name="o", pattern=Pattern.PREFIXED),
        acl(name="orders-", pattern=Pattern.PREFIXED, permission=Perm.DENY),
        acl(name="orders-eu-west", pattern=Pattern.PREFIXED, operation=Op.WRITE),
        allow_if_no_acl=True,
    )
    assert allowed(auth, name="o")
    assert allowed(auth, name="orders")
    assert not allowed(auth, name="orders-eu")  # READ denied under "orders-"
    assert allowed(auth, Op.WRITE, name="orders-eu-west-1")
    assert not allowed(auth, Op.WRITE, name="orders-eu")  # ACLs apply, none allows WRITE
    assert allowed(auth, name="xyz")  # no ACL applies: allow.everyone.if.no.acl.found


@pytest.mark.parametrize(
    "bindings, expected",
    [
        ((), False),
        ((acl("orders", Op.WRITE),), True),
        ((acl("orders", Op.ALL),), True),
        ((acl("orders", Op.READ),), False),  # another operation
        ((acl("orders", Op.WRITE, principal=BOB),), False),  # another principal
        ((acl("orders", Op.WRITE, principal="User:*"),), True),
        ((acl("orders", Op.WRITE), acl("orders", Op.WRITE, Perm.DENY)), False),  # the same literal denied
        ((acl("orders", Op.WRITE), acl("ord", Op.WRITE, Perm.DENY, pattern=Pattern.PREFIXED)), False),
        ((acl("ord", Op.WRITE, pattern=Pattern.PREFIXED), acl("orders", Op.WRITE, Perm.DENY)), True),
        ((acl("orders", Op.WRITE), acl("x", Op.WRITE), acl("orders", Op.WRITE, Perm.DENY)), True),  # "x" remains
        ((acl("*", Op.WRITE),), True),
        ((acl("orders", Op.WRITE), acl("*", Op.WRITE, Perm.DENY)), False),
        ((acl("orders", Op.WRITE, host=OTHER_HOST),), False),
        ((acl("orders", Op.WRITE, resource=Res.GROUP),), False),  # another resource type
    ],
)
def test_authorize_by_resource_type_as_kafka(bindings, expected):
    assert authorizer(*bindings).authorize_by_resource_type(ALICE, HOST, Op.WRITE, Res.TOPIC) is expected


def test_authorize_by_resource_type_for_super_users_and_allow_everyone():
    denied = acl("*", Op.WRITE, Perm.DENY)
    assert authorizer(denied, super_users=[ALICE]).authorize_by_resource_type(ALICE, HOST, Op.WRITE, Res.TOPIC)
    assert authorizer(allow_if_no_acl=True).authorize_by_resource_type(ALICE, HOST, Op.WRITE, Res.TOPIC)
