"""How loudly a failed request is logged, by the error codes of its answer.

Most error codes mean something went wrong that a user wants to hear about
(WARNING: a record too large, a bad replication factor, a refused login).
Some are part of the protocol's normal flow, met by every well-behaved
client and handled by it without the user noticing; logged at WARNING they
would be noise, so they go at DEBUG. A few answer a question rather than
report a fault (the topic already exists, the consumer's offset is gone):
INFO. README "Logs" lists them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from kwire.protocol.api_keys import ApiKey
from kwire.protocol.errors import ErrorCode

E = ErrorCode

# The protocol's normal flow: clients retry, rediscover or rejoin by themselves.
ROUTINE = frozenset(
    {
        E.not_coordinator,  # the coordinator moved: FindCoordinator again
        E.coordinator_load_in_progress,
        E.coordinator_not_available,
        E.rebalance_in_progress,  # a group member is asked to rejoin
        E.member_id_required,  # the first JoinGroup of every new member (KIP-394)
        E.not_leader_or_follower,  # leadership moved in a cluster: refresh metadata
        E.leader_not_available,  # a topic being created, an election under way
        E.fenced_leader_epoch,
        E.unknown_leader_epoch,
        E.offset_not_available,
        E.fetch_session_id_not_found,  # incremental fetch sessions restart like this
        E.invalid_fetch_session_epoch,
        E.fetch_session_topic_id_error,
        E.concurrent_transactions,  # a transaction's markers still being written: retried
        E.unstable_offset_commit,  # offsets of an open transaction: retried
        E.not_controller,
        E.throttling_quota_exceeded,
    }
)

# Routine only for some APIs (elsewhere the code is news).
ROUTINE_FOR: dict[int, frozenset[int]] = {
    # Clients probe topics that are not there yet (and auto-create them through Metadata).
    ApiKey.METADATA: frozenset({E.unknown_topic_or_partition, E.unknown_topic_id}),
    # The client asked for a version kwire does not serve and retries with one it does.
    ApiKey.API_VERSIONS: frozenset({E.unsupported_version}),
}

# Answers more than faults: INFO.
NOTEWORTHY = frozenset(
    {
        E.offset_out_of_range,  # a consumer's position is gone: it resets (auto.offset.reset)
        E.unknown_member_id,  # a member that was removed from its group rejoins
        E.illegal_generation,
        E.fenced_instance_id,
        E.fenced_member_epoch,
        E.stale_member_epoch,
        E.unknown_topic_or_partition,
        E.unknown_topic_id,
        E.topic_already_exists,  # tools that create a topic "if not exists"
        E.group_id_not_found,
        E.non_empty_group,
        E.duplicate_sequence_number,  # a retried batch already written: answered with its offset
        E.election_not_needed,
        E.no_reassignment_in_progress,
        E.resource_not_found,
        E.transactional_id_not_found,
    }
)


def level_of_error(api_key: int, code: int) -> int:
    """The level a failed request with this error code is logged at."""
    if code in ROUTINE:
        return logging.DEBUG
    routine_here = ROUTINE_FOR.get(api_key)
    if routine_here is not None and code in routine_here:
        return logging.DEBUG
    if code in NOTEWORTHY:
        return logging.INFO
    return logging.WARNING


def level_of_errors(api_key: int, codes: Iterable[int]) -> int:
    """The loudest level of the codes; DEBUG for none."""
    level = logging.DEBUG
    for code in codes:
        level = max(level, level_of_error(api_key, int(code)))
    return level


def error_name(code: int) -> str:
    """Kafka's name of an error code: 10 -> MESSAGE_TOO_LARGE (the number when unknown)."""
    try:
        return ErrorCode(code).name.upper()
    except ValueError:
        return str(code)
