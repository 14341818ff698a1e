"""The response cache stays small: entries of an older cluster version are
dropped, and the bytes held are bounded however many request shapes come."""

from tests.core_client import CoreClient, make_core
from tests.handlers import requests as rq

METADATA, CREATE_TOPICS = 3, 19


def test_metadata_of_older_cluster_versions_is_not_kept():
    core = make_core()
    client = CoreClient(core)
    try:
        for n in range(300):
            client.call(CREATE_TOPICS, 7, rq.create(f"topic-{n}"))
            assert len(client.call(METADATA, 12, rq.metadata(None)).topics) == n + 1
            assert len(core.response_cache) == 1  # this version's answer only
    finally:
        core.close()


def test_many_distinct_requests_leave_the_cache_bounded_in_bytes():
    core = make_core()
    client = CoreClient(core)
    try:
        core.response_cache.max_bytes = 64 * 1024
        for n in range(20):
            client.call(CREATE_TOPICS, 7, rq.create(f"wide-{n}", partitions=50))
        for n in range(200):  # 200 distinct subsets of the topics, no topic changes
            names = [f"wide-{(n + k) % 20}" for k in range(1 + n % 20)]
            client.call(METADATA, 12, rq.metadata(*names, auto=False))
        held = sum(len(body) for _key, body in core.response_cache.items())
        assert held == core.response_cache.total_bytes <= 64 * 1024
        assert len(core.response_cache) > 1  # still caching
    finally:
        core.close()


def test_oldest_entries_make_room_and_a_version_change_empties_it():
    from kwire.response_cache import ResponseCache

    version = [1]
    cache = ResponseCache(lambda: version[0], max_bytes=10)
    cache["a"] = b"1234"
    cache["b"] = b"5678"
    cache["c"] = b"9012"  # "a" goes to make room
    assert cache.get("a") is None and cache.get("b") == b"5678" and cache.total_bytes == 8
    cache["huge"] = b"x" * 11  # never cached, and pushes nothing out
    assert cache.get("huge") is None and len(cache) == 2
    version[0] = 2
    assert cache.get("b") is None and len(cache) == 0 and cache.total_bytes == 0
