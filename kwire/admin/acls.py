"""`kwire acls add|list|remove`: what kafka-acls.sh does, over CreateAcls,
DescribeAcls and DeleteAcls, with its option names."""

from __future__ import annotations

import argparse
from typing import Any

from kwire.admin import common
from kwire.admin.cluster_client import ClusterClient, ClusterError
from kwire.protocol.api_keys import ApiKey
from kwire.security.acls import from_code
from kwire.security.resources import CLUSTER_NAME, WILDCARD, AclOperation, PatternType, PermissionType, ResourceType

PROGRAM = "kwire acls"
NEWEST, OLDEST = 3, 1  # the versions of the ACL APIs kwire speaks
PATTERN_TYPES = {"literal": PatternType.LITERAL, "prefixed": PatternType.PREFIXED}
FILTER_PATTERN_TYPES = {**PATTERN_TYPES, "any": PatternType.ANY, "match": PatternType.MATCH}
# What each resource type can be granted, besides ALL (Kafka's AclEntry.supportedOperations).
Op = AclOperation
SUPPORTED_OPERATIONS = {
    ResourceType.TOPIC: {
        Op.READ,
        Op.WRITE,
        Op.CREATE,
        Op.DESCRIBE,
        Op.DELETE,
        Op.ALTER,
        Op.DESCRIBE_CONFIGS,
        Op.ALTER_CONFIGS,
    },
    ResourceType.GROUP: {Op.READ, Op.DESCRIBE, Op.DELETE, Op.DESCRIBE_CONFIGS, Op.ALTER_CONFIGS},
    ResourceType.CLUSTER: {
        Op.CREATE,
        Op.CLUSTER_ACTION,
        Op.DESCRIBE_CONFIGS,
        Op.ALTER_CONFIGS,
        Op.IDEMPOTENT_WRITE,
        Op.ALTER,
        Op.DESCRIBE,
    },
    ResourceType.TRANSACTIONAL_ID: {Op.DESCRIBE, Op.WRITE},
}
_OPERATION_WORDS = {op.name.replace("_", ""): op for op in AclOperation if op not in (Op.UNKNOWN, Op.ANY)}


def register(commands: Any) -> None:
    acls = commands.add_parser("acls", help="add, list and remove ACLs (as kafka-acls.sh)")
    actions = acls.add_subparsers(dest="action", required=True)

    add = actions.add_parser("add", help="grant or deny operations on resources to principals")
    _resource_options(add, "the type of the resource pattern to add: literal (default) or prefixed")
    _entry_options(add)
    _bind(add, add_command)

    listing = actions.add_parser("list", help="the ACLs, of the resources given (default: every ACL)")
    _resource_options(listing, "literal (default), prefixed, any, or match (every ACL that applies to the resource)")
    listing.add_argument(
        "--principal", action="append", default=[], help="only the ACLs of this principal (repeatable)"
    )
    _bind(listing, list_command)

    remove = actions.add_parser(
        "remove", help="remove ACLs of the resources given (without a principal: every ACL on them)"
    )
    _resource_options(remove, "literal (default), prefixed, any, or match")
    _entry_options(remove)
    remove.add_argument("--force", action="store_true", help="accepted for kafka-acls.sh scripts (never asks)")
    _bind(remove, remove_command)


def _resource_options(parser: argparse.ArgumentParser, pattern_help: str) -> None:
    parser.add_argument("--topic", action="append", default=[], help="a topic (repeatable; '*': every topic)")
    parser.add_argument("--group", action="append", default=[], help="a consumer group (repeatable; '*': every group)")
    parser.add_argument("--cluster", action="store_true", help="the cluster")
    parser.add_argument("--transactional-id", action="append", default=[], help="a transactional id (repeatable)")
    parser.add_argument(
        "--resource-pattern-type",
        type=str.lower,
        default="literal",
        choices=list(FILTER_PATTERN_TYPES),
        help=pattern_help,
    )


def _entry_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--allow-principal", action="append", default=[], help="e.g. User:alice (repeatable)")
    parser.add_argument("--deny-principal", action="append", default=[], help="e.g. User:mallory (repeatable)")
    parser.add_argument("--allow-host", action="append", default=[], help="an IP address (default: any host, '*')")
    parser.add_argument("--deny-host", action="append", default=[], help="an IP address (default: any host, '*')")
    parser.add_argument(
        "--operation",
        action="append",
        default=[],
        help="Read, Write, Create, Delete, Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs, "
        "IdempotentWrite, CreateTokens, DescribeTokens or All (repeatable; default All)",
    )


def _bind(parser: argparse.ArgumentParser, command: common.Command) -> None:
    common.add_connection_options(parser)
    parser.set_defaults(admin=lambda args: common.run(PROGRAM, command, args))


# --- options to ACLs -----------------------------------------------------------------


def parse_operation(text: str) -> AclOperation:
    """Kafka's spellings: Read, DescribeConfigs, describe_configs, ALL…"""
    word = text.strip().replace("_", "").replace("-", "").upper()
    if word not in _OPERATION_WORDS:
        raise ClusterError(f"--operation {text!r}: not an operation (e.g. Read, Write, Describe, All)")
    return _OPERATION_WORDS[word]


def _resources(args: argparse.Namespace) -> list[tuple[ResourceType, str]]:
    found = [(ResourceType.TOPIC, name) for name in args.topic]
    found += [(ResourceType.GROUP, name) for name in args.group]
    found += [(ResourceType.TRANSACTIONAL_ID, name) for name in args.transactional_id]
    if args.cluster:
        found.append((ResourceType.CLUSTER, CLUSTER_NAME))
    for resource_type, name in found:
        if not name:
            raise ClusterError(f"--{resource_type.name.lower().replace('_', '-')} needs a name")
    return found


def _operations(args: argparse.Namespace, resources: list[tuple[ResourceType, str]]) -> list[AclOperation]:
    operations = list(dict.fromkeys(parse_operation(text) for text in args.operation)) or [AclOperation.ALL]
    for resource_type, _name in resources:
        supported = SUPPORTED_OPERATIONS[resource_type]
        wrong = [op for op in operations if op != AclOperation.ALL and op not in supported]
        if wrong:
            raise ClusterError(
                f"ResourceType {resource_type.name} only supports operations "
                + ", ".join(sorted(op.name for op in supported | {AclOperation.ALL}))
                + f" (not {', '.join(op.name for op in wrong)})"
            )
    return operations


def _entries(args: argparse.Namespace, resources: list[tuple[ResourceType, str]]) -> list[dict[str, Any]]:
    """(principal, host, operation, permission) of every ACL the options name."""
    operations = _operations(args, resources)
    entries = []
    for permission, principals, hosts in (
        (PermissionType.ALLOW, args.allow_principal, args.allow_host),
        (PermissionType.DENY, args.deny_principal, args.deny_host),
    ):
        for principal in principals:
            if ":" not in principal:
                raise ClusterError(f"{principal!r} is not a principal (expected type:name, as User:alice)")
            for host in hosts or [WILDCARD]:
                for operation in operations:
                    entries.append(dict(principal=principal, host=host, operation=operation, permission=permission))
    return entries


def _acl_row(resource_type: int, name: str, pattern_type: int, entry: Any) -> dict[str, Any]:
    return dict(
        resource_type=from_code(ResourceType, resource_type).name,
        name=name,
        pattern_type=from_code(PatternType, pattern_type).name,
        principal=entry.principal,
        host=entry.host,
        operation=from_code(AclOperation, entry.operation).name,
        permission=from_code(PermissionType, entry.permission_type).name,
    )


def _show(args: argparse.Namespace, rows: list[dict[str, Any]], empty: str) -> None:
    rows = sorted(rows, key=lambda r: tuple(r.values()))

    def text() -> str:
        if not rows:
            return empty
        header = ["RESOURCE-TYPE", "NAME", "PATTERN-TYPE", "PRINCIPAL", "HOST", "OPERATION", "PERMISSION"]
        return common.table(header, [list(row.values()) for row in rows])

    common.emit(args, text, rows)


# --- the commands ---------------------------------------------------------------------


def add_command(cluster: ClusterClient, args: argparse.Namespace) -> None:
    pattern_type = PATTERN_TYPES.get(args.resource_pattern_type)
    if pattern_type is None:
        raise ClusterError("--resource-pattern-type: ACLs are added as literal or prefixed")
    resources = _resources(args)
    if not resources:
        raise ClusterError("add needs a resource: --topic, --group, --cluster or --transactional-id")
    entries = _entries(args, resources)
    if not entries:
        raise ClusterError("add needs --allow-principal or --deny-principal")
    creations = [
        dict(
            resource_type=resource_type,
            resource_name=name,
            resource_pattern_type=pattern_type,
            principal=entry["principal"],
            host=entry["host"],
            operation=entry["operation"],
            permission_type=entry["permission"],
        )
        for resource_type, name in resources
        for entry in entries
    ]
    _version, answer = cluster.any().call(ApiKey.CREATE_ACLS, dict(creations=creations), NEWEST, OLDEST)
    for creation, result in zip(creations, answer.results, strict=True):
        common.check(
            result.error_code,
            result.error_message,
            f"cannot add {creation['permission_type'].name} {creation['operation'].name} for "
            f"{creation['principal']} on {creation['resource_type'].name} {creation['resource_name']}",
        )
    rows = [
        dict(
            resource_type=c["resource_type"].name,
            name=c["resource_name"],
            pattern_type=pattern_type.name,
            principal=c["principal"],
            host=c["host"],
            operation=c["operation"].name,
            permission=c["permission_type"].name,
        )
        for c in creations
    ]
    _show(args, rows, "")


def _filters(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The DescribeAcls / DeleteAcls resource filters of the options (none given: every resource)."""
    pattern_type = FILTER_PATTERN_TYPES[args.resource_pattern_type]
    resources = _resources(args)
    if not resources:
        return [
            dict(resource_type_filter=ResourceType.ANY, resource_name_filter=None, pattern_type_filter=PatternType.ANY)
        ]
    return [
        dict(resource_type_filter=resource_type, resource_name_filter=name, pattern_type_filter=pattern_type)
        for resource_type, name in resources
    ]


def _any_entry(principal: str | None = None) -> dict[str, Any]:
    return dict(
        principal_filter=principal, host_filter=None, operation=AclOperation.ANY, permission_type=PermissionType.ANY
    )


def list_command(cluster: ClusterClient, args: argparse.Namespace) -> None:
    connection = cluster.any()
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for resource_filter in _filters(args):
        for principal in args.principal or [None]:
            _version, answer = connection.call(
                ApiKey.DESCRIBE_ACLS, {**resource_filter, **_any_entry(principal)}, NEWEST, OLDEST
            )
            common.check(answer.error_code, answer.error_message, "cannot list ACLs")
            for resource in answer.resources:
                for entry in resource.acls:
                    row = _acl_row(resource.resource_type, resource.resource_name, resource.pattern_type, entry)
                    rows[tuple(row.values())] = row
    _show(args, list(rows.values()), "No ACLs.")


def remove_command(cluster: ClusterClient, args: argparse.Namespace) -> None:
    resources = _resources(args)
    if not resources:
        raise ClusterError("remove needs a resource: --topic, --group, --cluster or --transactional-id")
    entries = _entries(args, resources)
    if entries:
        entry_filters = [
            dict(
                principal_filter=e["principal"],
                host_filter=e["host"],
                operation=e["operation"],
                permission_type=e["permission"],
            )
            for e in entries
        ]
    else:
        entry_filters = [_any_entry()]  # as kafka-acls.sh: every ACL on the resources
    filters = [{**resource_filter, **entry} for resource_filter in _filters(args) for entry in entry_filters]
    _version, answer = cluster.any().call(ApiKey.DELETE_ACLS, dict(filters=filters), NEWEST, OLDEST)
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for result in answer.filter_results:
        common.check(result.error_code, result.error_message, "cannot remove ACLs")
        for matching in result.matching_acls:
            common.check(matching.error_code, matching.error_message, "cannot remove an ACL")
            row = _acl_row(matching.resource_type, matching.resource_name, matching.pattern_type, matching)
            rows[tuple(row.values())] = row
    _show(args, list(rows.values()), "No ACLs matched: nothing removed.")
