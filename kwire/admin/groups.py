"""`kwire groups list|describe|delete|delete-offsets|reset-offsets`: what
kafka-consumer-groups.sh does, over the wire protocol (ListGroups on every
broker; FindCoordinator, DescribeGroups, OffsetFetch, OffsetCommit,
OffsetDelete, DeleteGroups at the group's coordinator; ListOffsets at each
partition's leader)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import attrs

from kwire.admin import common
from kwire.admin.cluster_client import ClusterClient, ClusterError
from kwire.admin.parsing import parse_datetime_ms, parse_duration_ms, parse_partition_spec
from kwire.admin.partitions import EARLIEST, LATEST, TopicPartition, list_offsets, partitions_of
from kwire.coordinator.consumer_protocol import assignment_partitions
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode

PROGRAM = "kwire groups"
INACTIVE_STATES = ("Empty", "Dead")  # the states in which Kafka lets a group's offsets be reset


class GroupCommandError(ClusterError):
    pass


@attrs.frozen
class PartitionRow:
    topic: str
    partition: int
    committed: int | None  # None: nothing committed
    log_end: int | None  # None: the partition is unknown to the broker
    consumer_id: str = "-"
    host: str = "-"
    client_id: str = "-"

    @property
    def lag(self) -> int | None:
        # Like kafka-consumer-groups.sh: no lag shown without a committed offset.
        if self.log_end is None or self.committed is None:
            return None
        return max(self.log_end - self.committed, 0)


@attrs.frozen
class MemberInfo:
    member_id: str
    group_instance_id: str | None
    client_id: str
    host: str
    partitions: tuple[tuple[str, int], ...]
    member_epoch: int | None = None  # KIP-848 groups: the member's epoch
    target: tuple[tuple[str, int], ...] = ()  # KIP-848 groups: where its assignment is heading


@attrs.frozen
class GroupDescription:
    group_id: str
    state: str
    protocol: str
    coordinator: str  # "host:port (id)"
    members: tuple[MemberInfo, ...]
    rows: tuple[PartitionRow, ...]

    def as_json(self) -> dict[str, Any]:
        return dict(
            group=self.group_id,
            state=self.state,
            assignment_strategy=self.protocol or None,
            coordinator=self.coordinator,
            members=[
                dict(
                    consumer_id=m.member_id,
                    group_instance_id=m.group_instance_id,
                    host=m.host,
                    client_id=m.client_id,
                    assignment=[dict(topic=t, partition=p) for t, p in m.partitions],
                    **(
                        {}
                        if m.member_epoch is None
                        else dict(
                            member_epoch=m.member_epoch,
                            target_assignment=[dict(topic=t, partition=p) for t, p in m.target],
                        )
                    ),
                )
                for m in self.members
            ],
            offsets=[
                dict(
                    topic=r.topic,
                    partition=r.partition,
                    current_offset=r.committed,
                    log_end_offset=r.log_end,
                    lag=r.lag,
                    consumer_id=None if r.consumer_id == "-" else r.consumer_id,
                    host=None if r.host == "-" else r.host,
                    client_id=None if r.client_id == "-" else r.client_id,
                )
                for r in self.rows
            ],
        )


# --- the command line --------------------------------------------------------------------


def register(commands: Any) -> None:
    groups = commands.add_parser(
        "groups", help="list, describe, delete consumer groups and their offsets (as kafka-consumer-groups.sh)"
    )
    actions = groups.add_subparsers(dest="action", required=True)

    listing = actions.add_parser("list", help="group ids, one a line; with --state, their states")
    listing.add_argument(
        "--state", nargs="?", const="", metavar="STATE[,STATE]", help="show states; only groups in these states"
    )
    _bind(listing, list_command)

    describe = actions.add_parser("describe", help="a group's offsets and lag (default), --members or --state")
    _group_options(describe, allow_all=True)
    view = describe.add_mutually_exclusive_group()
    view.add_argument("--members", action="store_true", help="the group's members")
    view.add_argument("--state", action="store_true", help="the group's state, coordinator and assignor")
    view.add_argument("--offsets", action="store_true", help="committed offsets and lag (the default)")
    describe.add_argument("--verbose", action="store_true", help="with --members: each member's assignment")
    _bind(describe, describe_command)

    delete = actions.add_parser("delete", help="delete empty groups with their committed offsets")
    _group_options(delete, allow_all=True)
    _bind(delete, delete_command)

    delete_offsets = actions.add_parser("delete-offsets", help="delete a group's committed offsets of topics")
    delete_offsets.add_argument("--group", required=True)
    delete_offsets.add_argument("--topic", action="append", required=True, metavar="TOPIC[:P,P]", help="(repeatable)")
    _bind(delete_offsets, delete_offsets_command)

    reset = actions.add_parser(
        "reset-offsets", help="plan (--dry-run, the default) or commit (--execute) new offsets of an inactive group"
    )
    reset.add_argument("--group", required=True)
    scope = reset.add_mutually_exclusive_group(required=True)
    scope.add_argument("--topic", action="append", metavar="TOPIC[:P,P]", help="topic or partitions (repeatable)")
    scope.add_argument("--all-topics", action="store_true", help="every topic the group has committed offsets for")
    target = reset.add_mutually_exclusive_group(required=True)
    target.add_argument("--to-earliest", action="store_true")
    target.add_argument("--to-latest", action="store_true")
    target.add_argument("--to-current", action="store_true")
    target.add_argument("--to-offset", type=int, metavar="N")
    target.add_argument("--shift-by", type=int, metavar="N")
    target.add_argument("--to-datetime", metavar="YYYY-MM-DDTHH:mm:SS.sss[Z|+hh:mm]")
    target.add_argument("--by-duration", metavar="PnDTnHnMnS")
    mode = reset.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", help="only print the plan (the default)")
    mode.add_argument("--execute", action="store_true", help="commit the new offsets")
    _bind(reset, reset_command)


def _group_options(parser: argparse.ArgumentParser, allow_all: bool) -> None:
    parser.add_argument("group", nargs="?", help=argparse.SUPPRESS)  # the older spelling: a positional group
    parser.add_argument("--group", dest="groups", action="append", default=[], help="the group (repeatable)")
    if allow_all:
        parser.add_argument("--all-groups", action="store_true", help="every group")


def _bind(parser: argparse.ArgumentParser, command: common.Command) -> None:
    common.add_connection_options(parser)
    parser.set_defaults(admin=lambda args: common.run(PROGRAM, command, args))


def _chosen_groups(cluster: ClusterClient, args: argparse.Namespace) -> list[str]:
    chosen = list(dict.fromkeys([*([args.group] if args.group else []), *args.groups]))
    if getattr(args, "all_groups", False):
        chosen = sorted({g for g, _s, _t in list_groups(cluster)} | set(chosen))
    elif not chosen:
        raise ClusterError("--group or --all-groups is required")
    return chosen


# --- list -------------------------------------------------------------------------------


def list_groups(cluster: ClusterClient, states: list[str] | None = None) -> list[tuple[str, str, str]]:
    """(group id, state, protocol type) of every group on every broker, sorted."""
    found = set()
    for broker in sorted(b.node_id for b in cluster.metadata([]).brokers):
        _version, answer = cluster.node(broker).call(
            ApiKey.LIST_GROUPS, dict(states_filter=states or [], types_filter=[]), 5, 4 if states else 0
        )
        common.check(answer.error_code, None, f"ListGroups at broker {broker}")
        found |= {(g.group_id, g.group_state, g.protocol_type) for g in answer.groups}
    return sorted(found)


def list_command(cluster: ClusterClient, args: argparse.Namespace) -> None:
    states = [s.strip() for s in (args.state or "").split(",") if s.strip()]
    groups = list_groups(cluster, states)
    data = [dict(group=g, state=s, protocol_type=t or None) for g, s, t in groups]
    if args.state is None:
        common.emit(args, lambda: "\n".join(g for g, _s, _t in groups), data)
    else:
        common.emit(args, lambda: common.table(["GROUP", "STATE"], [[g, s] for g, s, _t in groups]), data)


# --- describe -----------------------------------------------------------------------------


def _described_partitions(assignment: Any) -> tuple[tuple[str, int], ...]:
    return tuple(sorted((t.topic_name, int(p)) for t in assignment.topic_partitions for p in t.partitions))


def _describe_consumer_group(cluster: ClusterClient, group_id: str) -> GroupDescription | None:
    """A KIP-848 group (ConsumerGroupDescribe): members with their epochs and
    target assignments; None if the group is not one (or the broker has none)."""
    coordinator = cluster.coordinator(group_id)
    try:
        _version, described = coordinator.call(
            ApiKey.CONSUMER_GROUP_DESCRIBE, dict(group_ids=[group_id], include_authorized_operations=False), 1
        )
    except ClusterError:
        return None
    group = described.groups[0]
    if group.error_code != ErrorCode.none:
        return None
    members = tuple(
        MemberInfo(
            m.member_id,
            m.instance_id,
            m.client_id,
            m.client_host,
            _described_partitions(m.assignment),
            m.member_epoch,
            _described_partitions(m.target_assignment),
        )
        for m in group.members
    )
    rows = _partition_rows(cluster, group_id, members)
    where = f"{coordinator.address} ({coordinator.node_id})"
    protocol = f"{group.assignor_name} (consumer protocol, group epoch {group.group_epoch})"
    return GroupDescription(group_id, group.group_state, protocol, where, members, rows)


def _partition_rows(cluster: ClusterClient, group_id: str, members: tuple[MemberInfo, ...]) -> tuple[PartitionRow, ...]:
    """One row per partition a member owns or the group committed: offsets, log end and owner."""
    owners = {key: member for member in members for key in member.partitions}
    committed = committed_offsets(cluster, group_id)
    keys = sorted(set(owners) | set(committed))
    log_ends = list_offsets(cluster, keys, LATEST)
    return tuple(
        PartitionRow(
            topic=key[0],
            partition=key[1],
            committed=committed.get(key),
            log_end=log_ends.get(key),
            consumer_id=owners[key].member_id if key in owners else "-",
            host=owners[key].host if key in owners else "-",
            client_id=owners[key].client_id if key in owners else "-",
        )
        for key in keys
    )


def describe_group(cluster: ClusterClient, group_id: str) -> GroupDescription:
    """Members, assignments, committed offsets, log end offsets and lag;
    GroupCommandError if the group does not exist."""
    coordinator = cluster.coordinator(group_id)
    _version, described = coordinator.call(
        ApiKey.DESCRIBE_GROUPS, dict(groups=[group_id], include_authorized_operations=False), 5
    )
    group = described.groups[0]
    if group.group_state == "Dead" or group.error_code == ErrorCode.group_id_not_found:
        consumer_group = _describe_consumer_group(cluster, group_id)
        if consumer_group is not None:
            return consumer_group
    if group.error_code != ErrorCode.none:
        raise GroupCommandError(str(common.failure(group.error_code, None, f"cannot describe group {group_id}")))
    members = tuple(
        MemberInfo(
            m.member_id,
            getattr(m, "group_instance_id", None),
            m.client_id,
            m.client_host,
            tuple(assignment_partitions(bytes(m.member_assignment))) if group.protocol_type == "consumer" else (),
        )
        for m in group.members
    )
    rows = _partition_rows(cluster, group_id, members)
    if group.group_state == "Dead" and not rows:
        raise GroupCommandError(f"Consumer group '{group_id}' does not exist.")
    where = f"{coordinator.address} ({coordinator.node_id})"
    return GroupDescription(group_id, group.group_state, group.protocol_data, where, members, rows)


def committed_offsets(cluster: ClusterClient, group_id: str) -> dict[TopicPartition, int]:
    _version, fetched = cluster.coordinator(group_id).call(
        ApiKey.OFFSET_FETCH, dict(group_id=group_id, topics=None, require_stable=False), 7, 2
    )
    common.check(fetched.error_code, None, f"cannot fetch the offsets of group {group_id}")
    return {
        (topic.name, p.partition_index): p.committed_offset
        for topic in fetched.topics
        for p in topic.partitions
        if p.committed_offset >= 0
    }


def describe_command(cluster: ClusterClient, args: argparse.Namespace) -> None:
    chosen = _chosen_groups(cluster, args)
    progress = common.Progress("describing groups", len(chosen))
    descriptions = []
    for group_id in chosen:
        descriptions.append(describe_group(cluster, group_id))
        progress.step()
    if args.members:
        text = "\n\n".join(format_members(d, args.verbose) for d in descriptions)
    elif args.state:
        text = format_states(descriptions)
    else:
        text = "\n\n".join(format_offsets(d) for d in descriptions)
    common.emit(args, lambda: text, [d.as_json() for d in descriptions])


def format_offsets(description: GroupDescription) -> str:
    header = ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST"]
    rows = [
        [description.group_id, r.topic, r.partition, r.committed, r.log_end, r.lag, r.consumer_id, r.host, r.client_id]
        for r in description.rows
    ]
    note = "" if description.members else f"Consumer group '{description.group_id}' has no active members.\n\n"
    if not rows:
        return note + f"Consumer group '{description.group_id}' has no committed offsets and no assigned partitions."
    return note + common.table([*header, "CLIENT-ID"], rows)


def format_members(description: GroupDescription, verbose: bool) -> str:
    if not description.members:
        return f"Consumer group '{description.group_id}' has no active members."
    header = ["GROUP", "CONSUMER-ID", "GROUP-INSTANCE-ID", "HOST", "CLIENT-ID", "#PARTITIONS"]
    epochs = any(m.member_epoch is not None for m in description.members)  # a KIP-848 group
    rows: list[list[object]] = []
    for m in description.members:
        row: list[object] = [
            description.group_id,
            m.member_id,
            m.group_instance_id,
            m.host,
            m.client_id,
            len(m.partitions),
        ]
        if verbose:
            row.append(_partitions_text(m.partitions))
            if epochs:
                row += [m.member_epoch, _partitions_text(m.target)]
        rows.append(row)
    extra = (["ASSIGNMENT"] + (["MEMBER-EPOCH", "TARGET-ASSIGNMENT"] if epochs else [])) if verbose else []
    return common.table([*header, *extra], rows)


def _partitions_text(partitions: tuple[tuple[str, int], ...]) -> str:
    by_topic: dict[str, list[int]] = {}
    for topic, partition in partitions:
        by_topic.setdefault(topic, []).append(partition)
    return ",".join(f"{t}({','.join(map(str, sorted(ps)))})" for t, ps in sorted(by_topic.items()))


def format_states(descriptions: list[GroupDescription]) -> str:
    return common.table(
        ["GROUP", "COORDINATOR (ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS"],
        [[d.group_id, d.coordinator, d.protocol or None, d.state, len(d.members)] for d in descriptions],
    )


# --- delete and delete-offsets --------------------------------------------------------------


def delete_command(cluster: ClusterClient, args: argparse.Namespace) -> int:
    chosen = _chosen_groups(cluster, args)
    results: dict[str, str] = {}
    for group_id in chosen:
        _version, answer = cluster.coordinator(group_id).call(ApiKey.DELETE_GROUPS, dict(groups_names=[group_id]), 2)
        (result,) = answer.results
        results[group_id] = ErrorCode(result.error_code).name.upper()
    failed = {g: e for g, e in results.items() if e != "NONE"}
    deleted = [g for g in chosen if g not in failed]

    def text() -> str:
        lines = []
        if deleted:
            lines.append(
                f"Deletion of requested consumer groups ({', '.join(repr(g) for g in deleted)}) was successful."
            )
        if failed:
            lines.append("Deletion of some consumer groups failed:")
            lines += [f"* Group '{g}' could not be deleted due to: {e}" for g, e in failed.items()]
        return "\n".join(lines)

    common.emit(args, text, [dict(group=g, error=failed.get(g)) for g in chosen])
    return 1 if failed else 0


def _scope(cluster: ClusterClient, specs: list[str]) -> list[TopicPartition]:
    """The partitions `--topic t[:p,p]` arguments name (every partition of a bare topic)."""
    parsed = [parse_partition_spec(spec) for spec in specs]
    known = partitions_of(cluster, [topic for topic, partitions in parsed if partitions is None])
    keys = {(topic, p) for topic, partitions in parsed for p in (known[topic] if partitions is None else partitions)}
    return sorted(keys)


def delete_offsets_command(cluster: ClusterClient, args: argparse.Namespace) -> int:
    keys = _scope(cluster, args.topic)
    by_topic: dict[str, list[int]] = {}
    for topic, partition in keys:
        by_topic.setdefault(topic, []).append(partition)
    values = dict(
        group_id=args.group,
        topics=[dict(name=t, partitions=[dict(partition_index=p) for p in ps]) for t, ps in by_topic.items()],
    )
    _version, answer = cluster.coordinator(args.group).call(ApiKey.OFFSET_DELETE, values, 0)
    common.check(answer.error_code, None, f"cannot delete offsets of group {args.group}")
    results = [
        (topic.name, p.partition_index, ErrorCode(p.error_code)) for topic in answer.topics for p in topic.partitions
    ]
    results.sort()
    data = [dict(topic=t, partition=p, error=None if e == ErrorCode.none else e.name.upper()) for t, p, e in results]
    common.emit(
        args,
        lambda: common.table(
            ["TOPIC", "PARTITION", "STATUS"],
            [[t, p, "Successful" if e == ErrorCode.none else f"Error: {e.name.upper()}"] for t, p, e in results],
        ),
        data,
    )
    return 1 if any(e != ErrorCode.none for _t, _p, e in results) else 0


# --- reset-offsets ---------------------------------------------------------------------------


def reset_command(cluster: ClusterClient, args: argparse.Namespace) -> None:
    _version, described = cluster.coordinator(args.group).call(
        ApiKey.DESCRIBE_GROUPS, dict(groups=[args.group], include_authorized_operations=False), 5
    )
    state = described.groups[0].group_state
    if state not in INACTIVE_STATES:
        raise ClusterError(
            f"Assignments can only be reset if the group '{args.group}' is inactive, but the current state is {state}."
        )
    committed = committed_offsets(cluster, args.group)
    keys = sorted(committed) if args.all_topics else _scope(cluster, args.topic)
    plan = plan_offsets(cluster, args, keys, committed)
    if not args.execute:
        if not args.dry_run:
            print(
                "WARN: No action will be performed as the --execute option is missing. "
                "In a future major release, the default behavior of this command will be to prompt the user "
                "before executing the reset rather than doing a dry run. You should add the --dry-run option "
                "explicitly if you are scripting this command and want to keep the current default behavior "
                "without prompting.",
                file=sys.stderr,
            )
    else:
        commit_offsets(cluster, args.group, plan)
    data = [dict(group=args.group, topic=t, partition=p, new_offset=o) for (t, p), o in sorted(plan.items())]
    common.emit(
        args,
        lambda: common.table(
            ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"], [[args.group, t, p, o] for (t, p), o in sorted(plan.items())]
        ),
        data,
    )


def plan_offsets(
    cluster: ClusterClient, args: argparse.Namespace, keys: list[TopicPartition], committed: dict[TopicPartition, int]
) -> dict[TopicPartition, int]:
    """The new offset of each partition, as kafka-consumer-groups.sh computes it:
    targets outside the log are clamped to its earliest and latest offsets."""
    earliest = list_offsets(cluster, keys, EARLIEST)
    latest = list_offsets(cluster, keys, LATEST)
    missing = [f"{t}-{p}" for t, p in keys if (t, p) not in latest or (t, p) not in earliest]
    if missing:
        raise ClusterError(f"no offsets for partition(s) {', '.join(missing)}: unknown or without a leader")

    def clamp(key: TopicPartition, offset: int) -> int:
        return min(max(offset, earliest[key]), latest[key])

    if args.to_earliest:
        return {key: earliest[key] for key in keys}
    if args.to_latest:
        return {key: latest[key] for key in keys}
    if args.to_offset is not None:
        return {key: clamp(key, args.to_offset) for key in keys}
    if args.to_current:
        return {key: committed.get(key, latest[key]) for key in keys}
    if args.shift_by is not None:
        without = [f"{t}-{p}" for t, p in keys if (t, p) not in committed]
        if without:
            raise ClusterError(f"Cannot shift offset for partition(s) {', '.join(without)}: no committed offset")
        return {key: clamp(key, committed[key] + args.shift_by) for key in keys}
    if args.to_datetime is not None:
        moment = parse_datetime_ms(args.to_datetime)
    else:
        moment = int(time.time() * 1000) - parse_duration_ms(args.by_duration)
    by_time = list_offsets(cluster, keys, moment)
    # No record at or after the time: the log end, as Kafka does.
    return {key: by_time[key] if by_time.get(key, -1) >= 0 else latest[key] for key in keys}


def commit_offsets(cluster: ClusterClient, group_id: str, plan: dict[TopicPartition, int]) -> None:
    """Commit `plan` as an admin does: generation -1, no member."""
    by_topic: dict[str, list[tuple[int, int]]] = {}
    for (topic, partition), offset in sorted(plan.items()):
        by_topic.setdefault(topic, []).append((partition, offset))
    values = dict(
        group_id=group_id,
        generation_id_or_member_epoch=-1,
        member_id="",
        group_instance_id=None,
        retention_time=-1,
        topics=[
            dict(
                name=topic,
                partitions=[
                    dict(partition_index=p, committed_offset=o, committed_leader_epoch=-1, committed_metadata="")
                    for p, o in partitions
                ],
            )
            for topic, partitions in by_topic.items()
        ],
    )
    _version, answer = cluster.coordinator(group_id).call(ApiKey.OFFSET_COMMIT, values, 9, 2)
    errors = [
        f"{topic.name}-{p.partition_index}: {ErrorCode(p.error_code).name.upper()}"
        for topic in answer.topics
        for p in topic.partitions
        if p.error_code != ErrorCode.none
    ]
    if errors:
        raise ClusterError(f"cannot commit the offsets of group {group_id}: {'; '.join(errors)}")
