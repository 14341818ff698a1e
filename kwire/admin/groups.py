"""`kwire groups list` and `kwire groups describe GROUP`: what
kafka-consumer-groups.sh shows, gathered over the wire protocol
(FindCoordinator, ListGroups, DescribeGroups, OffsetFetch, ListOffsets)."""

from __future__ import annotations

import attrs

from kwire.admin.wire_client import WireClient
from kwire.coordinator.consumer_protocol import assignment_partitions
from kwire.protocol.errors import ErrorCode

FIND_COORDINATOR, LIST_GROUPS, DESCRIBE_GROUPS, OFFSET_FETCH, LIST_OFFSETS = 10, 16, 15, 9, 2
_LATEST = -1


class GroupCommandError(Exception):
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
    client_id: str
    host: str
    partitions: tuple[tuple[str, int], ...]


@attrs.frozen
class GroupDescription:
    group_id: str
    state: str
    protocol: str
    members: tuple[MemberInfo, ...]
    rows: tuple[PartitionRow, ...]


def parse_bootstrap(bootstrap: str) -> tuple[str, int]:
    host, _, port = bootstrap.rpartition(":")
    if not host or not port.isdigit():
        raise GroupCommandError(f"--bootstrap-server wants HOST:PORT, got {bootstrap!r}")
    return host, int(port)


def _check(error_code: int, what: str) -> None:
    if error_code != ErrorCode.none:
        raise GroupCommandError(f"{what}: {ErrorCode(error_code).name.upper()}")


def list_groups(client: WireClient) -> list[tuple[str, str, str]]:
    """(group id, state, protocol type) of every group, sorted."""
    response = client.call(LIST_GROUPS, 4, dict(states_filter=[]))
    _check(response.error_code, "ListGroups")
    return sorted((g.group_id, g.group_state, g.protocol_type) for g in response.groups)


def coordinator_for(client: WireClient, group_id: str) -> tuple[str, int]:
    response = client.call(FIND_COORDINATOR, 3, dict(key=group_id, key_type=0))
    _check(response.error_code, f"FindCoordinator({group_id})")
    return response.host, response.port


def describe_group(client: WireClient, group_id: str) -> GroupDescription:
    """Members, assignments, committed offsets, log end offsets and lag."""
    group = client.call(DESCRIBE_GROUPS, 5, dict(groups=[group_id], include_authorized_operations=False)).groups[0]
    _check(group.error_code, f"DescribeGroups({group_id})")
    members = tuple(
        MemberInfo(m.member_id, m.client_id, m.client_host, tuple(assignment_partitions(bytes(m.member_assignment))))
        for m in group.members
    )
    owners: dict[tuple[str, int], MemberInfo] = {}
    for member in members:
        for key in member.partitions:
            owners[key] = member
    fetched = client.call(OFFSET_FETCH, 7, dict(group_id=group_id, topics=None, require_stable=False))
    _check(fetched.error_code, f"OffsetFetch({group_id})")
    committed = {
        (topic.name, p.partition_index): p.committed_offset
        for topic in fetched.topics
        for p in topic.partitions
        if p.committed_offset >= 0
    }
    keys = sorted(set(owners) | set(committed))
    log_ends = _log_end_offsets(client, keys)
    rows = []
    for key in keys:
        owner = owners.get(key)
        rows.append(
            PartitionRow(
                topic=key[0],
                partition=key[1],
                committed=committed.get(key),
                log_end=log_ends.get(key),
                consumer_id=owner.member_id if owner else "-",
                host=owner.host if owner else "-",
                client_id=owner.client_id if owner else "-",
            )
        )
    if group.group_state == "Dead" and not rows:
        raise GroupCommandError(f"group {group_id} does not exist")
    return GroupDescription(group_id, group.group_state, group.protocol_data, members, tuple(rows))


def _log_end_offsets(client: WireClient, keys: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
    if not keys:
        return {}
    by_topic: dict[str, list[int]] = {}
    for topic, partition in keys:
        by_topic.setdefault(topic, []).append(partition)
    response = client.call(
        LIST_OFFSETS,
        7,
        dict(
            replica_id=-1,
            isolation_level=0,
            topics=[
                dict(
                    name=topic,
                    partitions=[
                        dict(partition_index=p, current_leader_epoch=-1, timestamp=_LATEST) for p in partitions
                    ],
                )
                for topic, partitions in by_topic.items()
            ],
        ),
    )
    return {
        (topic.name, p.partition_index): p.offset
        for topic in response.topics
        for p in topic.partitions
        if p.error_code == ErrorCode.none
    }


# --- printing -------------------------------------------------------------------


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]
    return "\n".join(lines)


def format_group_list(groups: list[tuple[str, str, str]]) -> str:
    return _table(["GROUP", "STATE", "PROTOCOL-TYPE"], [[g, s, t or "-"] for g, s, t in groups])


def format_description(description: GroupDescription) -> str:
    def show(value: int | None) -> str:
        return "-" if value is None else str(value)

    title = f"Group {description.group_id}: state {description.state}, {len(description.members)} member(s)" + (
        f", assignor {description.protocol}" if description.protocol else ""
    )
    if not description.rows:
        return title + "\n(no assigned partitions and no committed offsets)"
    header = [
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
        "HOST",
        "CLIENT-ID",
    ]
    rows = [
        [
            description.group_id,
            r.topic,
            str(r.partition),
            show(r.committed),
            show(r.log_end),
            show(r.lag),
            r.consumer_id,
            r.host,
            r.client_id,
        ]
        for r in description.rows
    ]
    return title + "\n\n" + _table(header, rows)


def run(bootstrap: str, action: str, group_id: str | None) -> str:
    host, port = parse_bootstrap(bootstrap)
    with WireClient(host, port) as client:
        if action == "list":
            return format_group_list(list_groups(client))
        if group_id is None:
            raise GroupCommandError("describe needs a group id")
        coordinator = coordinator_for(client, group_id)
    with WireClient(*coordinator) as client:
        return format_description(describe_group(client, group_id))
