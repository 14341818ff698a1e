"""Request handlers, one module per API family, and the registry of them."""

from __future__ import annotations


from kwire.protocol.registry import ApiRegistry


def build_registry() -> ApiRegistry:
    from kwire.handlers import (
        api_versions, configs, create_topics, delete_records, describe_log_dirs, fetch, find_coordinator, groups,
        list_offsets, metadata, offsets, produce, transactions,
    )

    registry = ApiRegistry()
    registry.register(
        produce.API_KEY, produce.MIN_VERSION, produce.MAX_VERSION, produce.handle_produce,
        advertised_min=produce.ADVERTISED_MIN_VERSION,
    )
    registry.register(fetch.API_KEY, fetch.MIN_VERSION, fetch.MAX_VERSION, fetch.handle_fetch)
    registry.register(list_offsets.API_KEY, list_offsets.MIN_VERSION, list_offsets.MAX_VERSION, list_offsets.handle_list_offsets)
    registry.register(metadata.API_KEY, metadata.MIN_VERSION, metadata.MAX_VERSION, metadata.handle_metadata)
    registry.register(api_versions.API_KEY, api_versions.MIN_VERSION, api_versions.MAX_VERSION, api_versions.handle_api_versions)
    registry.register(create_topics.API_KEY, create_topics.MIN_VERSION, create_topics.MAX_VERSION, create_topics.handle_create_topics)
    transaction_handlers = {
        transactions.INIT_PRODUCER_ID: transactions.handle_init_producer_id,
        transactions.ADD_PARTITIONS: transactions.handle_add_partitions_to_txn,
        transactions.ADD_OFFSETS: transactions.handle_add_offsets_to_txn,
        transactions.END_TXN: transactions.handle_end_txn,
        transactions.TXN_OFFSET_COMMIT: transactions.handle_txn_offset_commit,
        transactions.DESCRIBE_PRODUCERS: transactions.handle_describe_producers,
        transactions.DESCRIBE_TRANSACTIONS: transactions.handle_describe_transactions,
        transactions.LIST_TRANSACTIONS: transactions.handle_list_transactions,
    }
    for api_key, handler in transaction_handlers.items():
        registry.register(api_key, *transactions.VERSIONS[api_key], handler)
    registry.register(
        find_coordinator.API_KEY, find_coordinator.MIN_VERSION, find_coordinator.MAX_VERSION,
        find_coordinator.handle_find_coordinator,
    )
    group_handlers = {
        groups.JOIN_GROUP: groups.handle_join_group,
        groups.SYNC_GROUP: groups.handle_sync_group,
        groups.HEARTBEAT: groups.handle_heartbeat,
        groups.LEAVE_GROUP: groups.handle_leave_group,
        groups.DESCRIBE_GROUPS: groups.handle_describe_groups,
        groups.LIST_GROUPS: groups.handle_list_groups,
        groups.DELETE_GROUPS: groups.handle_delete_groups,
    }
    for api_key, handler in group_handlers.items():
        registry.register(api_key, *groups.VERSIONS[api_key], handler)
    offset_handlers = {
        offsets.OFFSET_COMMIT: offsets.handle_offset_commit,
        offsets.OFFSET_FETCH: offsets.handle_offset_fetch,
        offsets.OFFSET_DELETE: offsets.handle_offset_delete,
    }
    for api_key, handler in offset_handlers.items():
        registry.register(api_key, *offsets.VERSIONS[api_key], handler)
    for module, handler in [(delete_records, delete_records.handle_delete_records),
                            (describe_log_dirs, describe_log_dirs.handle_describe_log_dirs)]:
        registry.register(module.API_KEY, module.MIN_VERSION, module.MAX_VERSION, handler)
    config_handlers = {
        configs.DESCRIBE_CONFIGS: configs.handle_describe_configs,
        configs.ALTER_CONFIGS: configs.handle_alter_configs,
        configs.INCREMENTAL_ALTER_CONFIGS: configs.handle_incremental_alter_configs,
    }
    for api_key, handler in config_handlers.items():
        registry.register(api_key, *configs.VERSIONS[api_key], handler)
    return registry
