"""`kwire cluster describe`: cluster id, controller, brokers and features
(DescribeCluster where the broker serves it, else Metadata; features from
ApiVersions). And the controls of a multi-broker `kwire serve --brokers N
--control-port PORT` (kwire/server/cluster_control.py): `status`, `stop`,
`kill`, `start`, `isolate`, `rejoin`, `slow`, `move-leader`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from kwire import __version__
from kwire.admin import common, faults_command
from kwire.admin.cluster_client import ClusterClient, ClusterError
from kwire.protocol.api_keys import ApiKey

PROGRAM = "kwire cluster"


def register(commands: Any) -> None:
    cluster = commands.add_parser("cluster", help="describe the cluster: id, controller, brokers, features")
    actions = cluster.add_subparsers(dest="action", required=True)
    describe = actions.add_parser("describe", help="cluster id, controller, brokers (id, host, port, rack), features")
    common.add_connection_options(describe)
    describe.set_defaults(admin=lambda args: common.run(PROGRAM, describe_cluster, args))

    status = actions.add_parser("status", help="nodes, leaders and ISRs, replication counters (--brokers N only)")
    faults_command.control_option(status)
    status.add_argument("--output", choices=["table", "json"], default="table", help="(default table)")
    status.set_defaults(admin=_status)
    for action, help_text in (
        ("stop", "stop a node (controlled shutdown): leadership moves to in-sync replicas first"),
        ("kill", "stop a node at once, as a crash"),
        ("start", "start a stopped node again from its data"),
        ("isolate", "cut a node off from replication (its clients still reach it)"),
        ("rejoin", "undo isolate"),
    ):
        parser = actions.add_parser(action, help=help_text)
        faults_command.control_option(parser)
        parser.add_argument("node", type=int)
        parser.set_defaults(admin=_node_action)
    slow = actions.add_parser("slow", help="a node replicates at most every MS milliseconds (0: full speed)")
    faults_command.control_option(slow)
    slow.add_argument("node", type=int)
    slow.add_argument("ms", type=int)
    slow.set_defaults(admin=_node_action)
    move = actions.add_parser("move-leader", help="make an in-sync replica the leader of a partition")
    faults_command.control_option(move)
    move.add_argument("topic")
    move.add_argument("partition", type=int)
    move.add_argument("node", type=int)
    move.set_defaults(admin=_move_leader)


def _node_action(args: argparse.Namespace) -> int:
    action, body = args.action, None
    if action in ("isolate", "rejoin"):
        action, body = "isolate", {"isolated": args.action == "isolate"}
    elif action == "slow":
        body = {"delay_ms": args.ms}
    return _control(args, f"/cluster/nodes/{args.node}/{action}", body, f"node {args.node}: {args.action} done")


def _move_leader(args: argparse.Namespace) -> int:
    path = f"/cluster/partitions/{args.topic}/{args.partition}/leader"
    return _control(args, path, {"node": args.node}, f"{args.topic}-{args.partition}: leader {args.node}")


def _control(args: argparse.Namespace, path: str, body: dict[str, Any] | None, done: str) -> int:
    try:
        faults_command.call(args.control, "POST", path, body or {})
    except faults_command.ControlError as error:
        print(f"{PROGRAM}: {error}", file=sys.stderr, flush=True)
        return 1
    print(done)
    return 0


def _status(args: argparse.Namespace) -> int:
    try:
        status = faults_command.call(args.control, "GET", "/cluster")
    except faults_command.ControlError as error:
        print(f"{PROGRAM}: {error}", file=sys.stderr, flush=True)
        return 1
    if args.output == "json":
        print(json.dumps(status))
        return 0
    nodes = [
        [n["id"], "running" if n["running"] else "stopped", n["address"] or "-", n["rack"] or "-", _node_notes(n)]
        for n in status["nodes"]
    ]
    partitions = [
        [p["topic"], p["partition"], p["leader"], p["leader_epoch"], _ids(p["replicas"]), _ids(p["isr"])]
        for p in status["partitions"]
        if not p["topic"].startswith("__")
    ]
    print(common.table(["NODE", "STATE", "ADDRESS", "RACK", "REPLICATION"], nodes))
    print()
    print(common.table(["TOPIC", "PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR"], partitions))
    print()
    print(
        f"Under-replicated partitions: {status['under_replicated_partitions']}, offline partitions: "
        f"{status['offline_partitions']}, ISR shrinks: {status['isr_shrinks']}, ISR expands: {status['isr_expands']}"
    )
    return 0


def _node_notes(node: dict[str, Any]) -> str:
    if node["isolated"]:
        return "isolated"
    if node["replication_delay_ms"]:
        return f"every {node['replication_delay_ms']} ms"
    return "-"


def _ids(nodes: list[int]) -> str:
    return ",".join(str(node) for node in nodes)


def describe_cluster(cluster: ClusterClient, args: argparse.Namespace) -> None:
    connection = cluster.any()
    try:
        _version, answer = connection.call(
            ApiKey.DESCRIBE_CLUSTER, dict(include_cluster_authorized_operations=False, endpoint_type=1), 1
        )
        common.check(answer.error_code, answer.error_message, "DescribeCluster")
        brokers = [(b.broker_id, b.host, b.port, b.rack) for b in answer.brokers]
    except ClusterError as error:
        if "does not serve" not in str(error):
            raise
        answer = cluster.metadata([])
        brokers = [(b.node_id, b.host, b.port, b.rack) for b in answer.brokers]
    software = dict(client_software_name="kwire-cli", client_software_version=__version__)
    _version, versions = connection.call(ApiKey.API_VERSIONS, software, 3)
    finalized = {f.name: f.max_version_level for f in getattr(versions, "finalized_features", ())}
    data = dict(
        cluster_id=answer.cluster_id,
        controller_id=answer.controller_id,
        brokers=[dict(id=i, host=h, port=p, rack=r) for i, h, p, r in sorted(brokers)],
        features=[
            dict(
                name=f.name, min_version=f.min_version, max_version=f.max_version, finalized_level=finalized.get(f.name)
            )
            for f in sorted(getattr(versions, "supported_features", ()), key=lambda f: f.name)
        ],
    )

    def text() -> str:
        lines = [
            f"Cluster ID: {data['cluster_id'] or '-'}",
            f"Controller: {data['controller_id'] if data['controller_id'] >= 0 else 'none'}",
            "",
            common.table(["BROKER-ID", "HOST", "PORT", "RACK"], [list(b.values()) for b in data["brokers"]]),
            "",
        ]
        if data["features"]:
            lines.append(
                common.table(
                    ["FEATURE", "SUPPORTED-MIN", "SUPPORTED-MAX", "FINALIZED"],
                    [[f["name"], f["min_version"], f["max_version"], f["finalized_level"]] for f in data["features"]],
                )
            )
        else:
            lines.append("Features: none")
        return "\n".join(lines)

    common.emit(args, text, data)
