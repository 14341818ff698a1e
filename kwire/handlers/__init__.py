"""Request handlers, one module per API family, and the registry of them.

Each module declares its handlers with `@api(ApiKey.X, min, max)` beside
their code; `build_registry` collects them from the modules listed here.
"""

from __future__ import annotations

from types import ModuleType

from kwire.protocol.registry import ApiRegistry


def handler_modules() -> list[ModuleType]:
    """Every module that serves requests (imported here, not at the top, so
    importing one handler module does not import them all)."""
    from kwire.handlers import (
        api_versions,
        client_quotas,
        configs,
        create_partitions,
        create_topics,
        delete_records,
        delete_topics,
        describe_cluster,
        describe_log_dirs,
        describe_topic_partitions,
        elect_leaders,
        fetch,
        find_coordinator,
        groups,
        list_offsets,
        metadata,
        offset_for_leader_epoch,
        offsets,
        partition_reassignments,
        produce,
        transactions,
        update_features,
    )

    return [
        produce,
        fetch,
        list_offsets,
        metadata,
        api_versions,
        create_topics,
        transactions,
        find_coordinator,
        groups,
        offsets,
        delete_records,
        describe_log_dirs,
        configs,
        delete_topics,
        create_partitions,
        describe_cluster,
        describe_topic_partitions,
        offset_for_leader_epoch,
        elect_leaders,
        partition_reassignments,
        update_features,
        client_quotas,
    ]


def build_registry() -> ApiRegistry:
    registry = ApiRegistry()
    registry.register_modules(handler_modules())
    return registry
