"""`kwire cluster describe`: cluster id, controller, brokers and features
(DescribeCluster where the broker serves it, else Metadata; features from
ApiVersions)."""

from __future__ import annotations

import argparse
from typing import Any

from kwire import __version__
from kwire.admin import common
from kwire.admin.cluster_client import ClusterClient, ClusterError
from kwire.protocol.api_keys import ApiKey

PROGRAM = "kwire cluster"


def register(commands: Any) -> None:
    cluster = commands.add_parser("cluster", help="describe the cluster: id, controller, brokers, features")
    actions = cluster.add_subparsers(dest="action", required=True)
    describe = actions.add_parser("describe", help="cluster id, controller, brokers (id, host, port, rack), features")
    common.add_connection_options(describe)
    describe.set_defaults(admin=lambda args: common.run(PROGRAM, describe_cluster, args))


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
