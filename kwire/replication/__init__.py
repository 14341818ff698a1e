"""Replication logic, sans-IO: the leader's view of a partition (ISR, high
watermark, `acks=all` completion) and the follower's truncation by leader
epoch. Nothing here does I/O or keeps time of its own; the node that will
use it (issue 13) passes in the clock and the log's offsets. See each
module's docstring for how it is meant to be driven.

Status (groundwork for issue 13): the modules are unit-tested against
Kafka's rules but nothing in the broker uses them yet. Still to do for the
integration: a follower fetch loop, the replica side of Fetch
(replica_id / replica_state) calling `LeaderState.on_follower_fetch`,
`acks=all` produce waiting on `PendingProduces`, consumers bounded by the
high watermark (Fetch answers the log end today), PartitionLog truncation
to an offset, ISR changes written to the metadata log, and the high
watermark checkpointed (Kafka's replication-offset-checkpoint).
"""
