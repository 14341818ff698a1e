"""Share sessions: epochs as Kafka's ShareSessionCache keeps them."""

from kwire.coordinator.share.share_sessions import ShareSessionCache
from kwire.protocol.errors import ErrorCode as E


def test_a_session_opens_at_epoch_zero_and_expects_each_next_epoch():
    cache = ShareSessionCache()
    session = cache.open("g", "m")
    assert session.epoch == 1
    assert cache.find("g", "m", 2) == E.invalid_share_session_epoch
    assert cache.find("g", "m", 1) is session
    cache.advance(session)
    assert cache.find("g", "m", 2) is session
    assert cache.find("g", "m", -1) is session  # the final request closes whatever the epoch
    assert cache.find("g", "other", 1) == E.share_session_not_found


def test_partitions_are_added_and_forgotten_and_sessions_are_bounded():
    cache = ShareSessionCache(max_sessions=1)
    session = cache.open("g", "m")
    cache.add(session, [("t", 0), ("t", 1), ("t", 0)])
    cache.forget(session, [("t", 1)])
    assert list(session.partitions) == [("t", 0)]
    assert cache.open("g", "m2") == E.share_session_limit_reached
    assert cache.close("g", "m") is session
    assert cache.open("g", "m2") != E.share_session_limit_reached
