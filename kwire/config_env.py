"""Settings from environment variables, as container images take them.

`KAFKA_…` variables are Kafka settings named the way the apache/kafka image
names them: strip the prefix, lower-case, then `___` → `-`, `__` → `_` and
`_` → `.` (KAFKA_NUM_PARTITIONS=3 is num.partitions=3). The variables that
image keeps for its JVM wrapper (KAFKA_HEAP_OPTS, KAFKA_OPTS, ...) are not
settings and are left alone. `KWIRE_…` variables are kwire's own options
(KWIRE_PORT is --port).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from kwire.config_files import Entry

KAFKA_PREFIX = "KAFKA_"
KWIRE_PREFIX = "KWIRE_"

# The apache/kafka image's wrapper and JVM variables: not broker settings.
WRAPPER_VARIABLES = frozenset(
    {
        "KAFKA_VERSION",
        "KAFKA_HEAP_OPTS",
        "KAFKA_LOG4J_OPTS",
        "KAFKA_OPTS",
        "KAFKA_JMX_OPTS",
        "KAFKA_JVM_PERFORMANCE_OPTS",
        "KAFKA_GC_LOG_OPTS",
        "KAFKA_LOG4J_ROOT_LOGLEVEL",
        "KAFKA_LOG4J_LOGGERS",
        "KAFKA_TOOLS_LOG4J_LOGLEVEL",
        "KAFKA_JMX_HOSTNAME",
        "KAFKA_JMX_PORT",
    }
)

# kwire's options by variable: the option's name in kwire/config_sources.py.
KWIRE_VARIABLES = {
    "KWIRE_CONFIG": "config",
    "KWIRE_HOST": "host",
    "KWIRE_PORT": "port",
    "KWIRE_DATA_DIR": "data_dir",
    "KWIRE_MEMORY": "memory",
    "KWIRE_ADVERTISED_HOST": "advertised_host",
    "KWIRE_ADVERTISED_PORT": "advertised_port",
    "KWIRE_NODE_ID": "node_id",
    "KWIRE_LOG_LEVEL": "log_level",
    "KWIRE_LOG_FORMAT": "log_format",
    "KWIRE_CONTROL_PORT": "control_port",
    "KWIRE_HTTP_PORT": "http_port",
    "KWIRE_HTTP_HOST": "http_host",
}

_UNDERSCORES = re.compile("___|__|_")
_REPLACEMENTS = {"___": "-", "__": "_", "_": "."}


def kafka_name(variable: str) -> str:
    """The Kafka setting a KAFKA_… variable names: KAFKA_LOG_DIRS -> log.dirs."""
    body = variable[len(KAFKA_PREFIX) :].lower()
    return _UNDERSCORES.sub(lambda match: _REPLACEMENTS[match.group()], body)


def variable_for(name: str) -> str:
    """The KAFKA_… variable that sets a Kafka setting (the inverse of kafka_name)."""
    return KAFKA_PREFIX + name.replace("_", "__").replace("-", "___").replace(".", "_").upper()


def kafka_entries(environ: Mapping[str, str]) -> list[Entry]:
    """Every KAFKA_… variable that is a setting, in name order (so the result
    does not depend on the environment's order)."""
    return [
        Entry(kafka_name(variable), value, f"environment variable {variable}")
        for variable, value in sorted(environ.items())
        if variable.startswith(KAFKA_PREFIX) and variable not in WRAPPER_VARIABLES and len(variable) > len(KAFKA_PREFIX)
    ]


def kwire_entries(environ: Mapping[str, str]) -> tuple[dict[str, Entry], list[str]]:
    """kwire's options from KWIRE_… variables (option name -> entry), and the
    KWIRE_… variables kwire does not know."""
    options = {}
    unknown = []
    for variable, value in sorted(environ.items()):
        if not variable.startswith(KWIRE_PREFIX):
            continue
        if variable in KWIRE_VARIABLES:
            option = KWIRE_VARIABLES[variable]
            options[option] = Entry(option, value, f"environment variable {variable}")
        else:
            unknown.append(variable)
    return options, unknown
