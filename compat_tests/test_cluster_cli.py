"""`kwire cluster status|stop|start|isolate|rejoin|slow|move-leader`, run as
a user runs them against a `kwire serve --brokers 3 --control-port`, with
real clients producing through what the commands do."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from compat_tests.clients import Outgoing, produce, watermarks
from compat_tests.group_consumers import REPO_ROOT

pytestmark = pytest.mark.timeout(120)
TIMEOUT_S = 30


def cluster_command(cluster, *args: str, status: int = 0) -> str:
    """stdout of `kwire cluster ARGS --control ...` (stdout and stderr on failure); its exit status must be `status`."""
    result = subprocess.run(
        [sys.executable, "-m", "kwire", "cluster", *args, "--control", f"127.0.0.1:{cluster.control_port}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert result.returncode == status, result.stderr
    return result.stdout if status == 0 else result.stdout + result.stderr


@pytest.mark.parametrize("client", ["confluent-kafka", "kafka-python"])
def test_the_cluster_commands_drive_a_running_cluster(start_cluster, topic_name, client):
    cluster = start_cluster("-o", "default.replication.factor=3")
    messages = [Outgoing(key=None, value=b"m%d" % i) for i in range(20)]
    assert len(produce(client, cluster.bootstrap, topic_name, messages)) == 20
    leader = cluster.leader_of(topic_name, 0)

    assert cluster_command(cluster, "stop", str(leader)) == f"node {leader}: stop done\n"
    status = json.loads(cluster_command(cluster, "status", "--output", "json"))
    assert [node["running"] for node in status["nodes"]] == [node != leader for node in (1, 2, 3)]
    (entry,) = [p for p in status["partitions"] if p["topic"] == topic_name]
    assert entry["leader"] not in (leader, -1) and leader not in entry["isr"]
    table = cluster_command(cluster, "status")
    assert f"{leader}     stopped" in table
    assert "Under-replicated partitions:" in table

    running = ",".join(address for node, address in cluster.addresses.items() if node != leader)
    assert len(produce(client, running, topic_name, messages)) == 20
    cluster_command(cluster, "start", str(leader))
    cluster.wait_for_isr(topic_name, 0, {1, 2, 3})
    assert cluster_command(cluster, "move-leader", topic_name, "0", str(leader)) == f"{topic_name}-0: leader {leader}\n"
    assert cluster.leader_of(topic_name, 0) == leader
    assert watermarks(client, cluster.bootstrap, topic_name, 0) == (0, 40)

    follower = next(node for node in (1, 2, 3) if node != leader)
    cluster_command(cluster, "isolate", str(follower))
    assert json.loads(cluster_command(cluster, "status", "--output", "json"))["nodes"][follower - 1]["isolated"]
    cluster_command(cluster, "rejoin", str(follower))
    cluster_command(cluster, "slow", str(follower), "50")
    assert cluster.status()["nodes"][follower - 1]["replication_delay_ms"] == 50
    # kill: at once, as a crash; leadership still moves to an in-sync replica.
    assert cluster_command(cluster, "kill", str(leader)) == f"node {leader}: kill done\n"
    assert cluster.leader_of(topic_name, 0) not in (leader, -1)
    assert not cluster.status()["nodes"][leader - 1]["running"]
    # Mistakes are one line and exit status 1.
    refused = cluster_command(cluster, "stop", "9", status=1)
    assert refused.strip() == "kwire cluster: no node 9 (nodes [1, 2, 3])"
