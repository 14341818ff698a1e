"""`kwire serve --config server.properties` and the environment, seen by real
clients: a Kafka-style properties file (with KRaft keys kwire has no use
for) is loaded, its settings reach the clients, and the environment, `-o`
and flags win over it in that order."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from compat_tests.broker import KwireProcess
from compat_tests.clients import Outgoing, produce

TIMEOUT_S = 20

# Kafka's config/server.properties (KRaft, broker and controller in one
# process), shortened, with this test's addresses and directory.
SERVER_PROPERTIES = """\
############################# Server Basics #############################

# The role of this server. Setting this puts us in KRaft mode
process.roles=broker,controller

# The node id associated with this instance's roles
node.id={node_id}

# List of controller endpoints used connect to the controller cluster
controller.quorum.bootstrap.servers=localhost:{controller_port}

############################# Socket Server Settings #############################

# The address the socket server listens on.
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}

# Name of listener used for communication between brokers.
inter.broker.listener.name=PLAINTEXT

# Listener name, hostname and port the broker or the controller will advertise to clients.
advertised.listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}

# A comma-separated list of the names of the listeners used by the controller.
controller.listener.names=CONTROLLER

# Maps listener names to security protocols, the default is for them to be the same.
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL

# The number of threads that the server uses for receiving requests from the network
num.network.threads=3
num.io.threads=8
socket.send.buffer.bytes=102400
socket.receive.buffer.bytes=102400
socket.request.max.bytes=104857600

############################# Log Basics #############################

# A comma separated list of directories under which to store log files
log.dirs={log_dirs}

# The default number of log partitions per topic.
num.partitions={num_partitions}
num.recovery.threads.per.data.dir=1

############################# Internal Topic Settings  #############################
offsets.topic.replication.factor=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1

############################# Log Retention Policy #############################

# The minimum age of a log file to be eligible for deletion due to age
log.retention.hours=168
log.segment.bytes=1073741824
log.retention.check.interval.ms=300000
"""
UNSUPPORTED = (
    "process.roles, controller.quorum.bootstrap.servers, num.network.threads, "
    "num.io.threads, socket.send.buffer.bytes, socket.receive.buffer.bytes, num.recovery.threads.per.data.dir, "
    "share.coordinator.state.topic.min.isr, transaction.state.log.min.isr"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_properties(tmp_path: Path, **values: object) -> Path:
    fields = {"node_id": 1, "num_partitions": 1, "log_dirs": tmp_path / "kafka-logs", "controller_port": free_port()}
    path = tmp_path / "server.properties"
    path.write_text(SERVER_PROPERTIES.format(**{**fields, **values}))
    return path


@pytest.fixture
def start_bare(tmp_path):
    """Factory: kwire serve with only the given arguments and KAFKA_/KWIRE_ variables."""
    started: list[KwireProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> KwireProcess:
        broker = KwireProcess(None, tmp_path / f"kwire{len(started)}.log", list(args), env=env, bare=True)
        started.append(broker)
        return broker.start()

    yield start
    for broker in started:
        broker.kill()  # only the processes this fixture started, by their pid


def confluent_partitions(bootstrap: str, topic: str) -> tuple[int, dict[int, str]]:
    from confluent_kafka.admin import AdminClient

    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=TIMEOUT_S)
    brokers = {broker.id: f"{broker.host}:{broker.port}" for broker in metadata.brokers.values()}
    return len(metadata.topics[topic].partitions), brokers


def kafka_python_partitions(bootstrap: str, topic: str) -> int:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=TIMEOUT_S * 1000)
    try:
        (described,) = admin.describe_topics([topic])
        return len(described["partitions"])
    finally:
        admin.close()


def broker_configs(bootstrap: str, node_id: int) -> dict[str, tuple[str, int]]:
    from confluent_kafka.admin import AdminClient, ConfigResource

    admin = AdminClient({"bootstrap.servers": bootstrap})
    node = ConfigResource(ConfigResource.Type.BROKER, str(node_id))
    entries = admin.describe_configs([node])[node].result(TIMEOUT_S)
    return {name: (entry.value, entry.source) for name, entry in entries.items()}


def test_a_kafka_server_properties_file(start_bare, tmp_path):
    from confluent_kafka.admin import ConfigSource

    port = free_port()
    path = write_properties(tmp_path, port=port, node_id=4, num_partitions=3)
    broker = start_bare("--config", str(path))
    assert broker.port == port
    assert (tmp_path / "kafka-logs").is_dir()  # log.dirs is the data directory
    warnings = [line for line in broker.log_path.read_text().splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and warnings[0].endswith(f"ignoring settings kwire does not support: {UNSUPPORTED}")

    produce("confluent-kafka", broker.bootstrap, "from-confluent", [Outgoing(key=b"k", value=b"v")])
    assert confluent_partitions(broker.bootstrap, "from-confluent") == (3, {4: f"127.0.0.1:{port}"})
    produce("kafka-python", broker.bootstrap, "from-kafka-python", [Outgoing(key=b"k", value=b"v")])
    assert kafka_python_partitions(broker.bootstrap, "from-kafka-python") == 3
    produce("aiokafka", broker.bootstrap, "from-aiokafka", [Outgoing(key=b"k", value=b"v")])
    assert confluent_partitions(broker.bootstrap, "from-aiokafka")[0] == 3

    configs = broker_configs(broker.bootstrap, 4)
    assert configs["num.partitions"] == ("3", ConfigSource.STATIC_BROKER_CONFIG.value)
    assert configs["log.retention.ms"] == (str(168 * 3600_000), ConfigSource.STATIC_BROKER_CONFIG.value)


def test_environment_o_and_flags_over_the_file(start_bare, tmp_path):
    file_port, port = free_port(), free_port()
    path = write_properties(tmp_path, port=file_port, node_id=4, num_partitions=2)
    environment = {
        "KWIRE_CONFIG": str(path),  # the file named by the environment
        "KAFKA_NUM_PARTITIONS": "5",  # environment over file
        "KAFKA_LOG_RETENTION_MS": "2000000",
        "KWIRE_PORT": str(port),  # kwire's option over the file's listener
        "KWIRE_ADVERTISED_PORT": str(port),
        "KWIRE_NODE_ID": "6",
        "KWIRE_MEMORY": "true",
    }
    broker = start_bare("-o", "log.retention.ms=3000000", "--node-id", "7", env=environment)
    assert broker.port == port
    assert not (tmp_path / "kafka-logs").exists()  # KWIRE_MEMORY over log.dirs

    produce("kafka-python", broker.bootstrap, "env-kafka-python", [Outgoing(key=b"k", value=b"v")])
    assert kafka_python_partitions(broker.bootstrap, "env-kafka-python") == 5
    produce("confluent-kafka", broker.bootstrap, "env-confluent", [Outgoing(key=b"k", value=b"v")])
    assert confluent_partitions(broker.bootstrap, "env-confluent") == (5, {7: f"127.0.0.1:{port}"})  # flag over env
    configs = broker_configs(broker.bootstrap, 7)
    assert configs["log.retention.ms"][0] == "3000000"  # -o over environment
    assert configs["num.partitions"][0] == "5"


def run_serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    from compat_tests.broker import _environment

    return subprocess.run(
        [sys.executable, "-m", "kwire", "serve", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=_environment(env or {}),
    )


@pytest.mark.parametrize(
    "change, expected",
    [
        (("num.partitions=1", "num.partitions=0"), "Invalid value 0 for configuration num.partitions"),
        (
            # A listener named in no listener.security.protocol.map entry.
            ("listeners=PLAINTEXT", "listeners=INTERNAL://127.0.0.1:9999,PLAINTEXT"),
            "Invalid value INTERNAL://127.0.0.1:9999,PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller} "
            "for configuration listeners: No security protocol defined for listener INTERNAL",
        ),
        (
            ("listeners=PLAINTEXT", "listeners=PLAINTEXT://127.0.0.1:9999,PLAINTEXT"),
            "Invalid value PLAINTEXT://127.0.0.1:9999,PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller} "
            "for configuration listeners: Each listener must have a different name",
        ),
        (
            ("log.dirs=", "log.dirs=,,\nlog.dirs.unused="),
            "Invalid value ,, for configuration log.dirs: at least one log directory must be given",
        ),
    ],
)
def test_a_bad_file_is_one_line_per_problem_naming_file_and_line(tmp_path, change, expected):
    port, controller = free_port(), free_port()
    path = write_properties(tmp_path, port=port, controller_port=controller)
    lines = path.read_text().replace(*change).splitlines()
    path.write_text("\n".join(lines))
    reported = expected.split(" for configuration ")[1].split(":")[0]  # the setting at fault
    line_number = next(number for number, line in enumerate(lines, 1) if line.startswith(f"{reported}="))
    result = run_serve("--config", str(path))
    assert result.returncode == 1 and result.stdout == "" and "Traceback" not in result.stderr
    problems = result.stderr.splitlines()
    located = expected.format(port=port, controller=controller, log_dirs=tmp_path / "kafka-logs")
    assert problems[0].startswith(f"kwire serve: {path}:{line_number}: {located}")
    assert all(problem.startswith(f"kwire serve: {path}:") for problem in problems)
    assert not (tmp_path / "kafka-logs").exists()


def test_bad_environment_is_one_line_naming_the_variable(tmp_path):
    result = run_serve("--memory", "--port", "0", env={"KAFKA_NUM_PARTITIONS": "many"})
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "kwire serve: environment variable KAFKA_NUM_PARTITIONS: Invalid value many for configuration "
        "num.partitions: Not a number of type INT"
    ]
