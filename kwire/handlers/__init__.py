"""Request handlers, one module per API family, and the registry of them.

Each module declares its handlers with `@api(ApiKey.X, min, max)` beside
their code; `build_registry` collects them from the modules listed here
(`SERVED` repeats their versions so that a module is imported only when a
request needs it).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from kwire.protocol.api_keys import ApiKey
from kwire.protocol.registry import ApiRegistry


def handler_modules() -> list[ModuleType]:
    """Every module that serves requests, the ones SERVED names (imported
    here, not at the top, so importing one handler module does not import
    them all)."""
    return [importlib.import_module(f"kwire.handlers.{name}") for name in SERVED]


A = ApiKey
# What each handler module serves: the versions of its `@api` declarations,
# (min, max) or (min, max, advertised min). The broker advertises these at
# once and imports a module on the first request for one of its APIs, so
# start-up does not pay for handlers no client calls; a module that
# disagrees with its line here fails that import (and
# tests/handlers/test_registry.py, which checks every module).
SERVED: dict[str, dict[ApiKey, tuple[int, ...]]] = {
    "produce": {A.PRODUCE: (3, 13, 0)},
    "fetch": {A.FETCH: (4, 18)},
    "list_offsets": {A.LIST_OFFSETS: (1, 11)},
    "metadata": {A.METADATA: (0, 13)},
    "api_versions": {A.API_VERSIONS: (0, 4)},
    "create_topics": {A.CREATE_TOPICS: (2, 7)},
    "transactions": {
        A.INIT_PRODUCER_ID: (0, 6),
        A.ADD_PARTITIONS_TO_TXN: (0, 5),
        A.ADD_OFFSETS_TO_TXN: (0, 4),
        A.END_TXN: (0, 4),
        A.TXN_OFFSET_COMMIT: (0, 4),
        A.DESCRIBE_PRODUCERS: (0, 0),
        A.DESCRIBE_TRANSACTIONS: (0, 0),
        A.LIST_TRANSACTIONS: (0, 1),
    },
    "find_coordinator": {A.FIND_COORDINATOR: (0, 6)},
    "groups": {
        A.JOIN_GROUP: (2, 9),
        A.HEARTBEAT: (0, 4),
        A.LEAVE_GROUP: (0, 5),
        A.SYNC_GROUP: (0, 5),
        A.DESCRIBE_GROUPS: (0, 6),
        A.LIST_GROUPS: (0, 5),
        A.DELETE_GROUPS: (0, 2),
    },
    "consumer_groups": {A.CONSUMER_GROUP_HEARTBEAT: (0, 1), A.CONSUMER_GROUP_DESCRIBE: (0, 1)},
    "share_groups": {
        A.SHARE_GROUP_HEARTBEAT: (1, 1),
        A.SHARE_GROUP_DESCRIBE: (1, 1),
        A.SHARE_FETCH: (1, 2),
        A.SHARE_ACKNOWLEDGE: (1, 2),
        A.DESCRIBE_SHARE_GROUP_OFFSETS: (0, 1),
        A.ALTER_SHARE_GROUP_OFFSETS: (0, 0),
        A.DELETE_SHARE_GROUP_OFFSETS: (0, 0),
    },
    "offsets": {A.OFFSET_COMMIT: (2, 10), A.OFFSET_FETCH: (1, 10), A.OFFSET_DELETE: (0, 0)},
    "delete_records": {A.DELETE_RECORDS: (0, 2)},
    "describe_log_dirs": {A.ALTER_REPLICA_LOG_DIRS: (1, 2), A.DESCRIBE_LOG_DIRS: (1, 4)},
    "configs": {A.DESCRIBE_CONFIGS: (1, 4), A.ALTER_CONFIGS: (0, 2), A.INCREMENTAL_ALTER_CONFIGS: (0, 1)},
    "delete_topics": {A.DELETE_TOPICS: (1, 6)},
    "create_partitions": {A.CREATE_PARTITIONS: (0, 3)},
    "describe_cluster": {A.DESCRIBE_CLUSTER: (0, 2)},
    "describe_topic_partitions": {A.DESCRIBE_TOPIC_PARTITIONS: (0, 0)},
    "offset_for_leader_epoch": {A.OFFSET_FOR_LEADER_EPOCH: (2, 4)},
    "elect_leaders": {A.ELECT_LEADERS: (0, 2)},
    "partition_reassignments": {A.ALTER_PARTITION_REASSIGNMENTS: (0, 1), A.LIST_PARTITION_REASSIGNMENTS: (0, 0)},
    "update_features": {A.UPDATE_FEATURES: (0, 2)},
    "client_quotas": {A.DESCRIBE_CLIENT_QUOTAS: (0, 1), A.ALTER_CLIENT_QUOTAS: (0, 1)},
    "acls": {A.DESCRIBE_ACLS: (1, 3), A.CREATE_ACLS: (1, 3), A.DELETE_ACLS: (1, 3)},
    "sasl": {A.SASL_HANDSHAKE: (0, 1), A.SASL_AUTHENTICATE: (0, 2)},
    "scram_credentials": {A.DESCRIBE_USER_SCRAM_CREDENTIALS: (0, 0), A.ALTER_USER_SCRAM_CREDENTIALS: (0, 0)},
    "telemetry": {A.GET_TELEMETRY_SUBSCRIPTIONS: (0, 0), A.PUSH_TELEMETRY: (0, 0), A.LIST_CONFIG_RESOURCES: (0, 0)},
}


def build_registry(*, lazy: bool = True) -> ApiRegistry:
    """Every handler; with `lazy` (the broker's way) each module is imported
    on the first request for one of its APIs, otherwise all at once."""
    registry = ApiRegistry()
    if lazy:
        for module_name, apis in SERVED.items():
            registry.register_lazy(f"kwire.handlers.{module_name}", apis)
    else:
        registry.register_modules(handler_modules())
    return registry
