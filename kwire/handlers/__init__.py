"""Request handlers, one module per API family, and the registry of them."""

from __future__ import annotations


from kwire.protocol.registry import ApiRegistry


def build_registry() -> ApiRegistry:
    from kwire.handlers import api_versions, create_topics, fetch, init_producer_id, list_offsets, metadata, produce

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
    registry.register(
        init_producer_id.API_KEY, init_producer_id.MIN_VERSION, init_producer_id.MAX_VERSION,
        init_producer_id.handle_init_producer_id,
    )
    return registry
