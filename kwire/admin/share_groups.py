"""`kwire share-groups list|describe|reset-offsets|delete-offsets|delete`: what
kafka-share-groups.sh does, over the wire protocol (ListGroups filtered to
type "share" on every broker; ShareGroupDescribe and Describe-, Alter- and
DeleteShareGroupOffsets at the group's coordinator; ListOffsets at the leaders)."""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from kwire.admin import common
from kwire.admin.cluster_client import ClusterClient, ClusterError
from kwire.admin.partitions import EARLIEST, LATEST, list_offsets, partitions_of
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode

PROGRAM = "kwire share-groups"
HTTP_TIMEOUT_S = 30


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "share-groups", help="list and describe share groups (KIP-932), as kafka-share-groups.sh"
    )
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="share group ids, one a line; with --state, their states")
    listing.add_argument("--state", action="store_true", help="show each group's state")
    _bind(listing, list_command)
    describe = actions.add_parser(
        "describe", help="a share group's start offsets and lag (default), or --members, --state"
    )
    describe.add_argument("--group", required=True)
    view = describe.add_mutually_exclusive_group()
    view.add_argument("--members", action="store_true", help="the group's members and their assignments")
    view.add_argument("--state", action="store_true", help="the group's state, epoch and member count")
    view.add_argument(
        "--in-flight",
        action="store_true",
        help="each share-partition's in-flight records (state, delivery count, holder, lock): "
        "kwire-only, read from a node's HTTP port (--http)",
    )
    describe.add_argument(
        "--http", metavar="HOST:PORT", help="a kwire node's HTTP port (kwire serve --http-port), for --in-flight"
    )
    _bind(describe, describe_command)
    reset = actions.add_parser(
        "reset-offsets", help="plan (the default) or set (--execute) an empty share group's start offsets"
    )
    reset.add_argument("--group", required=True)
    reset.add_argument("--topic", action="append", required=True, help="(repeatable)")
    target = reset.add_mutually_exclusive_group(required=True)
    target.add_argument("--to-earliest", action="store_true")
    target.add_argument("--to-latest", action="store_true")
    target.add_argument("--to-offset", type=int, metavar="N")
    reset.add_argument("--execute", action="store_true", help="set them (without it: only print the plan)")
    _bind(reset, reset_command)
    delete = actions.add_parser("delete-offsets", help="an empty share group forgets topics (their start offsets)")
    delete.add_argument("--group", required=True)
    delete.add_argument("--topic", action="append", required=True, help="(repeatable)")
    _bind(delete, delete_offsets_command)
    remove = actions.add_parser("delete", help="delete empty share groups, their share-partition state with them")
    remove.add_argument("--group", action="append", required=True, help="(repeatable)")
    _bind(remove, delete_command)


def _bind(parser: argparse.ArgumentParser, command: common.Command) -> None:
    common.add_connection_options(parser)
    parser.set_defaults(admin=lambda args: common.run(PROGRAM, command, args))


def list_share_groups(cluster: ClusterClient) -> list[tuple[str, str]]:
    found = set()
    for broker in sorted(b.node_id for b in cluster.metadata([]).brokers):
        _version, answer = cluster.node(broker).call(
            ApiKey.LIST_GROUPS, dict(states_filter=[], types_filter=["share"]), 5, 5
        )
        common.check(answer.error_code, None, f"ListGroups at broker {broker}")
        found |= {(g.group_id, g.group_state) for g in answer.groups}
    return sorted(found)


def list_command(cluster: ClusterClient, args: argparse.Namespace) -> None:
    groups = list_share_groups(cluster)
    data = [dict(group=g, state=s) for g, s in groups]
    if args.state:
        common.emit(args, lambda: common.table(["GROUP", "STATE"], [[g, s] for g, s in groups]), data)
    else:
        common.emit(args, lambda: "\n".join(g for g, _s in groups), data)


def describe_command(cluster: ClusterClient, args: argparse.Namespace) -> None:
    if args.in_flight:
        in_flight_command(args)
        return
    coordinator = cluster.coordinator(args.group)
    _version, described = coordinator.call(
        ApiKey.SHARE_GROUP_DESCRIBE, dict(group_ids=[args.group], include_authorized_operations=False), 1, 1
    )
    group = described.groups[0]
    if group.error_code != ErrorCode.none:
        raise ClusterError(str(common.failure(group.error_code, group.error_message, f"cannot describe {args.group}")))
    if args.state:
        row = [args.group, group.group_state, group.group_epoch, group.assignor_name, len(group.members)]
        data: Any = dict(
            group=args.group,
            state=group.group_state,
            group_epoch=group.group_epoch,
            assignor=group.assignor_name,
            members=len(group.members),
        )
        common.emit(args, lambda: common.table(["GROUP", "STATE", "EPOCH", "ASSIGNOR", "#MEMBERS"], [row]), data)
        return
    if args.members:
        rows = [
            [
                args.group,
                m.member_id,
                m.client_host,
                m.client_id,
                m.member_epoch,
                ",".join(f"{t.topic_name}:{','.join(map(str, t.partitions))}" for t in m.assignment.topic_partitions)
                or "-",
            ]
            for m in group.members
        ]
        header = ["GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "EPOCH", "ASSIGNMENT"]
        data = [dict(zip([h.lower() for h in header], row)) for row in rows]
        common.emit(args, lambda: common.table(header, rows), data)
        return
    _version, offsets = coordinator.call(
        ApiKey.DESCRIBE_SHARE_GROUP_OFFSETS, dict(groups=[dict(group_id=args.group, topics=None)]), 1
    )
    answer = offsets.groups[0]
    common.check(answer.error_code, answer.error_message, f"cannot describe the offsets of {args.group}")
    rows = [
        [args.group, t.topic_name, p.partition_index, p.start_offset, getattr(p, "lag", None)]
        for t in answer.topics
        for p in t.partitions
    ]
    header = ["GROUP", "TOPIC", "PARTITION", "START-OFFSET", "LAG"]
    data = [dict(zip(["group", "topic", "partition", "start_offset", "lag"], row)) for row in rows]
    common.emit(args, lambda: common.table(header, rows), data)


def reset_command(cluster: ClusterClient, args: argparse.Namespace) -> None:
    partitions = partitions_of(cluster, args.topic)
    keys = [(topic, index) for topic, indexes in partitions.items() for index in indexes]
    if args.to_offset is not None:
        plan = {key: args.to_offset for key in keys}
    else:
        plan = list_offsets(cluster, keys, EARLIEST if args.to_earliest else LATEST)
    rows = [[args.group, topic, index, offset] for (topic, index), offset in sorted(plan.items())]
    if args.execute:
        topics: dict[str, list[dict[str, int]]] = {}
        for (topic, index), offset in sorted(plan.items()):
            topics.setdefault(topic, []).append(dict(partition_index=index, start_offset=offset))
        values = dict(group_id=args.group, topics=[dict(topic_name=t, partitions=p) for t, p in topics.items()])
        _version, answer = cluster.coordinator(args.group).call(ApiKey.ALTER_SHARE_GROUP_OFFSETS, values, 0)
        common.check(answer.error_code, answer.error_message, f"cannot reset the offsets of {args.group}")
        for topic in answer.responses:
            for p in topic.partitions:
                common.check(p.error_code, p.error_message, f"cannot reset {topic.topic_name}-{p.partition_index}")
    header = ["GROUP", "TOPIC", "PARTITION", "NEW-START-OFFSET"]
    data = [dict(zip(["group", "topic", "partition", "start_offset"], row)) for row in rows]
    common.emit(args, lambda: common.table(header, rows), data)


def delete_offsets_command(cluster: ClusterClient, args: argparse.Namespace) -> None:
    values = dict(group_id=args.group, topics=[dict(topic_name=t) for t in args.topic])
    _version, answer = cluster.coordinator(args.group).call(ApiKey.DELETE_SHARE_GROUP_OFFSETS, values, 0)
    common.check(answer.error_code, answer.error_message, f"cannot delete the offsets of {args.group}")
    for topic in answer.responses:
        common.check(topic.error_code, topic.error_message, f"cannot delete the offsets of {topic.topic_name}")
    rows = [[args.group, topic.topic_name, "deleted"] for topic in answer.responses]
    data = [dict(group=args.group, topic=topic.topic_name) for topic in answer.responses]
    common.emit(args, lambda: common.table(["GROUP", "TOPIC", "STATUS"], rows), data)


def in_flight_command(args: argparse.Namespace) -> None:
    """Kafka has no API for in-flight records: kwire serves them, read-only,
    on the HTTP port (kwire/observability/share_in_flight.py)."""
    if not args.http:
        raise ClusterError("--in-flight reads a kwire node's HTTP port: give it with --http HOST:PORT")
    base = args.http if "://" in args.http else f"http://{args.http}"
    url = f"{base.rstrip('/')}/share-groups/in-flight?{urllib.parse.urlencode(dict(group=args.group))}"
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as answer:
            found = json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace").strip()
        raise ClusterError(f"{url}: HTTP {exc.code} {detail}") from exc
    except (OSError, ValueError) as exc:
        raise ClusterError(f"cannot read {url}: {exc}") from exc
    rows = []
    for partition in found["partitions"]:
        where = [args.group, partition["topic"], partition["partition"]]
        if not partition["records"]:
            rows.append([*where, "-", "(none in flight)", "-", "-", "-"])
        for r in partition["records"]:
            span = (
                str(r["first_offset"])
                if r["first_offset"] == r["last_offset"]
                else f"{r['first_offset']}-{r['last_offset']}"
            )
            lock = "-" if r["lock_remaining_ms"] is None else str(r["lock_remaining_ms"])
            rows.append([*where, span, r["state"], r["delivery_count"], r["member_id"] or "-", lock])
    header = ["GROUP", "TOPIC", "PARTITION", "OFFSETS", "STATE", "DELIVERY-COUNT", "MEMBER", "LOCK-REMAINING-MS"]
    common.emit(args, lambda: common.table(header, rows), found)


def delete_command(cluster: ClusterClient, args: argparse.Namespace) -> int:
    """DeleteGroups at each group's coordinator, as kafka-share-groups.sh --delete."""
    failed: dict[str, str] = {}
    for group_id in args.group:
        _version, answer = cluster.coordinator(group_id).call(ApiKey.DELETE_GROUPS, dict(groups_names=[group_id]), 2)
        (result,) = answer.results
        if result.error_code != ErrorCode.none:
            failed[group_id] = ErrorCode(result.error_code).name.upper()
    deleted = [g for g in args.group if g not in failed]

    def text() -> str:
        lines = []
        if deleted:
            lines.append(f"Deletion of requested share groups ({', '.join(repr(g) for g in deleted)}) was successful.")
        if failed:
            lines.append("Deletion of some share groups failed:")
            lines += [f"* Share group '{g}' could not be deleted due to: {e}" for g, e in failed.items()]
        return "\n".join(lines)

    common.emit(args, text, [dict(group=g, error=failed.get(g)) for g in args.group])
    return 1 if failed else 0
