"""GET /share-groups/in-flight?group=G: a share group's members and, per
share-partition, its in-flight records (kwire-only, read-only, JSON).

Kafka offers no API for a share-partition's in-flight records, and what it
persists in __share_group_state leaves out exactly what a stuck consumer
needs (acquired records, their holder and lock), so the live state is read
from the nodes of this process: the members at the group's coordinator,
each share-partition at the node leading the partition."""

from __future__ import annotations

from typing import Any

from kwire.coordinator.share.in_flight import in_flight_ranges
from kwire.core import BrokerCore
from kwire.http.messages import HttpRequest, HttpResponse
from kwire.http.router import Router
from kwire.observability.node_view import NodeView

PATH = "/share-groups/in-flight"


def add_routes(router: Router, view: NodeView) -> None:
    async def in_flight(request: HttpRequest) -> HttpResponse:
        group_id = request.arg("group")
        if not group_id:
            return HttpResponse.json(400, dict(error="the group parameter is required"))
        found = share_group_state(view.all_nodes(), group_id)
        if found is None:
            return HttpResponse.json(404, dict(error=f"no share group {group_id}"))
        return HttpResponse.json(200, found)

    router.add(PATH, in_flight)


def share_group_state(nodes: list[BrokerCore], group_id: str) -> dict[str, Any] | None:
    """The group as JSON values; None if no node knows it as a share group."""
    group = None
    coordinator = -1
    partitions = []
    for core in nodes:
        state = core.state
        service = state.share_groups
        if group is None and state.groups.owns(group_id) and group_id in service.groups:
            group, coordinator = service.groups[group_id], core.config.node_id
        now = service.now()
        for (owner, topic, index), partition in sorted(service.partitions.items()):
            if owner != group_id or topic not in state.cluster.topics or not state.cluster.leads(topic, index):
                continue
            partitions.append(
                dict(
                    topic=topic,
                    partition=index,
                    leader=core.config.node_id,
                    start_offset=partition.start_offset,
                    end_offset=partition.end_offset,
                    records=[r.as_json() for r in in_flight_ranges(partition, now)],
                )
            )
    if group is None and not partitions:
        return None
    members = [
        dict(member_id=m.member_id, member_epoch=m.member_epoch, client_id=m.client_id, client_host=m.client_host)
        for m in (group.members.values() if group is not None else ())
    ]
    return dict(
        group=group_id,
        state=group.state if group is not None else "Empty",
        coordinator=coordinator,
        members=members,
        partitions=sorted(partitions, key=lambda p: (p["topic"], p["partition"])),
    )


def share_groups_state(nodes: list[BrokerCore]) -> list[dict[str, Any]]:
    """Every share group any node of this process knows, by id."""
    ids = sorted({group_id for core in nodes for group_id in core.state.share_groups.groups})
    found = (share_group_state(nodes, group_id) for group_id in ids)
    return [group for group in found if group is not None]
