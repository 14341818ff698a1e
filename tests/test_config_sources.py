"""Settings from the properties file, the environment, -o and flags: one
precedence (flags > -o > environment > file > defaults), one set of rules,
one line per problem naming its source."""

import re
from pathlib import Path

import pytest

from kwire import cli
from kwire.config import ConfigError
from kwire.config_env import kafka_entries, kafka_name, variable_for
from kwire.config_sources import load

ROOT = Path(__file__).resolve().parent.parent


def serve(argv: list[str], environ: dict[str, str] | None = None):
    args = cli.build_parser().parse_args(["serve", *argv])
    return cli.load_from_args(args, environ or {})


def properties(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "server.properties"
    path.write_text(text)
    return path


# --- environment names ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "variable, name",
    [
        ("KAFKA_NUM_PARTITIONS", "num.partitions"),
        ("KAFKA_LOG_DIRS", "log.dirs"),
        ("KAFKA_ADVERTISED_LISTENERS", "advertised.listeners"),
        ("KAFKA_LISTENER_NAME_INTERNAL__SASL_MECHANISM", "listener.name.internal_sasl.mechanism"),
        ("KAFKA_SOME___DASHED_NAME", "some-dashed.name"),
    ],
)
def test_kafka_variables_name_settings_as_the_apache_image_does(variable, name):
    assert kafka_name(variable) == name
    assert variable_for(name) == variable


def test_the_images_wrapper_variables_are_not_settings():
    environ = {"KAFKA_HEAP_OPTS": "-Xmx1g", "KAFKA_OPTS": "-D", "KAFKA_NUM_PARTITIONS": "2", "PATH": "/bin"}
    assert [(entry.key, entry.value) for entry in kafka_entries(environ)] == [("num.partitions", "2")]


# --- the sources --------------------------------------------------------------------------------------------------


def test_a_kafka_server_properties_file(tmp_path):
    path = properties(
        tmp_path,
        "process.roles=broker,controller\n"
        "node.id=7\n"
        "controller.quorum.voters=7@localhost:9093\n"
        "listeners=PLAINTEXT://0.0.0.0:19092,CONTROLLER://:9093\n"
        "advertised.listeners=PLAINTEXT://kafka.local:29092,CONTROLLER://localhost:9093\n"
        "controller.listener.names=CONTROLLER\n"
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL\n"
        "num.network.threads=3\n"
        f"log.dirs={tmp_path / 'logs'}\n"
        "num.partitions=4\n"
        "log.retention.hours=1\n"
        "zookeeper.connect=localhost:2181\n",
    )
    loaded = serve(["--config", str(path)])
    config = loaded.config
    assert (config.host, config.port) == ("0.0.0.0", 19092)
    assert config.advertised(19092) == ("kafka.local", 29092)
    assert config.data_dir == tmp_path / "logs"
    assert (config.node_id, config.num_partitions, config.log_retention_ms) == (7, 4, 3600_000)
    assert {"num.partitions", "log.retention.ms"} <= config.explicit
    assert loaded.ignored == ["process.roles", "controller.quorum.voters", "num.network.threads", "zookeeper.connect"]


def test_precedence_flags_then_o_then_environment_then_file_then_defaults(tmp_path):
    path = properties(
        tmp_path, "num.partitions=2\nlog.segment.bytes=2000\nmessage.max.bytes=3000\nfetch.max.bytes=4096\n"
    )
    environ = {"KAFKA_LOG_SEGMENT_BYTES": "5000", "KAFKA_MESSAGE_MAX_BYTES": "6000", "KAFKA_NODE_ID": "3"}
    config = serve(
        ["--config", str(path), "-o", "message.max.bytes=7000", "-o", "node.id=4", "--node-id", "5"], environ
    ).config
    assert config.num_partitions == 2  # file only
    assert config.log_segment_bytes == 5000  # environment over file
    assert config.message_max_bytes == 7000  # -o over environment
    assert config.node_id == 5  # flag over -o
    assert config.fetch_max_bytes == 4096  # file only
    assert config.offsets_topic_num_partitions == 50  # default


def test_kwire_variables_are_options_and_win_over_kafka_ones_but_not_over_flags(tmp_path):
    environ = {
        "KAFKA_LISTENERS": "PLAINTEXT://127.0.0.1:9000",
        "KWIRE_PORT": "9001",
        "KWIRE_HOST": "0.0.0.0",
        "KWIRE_DATA_DIR": str(tmp_path / "d"),
        "KWIRE_ADVERTISED_HOST": "example",
        "KWIRE_LOG_LEVEL": "debug",
    }
    loaded = serve([], environ)
    assert (loaded.config.host, loaded.config.port, loaded.config.data_dir) == ("0.0.0.0", 9001, tmp_path / "d")
    assert loaded.config.advertised(9001) == ("example", 9001)
    assert loaded.log_level == "DEBUG"
    loaded = serve(["--port", "9002", "--memory", "--log-level", "warning"], environ)
    assert (loaded.config.port, loaded.config.data_dir, loaded.log_level) == (9002, None, "WARNING")


def test_log_levels_by_logger_and_the_log_format_from_flags_and_the_environment():
    environ = {"KWIRE_LOG_LEVEL": "WARNING,kwire.groups=DEBUG,kwire.admin=ERROR", "KWIRE_LOG_FORMAT": "JSON"}
    loaded = serve([], environ)
    assert (loaded.log_level, loaded.log_format) == ("WARNING", "json")
    assert loaded.logger_levels == (("kwire.groups", "DEBUG"), ("kwire.admin", "ERROR"))
    loaded = serve(
        ["--log-level", "kafka.request.logger=DEBUG", "--log-level", "kwire.admin=info", "--log-format", "text"],
        environ,
    )
    assert (loaded.log_level, loaded.log_format) == ("WARNING", "text")  # the root level from the environment
    assert dict(loaded.logger_levels) == {
        "kwire.groups": "DEBUG",
        "kwire.admin": "INFO",
        "kafka.request.logger": "DEBUG",
    }
    assert serve(["-o", "kafka.request.logging=true"]).config.kafka_request_logging is True
    with pytest.raises(ConfigError) as raised:
        serve([], {"KWIRE_LOG_FORMAT": "xml", "KWIRE_LOG_LEVEL": "kwire=LOUD"})
    assert sorted(str(raised.value).splitlines()) == [
        "Invalid value kwire=LOUD for environment variable KWIRE_LOG_LEVEL: String must be one of: "
        "DEBUG, INFO, WARNING, ERROR",
        "Invalid value xml for environment variable KWIRE_LOG_FORMAT: String must be one of: text, json",
    ]


def test_kwire_memory_and_the_config_file_from_the_environment(tmp_path):
    path = properties(tmp_path, f"log.dirs={tmp_path / 'x'}\nnum.partitions=6\n")
    config = serve([], {"KWIRE_CONFIG": str(path), "KWIRE_MEMORY": "true"}).config
    assert config.data_dir is None and config.num_partitions == 6
    assert serve(["--data-dir", str(tmp_path / "y")], {"KWIRE_MEMORY": "true"}).config.data_dir == tmp_path / "y"


def test_without_any_source_the_defaults(tmp_path):
    loaded = serve([], {"PATH": "/bin"})
    config = loaded.config
    assert (config.host, config.port, config.data_dir, config.node_id) == ("127.0.0.1", 9092, Path("kwire-data"), 1)
    assert config.explicit == set() and loaded.ignored == [] and loaded.log_level == "INFO"


def test_unknown_names_are_collected_once_from_file_and_environment(tmp_path):
    path = properties(tmp_path, "sasl.kerberos.service.name=kafka\nsasl.kerberos.service.name=k2\nnum.partitions=2\n")
    loaded = serve(["--config", str(path)], {"KAFKA_PROCESS_ROLES": "broker", "KWIRE_COLOUR": "blue"})
    assert loaded.ignored == ["sasl.kerberos.service.name", "process.roles", "KWIRE_COLOUR"]


def test_an_unknown_o_setting_is_still_an_error():
    with pytest.raises(ConfigError, match=r"^Unknown broker config 'zookeeper.connect'$"):
        serve(["-o", "zookeeper.connect=x"])


def test_underscored_names_are_not_settings():
    with pytest.raises(ConfigError, match="Unknown broker config 'num_partitions'"):
        serve(["-o", "num_partitions=3"])


# --- problems: one line each, naming the source -------------------------------------------------------------------


def test_every_problem_names_its_file_line_or_variable(tmp_path):
    path = properties(tmp_path, "# kafka\nnum.partitions=0\n\nlog.cleaner.enable=maybe\n")
    with pytest.raises(ConfigError) as raised:
        serve(
            ["--config", str(path), "--port", "70000", "-o", "log.segment.bytes=1"],
            {"KAFKA_FETCH_MAX_BYTES": "x", "KWIRE_NODE_ID": "-2"},
        )
    assert str(raised.value).splitlines() == [
        "Invalid value -2 for environment variable KWIRE_NODE_ID: Value must be at least 0",
        "Invalid value 70000 for option --port: Value must be no more than 65535",
        f"{path}:2: Invalid value 0 for configuration num.partitions: Value must be at least 1",
        f"{path}:4: Invalid value maybe for configuration log.cleaner.enable: Expected value to be either true or false",
        "environment variable KAFKA_FETCH_MAX_BYTES: Invalid value x for configuration fetch.max.bytes: Not a number of type INT",
        "Invalid value 1 for configuration log.segment.bytes: Value must be at least 14",
    ]


def test_a_bad_value_overridden_by_a_higher_source_is_still_reported(tmp_path):
    # Kafka checks every value it is given; so does kwire, whichever wins.
    path = properties(tmp_path, "num.partitions=zero\n")
    with pytest.raises(ConfigError, match=r":1: Invalid value zero for configuration num.partitions"):
        serve(["--config", str(path), "-o", "num.partitions=2"])


@pytest.mark.parametrize(
    "line, expected",
    [
        ("listeners=PLAINTEXT://:9092,SSL://:9092", "Each listener must have a different port"),
        ("listeners=PLAINTEXT://:9092,PLAINTEXT://:9093", "Each listener must have a different name"),
        (
            "listeners=PLAINTEXT://:9092\nadvertised.listeners=SSL://h:9093",
            "advertised.listeners: listener SSL is not one of listeners",
        ),
        (
            "listeners=PLAINTEXT://:9092\ninter.broker.listener.name=INTERNAL",
            "inter.broker.listener.name: INTERNAL is not one of listeners",
        ),
        (
            "inter.broker.listener.name=PLAINTEXT\nsecurity.inter.broker.protocol=SSL",
            "Only one of inter.broker.listener.name and security.inter.broker.protocol should be set",
        ),
        ("listeners=CONTROLLER://:9093", "No security protocol defined for listener CONTROLLER"),
        ("listeners=localhost:9092", "Unable to parse localhost:9092 to a broker endpoint"),
        (
            "listeners=PLAINTEXT://:99999",
            "Invalid value 99999 for configuration listeners (port): Value must be no more than 65535",
        ),
        (
            "advertised.listeners=PLAINTEXT://h:0",
            "Invalid value 0 for configuration advertised.listeners (port): Value must be at least 1",
        ),
        ("log.dirs=,", "Invalid value , for configuration log.dirs: at least one log directory must be given"),
        ("listener.security.protocol.map=PLAINTEXT", "listener.security.protocol.map: expected NAME:PROTOCOL pairs"),
    ],
)
def test_listeners_and_log_dirs_kwire_cannot_serve(tmp_path, line, expected):
    """(Several listeners are fine; what Kafka refuses is refused in one line.)"""
    path = properties(tmp_path, f"num.partitions=1\n{line}\n")
    with pytest.raises(ConfigError) as raised:
        serve(["--config", str(path)])
    (message,) = str(raised.value).splitlines()
    assert expected in message
    if "\n" not in line:  # one line at fault: it is named (checks across settings name the settings)
        assert message.startswith(f"{path}:2: ")


def test_listener_names_mapped_to_plaintext_and_ipv6_hosts(tmp_path):
    path = properties(
        tmp_path,
        "listener.security.protocol.map=EXTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT\n"
        "controller.listener.names=CONTROLLER\n"
        "listeners=CONTROLLER://:9093,EXTERNAL://[::1]:9094\n"
        "advertised.listeners=EXTERNAL://:9094\n",
    )
    config = serve(["--config", str(path)]).config
    assert (config.host, config.port) == ("::1", 9094)
    assert config.advertised_host is None  # no host: the listen host (::1)


def test_an_empty_listener_host_listens_everywhere_and_log_dir_yields_to_log_dirs(tmp_path):
    path = properties(tmp_path, "log.dir=/ignored\nlisteners=PLAINTEXT://:9095\nlog.dirs=/kept\n")
    config = serve(["--config", str(path)]).config
    assert (config.host, config.port, config.data_dir) == ("0.0.0.0", 9095, Path("/kept"))
    assert serve([], {"KAFKA_LOG_DIR": "/only"}).config.data_dir == Path("/only")


def test_node_id_and_broker_id_must_agree(tmp_path):
    assert serve([], {"KAFKA_BROKER_ID": "9"}).config.node_id == 9
    assert serve([], {"KAFKA_BROKER_ID": "9", "KAFKA_NODE_ID": "9"}).config.node_id == 9
    with pytest.raises(ConfigError, match=r"node.id \(2, .*\) and broker.id \(3, .*\) must be the same"):
        serve(["-o", "broker.id=3"], {"KAFKA_NODE_ID": "2"})


def test_bad_kwire_variables_and_a_missing_file(tmp_path):
    with pytest.raises(ConfigError) as raised:
        serve([], {"KWIRE_MEMORY": "yes", "KWIRE_LOG_LEVEL": "loud", "KWIRE_CONFIG": str(tmp_path / "none")})
    assert str(raised.value).splitlines() == [
        "Invalid value loud for environment variable KWIRE_LOG_LEVEL: String must be one of: DEBUG, INFO, WARNING, ERROR",
        "Invalid value yes for environment variable KWIRE_MEMORY: Expected value to be either true or false",
        f"cannot read config file {tmp_path / 'none'}: No such file or directory",
    ]


def test_load_without_a_command_line():
    loaded = load(flags={}, overrides=["num.partitions=3"], environ={"KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false"})
    assert loaded.config.num_partitions == 3 and loaded.config.auto_create_topics_enable is False


# --- the Dockerfile takes everything from the environment --------------------------------------------------------


def dockerfile_environment() -> dict[str, str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    environment: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            environment.update(re.findall(r"(\w+)=(\S+)", line))
    return environment


def test_the_dockerfile_runs_kwire_serve_with_no_flags():
    text = (ROOT / "Dockerfile").read_text()
    assert 'CMD ["kwire", "serve"]' in text


def test_the_images_environment_listens_everywhere_and_advertises_localhost():
    config = serve([], dockerfile_environment()).config
    assert (config.host, config.port, config.data_dir) == ("0.0.0.0", 9092, Path("/data"))
    assert config.advertised(9092) == ("localhost", 9092)


def test_the_images_environment_turns_the_http_port_on_where_docker_reaches_it():
    config = serve([], dockerfile_environment()).config
    assert (config.http_host, config.http_port) == ("0.0.0.0", 8080)
    assert "HEALTHCHECK" in (ROOT / "Dockerfile").read_text()


def test_the_images_environment_is_overridden_by_docker_run_e():
    environment = {
        **dockerfile_environment(),
        "KAFKA_ADVERTISED_LISTENERS": "PLAINTEXT://kafka:9092",
        "KAFKA_NUM_PARTITIONS": "3",
        "KWIRE_MEMORY": "true",
    }
    config = serve([], environment).config
    assert config.advertised(9092) == ("kafka", 9092)
    assert config.num_partitions == 3 and config.data_dir is None


def test_several_listeners_with_named_ones_and_their_advertised_addresses(tmp_path):
    path = properties(
        tmp_path,
        "listeners=CLIENT://127.0.0.1:9092,SSL://:9093,SASL_SSL://127.0.0.1:9094\n"
        "listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL\n"
        "advertised.listeners=CLIENT://kafka.local:19092,SASL_SSL://kafka.local:19094\n"
        "listener.name.client.plain.sasl.jaas.config=x required;\n",
    )
    config = serve(["--config", str(path)]).config
    assert [(spec.name, spec.protocol, spec.host, spec.port) for spec in config.listeners()] == [
        ("CLIENT", "SASL_PLAINTEXT", "127.0.0.1", 9092),
        ("SSL", "SSL", "0.0.0.0", 9093),
        ("SASL_SSL", "SASL_SSL", "127.0.0.1", 9094),
    ]
    first, tls, sasl_ssl = config.listeners()
    assert config.advertised_for(first, 9092) == ("kafka.local", 19092)
    assert config.advertised_for(tls, 9093) == ("127.0.0.1", 9093)  # not advertised: where it listens
    assert config.advertised_for(sasl_ssl, 9094) == ("kafka.local", 19094)
    assert config.listener_setting("CLIENT", "sasl.jaas.config", "PLAIN") == "x required;"
    assert config.listener_setting("SSL", "sasl.jaas.config", "PLAIN") is None
