"""Replication logic, sans-IO: the leader's view of a partition (ISR, high
watermark, `acks=all` completion) and the follower's truncation by leader
epoch. Nothing here does I/O or keeps time of its own; the node that will
use it (issue 13) passes in the clock and the log's offsets. See each
module's docstring for how it is meant to be driven.

Status (groundwork for issue 13): the modules are unit-tested against
Kafka's rules but nothing in the broker uses them yet. The log side is
there: PartitionLog.append_replicated, truncate_to,
truncate_fully_and_start_at, and a high watermark (`replicated = True`,
`set_high_watermark`) that bounds what consumers see and is checkpointed
in replication-offset-checkpoint. Still to do for the integration: a
follower fetch loop, the replica side of Fetch (replica_id /
replica_state) calling `LeaderState.on_follower_fetch`, `acks=all` produce
waiting on `PendingProduces`, waking consumers' long-polls when the high
watermark moves, and ISR changes written to the metadata log.
"""
