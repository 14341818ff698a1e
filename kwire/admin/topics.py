"""`kwire topics list|describe|create|delete|alter`: what kafka-topics.sh
does, over the wire protocol (Metadata, DescribeConfigs, ListOffsets,
CreateTopics, DeleteTopics, CreatePartitions, IncrementalAlterConfigs)."""

from __future__ import annotations

import argparse
from typing import Any

from kwire.admin import common
from kwire.admin.cluster_client import ClusterClient, ClusterError
from kwire.admin.configs import DELETE, SET, TOPIC, alter_configs, describe_configs
from kwire.admin.parsing import parse_config_list
from kwire.admin.partitions import EARLIEST, LATEST, list_offsets
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode

PROGRAM = "kwire topics"
TIMEOUT_MS = 30_000
DEFAULT_CONFIG = 5  # ConfigSource: Kafka's own default


def register(commands: Any) -> None:
    topics = commands.add_parser("topics", help="list, describe, create, delete and alter topics (as kafka-topics.sh)")
    actions = topics.add_subparsers(dest="action", required=True)

    listing = actions.add_parser("list", help="topic names, one a line")
    listing.add_argument("--exclude-internal", action="store_true", help="leave out internal topics")
    _bind(listing, list_topics)

    describe = actions.add_parser(
        "describe", help="topic id, partitions, non-default configs, and per partition its leader, replicas and offsets"
    )
    describe.add_argument("--topic", action="append", help="the topic (repeatable; default: every topic)")
    describe.add_argument("--exclude-internal", action="store_true", help="leave out internal topics")
    _bind(describe, describe_topics)

    create = actions.add_parser("create", help="create a topic")
    create.add_argument("--topic", required=True)
    create.add_argument("--partitions", type=int, default=-1, help="default: the broker's num.partitions")
    create.add_argument(
        "--replication-factor", type=int, default=-1, help="default: the broker's default.replication.factor"
    )
    create.add_argument(
        "--config", action="append", default=[], metavar="NAME=VALUE", help="a topic config (repeatable)"
    )
    create.add_argument("--if-not-exists", action="store_true", help="succeed quietly if the topic exists")
    _bind(create, create_topic)

    delete = actions.add_parser("delete", help="delete topics")
    delete.add_argument("--topic", action="append", required=True, help="the topic (repeatable)")
    delete.add_argument("--if-exists", action="store_true", help="succeed quietly for a topic that does not exist")
    _bind(delete, delete_topics)

    alter = actions.add_parser("alter", help="add partitions, or set or remove topic configs")
    alter.add_argument("--topic", required=True)
    alter.add_argument("--partitions", type=int, help="the new, larger partition count")
    alter.add_argument("--config", action="append", default=[], metavar="NAME=VALUE", help="set a config (repeatable)")
    alter.add_argument("--delete-config", action="append", default=[], metavar="NAME", help="remove a config override")
    _bind(alter, alter_topic)


def _bind(parser: argparse.ArgumentParser, command: common.Command) -> None:
    common.add_connection_options(parser)
    parser.set_defaults(admin=lambda args: common.run(PROGRAM, command, args))


# --- list and describe ------------------------------------------------------------


def list_topics(cluster: ClusterClient, args: argparse.Namespace) -> None:
    names = sorted(t.name for t in cluster.metadata(None).topics if not (args.exclude_internal and t.is_internal))
    common.emit(args, lambda: "\n".join(names), names)


def describe_topics(cluster: ClusterClient, args: argparse.Namespace) -> int:
    answer = cluster.metadata(args.topic)
    found = []
    for topic in answer.topics:
        if topic.error_code == ErrorCode.unknown_topic_or_partition:
            raise ClusterError(f"Topic '{topic.name}' does not exist")
        common.check(topic.error_code, None, f"topic {topic.name}")
        if not (args.exclude_internal and topic.is_internal):
            found.append(topic)
    found.sort(key=lambda t: t.name)
    keys = [(t.name, p.partition_index) for t in found for p in t.partitions]
    earliest = list_offsets(cluster, keys, EARLIEST)
    latest = list_offsets(cluster, keys, LATEST)
    progress = common.Progress("describing configs of topics", len(found))
    described = []
    for topic in found:
        entries = describe_configs(cluster, TOPIC, topic.name)
        progress.step()
        partitions = sorted(topic.partitions, key=lambda p: p.partition_index)
        described.append(
            dict(
                topic=topic.name,
                topic_id=str(topic.topic_id) if topic.topic_id else None,
                internal=topic.is_internal,
                partition_count=len(partitions),
                replication_factor=len(partitions[0].replica_nodes) if partitions else 0,
                configs={e.name: e.value for e in entries if e.config_source != DEFAULT_CONFIG},
                partitions=[
                    dict(
                        partition=p.partition_index,
                        leader=p.leader_id,
                        replicas=list(p.replica_nodes),
                        isr=list(p.isr_nodes),
                        earliest_offset=earliest.get((topic.name, p.partition_index)),
                        latest_offset=latest.get((topic.name, p.partition_index)),
                    )
                    for p in partitions
                ],
            )
        )
    common.emit(args, lambda: _describe_text(described), described)
    return 0


def _describe_text(described: list[dict[str, Any]]) -> str:
    if not described:
        return ""
    topics = common.table(
        ["TOPIC", "TOPIC-ID", "PARTITIONS", "REPLICATION-FACTOR", "CONFIGS"],
        [
            [
                t["topic"],
                t["topic_id"],
                t["partition_count"],
                t["replication_factor"],
                ",".join(f"{k}={v}" for k, v in sorted(t["configs"].items())) or None,
            ]
            for t in described
        ],
    )
    partitions = common.table(
        ["TOPIC", "PARTITION", "LEADER", "REPLICAS", "ISR", "EARLIEST-OFFSET", "LATEST-OFFSET"],
        [
            [
                t["topic"],
                p["partition"],
                p["leader"] if p["leader"] >= 0 else "none",
                ",".join(map(str, p["replicas"])),
                ",".join(map(str, p["isr"])),
                p["earliest_offset"],
                p["latest_offset"],
            ]
            for t in described
            for p in t["partitions"]
        ],
    )
    return f"{topics}\n\n{partitions}"


# --- create, delete, alter ------------------------------------------------------------


def create_topic(cluster: ClusterClient, args: argparse.Namespace) -> None:
    configs = {}
    for item in args.config:
        configs.update(parse_config_list(item))
    values = dict(
        topics=[
            dict(
                name=args.topic,
                num_partitions=args.partitions,
                replication_factor=args.replication_factor,
                assignments=[],
                configs=[dict(name=k, value=v) for k, v in configs.items()],
            )
        ],
        timeout=TIMEOUT_MS,
        validate_only=False,
    )
    uses_defaults = args.partitions == -1 or args.replication_factor == -1
    _version, answer = cluster.any().call(ApiKey.CREATE_TOPICS, values, 7, 4 if uses_defaults else 2)
    (result,) = answer.topics
    if result.error_code == ErrorCode.topic_already_exists and args.if_not_exists:
        common.emit(args, lambda: "", dict(topic=args.topic, created=False))
        return
    common.check(result.error_code, result.error_message, f"cannot create topic {args.topic}")
    common.emit(args, lambda: f"Created topic {args.topic}.", dict(topic=args.topic, created=True))


def delete_topics(cluster: ClusterClient, args: argparse.Namespace) -> int:
    names = list(dict.fromkeys(args.topic))
    values = dict(topics=[dict(name=n, topic_id=None) for n in names], topic_names=names, timeout=TIMEOUT_MS)
    _version, answer = cluster.any().call(ApiKey.DELETE_TOPICS, values, 6, 1)
    results, problems = [], []
    for result in answer.responses:
        missing = result.error_code == ErrorCode.unknown_topic_or_partition
        if result.error_code == ErrorCode.none or (missing and args.if_exists):
            results.append(dict(topic=result.name, deleted=not missing))
        elif missing:
            problems.append(f"Topic '{result.name}' does not exist")
        else:
            problems.append(str(common.failure(result.error_code, result.error_message, f"topic {result.name}")))
    deleted = [r["topic"] for r in results if r["deleted"]]
    common.emit(args, lambda: "\n".join(f"Deleted topic {name}." for name in deleted), results)
    if problems:
        raise ClusterError("; ".join(problems))
    return 0


def alter_topic(cluster: ClusterClient, args: argparse.Namespace) -> None:
    if args.partitions is None and not args.config and not args.delete_config:
        raise ClusterError("alter needs --partitions, --config or --delete-config")
    done = []
    if args.partitions is not None:
        values = dict(
            topics=[dict(name=args.topic, count=args.partitions, assignments=None)],
            timeout=TIMEOUT_MS,
            validate_only=False,
        )
        _version, answer = cluster.any().call(ApiKey.CREATE_PARTITIONS, values, 3)
        (result,) = answer.results
        common.check(result.error_code, result.error_message, f"cannot add partitions to {args.topic}")
        done.append(f"Topic {args.topic} now has {args.partitions} partitions.")
    if args.config or args.delete_config:
        changes: list[tuple[str, int, str | None]] = [
            (name, SET, value) for item in args.config for name, value in parse_config_list(item).items()
        ]
        changes += [(name, DELETE, None) for item in args.delete_config for name in item.split(",") if name]
        alter_configs(cluster, TOPIC, args.topic, changes)
        done.append(f"Completed updating config for topic {args.topic}.")
    common.emit(args, lambda: "\n".join(done), dict(topic=args.topic, partitions=args.partitions))
