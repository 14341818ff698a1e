"""Share sessions (KIP-932, as Kafka's ShareSessionCache), sans-IO.

A share consumer's fetches and acknowledgements to one broker run in a
session per (group, member): ShareFetch epoch 0 opens it with the
partitions to fetch, each later request carries the next epoch and may add
partitions or forget some, and epoch -1 (the final request) closes it."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from kwire.protocol.errors import ErrorCode

INITIAL_EPOCH = 0
FINAL_EPOCH = -1

# (topic name, partition index)
TopicPartition = tuple[str, int]


@attrs.define
class ShareSession:
    group_id: str
    member_id: str
    epoch: int  # the epoch the next request must carry
    partitions: dict[TopicPartition, None] = attrs.field(factory=dict)  # ordered, as added
    last_used: float = 0.0  # monotonic seconds (a departed member's idle session is dropped)


def next_epoch(epoch: int) -> int:
    return 1 if epoch >= 2**31 - 1 else epoch + 1


class ShareSessionCache:
    def __init__(self, max_sessions: int = 2000) -> None:  # group.share.max.share.sessions
        self.max_sessions = max_sessions
        self.sessions: dict[tuple[str, str], ShareSession] = {}

    def open(self, group_id: str, member_id: str, now: float = 0.0) -> ShareSession | ErrorCode:
        """ShareFetch with epoch 0: a new session (a member's earlier one is replaced)."""
        key = (group_id, member_id)
        if key not in self.sessions and len(self.sessions) >= self.max_sessions:
            return ErrorCode.share_session_limit_reached
        session = ShareSession(group_id, member_id, next_epoch(INITIAL_EPOCH), last_used=now)
        self.sessions[key] = session
        return session

    def find(self, group_id: str, member_id: str, epoch: int) -> ShareSession | ErrorCode:
        """The session a request of `epoch` (not 0) continues: SHARE_SESSION_NOT_FOUND
        or INVALID_SHARE_SESSION_EPOCH when it cannot; -1 matches any epoch."""
        session = self.sessions.get((group_id, member_id))
        if session is None:
            return ErrorCode.share_session_not_found
        if epoch != FINAL_EPOCH and epoch != session.epoch:
            return ErrorCode.invalid_share_session_epoch
        return session

    def advance(self, session: ShareSession, now: float = 0.0) -> None:
        session.epoch = next_epoch(session.epoch)
        session.last_used = now

    def close(self, group_id: str, member_id: str) -> ShareSession | None:
        return self.sessions.pop((group_id, member_id), None)

    def of_member(self, group_id: str, member_id: str) -> ShareSession | None:
        return self.sessions.get((group_id, member_id))

    def add(self, session: ShareSession, partitions: Iterable[TopicPartition]) -> None:
        for partition in partitions:
            session.partitions.setdefault(partition, None)

    def forget(self, session: ShareSession, partitions: Iterable[TopicPartition]) -> None:
        for partition in partitions:
            session.partitions.pop(partition, None)
