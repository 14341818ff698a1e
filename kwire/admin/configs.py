"""`kwire configs describe|alter`: what kafka-configs.sh does for topics,
brokers, groups and client metrics subscriptions (KIP-714), over
DescribeConfigs and IncrementalAlterConfigs, and for users' SCRAM
credentials (`--entity-type users`, see users.py). Describing
client-metrics without a name lists every subscription, as
kafka-configs.sh does."""

from __future__ import annotations

import argparse
from typing import Any

from kwire.admin import common, users
from kwire.admin.cluster_client import ClusterClient, ClusterError, Connection
from kwire.admin.parsing import parse_config_list
from kwire.protocol.api_keys import ApiKey

PROGRAM = "kwire configs"
# ConfigResource types.
TOPIC, BROKER, CLIENT_METRICS, GROUP = 2, 4, 16, 32
USERS = -1  # not a ConfigResource: SCRAM credentials, over their own APIs
ENTITY_TYPES = {"topics": TOPIC, "brokers": BROKER, "groups": GROUP, "client-metrics": CLIENT_METRICS, "users": USERS}
# IncrementalAlterConfigs operations.
SET, DELETE = 0, 1
SOURCES = {
    0: "UNKNOWN",
    1: "DYNAMIC_TOPIC_CONFIG",
    2: "DYNAMIC_BROKER_CONFIG",
    3: "DYNAMIC_DEFAULT_BROKER_CONFIG",
    4: "STATIC_BROKER_CONFIG",
    5: "DEFAULT_CONFIG",
    6: "DYNAMIC_BROKER_LOGGER_CONFIG",
    7: "CLIENT_METRICS_CONFIG",
    8: "GROUP_CONFIG",
}
# What kafka-configs.sh shows without --all: the values set at run time.
DYNAMIC_SOURCES = frozenset({1, 2, 3, 6, 7, 8})


def register(commands: Any) -> None:
    configs = commands.add_parser("configs", help="describe and alter configs (as kafka-configs.sh)")
    actions = configs.add_subparsers(dest="action", required=True)
    describe = actions.add_parser("describe", help="the configs of a topic, broker or group")
    _entity_options(describe)
    describe.add_argument("--all", action="store_true", help="every config, defaults included (default: dynamic ones)")
    _bind(describe, describe_command)
    alter = actions.add_parser("alter", help="set or remove configs of a topic, broker or group")
    _entity_options(alter)
    alter.add_argument("--add-config", action="append", default=[], metavar="K=V[,K2=V2]", help="set configs")
    alter.add_argument("--delete-config", action="append", default=[], metavar="K[,K2]", help="remove configs")
    _bind(alter, alter_command)


def _entity_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--entity-type", required=True, choices=sorted(ENTITY_TYPES))
    # Required, except to describe every client metrics subscription.
    name = parser.add_mutually_exclusive_group()
    name.add_argument("--entity-name", help="the topic, broker id, group or client metrics subscription")
    name.add_argument("--entity-default", action="store_true", help="the cluster-wide default (brokers only)")


def _bind(parser: argparse.ArgumentParser, command: common.Command) -> None:
    common.add_connection_options(parser)
    parser.set_defaults(admin=lambda args: common.run(PROGRAM, command, args))


def _resource(args: argparse.Namespace) -> tuple[int, str]:
    resource_type = ENTITY_TYPES[args.entity_type]
    if args.entity_name is None and not args.entity_default:
        raise ClusterError("one of --entity-name or --entity-default is required")
    if args.entity_default:
        if resource_type == USERS:
            raise ClusterError("--entity-default is not allowed with users' SCRAM credentials")
        if resource_type != BROKER:
            raise ClusterError("--entity-default is only for --entity-type brokers")
        return resource_type, ""
    if resource_type == BROKER and not args.entity_name.isdigit():
        raise ClusterError(f"--entity-name {args.entity_name!r}: a broker is named by its id")
    return resource_type, args.entity_name


def _route(cluster: ClusterClient, resource_type: int, name: str) -> Connection:
    # A broker's own configs are asked of that broker, as Kafka's admin client does.
    return cluster.node(int(name)) if resource_type == BROKER and name else cluster.any()


def describe_configs(cluster: ClusterClient, resource_type: int, name: str) -> list[Any]:
    """Every config entry of one resource (kio entries: name, value, config_source, …)."""
    values = dict(
        resources=[dict(resource_type=resource_type, resource_name=name, configuration_keys=None)],
        include_synonyms=False,
        include_documentation=False,
    )
    _version, answer = _route(cluster, resource_type, name).call(ApiKey.DESCRIBE_CONFIGS, values, 4, 1)
    (result,) = answer.results
    common.check(result.error_code, result.error_message, f"cannot describe configs of {name or 'the default'}")
    return sorted(result.configs, key=lambda e: e.name)


def alter_configs(
    cluster: ClusterClient, resource_type: int, name: str, changes: list[tuple[str, int, str | None]]
) -> None:
    """Apply (config name, SET or DELETE, value) changes with IncrementalAlterConfigs."""
    values = dict(
        resources=[
            dict(
                resource_type=resource_type,
                resource_name=name,
                configs=[dict(name=k, config_operation=op, value=v) for k, op, v in changes],
            )
        ],
        validate_only=False,
    )
    _version, answer = _route(cluster, resource_type, name).call(ApiKey.INCREMENTAL_ALTER_CONFIGS, values, 1)
    (result,) = answer.responses
    common.check(result.error_code, result.error_message, f"cannot alter configs of {name or 'the default'}")


def list_client_metrics(cluster: ClusterClient) -> list[str]:
    """The names of every client metrics subscription (ListConfigResources v0,
    Kafka's ListClientMetricsResources)."""
    _version, answer = cluster.any().call(ApiKey.LIST_CONFIG_RESOURCES, {}, 0)
    common.check(answer.error_code, None, "cannot list client metrics subscriptions")
    return sorted(resource.resource_name for resource in answer.config_resources)


def describe_command(cluster: ClusterClient, args: argparse.Namespace) -> None:
    if args.entity_type == "client-metrics" and args.entity_name is None and not args.entity_default:
        return _describe_every_client_metrics(cluster, args)
    resource_type, name = _resource(args)
    if resource_type == USERS:
        return _describe_scram(cluster, args, name)
    entries = [
        dict(
            name=e.name,
            value=None if e.is_sensitive else e.value,
            source=SOURCES.get(e.config_source, str(e.config_source)),
            sensitive=e.is_sensitive,
            read_only=e.read_only,
        )
        for e in describe_configs(cluster, resource_type, name)
        if args.all or e.config_source in DYNAMIC_SOURCES
    ]

    def text() -> str:
        if not entries:
            return f"No dynamic configs for {_entity(args)}."
        return common.table(
            ["NAME", "VALUE", "SOURCE", "READ-ONLY"],
            [
                [e["name"], "(sensitive)" if e["sensitive"] else e["value"], e["source"], e["read_only"]]
                for e in entries
            ],
        )

    common.emit(args, text, entries)


def alter_command(cluster: ClusterClient, args: argparse.Namespace) -> None:
    resource_type, name = _resource(args)
    if resource_type == USERS:
        return _alter_scram(cluster, args, name)
    changes: list[tuple[str, int, str | None]] = [
        (k, SET, v) for item in args.add_config for k, v in parse_config_list(item).items()
    ]
    changes += [(k.strip(), DELETE, None) for item in args.delete_config for k in item.split(",") if k.strip()]
    if not changes:
        raise ClusterError("alter needs --add-config or --delete-config")
    alter_configs(cluster, resource_type, name, changes)
    done = f"Completed updating {'default ' if args.entity_default else ''}config for {_entity(args)}."
    common.emit(
        args, lambda: done, dict(entity_type=args.entity_type, entity_name=name, changed=[c[0] for c in changes])
    )


def _describe_every_client_metrics(cluster: ClusterClient, args: argparse.Namespace) -> None:
    """Each subscription's configs, one line per subscription as kafka-configs.sh prints them."""
    found = {
        name: {e.name: e.value for e in describe_configs(cluster, CLIENT_METRICS, name)}
        for name in list_client_metrics(cluster)
    }

    def text() -> str:
        if not found:
            return "No client metrics subscriptions."
        return "\n".join(
            f"Dynamic configs for client-metric {name} are "
            + ",".join(f"{key}={value}" for key, value in sorted(configs.items()))
            for name, configs in found.items()
        )

    common.emit(args, text, [dict(name=name, configs=configs) for name, configs in found.items()])


def _entity(args: argparse.Namespace) -> str:
    if args.entity_default:
        return "brokers in the cluster"
    if args.entity_type == "client-metrics":
        return f"client-metric {args.entity_name}"
    return f"{args.entity_type.rstrip('s')} {args.entity_name}"


# --- users: SCRAM credentials as kafka-configs.sh spells them ----------------------


def _describe_scram(cluster: ClusterClient, args: argparse.Namespace, user: str) -> None:
    found = users.describe_credentials(cluster, [user])
    entries = [dict(name=mechanism, value=f"iterations={count}") for mechanism, count in found.get(user, {}).items()]
    text = ", ".join(f"{e['name']}={e['value']}" for e in entries)
    common.emit(args, lambda: f"SCRAM credential configs for user-principal '{user}' are {text}", entries)


def _alter_scram(cluster: ClusterClient, args: argparse.Namespace, user: str) -> None:
    """`--add-config 'SCRAM-SHA-256=[iterations=8192,password=P]'` and
    `--delete-config SCRAM-SHA-512`: one request per mechanism."""
    added = {k: v for item in args.add_config for k, v in parse_config_list(item).items()}
    deleted = [k.strip() for item in args.delete_config for k in item.split(",") if k.strip()]
    unknown = [name for name in [*added, *deleted] if name not in users.MECHANISMS]
    if unknown:
        raise ClusterError(f"only SCRAM credential configs can be set for users here, not {', '.join(unknown)}")
    if not added and not deleted:
        raise ClusterError("alter needs --add-config or --delete-config")
    credentials = {mechanism: _scram_setting(mechanism, value) for mechanism, value in added.items()}
    for mechanism in deleted:
        users.delete_credential(cluster, user, mechanism)
    for mechanism, (iterations, password) in credentials.items():
        users.set_credential(cluster, user, mechanism, password, iterations)
    common.emit(
        args,
        lambda: f"Completed updating config for user {user}.",
        dict(entity_type="users", entity_name=user, changed=[*deleted, *added]),
    )


def _scram_setting(mechanism: str, value: str) -> tuple[int, str]:
    """`[iterations=N,]password=P` (iterations -1 or left out: the default)."""
    head, sep, password = value.partition("password=")
    iterations = users.DEFAULT_ITERATIONS
    if head.startswith("iterations=") and head.endswith(","):
        count = head[len("iterations=") : -1]
        if not count.lstrip("-").isdigit():
            raise ClusterError(f"invalid credential property {mechanism}={value}")
        iterations = int(count) if count != "-1" else users.DEFAULT_ITERATIONS
    elif head or not sep:
        raise ClusterError(f"invalid credential property {mechanism}={value}: expected [iterations=N,]password=P")
    users.check_iterations(iterations)
    return iterations, password
