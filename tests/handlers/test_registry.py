"""The registry: what the broker serves, declared beside each handler."""

import types

import pytest

from kwire.handlers import build_registry, handler_modules
from kwire.protocol.api_keys import ApiKey
from kwire.protocol.registry import ApiRegistry, DuplicateApi, api

# What the broker advertised before registration moved beside the handlers
# (issue 10): (api_key, advertised min, max). Changing it is a protocol change.
SUPPORTED = [
    (0, 0, 13),
    (1, 4, 18),
    (2, 1, 11),
    (3, 0, 13),
    (8, 2, 10),
    (9, 1, 10),
    (10, 0, 6),
    (11, 2, 9),
    (12, 0, 4),
    (13, 0, 5),
    (14, 0, 5),
    (15, 0, 6),
    (16, 0, 5),
    (17, 0, 1),
    (18, 0, 4),
    (19, 2, 7),
    (20, 1, 6),
    (21, 0, 2),
    (22, 0, 6),
    (23, 2, 4),
    (24, 0, 5),
    (25, 0, 4),
    (26, 0, 4),
    (28, 0, 4),
    (29, 1, 3),
    (30, 1, 3),
    (31, 1, 3),
    (32, 1, 4),
    (33, 0, 2),
    (34, 1, 2),
    (35, 1, 4),
    (36, 0, 2),
    (37, 0, 3),
    (42, 0, 2),
    (43, 0, 2),
    (44, 0, 1),
    (45, 0, 1),
    (46, 0, 0),
    (47, 0, 0),
    (48, 0, 1),
    (49, 0, 1),
    (50, 0, 0),
    (51, 0, 0),
    (57, 0, 2),
    (60, 0, 2),
    (61, 0, 0),
    (65, 0, 0),
    (66, 0, 1),
    (68, 0, 1),
    (69, 0, 1),
    (71, 0, 0),
    (72, 0, 0),
    (74, 0, 0),
    (75, 0, 0),
    # Share groups (KIP-932), at Kafka 4.2's versions (ShareFetch and
    # ShareAcknowledge v2: KIP-1206, KIP-1222; librdkafka 2.16 sends v1).
    (76, 1, 1),
    (77, 1, 1),
    (78, 1, 2),
    (79, 1, 2),
    (90, 0, 1),
    (91, 0, 0),
    (92, 0, 0),
]


def test_supported_apis_are_exactly_todays():
    assert build_registry().supported() == SUPPORTED


def test_produce_is_served_from_v3_but_advertised_from_v0():
    spec = build_registry().get(ApiKey.PRODUCE)
    assert (spec.min_version, spec.advertised_min, spec.max_version) == (3, 0, 13)


def test_every_registered_key_is_an_api_key():
    registry = build_registry()
    for key, _low, _high in registry.supported():
        assert registry.get(key).api_key is ApiKey(key)
        assert isinstance(registry.get(key).api_key, ApiKey)


def test_a_duplicate_registration_is_refused():
    registry = ApiRegistry()
    registry.register(ApiKey.FETCH, 4, 18, lambda ctx, request: None)
    with pytest.raises(DuplicateApi):
        registry.register(ApiKey.FETCH, 4, 12, lambda ctx, request: None)
    assert registry.get(ApiKey.FETCH).max_version == 18


def test_a_module_serving_an_api_twice_is_refused():
    module = types.ModuleType("two_fetches")

    @api(ApiKey.FETCH, 4, 18)
    def first(ctx, request):
        return None

    @api(ApiKey.FETCH, 4, 18)
    def second(ctx, request):
        return None

    for handler in (first, second):
        handler.__module__ = module.__name__
        setattr(module, handler.__name__, handler)
    registry = ApiRegistry()
    with pytest.raises(DuplicateApi):
        registry.register_module(module)


def test_the_handler_modules_together_register_without_a_duplicate():
    registry = ApiRegistry()
    registry.register_modules(handler_modules())  # would raise DuplicateApi
    assert len(registry.supported()) == len(SUPPORTED)


def test_an_unknown_api_key_has_no_spec():
    assert build_registry().get(999) is None
    assert build_registry().get(ApiKey.CREATE_DELEGATION_TOKEN) is None


def test_api_keys_have_kafkas_names():
    assert ApiKey.PRODUCE == 0 and ApiKey.API_VERSIONS == 18 and ApiKey.TXN_OFFSET_COMMIT == 28
    assert ApiKey.INCREMENTAL_ALTER_CONFIGS == 44 and ApiKey.LIST_TRANSACTIONS == 66


def test_api_tags_only_functions():
    with pytest.raises(TypeError):

        @api(ApiKey.FETCH, 4, 18)
        class NotAHandler:
            pass


def test_the_lazy_registry_advertises_what_the_modules_declare():
    lazy, eager = build_registry(), build_registry(lazy=False)
    assert lazy.supported() == eager.supported()
    for key, _low, _high in eager.supported():
        assert lazy.max_version(key) == eager.get(key).max_version
        loaded, declared = lazy.get(key), eager.get(key)
        assert (loaded.min_version, loaded.max_version, loaded.advertised_min) == (
            declared.min_version,
            declared.max_version,
            declared.advertised_min,
        )
        assert loaded.handler is declared.handler


def test_a_module_that_disagrees_with_its_declared_versions_fails_its_first_request():
    registry = ApiRegistry()
    registry.register_lazy("kwire.handlers.metadata", {ApiKey.METADATA: (0, 99)})
    assert registry.supported() == [(3, 0, 99)]
    with pytest.raises(ValueError, match="METADATA"):
        registry.get(ApiKey.METADATA)


def test_a_lazy_api_cannot_be_claimed_twice():
    registry = build_registry()
    with pytest.raises(DuplicateApi):
        registry.register(ApiKey.FETCH, 4, 12, lambda ctx, request: None)
    with pytest.raises(DuplicateApi):
        registry.register_lazy("kwire.handlers.fetch", {ApiKey.FETCH: (4, 18)})
