"""The cluster's control endpoint (`kwire serve --brokers N --control-port PORT`):
the same small HTTP server as a node's fault endpoint, with the cluster's
controls, and each node's fault API under /nodes/<id>/:

    GET    /cluster                              nodes, leadership, replication counters
    POST   /cluster/nodes/<id>/stop              stop a node: controlled shutdown (leadership moves first)
    POST   /cluster/nodes/<id>/kill              stop it at once, as a crash
    POST   /cluster/nodes/<id>/start             start it again from its data directory
    POST   /cluster/nodes/<id>/isolate           {"isolated": true|false}: replication only
    POST   /cluster/nodes/<id>/slow              {"delay_ms": N}: replicate at most every N ms
    POST   /cluster/partitions/<topic>/<p>/leader  {"node": id}: move leadership
    *      /nodes/<id>/faults...                 that node's fault injection (see faults/control.py)
"""

from __future__ import annotations

import json
import logging
from typing import Any

import trio

from kwire.faults import control
from kwire.server.cluster_runtime import ClusterRuntime
from kwire.server.control_server import serve_http

log = logging.getLogger("kwire.cluster")


async def serve_cluster_control(
    cluster: ClusterRuntime, port: int, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
) -> None:
    async def handle(method: str, path: str, body: bytes) -> tuple[int, Any]:
        return await answer(cluster, method, path, body)

    def after(_status: int, _value: Any) -> None:
        pass

    await serve_http(port, handle, after, "cluster control", task_status=task_status)


async def answer(cluster: ClusterRuntime, method: str, path: str, body: bytes) -> tuple[int, Any]:
    """One request to the cluster's control API: (status, JSON value)."""
    parts = [part for part in path.split("?")[0].split("/") if part]
    if parts[:1] == ["nodes"] and len(parts) >= 3:
        node = cluster.nodes.get(_int(parts[1], "node id"))
        if node is None:
            raise control.HttpError(409, f"node {parts[1]} is not running")
        return control.handle(node.core.state.faults, method, "/" + "/".join(parts[2:]), body)
    if parts == ["cluster"]:
        _expect(method, "GET")
        return 200, cluster.status()
    _expect(method, "POST")
    values = _json(body)
    try:
        if len(parts) == 4 and parts[:2] == ["cluster", "nodes"]:
            node_id, action = _int(parts[2], "node id"), parts[3]
            if node_id not in cluster.configs:
                raise control.HttpError(404, f"no node {node_id} (nodes {cluster.node_ids})")
            if action == "stop":
                await cluster.stop_node(node_id)
            elif action == "kill":
                await cluster.kill_node(node_id)
            elif action == "start":
                await cluster.start_node(node_id)
            elif action == "isolate":
                cluster.isolate(node_id, bool(values.get("isolated", True)))
            elif action == "slow":
                cluster.slow(node_id, _int(values.get("delay_ms", 0), "delay_ms"))
            else:
                raise control.HttpError(404, f"no node action {action!r}")
            return 200, {"node": node_id, "done": action}
        if len(parts) == 5 and parts[:2] == ["cluster", "partitions"] and parts[4] == "leader":
            topic, index = parts[2], _int(parts[3], "partition")
            cluster.move_leader(topic, index, _int(values.get("node"), "node"))
            return 200, {"topic": topic, "partition": index, "leader": values.get("node")}
    except ValueError as error:
        raise control.HttpError(409, str(error)) from None
    raise control.HttpError(404, f"no such path {path}")


def _expect(method: str, wanted: str) -> None:
    if method != wanted:
        raise control.HttpError(405, f"use {wanted}")


def _int(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise control.HttpError(400, f"{what} must be an integer, not {value!r}") from None


def _json(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        value = json.loads(body)
    except ValueError as error:
        raise control.HttpError(400, f"body is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise control.HttpError(400, "body must be a JSON object")
    return value
