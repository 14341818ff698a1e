"""GET /share-groups/in-flight: a share group's members and in-flight records, as JSON."""

from __future__ import annotations

import json

import trio

from kwire.http.messages import HttpRequest
from kwire.http.router import Router
from kwire.observability import share_in_flight
from kwire.observability.node_view import NodeView
from tests.observability.watched import metered_core


def _ask(router: Router, target: str) -> tuple[int, dict]:
    answer = trio.run(router, HttpRequest("GET", target))
    return answer.status, json.loads(answer.body)


def test_the_route_answers_a_group_an_unknown_one_and_a_missing_parameter():
    core = metered_core(num_partitions=1)
    try:
        service = core.state.share_groups
        core.state.cluster.create_topic("t", 1)
        service.heartbeat("g", "m", 0, ("t",), None, "c", "/h")
        service.partition("g", "t", 0).acquire("m", [(0, 1, False)], 2, service.now())
        router = Router()
        share_in_flight.add_routes(router, NodeView(core, 0))
        status, found = _ask(router, "/share-groups/in-flight?group=g")
        assert status == 200 and (found["state"], found["members"][0]["member_id"]) == ("Stable", "m")
        ((held,),) = [found["partitions"][0]["records"]]
        assert (held["first_offset"], held["last_offset"], held["state"], held["member_id"]) == (0, 1, "acquired", "m")
        assert _ask(router, "/share-groups/in-flight?group=nope")[0] == 404
        assert _ask(router, "/share-groups/in-flight")[0] == 400
    finally:
        core.close()
