"""The command line's cluster client against an in-process node: bootstrap
parsing, version negotiation, metadata, routing to a group's coordinator."""

import pytest

from kwire.admin.cluster_client import ClusterClient, ClusterError, parse_bootstrap, read_command_config
from kwire.protocol.api_keys import ApiKey


def test_bootstrap_servers_are_parsed_as_kafkas_tools_take_them():
    assert parse_bootstrap("a:1, b:2,[::1]:3") == [("a", 1), ("b", 2), ("::1", 3)]
    for bad in ("", "nohost", "h:x", ":9"):
        with pytest.raises(ClusterError):
            parse_bootstrap(bad)


def test_command_config_files_take_client_settings(tmp_path):
    path = tmp_path / "client.properties"
    path.write_text("# comment\nclient.id = tool\nrequest.timeout.ms=5000\n")
    assert read_command_config(str(path)) == {"client.id": "tool", "request.timeout.ms": "5000"}
    # Java's properties syntax, as kafka-topics.sh reads it: a JAAS line continued over several.
    path.write_text('sasl.jaas.config=PlainLoginModule required \\\n    username="a" \\\n  password="b";\n! c\n')
    assert read_command_config(str(path)) == {
        "sasl.jaas.config": 'PlainLoginModule required username="a" password="b";'
    }
    path.write_text("bad=\\u12\n")
    with pytest.raises(ClusterError, match="Malformed"):
        read_command_config(str(path))
    with pytest.raises(ClusterError, match="cannot read"):
        read_command_config(str(tmp_path / "missing"))


def test_versions_metadata_and_the_coordinator(node):
    with ClusterClient(f"127.0.0.1:1,{node.bootstrap_servers}") as cluster:  # the first one is refused
        connection = cluster.any()
        assert connection.version(ApiKey.METADATA, 12) == 12
        with pytest.raises(ClusterError, match="does not serve"):
            connection.version(ApiKey.METADATA, 99, 99)
        answer = cluster.metadata(None)
        assert [b.node_id for b in answer.brokers] == [1]
        assert cluster.coordinator("some-group").address == node.bootstrap_servers
        assert cluster.node(1) is cluster.coordinator("other-group")


def test_an_unreachable_cluster_is_one_error():
    with ClusterClient("127.0.0.1:1") as cluster, pytest.raises(ClusterError, match="cannot connect"):
        cluster.any()
